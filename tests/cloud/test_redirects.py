"""The client never follows a redirect: the management APIs do not redirect, and a followed
redirect hands the whole signed request (STS token and an unused nonce included) to whoever
the ``Location`` names. Each 3xx is one error naming both hosts, never the query string."""

from __future__ import annotations

import pytest

from reconciler.errors import CloudError
from tests.fixtures.fake_time import FakeTime
from tests.fixtures.scripted_clients import TOKEN, make_client
from tests.fixtures.scripted_server import Reply, scripted

_STOLEN_QUERY = "x-steal=yes&marker=query-string-must-not-show"


def _netloc(url: str) -> str:
    return url.removeprefix("http://")


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_host_is_refused_and_nothing_reaches_it(status: int) -> None:
    with scripted([]) as elsewhere:
        location = f"{elsewhere.url}/collect?{_STOLEN_QUERY}"
        with (
            scripted([], default=Reply(status, b"", headers={"Location": location})) as endpoint,
            make_client(endpoint.url, FakeTime(), token=TOKEN) as client,
            pytest.raises(CloudError) as raised,
        ):
            client.create_group_id("GID_a", instance_id="post-cn-1", topic="t")
    assert elsewhere.requests == []
    assert len(endpoint.requests) == 1  # not retried: a redirect does not heal
    message = str(raised.value)
    assert "\n" not in message
    assert _netloc(endpoint.url) in message
    assert _netloc(elsewhere.url) in message
    assert f"HTTP {status}" in message
    assert "query-string-must-not-show" not in message
    assert "/collect" not in message


def test_a_redirect_on_the_same_host_is_refused_too() -> None:
    relative = f"/other?{_STOLEN_QUERY}"
    with (
        scripted([], default=Reply(307, b"", headers={"Location": relative})) as endpoint,
        make_client(endpoint.url, FakeTime(), token=TOKEN) as client,
        pytest.raises(CloudError) as raised,
    ):
        client.list_group_ids("post-cn-1")
    assert len(endpoint.requests) == 1
    message = str(raised.value)
    assert message.count(_netloc(endpoint.url)) == 2
    assert "query-string-must-not-show" not in message
