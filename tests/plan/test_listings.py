"""Which kind listings a plan runs per instance (``plan.listings``): the access listing only
where the file declares access entries or owns them exclusively, the state records some, or a
target names one; GIDs alone never ask for it."""

from __future__ import annotations

import pytest

from reconciler.cloud.capabilities import KIND_LISTINGS
from reconciler.models import (
    DesiredBlacklistEntry,
    DesiredGroup,
    DesiredInstance,
    DesiredState,
    KindOwnership,
    StateDocument,
    StateResource,
)
from reconciler.plan.listings import every_listing, needed_listings
from reconciler.plan.options import Target
from reconciler.state import new_state

REGION = "cn-hangzhou"
INSTANCE = "post-cn-listing01"
REF = (REGION, INSTANCE)
ACCESS_LISTING = KIND_LISTINGS["blacklist"]


def desired(**fields: object) -> DesiredState:
    instance = DesiredInstance.model_validate(
        {"instance_id": INSTANCE, "region": REGION, "api": "onsmqtt", **fields}
    )
    return DesiredState(instances=(instance,))


def recording(kind: str, key: str) -> StateDocument:
    resource = StateResource(kind=kind, region=REGION, instance_id=INSTANCE, group_id=key)
    return new_state().model_copy(update={"resources": (resource,)})


GIDS_ONLY = desired(groups=(DesiredGroup(group_id="GID_alpha"),))
NOTHING = DesiredState()


@pytest.mark.parametrize(
    ("want", "state", "targets"),
    [
        pytest.param(GIDS_ONLY, None, (), id="gids-only"),
        pytest.param(GIDS_ONLY, recording("gid", "GID_alpha"), (), id="gids-recorded"),
        pytest.param(GIDS_ONLY, None, (Target(INSTANCE, "GID_alpha"),), id="gid-targeted"),
        pytest.param(
            desired(kind_ownership=(KindOwnership(kind="blacklist", ownership="managed"),)),
            None,
            (),
            id="managed-and-empty",
        ),
        pytest.param(NOTHING, recording("gid", "GID_alpha"), (), id="state-only-gids"),
    ],
)
def test_no_access_listing_where_nothing_of_access_can_be_planned(
    want: DesiredState, state: StateDocument | None, targets: tuple[Target, ...]
) -> None:
    assert needed_listings(want, state, targets)(REF) == []


@pytest.mark.parametrize(
    ("want", "state", "targets"),
    [
        pytest.param(
            desired(blacklist=(DesiredBlacklistEntry(client_id="dev-9"),)), None, (), id="declared"
        ),
        pytest.param(
            desired(blacklist=(DesiredBlacklistEntry(client_id="dev-9", absent=True),)),
            None,
            (),
            id="absent",
        ),
        pytest.param(
            desired(kind_ownership=(KindOwnership(kind="permission", ownership="exclusive"),)),
            None,
            (),
            id="exclusive",
        ),
        pytest.param(GIDS_ONLY, recording("identity", "identity:user:alice"), (), id="recorded"),
        pytest.param(
            NOTHING, recording("blacklist", "blacklist:dev-9"), (), id="state-only-recorded"
        ),
        pytest.param(
            GIDS_ONLY, None, (Target(INSTANCE, "blacklist:dev-9"),), id="access-key-targeted"
        ),
    ],
)
def test_the_access_listing_runs_once_where_something_of_access_may_be_planned(
    want: DesiredState, state: StateDocument | None, targets: tuple[Target, ...]
) -> None:
    assert needed_listings(want, state, targets)(REF) == [ACCESS_LISTING]


def test_a_caller_without_a_plan_runs_every_listing_once() -> None:
    assert every_listing(REF) == [ACCESS_LISTING]
