"""One client-id rule: the desired file's checks, inspect's lists, both emulated APIs, the
emulator's fixture and its MQTT listener accept and refuse the same client ids."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from reconciler.config.loader import load_desired_text_result
from reconciler.emulator.fixture import load_fixture_text
from reconciler.emulator.mqtt.auth import DeviceAuthenticator, Refused
from reconciler.emulator.mqtt.codec import ConnectReturnCode
from reconciler.emulator.ons_actions import OnsActions
from reconciler.emulator.onsmqtt_actions import OnsMqttActions
from reconciler.emulator.protocol import ApiError
from reconciler.emulator.store import EmulatorStore
from reconciler.errors import ConfigError, ConfigErrors
from reconciler.inspect.clientids import ClientIdListError, parse_client_ids
from reconciler.models import client_id_problem

INSTANCE = "post-cn-rule"
ACCOUNT = "LTAI5tRuleAccount"
GOOD = ["GID_orders@@@device-1", "GID_orders@@@" + "d" * 51, "GID_orders@@@a@@@b"]
BAD = [
    "no-separator",
    "GID_orders@@@",
    "@@@device",
    "GID_x@@@device",  # a group too short to be a GID
    "GID_orders@@@" + "d" * 52,  # 65 characters
    "GID_orders@@@a b",
    "GID_orders@@@a/b",
    "GID_orders@@@a\tb",
    "GID_orders@@@a\x01b",
]


def _store() -> EmulatorStore:
    store = EmulatorStore()
    store.add_instance(INSTANCE, topics=["orders"])
    store.add_group(INSTANCE, "GID_orders")
    return store


def _desired_file(client_id: str) -> None:
    text = (
        f"version: 1\ninstances:\n  - id: {INSTANCE}\n    api: onsmqtt\n"
        f"    groups: [{{id: GID_orders, clients: [{json.dumps(client_id)}]}}]\n"
    )
    try:
        load_desired_text_result(text, "d.yaml", env={})
    except ConfigErrors as exc:
        raise ValueError(exc.errors[0].format()) from exc


def _inspect_list(client_id: str) -> None:
    try:
        parse_client_ids(client_id, source="ids.txt")
    except ClientIdListError as exc:
        raise ValueError(str(exc)) from exc


def _ons_api(client_id: str) -> None:
    params = {"ClientId": client_id, "InstanceId": INSTANCE}
    try:
        OnsActions(_store()).query_client_by_client_id(params, ACCOUNT)
    except ApiError as exc:
        if exc.code != "BIZ_CONSUMER_NOT_ONLINE":  # a good id nobody uses
            raise ValueError(f"{exc.code}: {exc.message}") from exc


def _onsmqtt_api(client_id: str) -> None:
    params = {"ClientId": client_id, "InstanceId": INSTANCE}
    try:
        OnsMqttActions(_store()).query_session_by_client_id(params, ACCOUNT)
    except ApiError as exc:
        raise ValueError(f"{exc.code}: {exc.message}") from exc


def _fixture(client_id: str) -> None:
    text = (
        f"instances:\n  - instance_id: {INSTANCE}\n    groups: [GID_orders]\n"
        f"    devices: [{{client_id: {json.dumps(client_id)}}}]\n"
    )
    try:
        load_fixture_text(text, "fixture.yaml", EmulatorStore())
    except ConfigError as exc:
        raise ValueError(str(exc)) from exc


def _mqtt_connect(client_id: str) -> None:
    try:
        DeviceAuthenticator(_store()).admit(client_id, None, None)
    except Refused as exc:
        if exc.return_code is ConnectReturnCode.IDENTIFIER_REJECTED:
            raise ValueError(exc.reason) from exc


READERS: dict[str, Callable[[str], None]] = {
    "desired file": _desired_file,
    "inspect list": _inspect_list,
    "ons api": _ons_api,
    "onsmqtt api": _onsmqtt_api,
    "fixture": _fixture,
    "mqtt connect": _mqtt_connect,
}


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("client_id", GOOD)
def test_every_reader_accepts_a_good_client_id(reader: str, client_id: str) -> None:
    assert client_id_problem(client_id) is None
    READERS[reader](client_id)


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("client_id", BAD)
def test_every_reader_refuses_a_bad_client_id_in_the_rules_words(
    reader: str, client_id: str
) -> None:
    problem = client_id_problem(client_id)
    assert problem is not None
    with pytest.raises(ValueError) as refused:
        READERS[reader](client_id)
    if reader != "desired file":  # the file's schema words some shapes its own way first
        assert problem.removesuffix(".") in str(refused.value)


def test_a_client_of_another_group_is_named_so() -> None:
    assert client_id_problem("GID_other@@@d1", group_id="GID_mine") == (
        "client id 'GID_other@@@d1' does not belong to GID_mine: it must start with GID_mine@@@"
    )
