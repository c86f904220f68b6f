"""A planned change is built without pydantic's ``model_construct`` (the walk's
``_constructed``): the same model, value for value and field set for field set, whichever
fields the walk gives."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from reconciler.models import NamedValue
from reconciler.plan import walk
from reconciler.plan.model import Action, Change, Guard, GuardKind, WriteOnlyValue

_ALWAYS: dict[str, Any] = {
    "action": Action.CREATE,
    "kind": "gid",
    "region": "cn-hangzhou",
    "instance_id": "post-cn-1",
    "group_id": "GID_a",
    "reason": "declared, not in the cloud",
    "protect": False,
    "guards": (),
    "api": "ons",
    "clients": (),
    "in_state": False,
    "attributes": (),
    "changed": (),
    "write_only": (),
}


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"topic": "orders"},
        {"topic": None},
        {
            "action": Action.DELETE,
            "protect": True,
            "in_state": True,
            "clients": ("GID_a@@@d1",),
            "guards": (Guard(kind=GuardKind.DELETED_OUTSIDE, message="gone"),),
            "api": "onsmqtt",
        },
        {
            "kind": "custom_auth_identity",
            "attributes": (NamedValue(name="client_id", value="c1"),),
            "write_only": (WriteOnlyValue(name="secret", value=SecretStr("s3cret")),),
        },
    ],
)
def test_a_constructed_change_is_what_model_construct_gives(extra: dict[str, Any]) -> None:
    fields = {**_ALWAYS, **extra}
    ours = walk._constructed(dict(fields))
    theirs = Change.model_construct(None, **fields)
    assert list(ours.__dict__.items()) == list(theirs.__dict__.items())
    assert ours.model_fields_set == theirs.model_fields_set
    assert ours == theirs
    assert ours.model_dump_json() == theirs.model_dump_json()
    assert ours.model_dump(exclude_unset=True) == theirs.model_dump(exclude_unset=True)


def test_changes_given_the_same_fields_share_one_fields_set() -> None:
    one = walk._constructed(dict(_ALWAYS))
    two = walk._constructed({**_ALWAYS, "group_id": "GID_b"})
    with_topic = walk._constructed({**_ALWAYS, "topic": "t"})
    assert one.model_fields_set is two.model_fields_set
    assert with_topic.model_fields_set == {*_ALWAYS, "topic"}
