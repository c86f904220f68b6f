"""``reconciler state list | show KEY | rm KEY... | bind PATH...``: inspect and edit the state.

The backend is the one the desired-state file (``-c/--config``) names, or the local file
``--state`` names. ``list`` and ``show`` take the state lock unless ``--lock=false`` (or
``--no-lock``); ``rm`` and ``bind`` always do. ``list``, ``show`` and ``rm`` need no binding
(``rm`` keeps the state's); ``bind`` records that the state now describes PATHs against this
run's endpoint: the way out when a desired state was renamed or moved on purpose.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path

import click

from reconciler.commands.options import (
    config_option,
    endpoint_option,
    lock_options,
    lock_timeout_option,
    lock_wait_printer,
    open_state,
    state_backend,
    state_path_option,
)
from reconciler.errors import StateError
from reconciler.exit_codes import ExitCode
from reconciler.models import (
    DesiredState,
    ResourceKey,
    StateBinding,
    StateDocument,
    StateResource,
    parse_key_text,
)
from reconciler.render.state import render_removed, render_state_list, render_state_resource
from reconciler.state.base import OnWait, StateBackend
from reconciler.state.binding import bound, describe_binding
from reconciler.state.changes import StateChanges
from reconciler.state.locking import hold_lock


class StateKeyError(StateError):
    """A KEY names nothing in the state, or more than one resource."""


# --- logic: functions of a StateBackend, no printing ----------------------------------------


def resolve_key(
    text: str, doc: StateDocument | None, desired: DesiredState | None
) -> StateResource:
    """The state resource a KEY (``INSTANCE_ID/GROUP_ID``, ``INSTANCE_ID/KIND:KEY``) names.
    The region is the state entry's; when the instance id appears in several regions, the
    desired file's decides."""
    return _one_named(text, doc.resources if doc is not None else (), desired)


def _parsed_key(text: str) -> tuple[str, str]:
    try:
        return parse_key_text(text)
    except ValueError as exc:
        raise StateKeyError(str(exc)) from exc


def _one_named(
    text: str, resources: Sequence[StateResource], desired: DesiredState | None
) -> StateResource:
    instance_id, group_id = _parsed_key(text)
    matches = [r for r in resources if r.instance_id == instance_id and r.group_id == group_id]
    if len(matches) > 1 and desired is not None:
        regions = {i.region for i in desired.instances if i.instance_id == instance_id}
        matches = [r for r in matches if r.region in regions] or matches
    if not matches:
        raise StateKeyError(f"{text} is not in the state")
    if len(matches) > 1:
        regions_text = ", ".join(sorted(r.region for r in matches))
        raise StateKeyError(
            f"{text} is in the state in several regions ({regions_text}); declare the "
            "instance in the desired file to pick one"
        )
    return matches[0]


def remove_from_state(
    backend: StateBackend,
    keys: Sequence[str],
    desired: DesiredState | None,
    *,
    timeout: float = 0.0,
    on_wait: OnWait | None = None,
) -> tuple[list[ResourceKey], int]:
    """Forget ``keys`` (all or nothing, one write, under the lock); the GIDs stay in the cloud.
    Reads and writes only those resources (``find``, ``append``). Returns the removed keys and
    the state's new serial."""
    with hold_lock(backend, "state rm", timeout=timeout, on_wait=on_wait):
        names = [_parsed_key(text) for text in keys]
        found = backend.find(names)
        if found is None:
            raise StateKeyError(f"the state is empty ({backend.describe()}); nothing to remove")
        removed: list[ResourceKey] = []
        for text in keys:
            key = _one_named(text, found.resources, desired).key
            if key not in removed:
                removed.append(key)
        changes = StateChanges(found.lineage, drop=tuple(removed))
        return removed, backend.append(changes, expected_serial=found.serial)


def rebind_state(
    backend: StateBackend,
    binding: StateBinding,
    *,
    timeout: float = 0.0,
    on_wait: OnWait | None = None,
) -> tuple[StateBinding | None, StateDocument]:
    """Record under the lock that the state describes ``binding``; returns the binding it had
    and the stored document."""
    with hold_lock(backend, "state bind", timeout=timeout, on_wait=on_wait):
        doc = backend.read()
        if doc is None:
            raise StateError(
                f"there is no state in {backend.describe()}: nothing to bind (plan and apply "
                "bind a new state themselves)"
            )
        return doc.binding, backend.write(bound(doc, binding), expected_serial=doc.serial)


# --- the commands ---------------------------------------------------------------------------


@click.group("state")
def state_group() -> None:
    """Inspect and edit the state (what reconciler created or adopted)."""


@state_group.command("list")
@config_option()
@state_path_option
@lock_options()
def list_command(
    *, config: tuple[Path, ...], state_path: Path | None, lock: bool, lock_timeout: float
) -> ExitCode:
    """List the resources in the state, one INSTANCE_ID/KEY per line."""
    _, doc, _ = _read(
        config, state_path, lock=lock, lock_timeout=lock_timeout, operation="state list"
    )
    click.echo(render_state_list(doc), nl=False)
    return ExitCode.OK


@state_group.command("show")
@click.argument("key", metavar="KEY")
@config_option()
@state_path_option
@lock_options()
def show_command(
    *, key: str, config: tuple[Path, ...], state_path: Path | None, lock: bool, lock_timeout: float
) -> ExitCode:
    """Show one resource of the state: KEY is INSTANCE_ID/KEY as state list writes it."""
    desired, doc, label = _read(
        config, state_path, lock=lock, lock_timeout=lock_timeout, operation="state show"
    )
    try:
        resource = resolve_key(key, doc, desired)
    except StateKeyError as exc:
        raise StateKeyError(f"{exc} ({label})") from None
    click.echo(render_state_resource(resource), nl=False)
    return ExitCode.OK


@state_group.command("rm")
@click.argument("keys", metavar="KEY...", nargs=-1, required=True)
@config_option()
@state_path_option
@lock_timeout_option
def rm_command(
    *, keys: tuple[str, ...], config: tuple[Path, ...], state_path: Path | None, lock_timeout: float
) -> ExitCode:
    """Forget resources (KEY as state list writes it); they stay in the cloud."""
    desired, backend = open_state(config, state_path)
    with backend:
        removed, serial = remove_from_state(
            backend, keys, desired, timeout=lock_timeout, on_wait=lock_wait_printer()
        )
    click.echo(render_removed(removed, serial), nl=False)
    return ExitCode.OK


@state_group.command("bind")
@click.argument(
    "paths", metavar="PATH...", nargs=-1, required=True, type=click.Path(path_type=Path)
)
@endpoint_option("API endpoint URL, or 'embedded', the state now describes; as for plan.")
@state_path_option
@lock_timeout_option
def bind_command(
    *, paths: tuple[Path, ...], endpoint: str | None, state_path: Path | None, lock_timeout: float
) -> ExitCode:
    """Record that the state now describes PATH... (desired-state files or directories) and
    this endpoint: when a desired state was renamed or moved, or its endpoint moved, on
    purpose. Its backend is the one PATH... names."""
    from reconciler.commands.context import run_binding  # noqa: PLC0415
    from reconciler.config import load_desired_paths  # noqa: PLC0415

    desired = load_desired_paths(paths).state
    run = run_binding(paths, desired.provider, endpoint, file_label=desired.source)
    with state_backend(desired, paths, state_path) as backend:
        old, doc = rebind_state(
            backend, run.binding, timeout=lock_timeout, on_wait=lock_wait_printer()
        )
        label = backend.describe()
    click.echo(
        f"Bound the state in {label} (serial {doc.serial}): {describe_binding(old)} -> "
        f"{describe_binding(doc.binding)}"
    )
    return ExitCode.OK


def _read(
    config: tuple[Path, ...],
    state_path: Path | None,
    *,
    lock: bool,
    lock_timeout: float,
    operation: str,
) -> tuple[DesiredState, StateDocument | None, str]:
    """The desired file, the stored state (read under the lock unless ``lock`` is False) and
    the backend's label, for list and show."""
    desired, backend = open_state(config, state_path)
    with backend:
        locked = hold_lock(backend, operation, timeout=lock_timeout, on_wait=lock_wait_printer())
        with locked if lock else nullcontext():
            doc = backend.read()
        return desired, doc, backend.describe()
