"""Which kind listings (``cloud.capabilities.KIND_LISTINGS``) an instance's plan needs.

A kind's listing costs calls on every plan (three queries per instance for the access
kinds), yet it can change nothing when the instance's file declares none of the kind, its
ownership of the kind is ``managed`` and the state records none of it: per the semantics table
an entry neither declared nor recorded is left alone, so nothing of the kind is planned
whatever the cloud lists. Those listings are skipped; every other one runs. A target naming
one key of the kind keeps its listing too (the plan checks that the key exists somewhere).

The same inputs give the same choice, so a saved plan's listings and apply's re-listing
cover the same entries, and their fingerprints compare like with like.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from reconciler.cloud.capabilities import KIND_LISTINGS, GroupCapabilities
from reconciler.models import (
    KINDS,
    DesiredState,
    InstanceInventory,
    StateDocument,
    kind_of_key_text,
)
from reconciler.plan.options import InstanceRef, Target

# (client, inventory) -> the inventory with the kind's listing in it.
KindListing = Callable[[GroupCapabilities, InstanceInventory], InstanceInventory]
# The kind listings to run for an instance, each once (a listing several kinds share).
ListingsFor = Callable[[InstanceRef], Sequence[KindListing]]


def every_listing(_ref: InstanceRef) -> Sequence[KindListing]:
    """Every registered kind listing, each once (what a caller that knows no plan asks)."""
    return list(dict.fromkeys(KIND_LISTINGS.values()))


def needed_listings(
    desired: DesiredState, state: StateDocument | None, targets: Sequence[Target] = ()
) -> ListingsFor:
    """The kind listings each instance's plan needs, judged from the file, the state (None:
    not read yet, so only the file and the targets decide) and the targets."""
    declared = {(instance.region, instance.instance_id): instance for instance in desired.instances}
    recorded: set[tuple[str, str, str]] = set()
    if state is not None:
        # Only the kinds with a listing of their own matter (a large state is mostly GIDs).
        listed_kinds = set(KIND_LISTINGS)
        recorded = {
            (resource.region, resource.instance_id, resource.kind)
            for resource in state.resources
            if resource.kind in listed_kinds
        }
    named = {
        (target.instance_id, kind_of_key_text(target.group_id))
        for target in targets
        if target.group_id is not None
    }

    def needed(ref: InstanceRef, kind_name: str) -> bool:
        if (*ref, kind_name) in recorded or (ref[1], kind_name) in named:
            return True
        kind = KINDS.get(kind_name)
        instance = declared.get(ref)
        if kind is None or instance is None:
            # An unknown kind is listed to be safe; an instance only in the state plans
            # nothing but what the state records.
            return kind is None
        return bool(kind.declared(instance)) or instance.ownership_of(kind_name) == "exclusive"

    def listings(ref: InstanceRef) -> Sequence[KindListing]:
        return list(
            dict.fromkeys(
                listing for kind_name, listing in KIND_LISTINGS.items() if needed(ref, kind_name)
            )
        )

    return listings
