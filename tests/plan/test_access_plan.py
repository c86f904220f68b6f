"""The access kinds on the engine, from models to plan (no cloud): keys, per-kind ownership,
the cut-off warning, the breaker per kind, an edition without custom auth, the fingerprint."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from reconciler.config.loader import load_desired_text
from reconciler.errors import PlanError
from reconciler.models import (
    AccessListing,
    DesiredIdentity,
    DesiredInstance,
    DesiredPermission,
    DesiredState,
    InstanceInventory,
    KindOwnership,
    ListedBlacklistEntry,
    ListedIdentity,
    ListedPermission,
    StateDocument,
    StateResource,
    named_values,
    parse_key_text,
    write_only_digest,
)
from reconciler.plan.diff import PlanMeta, PlanOptions, diff_plan
from reconciler.plan.model import Action, GuardKind, Plan
from reconciler.plan.options import Target
from reconciler.render.text import render_text
from reconciler.state import new_state

REGION = "cn-hangzhou"
INSTANCE = "post-cn-access01"
META = PlanMeta(tool_version="0.0.0", created_at="2026-01-01T00:00:00Z")
GRANT = "permission:user:alice/telemetry/#"


def instance(**fields: object) -> DesiredInstance:
    return DesiredInstance.model_validate(
        {"instance_id": INSTANCE, "region": REGION, "api": "onsmqtt", **fields}
    )


def inventory(access: AccessListing | None) -> dict[tuple[str, str], InstanceInventory]:
    return {
        (REGION, INSTANCE): InstanceInventory(region=REGION, instance_id=INSTANCE, access=access)
    }


def plan_of(
    want: DesiredInstance,
    access: AccessListing | None,
    state: StateDocument | None = None,
    options: PlanOptions | None = None,
) -> Plan:
    return diff_plan(
        DesiredState(instances=(want,)),
        inventory(access),
        state or new_state(),
        options or PlanOptions(),
        META,
    )


def grant(
    effect: str = "allow", action: str = "pub", topic: str = "telemetry/#"
) -> ListedPermission:
    return ListedPermission(
        identity_type="user", identity="alice", topic=topic, effect=effect, permit_action=action
    )


def declared_grant(effect: str = "allow", action: str = "pub") -> DesiredPermission:
    return DesiredPermission(
        identity_type="user",
        identity="alice",
        topic="telemetry/#",
        effect=effect,
        permit_action=action,
    )


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (f"{INSTANCE}/GID_a", "GID_a"),
        (f"{INSTANCE}/{GRANT}", GRANT),
        (f"{INSTANCE}/permission:client:dev-1/a/+/b", "permission:client:dev-1/a/+/b"),
        (f"{INSTANCE}/identity:client:bob:dev:1", "identity:client:bob:dev:1"),
        (f"{INSTANCE}/blacklist:dev-9", "blacklist:dev-9"),
    ],
)
def test_a_key_text_splits_at_the_first_slash(text: str, key: str) -> None:
    assert parse_key_text(text) == (INSTANCE, key)
    assert Target.parse(text).group_id == key


@pytest.mark.parametrize("text", [f"{INSTANCE}/GID_a/b", f"{INSTANCE}/identity:user:a/b", "x/"])
def test_only_a_permission_key_holds_a_slash(text: str) -> None:
    with pytest.raises(ValueError, match="is not a KEY"):
        parse_key_text(text)
    with pytest.raises(PlanError, match="is not INSTANCE_ID or INSTANCE_ID/KEY"):
        Target.parse(text)


def test_each_kind_is_created_and_a_changed_effect_is_one_update_flagged_as_a_cut_off() -> None:
    want = instance(
        identities=[
            DesiredIdentity(
                identity_type="user", username="alice", sign_mode="origin", secret=SecretStr("s3")
            )
        ],
        permissions=[declared_grant()],
        blacklist=[{"client_id": "dev-9"}],
    )
    created = plan_of(want, AccessListing())
    assert sorted((c.action, c.kind, c.group_id) for c in created.changes) == [
        (Action.CREATE, "blacklist", "blacklist:dev-9"),
        (Action.CREATE, "identity", "identity:user:alice"),
        (Action.CREATE, "permission", GRANT),
    ]
    assert "s3" not in render_text(created)

    deny = instance(permissions=[declared_grant(effect="deny")])
    (update,) = plan_of(deny, AccessListing(permissions=(grant(),))).changes
    assert (update.action, update.symbol, update.group_id) == (Action.UPDATE, "~", GRANT)
    assert "effect changes from allow to deny" in update.reason
    (cut,) = update.guards
    assert cut.kind is GuardKind.CUTS_OFF
    assert cut.message == (
        "cuts off user alice: this changed permission takes away publish on telemetry/#, "
        "which it allows now"
    )
    assert cut.message in render_text(plan_of(deny, AccessListing(permissions=(grant(),))))


@pytest.mark.parametrize(
    ("listed", "declared", "cut"),
    [
        (grant(action="pub_sub"), declared_grant(action="sub"), "takes away publish on"),
        (grant(action="pub"), declared_grant(action="pub_sub"), None),
        (grant(effect="deny"), declared_grant(), None),
        (grant(), None, "this deleted permission takes away publish on"),
    ],
    ids=["narrowed", "widened", "deny-to-allow", "deleted-allow"],
)
def test_the_cut_off_warning_follows_what_the_listing_allows_now(
    listed: ListedPermission, declared: DesiredPermission | None, cut: str | None
) -> None:
    want = instance(
        permissions=[declared] if declared else [],
        kind_ownership=[KindOwnership(kind="permission", ownership="exclusive")],
    )
    (change,) = plan_of(want, AccessListing(permissions=(listed,))).changes
    messages = [g.message for g in change.guards if g.kind is GuardKind.CUTS_OFF]
    if cut is None:
        assert messages == []
    else:
        (message,) = messages
        assert cut in message


def test_ownership_is_per_kind_with_the_instance_as_default() -> None:
    stray = AccessListing(
        identities=(ListedIdentity(identity_type="user", username="stray", sign_mode="signed"),),
        permissions=(grant(topic="stray/#"),),
        blacklist=(ListedBlacklistEntry(client_id="old"),),
    )
    managed = plan_of(
        instance(kind_ownership=[KindOwnership(kind="permission", ownership="exclusive")]), stray
    )
    assert [(c.action, c.kind) for c in managed.changes] == [(Action.DELETE, "permission")]
    assert "permission ownership is exclusive" in managed.changes[0].reason
    assert sorted(str(key) for key in managed.unmanaged) == [
        f"{INSTANCE}/blacklist:old",
        f"{INSTANCE}/identity:user:stray",
    ]
    exclusive = plan_of(
        instance(
            ownership="exclusive",
            kind_ownership=[KindOwnership(kind="identity", ownership="managed")],
        ),
        stray,
    )
    assert sorted(c.kind for c in exclusive.changes) == ["blacklist", "permission"]
    assert [str(key) for key in exclusive.unmanaged] == [f"{INSTANCE}/identity:user:stray"]


def test_the_breaker_counts_permission_deletes_on_their_own() -> None:
    listed = AccessListing(permissions=tuple(grant(topic=f"t{i}/#") for i in range(11)))
    want = instance(kind_ownership=[KindOwnership(kind="permission", ownership="exclusive")])
    (guard,) = plan_of(want, listed).refusals()
    assert guard.kind is GuardKind.MASS_DELETE
    assert guard.message == "delete circuit breaker: 11 deletes exceed safety.max_deletes (10)"


def test_an_edition_without_custom_auth_is_one_line_per_instance_and_plans_nothing() -> None:
    reason = "custom authentication is not available on its edition (ApiNotSupport: no)"
    want = instance(permissions=[declared_grant()], blacklist=[{"client_id": "dev-9"}])
    plan = plan_of(want, AccessListing(unsupported=reason))
    assert plan.changes == ()
    (note,) = plan.guards
    assert note.kind is GuardKind.KIND_UNAVAILABLE and not note.blocking
    assert note.message == f"permissions and blacklist entries of {INSTANCE} not planned: {reason}"
    assert note.message in render_text(plan)
    # An instance that declares and records no access entry is not told about it.
    assert plan_of(instance(), AccessListing(unsupported=reason)).guards == ()


def test_a_secret_is_compared_with_the_digest_the_state_keeps() -> None:
    key = "identity:user:alice"
    recorded = StateResource(
        kind="identity",
        region=REGION,
        instance_id=INSTANCE,
        group_id=key,
        api="onsmqtt",
        attributes=named_values({"sign_mode": "signed"}),
        digests=named_values({"secret": write_only_digest("old-secret")}),
    )
    state = new_state().with_resource(recorded)
    listed = AccessListing(
        identities=(ListedIdentity(identity_type="user", username="alice", sign_mode="signed"),)
    )

    def wanting(secret: str) -> DesiredInstance:
        identity = DesiredIdentity(
            identity_type="user", username="alice", sign_mode="signed", secret=SecretStr(secret)
        )
        return instance(identities=[identity])

    assert not plan_of(wanting("old-secret"), listed, state).has_differences
    (rotated,) = plan_of(wanting("new-secret"), listed, state).changes
    assert (rotated.action, rotated.symbol) == (Action.UPDATE, "~")
    assert rotated.reason == "secret changed: one update call"
    text = render_text(plan_of(wanting("new-secret"), listed, state))
    assert "new-secret" not in text and "old-secret" not in text


def test_the_fingerprint_covers_the_access_listing() -> None:
    def fingerprint(access: AccessListing | None) -> str:
        return InstanceInventory(region=REGION, instance_id=INSTANCE, access=access).fingerprint()

    plain = fingerprint(None)
    assert plain == InstanceInventory(region=REGION, instance_id=INSTANCE).fingerprint()
    allowed = fingerprint(AccessListing(permissions=(grant(),)))
    assert len({plain, fingerprint(AccessListing()), allowed}) == 3
    assert fingerprint(AccessListing(permissions=(grant(effect="deny"),))) != allowed
    plan = plan_of(instance(), AccessListing(permissions=(grant(),)))
    assert plan.inventory_fingerprints == {f"{REGION}/{INSTANCE}": allowed}


def test_a_probable_rename_is_flagged_for_identities_not_for_permission_topics() -> None:
    listed = AccessListing(
        identities=(ListedIdentity(identity_type="user", username="sensor-a", sign_mode="signed"),),
        permissions=(grant(topic="telemetry/a/#"),),
    )
    want = instance(
        ownership="exclusive",
        identities=[
            DesiredIdentity(identity_type="user", username="sensor-b", secret=SecretStr("s"))
        ],
        permissions=[
            DesiredPermission(
                identity_type="user",
                identity="alice",
                topic="telemetry/b/#",
                effect="allow",
                permit_action="pub",
            )
        ],
    )
    flagged = {
        change.group_id: [g.message for g in change.guards if g.kind is GuardKind.PROBABLE_RENAME]
        for change in plan_of(want, listed).changes
    }
    assert flagged["identity:user:sensor-a"] == [
        "probable rename identity:user:sensor-a -> identity:user:sensor-b: identities cannot be "
        "renamed; clients still signing in as the old identity are refused on their next connect"
    ]
    assert flagged["permission:user:alice/telemetry/a/#"] == []


def test_an_exclusive_instance_without_an_access_block_leaves_its_entries_alone() -> None:
    text = (
        f"version: 1\ninstances:\n  - id: {INSTANCE}\n    api: onsmqtt\n    ownership: exclusive\n"
    )
    (declared,) = load_desired_text(text).instances
    listed = AccessListing(permissions=(grant(),), blacklist=(ListedBlacklistEntry(client_id="x"),))
    plan = plan_of(declared.model_copy(update={"region": REGION}), listed)
    assert plan.changes == ()
    assert sorted(str(key) for key in plan.unmanaged) == [
        f"{INSTANCE}/blacklist:x",
        f"{INSTANCE}/{GRANT}",
    ]
    with_block = load_desired_text(text + "    access: {}\n").instances[0]
    assert with_block.ownership_of("permission") == "exclusive"
