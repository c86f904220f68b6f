"""What ``plan`` and ``apply`` both run in: the desired state, its state backend, the cloud.

The desired state is read from the files and directories given (several merged into one).

Every argument is checked before the first line is written, the lock is taken or anything is
listed: the file loads, a ``--target`` names a known instance, the state is bound to these
desired inputs and this cloud (read once without the lock for that; read again under it), the
endpoint is a URL and the credentials resolve. Only then is the embedded emulator (if chosen)
announced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.commands.connect import (
    CloudSession,
    choose_endpoint,
    cloud_session,
    endpoint_identity,
)
from reconciler.commands.options import state_backend, with_state_path

if TYPE_CHECKING:
    from reconciler.config.declared import Declarations
    from reconciler.models import DesiredState, ProviderConfig, StateDocument
    from reconciler.plan.builder import BuiltPlan, Progress
    from reconciler.plan.options import PlanOptions, Target
    from reconciler.ratelimit import Rate
    from reconciler.state.base import StateBackend
    from reconciler.state.binding import RunBinding


@dataclass(frozen=True)
class RunContext:
    desired: DesiredState
    # The files and directories it was read from, as given.
    desired_inputs: tuple[Path, ...]
    backend: StateBackend
    cloud: CloudSession
    # What the state must be bound to (and what a write records).
    binding: RunBinding
    declarations: Declarations | None = None

    def read_state(self) -> StateDocument | None:
        """The stored state, refused (``StateBindingError``) when bound to something else."""
        from reconciler.state.binding import check_binding  # noqa: PLC0415

        doc = self.backend.read()
        check_binding(doc, self.binding, where=self.backend.describe())
        return doc

    def make_plan(
        self,
        options: PlanOptions,
        state: StateDocument | Callable[[], StateDocument | None] | None,
        *,
        progress: Progress,
        parallelism: int | None = None,
        recorded: bool = True,
    ) -> BuiltPlan:
        """Plan the desired state against ``state`` (or the state ``backend.read`` returns);
        ``recorded`` as ``PlanMeta.recorded``."""
        from reconciler.plan.builder import make_plan  # noqa: PLC0415
        from reconciler.plan.options import DEFAULT_PARALLELISM  # noqa: PLC0415

        return make_plan(
            self.desired,
            state,
            self.cloud.client,
            options,
            workspace=self.backend.workspace,
            desired_source=self.desired.source,
            desired_inputs=[str(path) for path in self.desired_inputs],
            state_backend=self.backend.describe(),
            parallelism=DEFAULT_PARALLELISM if parallelism is None else parallelism,
            progress=progress,
            locate=None if self.declarations is None else self.declarations.locate,
            recorded=recorded,
        )


@contextmanager
def run_context(
    desired_inputs: Sequence[Path],
    *,
    endpoint: str | None,
    note: Callable[[str], None],
    targets: tuple[Target, ...] = (),
    base: Path | None = None,
    rate: Rate | None = None,
    state_path: Path | None = None,
) -> Iterator[RunContext]:
    """Load the desired state from ``desired_inputs`` (files or directories, relative to
    ``base`` if given), open its backend (``state_path``: ``--state``), refuse a state bound
    to other inputs or another cloud, and connect to the cloud; ``note`` gets the file's
    located warnings, the endpoint's source when it is not the file's and the
    embedded-emulator notices. The backend and the cloud (and an embedded emulator) are closed
    on exit. ``rate`` (``--rate``) also paces the onsmqtt accounts' creates and deletes."""
    from reconciler.config import load_desired_paths  # noqa: PLC0415
    from reconciler.state import prefetch  # noqa: PLC0415

    given = [base / path if base is not None else path for path in desired_inputs]
    # A large state takes as long to read as its desired files: when their heads (or
    # --state) say where it is, a child reads it meanwhile.
    prefetched = prefetch.start(given, state_path)
    try:
        loaded = load_desired_paths(desired_inputs, base=base)
        # The located warnings validate prints (unknown region, ignored client ids...), shown
        # once before anything else; ``note`` writes stderr, so a JSON plan on stdout stays
        # pure. No ``${VAR}``-unset warning can be among them: this load refuses an unset
        # variable.
        for warning in loaded.warnings:
            note(warning.format())
        desired = with_state_path(loaded.state, state_path)
        binding = run_binding(desired_inputs, desired.provider, endpoint, file_label=desired.source)
        with state_backend(desired, given, state_path) as backend:
            if prefetched is not None:
                backend.offer_prefetch(prefetched)
            _check_binding_early(backend, binding)
            if targets:
                _check_target_instances(desired, targets, backend)
            with cloud_session(
                desired.provider,
                endpoint=endpoint,
                instances=desired.instances,
                file_label=desired.source,
                write_rate=rate,
            ) as cloud:
                cloud.check()
                if cloud.embedded:
                    note(f"Using the {cloud.endpoint_label}.")
                for notice in cloud.notices:
                    note(notice)
                yield RunContext(
                    desired, tuple(desired_inputs), backend, cloud, binding, loaded.declarations
                )
    finally:
        if prefetched is not None:
            prefetched.close()


def run_binding(
    desired_inputs: Sequence[Path],
    provider: ProviderConfig,
    endpoint: str | None,
    *,
    file_label: str | None = None,
) -> RunBinding:
    """What this run's state must be bound to: the inputs as given (relative to the working
    directory, where the plan of a saved plan was made) and the endpoint's identity."""
    from reconciler.models import StateBinding  # noqa: PLC0415
    from reconciler.state.binding import RunBinding, desired_paths  # noqa: PLC0415

    choice = choose_endpoint(provider, endpoint, file_label=file_label)
    # Built without validation (plain strings, made here): a plan builds no validator it
    # does not need (see tests/plan/test_startup.py).
    binding = StateBinding.model_construct(
        desired=desired_paths(desired_inputs, Path.cwd()), endpoint=endpoint_identity(choice)
    )
    return RunBinding(binding, choice.source)


def _check_binding_early(backend: StateBackend, binding: RunBinding) -> None:
    """Refuse a state bound elsewhere before the emulator is started or anything listed: a
    wrong endpoint would list another cloud, a wrong file make its instances in the embedded
    emulator. Read without the lock; the run checks again under it."""
    from reconciler.state.binding import check_binding_of  # noqa: PLC0415

    check_binding_of(backend.read_binding(), binding, where=backend.describe())


def _check_target_instances(
    desired: DesiredState, targets: tuple[Target, ...], backend: StateBackend
) -> None:
    """Refuse a target instance neither declared nor recorded before any lock or listing (the
    plan checks again under the lock; a GID can only be checked there, against the cloud). The
    state is read, without the lock, only when a target names an undeclared instance."""
    from reconciler.plan.options import check_target_instances  # noqa: PLC0415

    known = {instance.instance_id for instance in desired.instances}
    if all(target.instance_id in known for target in targets):
        return
    state = backend.read()
    if state is not None:
        known.update(resource.instance_id for resource in state.resources)
    check_target_instances(targets, known)
