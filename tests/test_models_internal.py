"""The internal fast paths of models.py build what validation builds, and sharing is safe."""

from __future__ import annotations

import click
import pytest
from pydantic import ValidationError

from reconciler.cli import COMMANDS, cli
from reconciler.models import (
    CloudGroup,
    DesiredGroup,
    FrozenModel,
    StateDocument,
    StateResource,
    construct_trusted,
    construct_trusted_all,
)


def test_construct_trusted_equals_a_validated_model() -> None:
    values = {"group_id": "GID_a_b", "topic": "t1", "protect": True, "absent": False}
    others = {"description": None, "clients": (), "tags": '{"team": "orders"}'}
    validated = DesiredGroup(**values, **others)
    fields = {"group_id", "topic", "protect", "absent", "description", "clients", "tags"}
    built = construct_trusted(DesiredGroup, fields, {**values, **others})
    assert built == validated
    assert built.model_dump_json() == validated.model_dump_json()
    assert repr(built) == repr(validated)
    assert built.model_fields_set == validated.model_fields_set


def test_construct_trusted_all_builds_what_construct_trusted_builds_one_by_one() -> None:
    fields = {"group_id", "instance_id", "independent_naming", "create_time", "update_time"}
    every_values = [
        {"group_id": f"GID_{n}", "instance_id": "i", "independent_naming": n % 2 == 0}
        | {"create_time": n, "update_time": n + 1, "tags": None}
        for n in range(3)
    ]
    built = construct_trusted_all(CloudGroup, fields, [dict(v) for v in every_values])
    one_by_one = [construct_trusted(CloudGroup, fields, dict(v)) for v in every_values]
    assert built == one_by_one
    assert [g.model_dump_json() for g in built] == [g.model_dump_json() for g in one_by_one]
    assert all(g.model_fields_set is fields for g in built)
    with pytest.raises(ValidationError):
        built[0].group_id = "GID_y"  # type: ignore[misc]
    assert construct_trusted_all(CloudGroup, fields, []) == []


def test_construct_trusted_keeps_the_models_frozen() -> None:
    values = {
        "group_id": "GID_x",
        "instance_id": "i",
        "independent_naming": True,
        "create_time": 1,
        "update_time": 2,
        "tags": None,
    }
    group = construct_trusted(CloudGroup, set(values), values)
    with pytest.raises(ValidationError):
        group.group_id = "GID_y"  # type: ignore[misc]
    assert group.group_id == "GID_x"


def test_validated_state_resources_share_one_fields_set_that_copies_do_not_leak() -> None:
    # Shared as each is validated (not once the whole document is read): a state of 100,000
    # resources must never hold a set per resource, its peak memory.
    resources = tuple(
        StateResource(region="r", instance_id="i", group_id=f"GID_{n:03d}") for n in range(3)
    )
    doc = StateDocument(lineage="l", resources=resources)
    first, second = doc.resources[0], doc.resources[1]
    assert first.model_fields_set is second.model_fields_set
    other = StateResource(region="r", instance_id="i", group_id="GID_x", protect=True)
    assert other.model_fields_set == {"region", "instance_id", "group_id", "protect"}
    copied = first.model_copy(update={"protect": True})
    assert "protect" in copied.model_fields_set
    assert "protect" not in second.model_fields_set
    assert second.model_fields_set == {"region", "instance_id", "group_id"}


def test_no_frozen_model_has_a_new_of_its_own() -> None:
    # construct_trusted makes its instances with object.__new__. Every command imported, so
    # that every module's models are defined.
    for name in COMMANDS:
        cli.get_command(click.Context(cli), name)
    found: list[type] = []
    pending: list[type] = [FrozenModel]
    while pending:
        model = pending.pop()
        found.append(model)
        pending.extend(model.__subclasses__())
    assert len(found) > 20
    assert [m.__qualname__ for m in found if m.__new__ is not object.__new__] == []
