"""Which deletes apply looks the online clients of up again (``guards.recheck_changes``)."""

from __future__ import annotations

from reconciler.plan.builder import lookup_pacing_note
from reconciler.plan.guards import recheck_changes
from reconciler.plan.model import Action, Change, Guard, GuardKind, Plan

ALLOWED = Guard(
    kind=GuardKind.ONLINE_CLIENTS,
    message="2 client(s) online",
    blocking=True,
    override="--allow-online-delete",
    overridden=True,
)
SKIPPED = Guard(kind=GuardKind.ONLINE_CHECK_SKIPPED, message="not checked")


def _change(group_id: str, action: Action = Action.DELETE, **fields: object) -> Change:
    return Change(
        action=action,
        region="cn-hangzhou",
        instance_id="post-cn-x",
        group_id=group_id,
        reason="test",
        **fields,  # type: ignore[arg-type]
    )


def _plan(*changes: Change, allow_online_delete: bool = False) -> Plan:
    return Plan(
        tool_version="0",
        created_at="2026-01-01T00:00:00Z",
        desired_digest="d",
        changes=changes,
        allow_online_delete=allow_online_delete,
    )


def test_only_deletes_not_overridden_and_with_something_to_ask_are_checked_again() -> None:
    plan = _plan(
        _change("GID_checked", online_clients=0),
        _change("GID_created", Action.CREATE),
        _change("GID_forgotten", Action.FORGET),
        _change("GID_allowed", online_clients=2, guards=(ALLOWED,)),  # an older plan file
        _change("GID_skipped", guards=(SKIPPED,)),
        _change("GID_no_clients", api="onsmqtt"),
        _change("GID_known", api="onsmqtt", clients=("GID_known@@@d1",)),
    )
    assert [c.group_id for c in recheck_changes(plan)] == ["GID_checked", "GID_known"]


def test_a_plan_made_with_allow_online_delete_checks_nothing_again() -> None:
    plan = _plan(_change("GID_checked", online_clients=0), allow_online_delete=True)
    assert recheck_changes(plan) == []


def test_the_pacing_note_of_the_look_ups_is_said_from_the_declared_rate_only_where_paced() -> None:
    ons = _change("GID_a", api="ons")
    onsmqtt = _change("GID_b", api="onsmqtt")
    # The plan's look-up and apply's look-up again both announce with this one note.
    assert lookup_pacing_note([onsmqtt, ons]) == " (30 look-ups a minute)"
    assert lookup_pacing_note([onsmqtt]) == ""
