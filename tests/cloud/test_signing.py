from __future__ import annotations

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
