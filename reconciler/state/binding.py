"""What a state describes (``StateBinding``), and the refusal to use it for anything else.

One local state serves every desired file run from a directory unless told otherwise, and an
endpoint can come from the environment: planning the state of ``g.yaml`` from ``t.yaml``, or
against another emulator, plans deleting (or forgetting the protection of) GIDs that are fine.
So every write records the desired inputs and the cloud, and a run with other ones is refused
before anything is listed. Paths are relative to the working directory, so the same checkout at
another absolute path (a CI runner's) still matches; the cloud is the endpoint's identity, not
the per-API host, so switching an instance between ``ons`` and ``onsmqtt`` is the same cloud.
"""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePath

from reconciler.errors import StateBindingError
from reconciler.models import StateBinding, StateDocument

# The binding's endpoint when no override is set: the service's own regional endpoints.
DEFAULT_ENDPOINT = "default"
# ``RunBinding.endpoint_source`` when the command line chose the endpoint, and when nothing did.
ENDPOINT_FLAG = "--endpoint"
NO_ENDPOINT_SOURCE = "none"


def source_phrase(source: str) -> str:
    """Where an endpoint came from, for a message: ``from $RECONCILER_ENDPOINT``."""
    if source == NO_ENDPOINT_SOURCE:
        return "no --endpoint, $RECONCILER_ENDPOINT or provider.endpoint set"
    return f"from {source}"


@dataclass(frozen=True)
class RunBinding:
    """This run's binding, and where its endpoint came from (``--endpoint``,
    ``$RECONCILER_ENDPOINT``, ``provider.endpoint of FILE``, or none set), for messages."""

    binding: StateBinding
    endpoint_source: str


def desired_paths(inputs: Iterable[str | PurePath], cwd: Path) -> tuple[str, ...]:
    """The desired inputs as the binding records them: normalised POSIX paths relative to
    ``cwd`` (``./g.yaml``, ``g.yaml`` and ``/abs/cwd/g.yaml`` are one), sorted, unique; a
    path outside ``cwd`` stays absolute."""
    found: set[str] = set()
    for given in inputs:
        path = Path(os.path.normpath(given))
        if path.is_absolute():
            with contextlib.suppress(ValueError):  # outside cwd: stays absolute
                path = path.relative_to(Path(os.path.normpath(cwd)))
        found.add(path.as_posix())
    return tuple(sorted(found))


def describe_binding(binding: StateBinding | None) -> str:
    if binding is None:
        return "nothing (written before states were bound)"
    return f"{', '.join(binding.desired)} against {describe_endpoint(binding.endpoint)}"


def describe_endpoint(endpoint: str) -> str:
    if endpoint == DEFAULT_ENDPOINT:
        return "the service's default endpoints"
    if endpoint == "embedded":
        return "the embedded emulator"
    return endpoint


def check_binding(doc: StateDocument | None, run: RunBinding, *, where: str) -> None:
    """Refuse (``StateBindingError``) a state bound to other desired inputs or another cloud
    than this run's; an unbound or missing state passes (it is bound on its next write)."""
    check_binding_of(doc.binding if doc is not None else None, run, where=where)


def check_binding_of(stored: StateBinding | None, run: RunBinding, *, where: str) -> None:
    """``check_binding`` of a state bound to ``stored``."""
    if stored is None or stored == run.binding:
        return
    now = run.binding
    if stored.desired != now.desired:
        against = ""
        if stored.endpoint != now.endpoint:
            against = (
                f" against {describe_endpoint(stored.endpoint)} (this run: "
                f"{describe_endpoint(now.endpoint)}, {source_phrase(run.endpoint_source)})"
            )
        raise StateBindingError(
            f"the state in {where} describes another desired state: "
            f"{', '.join(stored.desired)}{against}, not {', '.join(now.desired)}. Give this "
            "desired state a state of its own (--state PATH, or a backend: block), or, if it "
            f"replaces the other one on purpose, rebind the state: {bind_command(run)}"
        )
    raise StateBindingError(
        f"the state in {where} describes another cloud: it was written against "
        f"{describe_endpoint(stored.endpoint)}, not {describe_endpoint(now.endpoint)} "
        f"({source_phrase(run.endpoint_source)}). If that endpoint is a mistake, fix "
        f"{_setting_name(run.endpoint_source)}; give this cloud a state of its own (--state "
        "PATH, or a backend: block); or, if the endpoint moved on purpose, rebind the state: "
        f"{bind_command(run)}"
    )


def _setting_name(source: str) -> str:
    return "the endpoint setting" if source == NO_ENDPOINT_SOURCE else source


def bind_command(run: RunBinding) -> str:
    """The ``reconciler state bind`` command that records ``run``'s binding where it runs (the
    endpoint is spelled out only when a flag chose it: otherwise it resolves the same way)."""
    words = ["reconciler", "state", "bind", *run.binding.desired]
    if run.endpoint_source == ENDPOINT_FLAG:
        words += ["--endpoint", run.binding.endpoint]
    return shlex.join(words)


def bound(doc: StateDocument, binding: StateBinding | None) -> StateDocument:
    """``doc`` recording ``binding``; the same object when it already does (or when there is
    no binding to record)."""
    if binding is None or doc.binding == binding:
        return doc
    return doc.model_copy(update={"binding": binding})
