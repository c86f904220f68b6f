"""Custom-auth permissions: whether a custom-auth connection may PUBLISH to a topic or
SUBSCRIBE to a filter.

The permissions that apply are those of the connection's USER identity (its username) and of
its ClientId (CLIENT permissions), whichever identity let it in. Of those whose action covers
the request (PUB_SUB covers both), a DENY whose topic filter overlaps the request refuses it
(DENY wins over ALLOW, so a subscription that could receive one denied topic is refused whole);
otherwise an ALLOW whose filter covers the request (every topic it can name) permits it;
without one, the request is refused (nothing is allowed by default). A PUBLISH topic names one
topic, so for it both tests are MQTT matching.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from reconciler.emulator.mqtt.topics import covers, overlaps
from reconciler.emulator.store import PermissionRecord

Action = Literal["PUB", "SUB"]
BOTH = "PUB_SUB"


def refusal(permissions: Iterable[PermissionRecord], action: Action, topic: str) -> str | None:
    """Why ``action`` on ``topic`` (a PUBLISH topic or a SUBSCRIBE filter) is refused, or None
    when it is permitted."""
    levels = topic.split("/")
    applying = [p for p in permissions if p.permit_action in (action, BOTH)]
    for permission in applying:
        if permission.effect == "DENY" and overlaps(permission.topic.split("/"), levels):
            return (
                f"{action} on {topic!r} is denied by {permission.identity_type}"
                f" {permission.identity}'s DENY on {permission.topic!r}"
            )
    if any(p.effect == "ALLOW" and covers(p.topic.split("/"), levels) for p in applying):
        return None
    return f"no ALLOW {action} permission covers {topic!r}"
