"""``reconciler import KEY``: adopt one existing GID into the state.

KEY is ``INSTANCE_ID/GROUP_ID``; the region (and the GID's ``topic`` and ``protect``, when the
file declares it) come from the instance's entry in the desired-state file. Under the state
lock: refuse a state bound to another desired state or cloud, refuse a GID already in the
state, list the instance, refuse a GID the cloud does not have, then record it with origin
``imported`` (and the binding: ``-c``'s file and this endpoint).
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.apply.executor import now_text
from reconciler.commands.connect import cloud_session
from reconciler.commands.context import run_binding
from reconciler.commands.options import (
    config_option,
    endpoint_option,
    load_config,
    lock_timeout_option,
    lock_wait_printer,
    state_backend,
    state_path_option,
)
from reconciler.errors import StateError
from reconciler.exit_codes import ExitCode
from reconciler.models import StateResource, parse_key_text
from reconciler.state import new_state
from reconciler.state.binding import bound, check_binding, check_binding_of
from reconciler.state.locking import hold_lock


class ImportRefusedError(StateError):
    """The GID cannot be imported (not declared instance, missing, already in state)."""


@click.command("import")
@click.argument("key", metavar="KEY")
@config_option("Desired-state file naming the instance (for its region and backend).")
@endpoint_option()
@state_path_option
@lock_timeout_option
def import_command(
    *,
    key: str,
    config: tuple[Path, ...],
    endpoint: str | None,
    state_path: Path | None,
    lock_timeout: float,
) -> ExitCode:
    """Adopt the existing GID KEY (INSTANCE_ID/GROUP_ID) into the state."""
    try:
        instance_id, group_id = parse_key_text(key)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="KEY") from exc

    desired = load_config(config)
    instance = next((i for i in desired.instances if i.instance_id == instance_id), None)
    if instance is None:
        raise ImportRefusedError(
            f"instance {instance_id} is not declared in {_named(config)}; add it there first "
            "(its region comes from the file)"
        )
    declared = next((g for g in instance.groups if g.group_id == group_id), None)
    resource_key = instance.key(group_id)
    binding = run_binding(config, desired.provider, endpoint, file_label=desired.source)

    with state_backend(desired, config, state_path) as backend:
        # Before the cloud is asked (or an embedded emulator made): checked again under the lock.
        check_binding_of(backend.read_binding(), binding, where=backend.describe())
        with (
            cloud_session(
                desired.provider,
                endpoint=endpoint,
                instances=desired.instances,
                file_label=desired.source,
            ) as cloud,
            hold_lock(backend, "import", timeout=lock_timeout, on_wait=lock_wait_printer()),
        ):
            cloud.check()
            for notice in cloud.notices:
                click.echo(notice, err=True)
            state = backend.read()
            check_binding(state, binding, where=backend.describe())
            if state is not None and resource_key in state.by_key():
                raise ImportRefusedError(
                    f"{resource_key} is already in the state ({backend.describe()})"
                )
            listed = cloud.client(instance.region, instance.api).list_group_ids(instance_id)
            if not any(record.group_id == group_id for record in listed):
                raise ImportRefusedError(
                    f"{resource_key} does not exist in the cloud ({instance.region}, "
                    f"{len(listed)} GID(s) listed); nothing to import"
                )
            base = state if state is not None else new_state()
            resource = StateResource(
                region=instance.region,
                instance_id=instance_id,
                group_id=group_id,
                topic=declared.topic if declared is not None else None,
                protect=bool(declared and declared.protect),
                origin="imported",
                recorded_at=now_text(),
                api=instance.api,
                clients=declared.clients if declared is not None else (),
            )
            updated = bound(base.with_resource(resource), binding.binding)
            stored = backend.write(updated, expected_serial=base.serial)
    click.echo(f"Imported {resource_key} into the state (serial {stored.serial}).")
    if declared is None:
        click.echo(
            f"Note: {group_id} is not declared under {instance_id} in {_named(config)}: the "
            "next plan deletes it unless you add it to the file.",
            err=True,
        )
    return ExitCode.OK


def _named(config: tuple[Path, ...]) -> str:
    return " ".join(str(path) for path in config)
