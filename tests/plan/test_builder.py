"""Building plans against the real emulator: refresh, shared namespaces, online clients."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from reconciler.cloud.credentials import Credentials
from reconciler.cloud.responses import GroupIdRecord
from reconciler.commands.connect import CloudSession
from reconciler.errors import PlanError
from reconciler.models import SafetyConfig, StateDocument
from reconciler.plan.builder import ClientFor, GroupApi, build_plan, refresh
from reconciler.plan.diff import PlanOptions
from reconciler.plan.model import Action, GuardKind
from tests.fixtures.emulator import RunningEmulator

from .helpers import INST, META, REGION, desired, group, instance, resource, state


class CountingApi:
    """The real client, counting calls per action."""

    def __init__(self, inner: GroupApi, calls: Counter[str]) -> None:
        self.inner = inner
        self.calls = calls

    def list_group_ids(self, instance_id: str | None = None) -> list[GroupIdRecord]:
        self.calls[f"list:{instance_id}"] += 1
        return self.inner.list_group_ids(instance_id)

    def query_client_by_group_id(self, group_id: str, *, instance_id: str | None) -> int:
        self.calls["query"] += 1
        return self.inner.query_client_by_group_id(group_id, instance_id=instance_id)


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
    return lambda region: CountingApi(session.client(region), calls)


def test_each_instance_is_listed_once(
    emulator: RunningEmulator, client_for: ClientFor, calls: Counter[str]
) -> None:
    for n in range(2, 6):
        emulator.store.add_instance(f"post-cn-test000{n}", region=REGION)
    emulator.store.add_group(INST, "GID_there")
    want = desired(*(instance(f"post-cn-test000{n}", "GID_new") for n in range(1, 5)))
    have = state(("post-cn-test0005", "GID_old"))
    built = build_plan(want, have, client_for, PlanOptions(), META, parallelism=3)
    assert sorted(k for k in calls if k.startswith("list:")) == [
        f"list:post-cn-test000{n}" for n in range(1, 6)
    ]
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

        def query_client_by_group_id(self, group_id: str, *, instance_id: str | None) -> int:
            raise AssertionError

    refreshed = refresh(lambda _region: Fake(), [(REGION, "MQ_INST_a")])
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

    options = PlanOptions(targets=("post-cn-old00001",), skip_online_check=True)
    plan = build_plan(
        desired(instance(INST, "GID_new")), read_state, client_for, options, META
    ).plan
    assert reads == [1]
    assert [(c.action, c.group_id) for c in plan.changes] == [(Action.DELETE, "GID_leftover")]
    # The targeted state-only instance is listed; the untargeted declared one is not.
    assert calls["list:post-cn-old00001"] == 1
    assert calls[f"list:{INST}"] == 0
