"""The service's topic rules as pure functions."""

from __future__ import annotations

import pytest

from reconciler.emulator.mqtt.topics import (
    check_topic_filter,
    check_topic_name,
    covers,
    malformed_topic_filter,
    matches,
    overlaps,
    p2p_receiver,
    sub_topic_of,
)


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("a/b", "a/b", True),
        ("a/+", "a/b", True),
        ("a/+", "a/b/c", False),
        ("a/+", "a", False),
        ("a/#", "a", True),
        ("a/#", "a/b/c", True),
        ("a/+/c", "a/b/c", True),
        ("a/+/c", "a/b/d", False),
        ("a/b", "a/b/c", False),
        ("a/b/c", "a/b", False),
        ("a/+", "a/", True),  # an empty level is a level
    ],
)
def test_matching(topic_filter: str, topic: str, expected: bool) -> None:
    assert matches(tuple(topic_filter.split("/")), topic.split("/")) is expected


def test_topic_names() -> None:
    assert check_topic_name("orders/a/b") is None
    assert check_topic_name("x" * 64) is None
    assert "65 characters" in (check_topic_name("x" * 65) or "")
    assert "'+' or '#'" in (check_topic_name("orders/+") or "")
    assert "parent" in (check_topic_name("/orders") or "")
    assert check_topic_name("") == "the topic is empty"


def test_topic_filters() -> None:
    assert check_topic_filter("orders/+/x/#") is None
    assert "parent" in (check_topic_filter("+/x") or "")
    assert "parent" in (check_topic_filter("#") or "")
    assert "parent" in (check_topic_filter("/orders") or "")
    assert "65 characters" in (check_topic_filter("o" * 65) or "")


@pytest.mark.parametrize(
    ("topic_filter", "problem"),
    [
        ("", "the filter is empty"),
        ("#/ab", "'#' must be a whole level and the last one"),
        ("orders/#/x", "'#' must be a whole level and the last one"),
        ("orders/a#", "'#' must be a whole level and the last one"),
        ("a+/b", "'+' must be a whole level"),
        ("orders/a+", "'+' must be a whole level"),
    ],
)
def test_malformed_filters(topic_filter: str, problem: str) -> None:
    assert malformed_topic_filter(topic_filter) == problem


@pytest.mark.parametrize("topic_filter", ["orders/+/x/#", "#", "+/x", "/orders", "a/+/+", "+"])
def test_well_formed_filters(topic_filter: str) -> None:
    # Well-formed for MQTT, whatever the service's rules say of them.
    assert malformed_topic_filter(topic_filter) is None


def test_sub_topics_and_p2p() -> None:
    assert sub_topic_of("orders") == ""
    assert sub_topic_of("orders/room/1") == "/room/1/"
    assert p2p_receiver(["orders", "p2p", "GID_a@@@d"]) == "GID_a@@@d"
    assert p2p_receiver(["orders", "p2p"]) is None
    assert p2p_receiver(["orders", "p2p", "GID_a@@@d", "x"]) is None
    assert p2p_receiver(["orders", "room", "GID_a@@@d"]) is None


@pytest.mark.parametrize(
    ("outer", "inner", "expected"),
    [
        ("a/#", "a", True),  # '#' matches its parent level too
        ("a/#", "a/#", True),
        ("a/#", "a/+/c", True),
        ("#", "a/b", True),
        ("a/+", "a/b", True),
        ("a/+", "a/+", True),
        ("a/+", "a/#", False),
        ("a/+", "a/b/c", False),
        ("a/b", "a/b", True),
        ("a/b", "a/+", False),  # a literal level covers only itself
        ("a/b", "a/b/c", False),
        ("a/+/c", "a/+/c", True),
        ("a/+/c", "a/b/#", False),
        ("a/b/#", "a/+/c", False),
    ],
)
def test_a_filter_covers_another(outer: str, inner: str, expected: bool) -> None:
    assert covers(outer.split("/"), inner.split("/")) is expected
    if "+" not in inner and "#" not in inner:
        # For a plain topic, covering is matching.
        assert matches(tuple(outer.split("/")), inner.split("/")) is expected


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("a/#", "a/b/+", True),
        ("a/+", "+/b", True),
        ("a/#", "a", True),
        ("a/b", "a/b", True),
        ("a/b", "a/c", False),
        ("a/+", "a", False),
        ("a/+", "a/b/c", False),
        ("a/+/c", "a/b/#", True),
        ("x/#", "a/#", False),
    ],
)
def test_two_filters_overlap(first: str, second: str, expected: bool) -> None:
    assert overlaps(first.split("/"), second.split("/")) is expected
    assert overlaps(second.split("/"), first.split("/")) is expected
