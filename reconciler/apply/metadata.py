"""Bring the state's per-GID metadata up to the desired file: each resource's API and known
client ids.

Neither is something the cloud holds, so a change of either is no plan change ("No changes."
when an instance moves from ons to onsmqtt with the same GIDs, or a GID gains known clients).
An apply writes them with whatever else it writes, and writes them alone when the plan has no
changes, so the state always knows which API to delete a GID through and which clients to ask
about once the GID has left the file. The state is what a removed GID's online check relies on:
a GID removed from the file keeps the client ids recorded for it.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.models import Api, DesiredState, StateDocument, StateResource

InstanceRef = tuple[str, str]


def with_desired_metadata(state: StateDocument, desired: DesiredState) -> StateDocument:
    """``state`` with the file's API on every resource of a declared instance and the file's
    client ids on every declared GID; the same object when nothing differs (the common case
    costs one pass and no copies)."""
    apis: dict[InstanceRef, Api] = {(i.region, i.instance_id): i.api for i in desired.instances}
    declared_clients = _declared_clients(desired, state)
    changed = False
    resources: list[StateResource] = []
    for resource in state.resources:
        ref = (resource.region, resource.instance_id)
        update: dict[str, object] = {}
        api = apis.get(ref)
        if api is not None and api != resource.api:
            update["api"] = api
        clients = declared_clients.get(ref, {}).get(resource.group_id)
        if clients is not None and clients != resource.clients:
            update["clients"] = clients
        if update:
            changed = True
            resources.append(resource.model_copy(update=update))
        else:
            resources.append(resource)
    if not changed:
        return state
    return state.model_copy(update={"resources": tuple(resources)})


def _declared_clients(
    desired: DesiredState, state: StateDocument
) -> Mapping[InstanceRef, Mapping[str, tuple[str, ...]]]:
    """Per declared instance, the client ids of each declared GID, where they matter: GIDs
    with clients in the file, and recorded GIDs whose clients the file no longer lists."""
    found: dict[InstanceRef, dict[str, tuple[str, ...]]] = {}
    recorded_with_clients = {
        (r.region, r.instance_id, r.group_id) for r in state.resources if r.clients
    }
    for instance in desired.instances:
        ref = (instance.region, instance.instance_id)
        for group in instance.groups:
            # A tombstone without clients keeps the recorded ones for its delete's check.
            cleared = not group.absent and (*ref, group.group_id) in recorded_with_clients
            if group.clients or cleared:
                found.setdefault(ref, {})[group.group_id] = group.clients
    return found
