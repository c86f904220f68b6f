"""Temporary credentials from the emulator's STS in the official SDKs of both API generations:
aliyun-python-sdk-core with ``StsTokenCredential`` (signature V1) and the Tea clients with
``security_token`` (V3, and OnsMqtt's V1 mode). The emulator reads the token only from the
``SecurityToken`` parameter (V1) and the ``x-acs-security-token`` header (V3), so each success
here shows the SDK sends it exactly there; each refusal, that an expired token is refused
with the service's code."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from alibabacloud_ons20190214 import models as ons_models
from alibabacloud_ons20190214.client import Client as OnsClient
from alibabacloud_onsmqtt20200420 import models as mqtt_models
from alibabacloud_onsmqtt20200420.client import Client as MqttClient
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.auth.credentials import StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdkons.request.v20190214.OnsMqttGroupIdListRequest import OnsMqttGroupIdListRequest
from aliyunsdkonsmqtt.request.v20200420.ListGroupIdRequest import ListGroupIdRequest
from Tea.exceptions import TeaException

from tests.fixtures.emulator_store import expire_issued
from tests.fixtures.sdk import tea_config
from tests.fixtures.sts import assume_role
from tests.fixtures.wire import ok

CORE_REQUESTS = {"ons": OnsMqttGroupIdListRequest, "onsmqtt": ListGroupIdRequest}


def _issued(sts_emulator) -> dict[str, str]:
    sts_emulator.store.add_group(sts_emulator.instance_id, "GID_sdk1")
    return ok(assume_role(sts_emulator))["Credentials"]


def _core_list(sts_emulator, api: str, issued: dict[str, str]) -> Any:
    client = AcsClient(
        region_id=sts_emulator.region,
        credential=StsTokenCredential(
            issued["AccessKeyId"], issued["AccessKeySecret"], issued["SecurityToken"]
        ),
    )
    request = CORE_REQUESTS[api]()
    request.set_endpoint(sts_emulator.url.removeprefix("http://"))
    request.set_protocol_type("http")
    request.set_InstanceId(sts_emulator.instance_id)
    return json.loads(client.do_action_with_exception(request))


def test_core_sdk_with_sts_token_credential(sts_emulator, api_case):
    issued = _issued(sts_emulator)
    body = _core_list(sts_emulator, api_case.name, issued)
    rows = body["Data"]["MqttGroupIdDo"] if api_case.name == "ons" else body["Data"]
    assert [row["GroupId"] for row in rows] == ["GID_sdk1"]
    expire_issued(sts_emulator.store, issued["AccessKeyId"])
    with pytest.raises(ServerException) as caught:
        _core_list(sts_emulator, api_case.name, issued)
    assert caught.value.get_error_code() == "InvalidSecurityToken.Expired"
    assert caught.value.get_http_status() == 400


def _tea_ons(sts_emulator, issued: dict[str, str]) -> list[str]:
    config = tea_config(
        sts_emulator,
        key=issued["AccessKeyId"],
        secret=issued["AccessKeySecret"],
        token=issued["SecurityToken"],
    )
    request = ons_models.OnsMqttGroupIdListRequest(instance_id=sts_emulator.instance_id)
    rows = OnsClient(config).ons_mqtt_group_id_list(request).body.data.mqtt_group_id_do
    return [row.group_id for row in rows]


def _tea_onsmqtt(mode: str) -> Callable[[Any, dict[str, str]], list[str]]:
    def listing(sts_emulator, issued: dict[str, str]) -> list[str]:
        config = tea_config(
            sts_emulator,
            key=issued["AccessKeyId"],
            secret=issued["AccessKeySecret"],
            token=issued["SecurityToken"],
        )
        if mode == "v2":
            config.signature_algorithm = "v2"
        request = mqtt_models.ListGroupIdRequest(instance_id=sts_emulator.instance_id)
        return [row.group_id for row in MqttClient(config).list_group_id(request).body.data]

    return listing


TEA_CLIENTS = {"ons": _tea_ons, "onsmqtt-v3": _tea_onsmqtt("v3"), "onsmqtt-v2": _tea_onsmqtt("v2")}


@pytest.mark.parametrize("sdk", list(TEA_CLIENTS))
def test_tea_sdk_with_security_token(sts_emulator, sdk):
    issued = _issued(sts_emulator)
    assert TEA_CLIENTS[sdk](sts_emulator, issued) == ["GID_sdk1"]
    expire_issued(sts_emulator.store, issued["AccessKeyId"])
    with pytest.raises(TeaException) as caught:
        TEA_CLIENTS[sdk](sts_emulator, issued)
    assert caught.value.code == "InvalidSecurityToken.Expired"
    assert caught.value.data["statusCode"] == 400
