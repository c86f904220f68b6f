from __future__ import annotations

import importlib
from urllib.parse import parse_qsl

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.cloud import signing


def test_percent_encode_leaves_only_unreserved_characters():
    assert signing.percent_encode("a b*c~d/é") == "a%20b%2Ac~d%2F%C3%A9"


def test_string_to_sign_sorts_and_encodes_twice():
    text = signing.string_to_sign("post", {"b": "2", "a": "x y", "Signature": "ignored"})
    assert text == "POST&%2F&a%3Dx%2520y%26b%3D2"


def test_signature_matches_the_documented_example():
    # The worked example of Alibaba Cloud's RPC signature documentation (secret "testsecret").
    params = {
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "Format": "XML",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        "Timestamp": "2016-02-23T12:46:24Z",
        "Version": "2014-05-26",
    }
    assert signing.sign("GET", params, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


# -- agreement with the official SDKs' signers ------------------------------------------------

_core_composer = importlib.import_module("aliyunsdkcore.auth.composer.rpc_signature_composer")
_core_hmac = importlib.import_module("aliyunsdkcore.auth.algorithm.sha_hmac1")
_tea_utils = importlib.import_module("alibabacloud_tea_openapi.utils").Utils

# Module-level double-underscore names are not mangled; the SDK just marks them private.
_core_string_to_sign = getattr(_core_composer, "__compose_string_to_sign")
_core_signature = getattr(_core_composer, "__get_signature")

# Reserved and awkward characters the percent-encoding must get exactly right.
_AWKWARD = " !\"#$%&'()*+,/:;<=>?@[\\]^`{|}~-_.=é中文😀\t\n"
_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(_AWKWARD),
        st.characters(blacklist_categories=("Cs",)),  # lone surrogates cannot be UTF-8
    ),
    max_size=24,
)
_names = st.text(
    alphabet=st.sampled_from(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-~ *é"
    ),
    min_size=1,
    max_size=16,
)
_params = st.dictionaries(_names, _text, max_size=12).filter(lambda p: "Signature" not in p)
_secrets = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)


@settings(deadline=None)
@given(params=_params, secret=_secrets, method=st.sampled_from(["GET", "POST"]))
def test_signer_agrees_with_the_core_sdk(params, secret, method):
    ours = signing.string_to_sign(method, params)
    assert ours == _core_string_to_sign(method, dict(params))
    assert signing.signature_for(ours, secret) == _core_signature(ours, secret, _core_hmac)


@settings(deadline=None)
@given(params=_params, secret=_secrets, method=st.sampled_from(["GET", "POST"]))
def test_signer_agrees_with_the_tea_sdk(params, secret, method):
    assert signing.sign(method, params, secret) == _tea_utils.get_rpcsignature(
        dict(params), method, secret
    )


def test_signed_form_parameters_verify_with_the_core_sdk_string_to_sign():
    signed = signing.signed_form(
        "POST",
        "OnsMqttGroupIdCreate",
        {"GroupId": "GID_a b*c~", "Topic": "订单"},
        access_key_id="id",
        access_key_secret="secret",
        region_id="cn-hangzhou",
        security_token="tok/en+=",
        nonce="n-1",
        timestamp="2024-01-02T03:04:05Z",
    ).params
    unsigned = {name: value for name, value in signed.items() if name != "Signature"}
    expected = _core_signature(_core_string_to_sign("POST", unsigned), "secret", _core_hmac)
    assert signed["Signature"] == expected
    assert signed["SecurityToken"] == "tok/en+="
    assert signed["RegionId"] == "cn-hangzhou"


# -- OnsMqtt 2020-04-20: requests the SDKs generate, signed by us and by them ------------------

_core_requests = {
    name: getattr(
        importlib.import_module(f"aliyunsdkonsmqtt.request.v20200420.{name}Request"),
        f"{name}Request",
    )
    for name in (
        "CreateGroupId",
        "DeleteGroupId",
        "ListGroupId",
        "QuerySessionByClientId",
        "BatchQuerySessionByClientIds",
    )
}
_ids = st.text(
    alphabet=st.one_of(st.sampled_from(_AWKWARD), st.characters(blacklist_categories=("Cs",))),
    min_size=1,
    max_size=20,
)


@settings(max_examples=200, deadline=None)
@given(
    action=st.sampled_from(sorted(_core_requests)),
    group_id=_ids,
    client_ids=st.lists(_ids, min_size=1, max_size=10),
    secret=_secrets,
)
def test_core_sdk_onsmqtt_requests_carry_the_signature_we_compute(
    action, group_id, client_ids, secret
):
    request = _core_requests[action]()
    request.set_InstanceId("mqtt-cn-" + group_id)
    if hasattr(request, "set_GroupId"):
        request.set_GroupId(group_id)
    if hasattr(request, "set_ClientId"):
        request.set_ClientId(client_ids[0])
    if hasattr(request, "set_ClientIdLists"):
        request.set_ClientIdLists(client_ids)
    url = request.get_url("cn-hangzhou", "LTAI-id", secret)
    sent = dict(parse_qsl(url.partition("?")[2], keep_blank_values=True))
    assert sent["Version"] == "2020-04-20"
    unsigned = {name: value for name, value in sent.items() if name != "Signature"}
    assert signing.sign("POST", unsigned, secret) == sent["Signature"]


@settings(max_examples=200, deadline=None)
@given(group_id=_ids, client_ids=st.lists(_ids, min_size=1, max_size=10), secret=_secrets)
def test_our_onsmqtt_parameters_verify_with_both_sdk_signers(group_id, client_ids, secret):
    params = {f"ClientIdList.{n}": cid for n, cid in enumerate(client_ids, 1)}
    params.update(GroupId=group_id, InstanceId="mqtt-cn-1")
    signed = signing.signed_form(
        "POST",
        "BatchQuerySessionByClientIds",
        params,
        access_key_id="LTAI-id",
        access_key_secret=secret,
        region_id="cn-hangzhou",
        version="2020-04-20",
    ).params
    unsigned = {name: value for name, value in signed.items() if name != "Signature"}
    core = _core_signature(_core_string_to_sign("POST", dict(unsigned)), secret, _core_hmac)
    assert signed["Signature"] == core
    assert signed["Signature"] == _tea_utils.get_rpcsignature(dict(unsigned), "POST", secret)


# -- the form body: each parameter encoded once for the signature and the body ----------------


def _form_encoded_one_by_one(params):
    """The form body as it was written before the pairs were shared: each name and value
    through ``percent_encode``, in the parameters' order."""
    return "&".join(
        f"{signing.percent_encode(name)}={signing.percent_encode(value)}"
        for name, value in params.items()
    ).encode("ascii")


@settings(deadline=None)
@given(
    params=st.dictionaries(_names, _text, max_size=12),
    secret=_secrets,
    token=st.one_of(st.none(), _text),
)
def test_signed_form_is_the_signed_parameters_and_their_encoding(params, secret, token):
    # ``params`` may hold a ``Signature`` of its own: it keeps its place and is not signed.
    kwargs = {
        "access_key_id": "LTAI-id",
        "access_key_secret": secret,
        "region_id": "cn-hangzhou",
        "security_token": token,
        "nonce": "n-1",
        "timestamp": "2024-01-02T03:04:05Z",
    }
    form = signing.signed_form("POST", "OnsMqttGroupIdCreate", params, **kwargs)
    assert (
        form.params == signing.signed_form("POST", "OnsMqttGroupIdCreate", params, **kwargs).params
    )
    unsigned = {name: value for name, value in form.params.items() if name != "Signature"}
    assert form.params["Signature"] == _core_signature(
        _core_string_to_sign("POST", unsigned), secret, _core_hmac
    )
    assert form.body == _form_encoded_one_by_one(form.params)
    assert signing.form_body(form.params) == form.body
    assert dict(parse_qsl(form.body.decode("ascii"), keep_blank_values=True)) == form.params


def test_a_given_signature_keeps_its_place_and_is_replaced():
    form = signing.signed_form(
        "POST",
        "OnsMqttGroupIdCreate",
        {"Signature": "stale", "GroupId": "GID_a"},
        access_key_id="id",
        access_key_secret="secret",
        nonce="n-1",
        timestamp="2024-01-02T03:04:05Z",
    )
    assert list(form.params)[-2:] == ["Signature", "GroupId"]
    assert form.params["Signature"] == signing.sign("POST", form.params, "secret") != "stale"
    assert form.body == _form_encoded_one_by_one(form.params)
