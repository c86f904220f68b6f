"""How custom-auth permissions decide a PUBLISH or a SUBSCRIBE, as a pure function."""

from __future__ import annotations

import pytest

from reconciler.emulator.mqtt.permissions import Action, refusal
from reconciler.emulator.store import PermissionRecord


def _rule(topic: str, effect: str = "ALLOW", action: str = "PUB_SUB") -> PermissionRecord:
    return PermissionRecord("post-cn-x", "USER", "fleet", topic, effect, action)


RULES = [
    _rule("t/#", action="SUB"),
    _rule("t/in/#", action="PUB"),
    _rule("t/in/locked", effect="DENY"),
    _rule("t/+/cfg", effect="DENY", action="SUB"),
]


@pytest.mark.parametrize(
    ("action", "topic", "words"),
    [
        ("SUB", "t/a", None),
        ("SUB", "t/#", "DENY on 't/in/locked'"),  # could receive a denied topic
        ("SUB", "t/in/+", "DENY on 't/in/locked'"),
        ("SUB", "t/x/cfg", "DENY on 't/+/cfg'"),
        ("SUB", "u/a", "no ALLOW SUB permission covers 'u/a'"),
        ("PUB", "t/in/1", None),
        ("PUB", "t/in/locked", "DENY on 't/in/locked'"),
        ("PUB", "t/x/cfg", "no ALLOW PUB permission"),  # the DENY is SUB only; no PUB grant
        ("PUB", "t/a", "no ALLOW PUB permission"),
    ],
)
def test_deny_wins_and_nothing_is_allowed_by_default(
    action: Action, topic: str, words: str | None
) -> None:
    found = refusal(RULES, action, topic)
    if words is None:
        assert found is None
    else:
        assert found is not None and words in found


def test_no_permission_refuses_everything() -> None:
    assert refusal([], "PUB", "t/a") == "no ALLOW PUB permission covers 't/a'"
