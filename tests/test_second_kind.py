"""A second resource kind, registered by this test alone, planned and applied by the same
engine as GIDs: no line of plan/ or apply/ knows it.

The kind ("widget") has one mutable attribute (``colour``) and one write-only one
(``secret``); its client capability is a fake that records the calls it is asked to make.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import cast

import pytest
from pydantic import SecretStr

from reconciler.apply import StateJournal
from reconciler.apply.calls import planned_calls
from reconciler.apply.executor import execute
from reconciler.cloud.capabilities import (
    KIND_CAPABILITIES,
    KIND_LISTINGS,
    Confirmed,
    GroupCapabilities,
    ResourceCapability,
    ResourceTarget,
    WireCall,
)
from reconciler.cloud.responses import GroupIdRecord
from reconciler.models import (
    KINDS,
    CloudGroup,
    DesiredGroup,
    DesiredInstance,
    DesiredState,
    FrozenModel,
    InstanceInventory,
    LocalBackendConfig,
    ResourceKind,
    StateDocument,
    StateResource,
)
from reconciler.plan.builder import build_plan, refresh
from reconciler.plan.diff import PlanMeta, PlanOptions, diff_plan
from reconciler.plan.model import Action, Plan
from reconciler.plan.planfile import dumps_plan, loads_plan
from reconciler.render.apply_result import render_calls_text
from reconciler.render.json import render_json
from reconciler.render.markdown import render_markdown
from reconciler.render.state import render_state_resource
from reconciler.render.text import render_text
from reconciler.state import new_state
from reconciler.state.local import LocalBackend

REGION = "cn-hangzhou"
INSTANCE = "post-cn-widgets01"
SECRET = "hunter2-correct-horse"
NEW_SECRET = "battery-staple-9"
META = PlanMeta(tool_version="0.0.0", created_at="2026-01-01T00:00:00Z")


# --- the kind: a model, its views, a fake capability -------------------------------------------


class DesiredWidget(FrozenModel):
    name: str
    colour: str | None = None
    secret: SecretStr | None = None
    absent: bool = False


class WidgetInstance(DesiredInstance):
    widgets: tuple[DesiredWidget, ...] = ()


class ListedWidget(FrozenModel):
    name: str
    colour: str


class WidgetInventory(InstanceInventory):
    widgets: tuple[ListedWidget, ...] = ()


def _declared(instance: DesiredInstance) -> tuple[DesiredWidget, ...]:
    return instance.widgets if isinstance(instance, WidgetInstance) else ()


def _listed(inventory: InstanceInventory) -> frozenset[str]:
    if not isinstance(inventory, WidgetInventory):
        return frozenset()
    return frozenset(widget.name for widget in inventory.widgets)


def _listed_values(inventory: InstanceInventory) -> Mapping[str, Mapping[str, str]]:
    if not isinstance(inventory, WidgetInventory):
        return {}
    return {widget.name: {"colour": widget.colour} for widget in inventory.widgets}


def _key_of(widget: DesiredWidget) -> str:
    return widget.name


WIDGET = ResourceKind(
    name="widget",
    noun="widget",
    key_label="WIDGET_NAME",
    declared=_declared,
    key_of=_key_of,
    listed=_listed,
    listed_values=_listed_values,
    mutable=("colour",),
    write_only=("secret",),
)


class FakeWidgets:
    """The widget capability of a client: records each call, with what it was given."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, ResourceTarget]] = []

    def _call(self, action: str, target: ResourceTarget) -> WireCall:
        params = {"InstanceId": target.instance_id, "Name": target.key}
        for name, value in target.attributes.items():
            if value is not None:
                params[name.title()] = value
        params.update({name.title(): value for name, value in target.write_only.items()})
        return WireCall(action=action, params=params)

    def create_call(self, target: ResourceTarget) -> WireCall:
        return self._call("CreateWidget", target)

    def update_call(self, target: ResourceTarget) -> WireCall:
        return self._call("UpdateWidget", target)

    def delete_call(self, target: ResourceTarget) -> WireCall:
        return WireCall("DeleteWidget", {"InstanceId": target.instance_id, "Name": target.key})

    def create(self, target: ResourceTarget) -> Confirmed:
        self.sent.append(("create", target))
        return Confirmed("created", "req-create")

    def update(self, target: ResourceTarget) -> Confirmed:
        self.sent.append(("update", target))
        return Confirmed("updated", "req-update")

    def delete(self, target: ResourceTarget) -> Confirmed:
        self.sent.append(("delete", target))
        return Confirmed("deleted", "req-delete")


class FakeClient:
    """The client a run hands plan and apply: no GIDs, and its widgets."""

    def __init__(self) -> None:
        self.widgets = FakeWidgets()
        # What its cloud lists: widget name -> colour.
        self.listed: dict[str, str] = {}

    def list_group_ids(self, instance_id: str | None = None) -> list[GroupIdRecord]:
        return []


def _list_widgets(client: GroupCapabilities, inventory: InstanceInventory) -> InstanceInventory:
    listed = cast(FakeClient, client).listed
    return WidgetInventory(
        region=inventory.region,
        instance_id=inventory.instance_id,
        groups=inventory.groups,
        widgets=tuple(ListedWidget(name=name, colour=colour) for name, colour in listed.items()),
    )


def _widget_capability(client: GroupCapabilities) -> ResourceCapability:
    return cast(FakeClient, client).widgets


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeClient]:
    """The kind and its capability registered for this test only."""
    monkeypatch.setitem(KINDS, WIDGET.name, WIDGET)
    monkeypatch.setitem(KIND_CAPABILITIES, WIDGET.name, _widget_capability)
    monkeypatch.setitem(KIND_LISTINGS, WIDGET.name, _list_widgets)
    yield FakeClient()


# --- helpers ---------------------------------------------------------------------------------


def desired(*widgets: DesiredWidget) -> DesiredState:
    instance = WidgetInstance(instance_id=INSTANCE, region=REGION, widgets=widgets)
    return DesiredState(instances=(instance,))


def listing(**colours: str) -> dict[tuple[str, str], InstanceInventory]:
    widgets = tuple(ListedWidget(name=name, colour=colour) for name, colour in colours.items())
    return {
        (REGION, INSTANCE): WidgetInventory(region=REGION, instance_id=INSTANCE, widgets=widgets)
    }


def plan_of(
    want: DesiredState, inventories: dict[tuple[str, str], InstanceInventory], state: StateDocument
) -> Plan:
    return diff_plan(want, inventories, state, PlanOptions(), META)


def apply(plan: Plan, client: FakeClient, backend: LocalBackend) -> StateDocument:
    state = backend.read() or new_state()
    journal = StateJournal(backend, state)
    result = execute(
        plan.changes,
        client_for=lambda region, api: cast(GroupCapabilities, client),
        journal=journal,
    )
    assert result.ok, result
    stored = backend.read()
    assert stored is not None
    return stored


def every_output(plan: Plan, client: FakeClient, tmp_path: Path) -> str:
    """What a user or a file ever gets of the plan: text, JSON, Markdown, the saved file and
    the dry run's calls."""
    calls = planned_calls(plan.changes, lambda region, api: cast(GroupCapabilities, client))
    return "\n".join(
        (
            render_text(plan),
            render_json(plan),
            render_markdown(plan),
            dumps_plan(plan),
            render_calls_text(calls),
            repr(plan),
        )
    )


@pytest.fixture
def backend(tmp_path: Path) -> LocalBackend:
    return LocalBackend(LocalBackendConfig(path="state.json"), base_dir=tmp_path)


# --- the proof -------------------------------------------------------------------------------


def test_a_registered_kind_is_created_updated_and_deleted_by_its_capability(
    client: FakeClient, backend: LocalBackend, tmp_path: Path
) -> None:
    state_file = tmp_path / "state.json"
    journal_file = tmp_path / "state.json.journal"

    def stored() -> str:  # the document and the writes journaled since
        journal = journal_file.read_text() if journal_file.exists() else ""
        return state_file.read_text() + journal

    # create: the capability gets the colour and the secret; the state keeps a digest only
    want = desired(DesiredWidget(name="w1", colour="red", secret=SecretStr(SECRET)))
    plan = plan_of(want, listing(), new_state())
    assert [(c.action, c.kind, c.group_id) for c in plan.changes] == [
        (Action.CREATE, "widget", "w1")
    ]
    shown = every_output(plan, client, tmp_path)
    assert "+ w1" in render_text(plan)
    assert "CreateWidget" in shown and "Colour=red" in shown
    assert SECRET not in shown
    state = apply(plan, client, backend)
    assert [
        (action, t.key, t.attributes["colour"], t.write_only) for action, t in client.widgets.sent
    ] == [("create", "w1", "red", {"secret": SECRET})]
    (recorded,) = state.resources
    assert (recorded.kind, recorded.group_id, recorded.value("colour")) == ("widget", "w1", "red")
    assert [digest.name for digest in recorded.digests] == ["secret"]
    assert SECRET not in stored()

    # nothing changed: nothing planned (the digest matches the declared secret)
    assert not plan_of(want, listing(w1="red"), state).has_differences

    # a mutable change and a new secret: one update call, the secret named but never shown
    client.widgets.sent.clear()
    want = desired(DesiredWidget(name="w1", colour="blue", secret=SecretStr(NEW_SECRET)))
    plan = plan_of(want, listing(w1="red"), state)
    (update,) = plan.changes
    assert (update.action, update.symbol) == (Action.UPDATE, "~")
    text = render_text(plan)
    assert "~ w1" in text
    assert "colour changes from red to blue" in text and "secret changed" in text
    shown = every_output(plan, client, tmp_path)
    # The dry run lists the call the capability sends, the secret as a placeholder.
    assert "UpdateWidget" in shown and "(write-only)" in shown
    assert NEW_SECRET not in shown and SECRET not in shown
    # a saved plan holds no secret, and reads back as a plan
    saved = tmp_path / "plan.json"
    saved.write_text(dumps_plan(plan))
    assert NEW_SECRET not in saved.read_text()
    assert loads_plan(saved.read_text(), str(saved)).changes[0].changed == update.changed
    state = apply(plan, client, backend)
    assert [
        (action, t.attributes["colour"], t.write_only) for action, t in client.widgets.sent
    ] == [("update", "blue", {"secret": NEW_SECRET})]
    (recorded,) = state.resources
    assert recorded.value("colour") == "blue"
    shown = render_state_resource(recorded)
    assert "widget_name = w1" in shown and "colour" in shown and "blue" in shown
    assert "secret" in shown and recorded.digests[0].value not in shown
    stored_text = stored()
    assert NEW_SECRET not in stored_text and SECRET not in stored_text
    assert not plan_of(want, listing(w1="blue"), state).has_differences

    # a colour changed in the cloud is found by the listing and set back
    (drift,) = plan_of(want, listing(w1="green"), state).changes
    assert "colour changes from green to blue" in drift.reason

    # delete: the capability is asked, the state forgets it
    client.widgets.sent.clear()
    want = desired(DesiredWidget(name="w1", absent=True))
    plan = plan_of(want, listing(w1="blue"), state)
    assert [(c.action, c.key.kind) for c in plan.changes] == [(Action.DELETE, "widget")]
    state = apply(plan, client, backend)
    assert [(action, t.key) for action, t in client.widgets.sent] == [("delete", "w1")]
    assert state.resources == ()
    reread = backend.read()
    assert reread is not None and reread.resources == ()


def test_an_unrecorded_resource_with_a_write_only_value_is_set_then_recorded(
    client: FakeClient, backend: LocalBackend
) -> None:
    """Adopted, its secret could not be known: one update call sets it, then it is recorded."""
    want = desired(DesiredWidget(name="w2", colour="red", secret=SecretStr(SECRET)))
    plan = plan_of(want, listing(w2="red"), new_state())
    (change,) = plan.changes
    assert (change.action, change.in_state) == (Action.UPDATE, False)
    assert [item.name for item in change.changed] == ["secret"]
    state = apply(plan, client, backend)
    assert [action for action, _ in client.widgets.sent] == ["update"]
    (recorded,) = state.resources
    assert (recorded.origin, recorded.value("colour")) == ("adopted", "red")
    assert not plan_of(want, listing(w2="red"), state).has_differences


def test_the_planners_listing_gathers_the_kind(client: FakeClient) -> None:
    """The refresh lists the kind through its registered listing: a colour changed in the
    cloud is planned back, a widget only the cloud has is unmanaged."""
    client.listed = {"w1": "green", "stray": "red"}
    refreshed = refresh(lambda region, api: cast(GroupCapabilities, client), [(REGION, INSTANCE)])
    want = desired(DesiredWidget(name="w1", colour="blue"))
    plan = plan_of(want, dict(refreshed.inventories), new_state())
    (update,) = plan.changes
    assert (update.action, update.group_id) == (Action.UPDATE, "w1")
    assert "colour is set to blue" not in update.reason
    assert "colour changes from green to blue" in update.reason
    assert [str(key) for key in plan.unmanaged] == [f"{INSTANCE}/stray"]


def test_the_planners_listing_runs_only_where_a_widget_may_be_planned(
    client: FakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No widget declared and none recorded: its listing is not run (a plan could hold no
    widget change); declared, or recorded, it runs once."""
    listed: list[str] = []

    def counting(client: GroupCapabilities, inventory: InstanceInventory) -> InstanceInventory:
        listed.append(inventory.instance_id)
        return _list_widgets(client, inventory)

    monkeypatch.setitem(KIND_LISTINGS, WIDGET.name, counting)

    def client_for(region: str, api: str) -> GroupCapabilities:
        return cast(GroupCapabilities, client)

    def listings_of(
        want: DesiredState, state: StateDocument | Callable[[], StateDocument]
    ) -> list[str]:
        listed.clear()
        build_plan(want, state, client_for, PlanOptions(), META)
        return list(listed)

    assert listings_of(desired(), new_state()) == []
    assert listings_of(desired(DesiredWidget(name="w1", colour="blue")), new_state()) == [INSTANCE]
    recorded = new_state().model_copy(
        update={
            "resources": (
                StateResource(kind=WIDGET.name, region=REGION, instance_id=INSTANCE, group_id="w1"),
            )
        }
    )
    # The state read after the instance's GIDs were listed adds the listing.
    assert listings_of(desired(), recorded) == [INSTANCE]
    assert listings_of(desired(), lambda: recorded) == [INSTANCE]


def test_the_breaker_counts_deletes_per_kind(client: FakeClient) -> None:
    """GID deletes and widget deletes are each held to ``safety.max_deletes`` (10) on their
    own: six of each pass; eleven widgets are refused, named as widgets."""

    def plan_deleting(gids: int, widgets: int) -> Plan:
        groups = tuple(DesiredGroup(group_id=f"GID_old{i:02d}", absent=True) for i in range(gids))
        doomed = tuple(DesiredWidget(name=f"w{i}", absent=True) for i in range(widgets))
        # onsmqtt cannot count a GID's clients: each GID delete carries a note saying so.
        instance = WidgetInstance(
            instance_id=INSTANCE, region=REGION, api="onsmqtt", groups=groups, widgets=doomed
        )
        listed = WidgetInventory(
            region=REGION,
            instance_id=INSTANCE,
            groups=tuple(
                CloudGroup(group_id=g.group_id, instance_id=INSTANCE, independent_naming=True)
                for g in groups
            ),
            widgets=tuple(ListedWidget(name=w.name, colour="red") for w in doomed),
        )
        want = DesiredState(instances=(instance,))
        return plan_of(want, {(REGION, INSTANCE): listed}, new_state())

    mixed = plan_deleting(gids=6, widgets=6)
    assert [c.kind for c in mixed.changes].count("widget") == 6
    assert not mixed.refusals()
    # The GIDs' deletes are noted about their online check; the widgets' have none to note.
    assert all(bool(c.guards) == (c.kind == "gid") for c in mixed.changes)

    (guard,) = plan_deleting(gids=1, widgets=11).refusals()
    assert guard.kind == "mass_delete"
    assert guard.message == (
        "delete circuit breaker: 11 widget deletes exceed safety.max_deletes (10)"
    )


def test_the_engine_names_no_kind() -> None:
    """The diff, the walk, the guards, apply and the renderers take every kind from
    ``KINDS``: none of them names the GID kind."""
    package = Path(__file__).resolve().parents[1] / "reconciler"
    engine = [
        package / "plan" / "diff.py",
        package / "plan" / "walk.py",
        package / "plan" / "guards.py",
        *sorted((package / "apply").glob("*.py")),
        *sorted((package / "render").glob("*.py")),
    ]
    naming = [
        f"{path.relative_to(package)}:{number}"
        for path in engine
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if "GID_KIND" in line or '"gid"' in line
    ]
    assert naming == []
