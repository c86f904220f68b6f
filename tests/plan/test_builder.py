"""Building plans against the real emulator: refresh, shared namespaces, online clients."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

import pytest

from reconciler.cloud.capabilities import GroupCapabilities, OnlineClients
from reconciler.cloud.credentials import Credentials
from reconciler.cloud.responses import GroupIdRecord
from reconciler.commands.connect import CloudSession
from reconciler.errors import PlanError
from reconciler.models import SafetyConfig, StateDocument
from reconciler.plan.builder import ClientFor, build_plan, refresh
from reconciler.plan.diff import PlanOptions
from reconciler.plan.model import Action, Guard, GuardKind
from reconciler.plan.options import parse_targets
from tests.fixtures.emulator import RunningEmulator
from tests.fixtures.plan_models import INST, META, REGION, desired, group, instance, resource, state


class CountingApi:
    """The real client, counting the listings and online look-ups a plan makes."""

    def __init__(self, inner: GroupCapabilities, calls: Counter[str]) -> None:
        self.inner = inner
        self.calls = calls

    def list_group_ids(self, instance_id: str | None = None) -> list[GroupIdRecord]:
        self.calls[f"list:{instance_id}"] += 1
        return self.inner.list_group_ids(instance_id)

    def online_clients(
        self, group_id: str, *, instance_id: str, known_ids: Sequence[str]
    ) -> OnlineClients:
        self.calls["query"] += 1
        return self.inner.online_clients(group_id, instance_id=instance_id, known_ids=known_ids)


@pytest.fixture
def session(emulator: RunningEmulator) -> Iterator[CloudSession]:
    creds = Credentials.model_validate(
        {
            "access_key_id": emulator.access_key_id,
            "access_key_secret": emulator.access_key_secret,
            "source": "test",
        }
    )
    cloud = CloudSession(
        endpoint=emulator.url, endpoint_label=emulator.url, embedded=False, credentials=creds
    )
    yield cloud
    cloud.close()


@pytest.fixture
def calls() -> Counter[str]:
    return Counter()


@pytest.fixture
def client_for(session: CloudSession, calls: Counter[str]) -> ClientFor:
    return lambda region, api: CountingApi(session.client(region, api), calls)


def test_each_instance_is_listed_once(
    emulator: RunningEmulator, client_for: ClientFor, calls: Counter[str]
) -> None:
    for n in range(2, 6):
        emulator.store.add_instance(f"post-cn-test000{n}", region=REGION)
    emulator.store.add_group(INST, "GID_there")
    want = desired(*(instance(f"post-cn-test000{n}", "GID_new") for n in range(1, 5)))
    have = state(("post-cn-test0005", "GID_old"))
    built = build_plan(want, have, client_for, PlanOptions(), META, parallelism=3)
    assert sorted(k for k in calls if k.startswith("list:post-cn-")) == [
        f"list:post-cn-test000{n}" for n in range(1, 6)
    ]
    # Plus the region's shared namespace, once: the empty instances may share it.
    assert set(calls) - {f"list:post-cn-test000{n}" for n in range(1, 6)} == {"list:None"}
    assert set(calls.values()) == {1}
    assert (built.plan.summary.create, built.plan.summary.unmanaged) == (4, 1)
    assert built.plan.summary.forget == 1


def test_unknown_declared_instance_is_an_error(client_for: ClientFor) -> None:
    with pytest.raises(PlanError, match=r"post-cn-missing.*does not know it"):
        build_plan(desired(instance("post-cn-missing")), None, client_for, PlanOptions(), META)


def test_instance_gone_from_cloud_and_file_forgets_its_state(client_for: ClientFor) -> None:
    have = state(("post-cn-deleted", "GID_old"))
    plan = build_plan(desired(instance(INST)), have, client_for, PlanOptions(), META).plan
    assert [(c.action, c.group_id) for c in plan.changes] == [(Action.FORGET, "GID_old")]


def test_online_clients_are_looked_up_once_per_delete(
    emulator: RunningEmulator, client_for: ClientFor, calls: Counter[str]
) -> None:
    for name in ("GID_busy", "GID_idle"):
        emulator.store.add_group(INST, name)
    emulator.store.add_client("GID_busy@@@device1", instance_id=INST, online=True)
    want = desired(instance(INST, group("GID_busy", absent=True), group("GID_idle", absent=True)))
    plan = build_plan(want, None, client_for, PlanOptions(), META).plan
    assert calls["query"] == 2
    busy, idle = plan.changes
    assert (busy.online_clients, idle.online_clients) == (1, 0)
    assert [g.kind for g in plan.refusals()] == [GuardKind.ONLINE_CLIENTS]


def test_tripped_breaker_spends_no_lookups(
    emulator: RunningEmulator, client_for: ClientFor, calls: Counter[str]
) -> None:
    names = [f"GID_bulk{i}" for i in range(3)]
    for name in names:
        emulator.store.add_group(INST, name)
    want = desired(
        instance(INST, *(group(n, absent=True) for n in names)),
        safety=SafetyConfig(max_deletes=2),
    )
    plan = build_plan(want, None, client_for, PlanOptions(), META).plan
    assert calls["query"] == 0
    assert [g.kind for g in plan.refusals()] == [GuardKind.MASS_DELETE]


def test_skip_online_check_spends_no_lookups(
    emulator: RunningEmulator, client_for: ClientFor, calls: Counter[str]
) -> None:
    emulator.store.add_group(INST, "GID_old")
    have = state(resource(INST, "GID_old"))
    options = PlanOptions(skip_online_check=True)
    plan = build_plan(desired(instance(INST)), have, client_for, options, META).plan
    assert calls["query"] == 0
    assert plan.changes[0].guards[0].kind is GuardKind.ONLINE_CHECK_SKIPPED


def test_name_used_by_an_undeclared_shared_instance_is_an_error(
    emulator: RunningEmulator, client_for: ClientFor, calls: Counter[str]
) -> None:
    store = emulator.store
    store.add_instance("MQ_INST_shared1", region=REGION, independent_naming=False)
    store.add_instance("MQ_INST_shared2", region=REGION, independent_naming=False)
    store.add_group("MQ_INST_shared1", "GID_mine")
    store.add_group("MQ_INST_shared2", "GID_taken")
    want = desired(instance("MQ_INST_shared1", "GID_mine", "GID_taken", "GID_free"))
    plan = build_plan(want, None, client_for, PlanOptions(), META).plan
    assert calls["list:None"] == 1  # one account-wide listing for the region
    refused = {c.group_id for c in plan.changes if any(g.refuses for g in c.guards)}
    assert refused == {"GID_taken"}
    assert "MQ_INST_shared2" in plan.refusals()[0].message


def test_declared_naming_is_checked_against_the_cloud(
    emulator: RunningEmulator, client_for: ClientFor
) -> None:
    emulator.store.add_group(INST, "GID_there")
    want = desired(instance(INST, "GID_there", independent_naming=False))
    plan = build_plan(want, None, client_for, PlanOptions(), META).plan
    assert [g.kind for g in plan.refusals()] == [GuardKind.NAMING_MISMATCH]


def test_refresh_keeps_other_instances_out_of_an_inventory() -> None:
    def record(group_id: str, instance_id: str) -> GroupIdRecord:
        return GroupIdRecord.model_validate(
            {
                "GroupId": group_id,
                "InstanceId": instance_id,
                "IndependentNaming": False,
                "CreateTime": 0,
                "UpdateTime": 0,
            }
        )

    class Fake:
        def list_group_ids(self, instance_id: str | None = None) -> list[GroupIdRecord]:
            return [record("GID_mine", "MQ_INST_a"), record("GID_theirs", "MQ_INST_b")]

    refreshed = refresh(lambda _region, _api: Fake(), [(REGION, "MQ_INST_a")])
    assert refreshed.inventories[(REGION, "MQ_INST_a")].group_ids() == {"GID_mine"}
    assert refreshed.inventories[(REGION, "MQ_INST_b")].group_ids() == {"GID_theirs"}
    assert refreshed.naming == {(REGION, "MQ_INST_a"): False}


def test_state_is_read_while_listing_and_state_only_targets_work(
    emulator: RunningEmulator, client_for: ClientFor, calls: Counter[str]
) -> None:
    emulator.store.add_instance("post-cn-old00001", region=REGION)
    emulator.store.add_group("post-cn-old00001", "GID_leftover")
    have = state(("post-cn-old00001", "GID_leftover"))
    reads: list[int] = []

    def read_state() -> StateDocument:
        reads.append(1)
        return have

    options = PlanOptions(targets=parse_targets(["post-cn-old00001"]), skip_online_check=True)
    plan = build_plan(
        desired(instance(INST, "GID_new")), read_state, client_for, options, META
    ).plan
    assert reads == [1]
    assert [(c.action, c.group_id) for c in plan.changes] == [(Action.DELETE, "GID_leftover")]
    # The targeted state-only instance is listed; the untargeted declared one is not.
    assert calls["list:post-cn-old00001"] == 1
    assert calls[f"list:{INST}"] == 0


# --- naming of instances that have no GIDs ----------------------------------------------------

SHARED_HOLDER = "MQ_INST_9_s2"
SHARED_EMPTY = "MQ_INST_9_s3"


def _shared_pair(emulator: RunningEmulator) -> None:
    store = emulator.store
    for instance_id in (SHARED_HOLDER, SHARED_EMPTY):
        store.add_instance(instance_id, region=REGION, independent_naming=False)
    store.add_group(SHARED_HOLDER, "GID_clash")


def _kinds(guards: Iterable[Guard]) -> list[GuardKind]:
    return [g.kind for g in guards]


def test_empty_shared_instance_create_is_checked_against_the_shared_namespace(
    emulator: RunningEmulator, client_for: ClientFor
) -> None:
    _shared_pair(emulator)
    plan = build_plan(
        desired(instance(SHARED_EMPTY, "GID_clash", "GID_fresh")),
        None,
        client_for,
        PlanOptions(),
        META,
    ).plan
    (refusal,) = plan.refusals()
    assert refusal.kind is GuardKind.NAMING_CONFLICT
    assert f"GID_clash already exists in instance {SHARED_HOLDER}" in refusal.message
    assert "declare its independent_naming" in refusal.message
    (note,) = plan.guards
    assert (note.kind, note.subject, note.blocking) == (
        GuardKind.NAMING_UNVERIFIED,
        SHARED_EMPTY,
        False,
    )
    assert note.message.startswith(
        f"independent_naming of {SHARED_EMPTY} cannot be verified: the instance has no GIDs"
    )


def test_empty_instance_declared_shared_is_checked_as_shared(
    emulator: RunningEmulator, client_for: ClientFor
) -> None:
    _shared_pair(emulator)
    want = desired(instance(SHARED_EMPTY, "GID_clash", independent_naming=False))
    plan = build_plan(want, None, client_for, PlanOptions(), META).plan
    assert _kinds(plan.refusals()) == [GuardKind.NAMING_CONFLICT]
    assert "planned as declared (independent_naming: false)" in plan.guards[0].message


def test_empty_namespaced_instance_declared_shared_says_it_cannot_verify(
    client_for: ClientFor, calls: Counter[str]
) -> None:
    want = desired(instance(INST, "GID_new", independent_naming=False))
    plan = build_plan(want, None, client_for, PlanOptions(), META).plan
    assert plan.refusals() == []
    assert [c.action for c in plan.changes] == [Action.CREATE]
    (note,) = plan.guards
    assert note.kind is GuardKind.NAMING_UNVERIFIED and not note.blocking
    assert note.message == (
        f"independent_naming of {INST} cannot be verified: the instance has no GIDs; planned "
        "as declared (independent_naming: false)"
    )
    # The region has no shared-namespace instance: the unnamed listing is asked for an
    # InstanceId, which means no name is taken there, not that the listing failed.
    assert calls["list:None"] == 1


def test_empty_namespaced_instance_beside_a_shared_one_is_refused_until_declared(
    emulator: RunningEmulator, client_for: ClientFor
) -> None:
    _shared_pair(emulator)
    undeclared = desired(instance(INST, "GID_clash"))
    plan = build_plan(undeclared, None, client_for, PlanOptions(), META).plan
    assert _kinds(plan.refusals()) == [GuardKind.NAMING_CONFLICT]
    declared = desired(instance(INST, "GID_clash", independent_naming=True))
    plan = build_plan(declared, None, client_for, PlanOptions(), META).plan
    assert plan.refusals() == []
    assert _kinds(plan.guards) == [GuardKind.NAMING_UNVERIFIED]


def test_instance_with_gids_needs_no_shared_listing(
    emulator: RunningEmulator, client_for: ClientFor, calls: Counter[str]
) -> None:
    emulator.store.add_group(INST, "GID_there")
    plan = build_plan(
        desired(instance(INST, "GID_there", "GID_new")), None, client_for, PlanOptions(), META
    ).plan
    assert calls["list:None"] == 0
    assert plan.guards == ()


def test_every_unknown_declared_instance_is_named_in_one_error(client_for: ClientFor) -> None:
    want = desired(
        instance("post-cn-missing1", "GID_aaa"), instance(INST), instance("post-cn-missing2")
    )
    with pytest.raises(PlanError) as info:
        build_plan(want, None, client_for, PlanOptions(), META)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("2 declared instances are unknown to the cloud")
    assert "post-cn-missing1 (cn-hangzhou): BIZ_INSTANCE_NOT_FOUND" in message
    assert "post-cn-missing2 (cn-hangzhou): BIZ_INSTANCE_NOT_FOUND" in message
