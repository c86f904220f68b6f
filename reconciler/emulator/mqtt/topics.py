"""The service's topic rules: parent topic, sub-topics, the 64-character limit, filters, P2P.

A topic is ``parent/sub/...``; the parent (first level) must exist on the instance, the rest is
free. The management API shows the rest as a SubTopic written ``/sub/.../`` (empty for the bare
parent), which is how subscriptions and message counts are recorded.
"""

from __future__ import annotations

from collections.abc import Sequence

# The filter rules are stated once in ``models`` (the desired file's permission topics ask
# them too) and re-exported here for the emulator.
from reconciler.models import (
    MAX_TOPIC_LENGTH,
    MULTI_LEVEL,
    SINGLE_LEVEL,
    check_topic_filter,
    malformed_topic_filter,
)

__all__ = [
    "MAX_TOPIC_LENGTH",
    "MULTI_LEVEL",
    "SINGLE_LEVEL",
    "check_topic_filter",
    "malformed_topic_filter",
]

P2P_LEVEL = "p2p"


def check_topic_name(topic: str) -> str | None:
    """Why a PUBLISH topic is refused, or None when it is acceptable (parent not looked up)."""
    if not topic:
        return "the topic is empty"
    if len(topic) > MAX_TOPIC_LENGTH:
        return f"the topic is {len(topic)} characters long (at most {MAX_TOPIC_LENGTH})"
    if SINGLE_LEVEL in topic or MULTI_LEVEL in topic:
        return "a published topic cannot contain '+' or '#'"
    if not parent_of(topic):
        return "the topic has no parent topic (it starts with '/')"
    return None


def parent_of(topic: str) -> str:
    return topic.partition("/")[0]


def sub_topic_of(topic: str) -> str:
    """``orders/room/1`` -> ``/room/1/``; ``orders`` -> ``""``."""
    _, sep, rest = topic.partition("/")
    return f"/{rest}/" if sep and rest else ""


def p2p_receiver(levels: list[str]) -> str | None:
    """The ClientId a ``parent/p2p/ClientId`` topic is addressed to, else None."""
    if len(levels) == 3 and levels[1] == P2P_LEVEL and levels[2]:
        return levels[2]
    return None


def covers(outer: Sequence[str], inner: Sequence[str]) -> bool:
    """Whether every topic the split filter ``inner`` matches is matched by the split filter
    ``outer`` (a plain topic is a filter matching itself): ``a/#`` covers ``a``, ``a/+/c`` and
    ``a/#``; ``a/+`` covers ``a/b`` but not ``a/#``; ``a/b`` does not cover ``a/+``."""
    for index, level in enumerate(outer):
        if level == MULTI_LEVEL:
            return True
        if index >= len(inner) or inner[index] == MULTI_LEVEL:
            return False
        if level != SINGLE_LEVEL and level != inner[index]:
            return False  # a literal level covers only itself, not '+'
    return len(inner) == len(outer)


def overlaps(first: Sequence[str], second: Sequence[str]) -> bool:
    """Whether some topic matches both split filters: ``a/#`` and ``a/b/+``, ``a/+`` and
    ``+/b``; not ``a/b`` and ``a/c``, nor ``a/+`` and ``a``."""
    for index in range(max(len(first), len(second))):
        one = first[index] if index < len(first) else None
        other = second[index] if index < len(second) else None
        if MULTI_LEVEL in (one, other):
            return True  # '#' matches the rest, the parent level itself included
        if one is None or other is None:
            return False
        if one != other and SINGLE_LEVEL not in (one, other):
            return False
    return True


def matches(filter_levels: tuple[str, ...], topic_levels: list[str]) -> bool:
    """MQTT matching of a split filter against a split topic name."""
    count = len(topic_levels)
    for index, level in enumerate(filter_levels):
        if level == MULTI_LEVEL:
            return True  # also matches the parent level itself ("a/#" matches "a")
        if index >= count:
            return False
        if level != SINGLE_LEVEL and level != topic_levels[index]:
            return False
    return len(filter_levels) == count
