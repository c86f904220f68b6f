"""``reconciler import KEY``: adopt one existing resource into the state.

KEY is ``INSTANCE_ID/GROUP_ID`` for a GID, ``INSTANCE_ID/KIND:KEY`` for an access entry (as
``state list`` writes it); the region (and a GID's ``topic`` and ``protect``, when the file
declares it) come from the instance's entry in the desired-state file. Under the state lock:
refuse a state bound to another desired state or cloud, refuse a resource already in the
state, list the instance, refuse one the cloud does not have, then record it with origin
``imported`` (and the binding: ``-c``'s file and this endpoint). An access entry is recorded
with the values its listing reports; an identity's secret cannot be read back, so the next
plan sets the declared one by an update call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from reconciler.apply.executor import now_text
from reconciler.cloud.capabilities import KIND_LISTINGS
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
from reconciler.models import (
    KINDS,
    DesiredInstance,
    InstanceInventory,
    ResourceKind,
    StateResource,
    kind_of_key_text,
    named_values,
    parse_key_text,
)
from reconciler.plan.builder import split_listing
from reconciler.state import new_state
from reconciler.state.binding import bound, check_binding, check_binding_of
from reconciler.state.locking import hold_lock


class ImportRefusedError(StateError):
    """The resource cannot be imported (not declared instance, missing, already in state)."""


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
    """Adopt the existing resource KEY into the state.

    KEY is INSTANCE_ID/GROUP_ID for a GID, INSTANCE_ID/KIND:KEY for an access entry, as
    `state list` writes it (INSTANCE_ID/permission:user:alice/telemetry/#)."""
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
    kind = KINDS[kind_of_key_text(group_id)]
    declared = next((d for d in kind.declared(instance) if kind.key_of(d) == group_id), None)
    resource_key = instance.key(group_id).model_copy(update={"kind": kind.name})
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
            client = cloud.client(instance.region, instance.api)
            listed = client.list_group_ids(instance_id)
            inventory = split_listing(instance.region, instance_id, listed)[0]
            listing = KIND_LISTINGS.get(kind.name)
            if listing is not None:
                inventory = listing(client, inventory)
            unavailable = kind.unavailable(inventory)
            if unavailable is not None:
                raise ImportRefusedError(f"{resource_key} cannot be imported: {unavailable}")
            present = kind.listed(inventory)
            if group_id not in present:
                raise ImportRefusedError(
                    f"{resource_key} does not exist in the cloud ({instance.region}, "
                    f"{len(present)} {kind.nouns} listed); nothing to import"
                )
            base = state if state is not None else new_state()
            resource = _imported(kind, instance, group_id, declared, inventory)
            updated = bound(base.with_resource(resource), binding.binding)
            stored = backend.write(updated, expected_serial=base.serial)
    click.echo(f"Imported {resource_key} into the state (serial {stored.serial}).")
    if declared is None:
        click.echo(
            f"Note: {group_id} is not declared under {instance_id} in {_named(config)}: the "
            "next plan deletes it unless you add it to the file.",
            err=True,
        )
    elif kind.write_only:
        click.echo(
            f"Note: its {', '.join(kind.write_only)} cannot be read back: the next plan sets "
            "the declared one by an update call.",
            err=True,
        )
    return ExitCode.OK


def _imported(
    kind: ResourceKind,
    instance: DesiredInstance,
    key: str,
    declared: Any,
    inventory: InstanceInventory,
) -> StateResource:
    """The state's record of an imported resource: a GID's declared topic, protection and
    client ids; another kind's attribute values as listed."""
    recorded: dict[str, Any] = {}
    if "topic" in kind.immutable:
        recorded["topic"] = getattr(declared, "topic", None)
    if "protect" in kind.state_only:
        recorded["protect"] = bool(getattr(declared, "protect", False))
    if "clients" in kind.state_only:
        recorded["clients"] = getattr(declared, "clients", ())
    values = kind.listed_values(inventory).get(key, {})
    return StateResource(
        kind=kind.name,
        region=instance.region,
        instance_id=instance.instance_id,
        group_id=key,
        origin="imported",
        recorded_at=now_text(),
        api=instance.api,
        attributes=named_values(dict(values)),
        **recorded,
    )


def _named(config: tuple[Path, ...]) -> str:
    return " ".join(str(path) for path in config)
