"""Which cloud a command talks to, and with which credentials.

Endpoint precedence: ``--endpoint`` > ``RECONCILER_ENDPOINT`` > ``provider.endpoint`` > the
real regional endpoint. ``embedded`` starts the built-in emulator in this process (SQLite in
``<workdir>/emulator.sqlite``, the declared instances and their topics created on first use,
the local development credentials) and talks to it over HTTP through the same signed client,
so the quickstart exercises the real code path with no account.

The API is chosen per instance (``ons`` or ``onsmqtt``): the session makes one client per
region and API. Every onsmqtt client of a session shares one ``AccountRateLimits`` registry,
so the account's 10 calls a second on the group actions are shared by every instance and
region of the run; ``--rate`` replaces that limit for CreateGroupId and DeleteGroupId.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from collections.abc import Mapping as MappingABC
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.models import DEFAULT_API, Api, DesiredInstance, ProviderConfig

if TYPE_CHECKING:
    from reconciler.cloud.client import OnsMqttClient
    from reconciler.cloud.credentials import Credentials
    from reconciler.cloud.onsmqtt import OnsMqtt2020Client
    from reconciler.emulator.server import EmulatorServer
    from reconciler.ratelimit import AccountRateLimits, Rate

ENDPOINT_ENV = "RECONCILER_ENDPOINT"
EMBEDDED = "embedded"
DEFAULT_WORKDIR = Path(".reconciler")


class CloudSession:
    """One client per region and API, made on first use; credentials resolved once, lazily."""

    def __init__(
        self,
        *,
        endpoint: str | None,
        endpoint_label: str,
        embedded: bool,
        profile: str | None = None,
        credentials: Credentials | None = None,
        rate_limits: MappingABC[str, Rate | None] | None = None,
        rate: Rate | None = None,
    ) -> None:
        """``rate_limits``: per-action limits of the ons clients; ``rate`` (``--rate``):
        the onsmqtt accounts' limit on CreateGroupId and DeleteGroupId (default: the
        service's 10/s)."""
        self.endpoint = endpoint
        self.endpoint_label = endpoint_label
        self.embedded = embedded
        self._profile = profile
        self._credentials = credentials
        self._rate_limits = rate_limits
        self._rate = rate
        self._account_limits: AccountRateLimits | None = None
        self._clients: dict[tuple[str, Api], OnsMqttClient | OnsMqtt2020Client] = {}
        self._lock = threading.Lock()

    def credentials(self) -> Credentials:
        with self._lock:
            return self._credentials_locked()

    def _credentials_locked(self) -> Credentials:
        if self._credentials is None:
            from reconciler.cloud.credentials import resolve_credentials  # noqa: PLC0415

            self._credentials = resolve_credentials(profile=self._profile)
        return self._credentials

    def check(self) -> None:
        """Resolve the credentials now, so a missing key is reported before any output."""
        self.credentials()

    def client(self, region: str, api: Api = DEFAULT_API) -> OnsMqttClient | OnsMqtt2020Client:
        with self._lock:
            found = self._clients.get((region, api))
            if found is None:
                found = self._new_client(region, api)
                self._clients[(region, api)] = found
            return found

    def onsmqtt_client(self, region: str) -> OnsMqtt2020Client:
        """The region's OnsMqtt 2020-04-20 client (ListInstances, session look-ups)."""
        from reconciler.cloud.onsmqtt import OnsMqtt2020Client  # noqa: PLC0415

        client = self.client(region, "onsmqtt")
        assert isinstance(client, OnsMqtt2020Client)
        return client

    def _new_client(self, region: str, api: Api) -> OnsMqttClient | OnsMqtt2020Client:
        if api == "onsmqtt":
            from reconciler.cloud.onsmqtt import (  # noqa: PLC0415
                OnsMqtt2020Client,
                account_rate_limits,
            )

            if self._account_limits is None:
                overrides = (
                    None
                    if self._rate is None
                    else {"CreateGroupId": self._rate, "DeleteGroupId": self._rate}
                )
                self._account_limits = account_rate_limits(overrides)
            return OnsMqtt2020Client(
                self._credentials_locked(),
                region=region,
                endpoint=self.endpoint,
                rate_limits=self._account_limits,
            )
        from reconciler.cloud.client import OnsMqttClient  # noqa: PLC0415

        return OnsMqttClient(
            self._credentials_locked(),
            region=region,
            endpoint=self.endpoint,
            rate_limits=self._rate_limits,
        )

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()


def resolve_endpoint(
    provider: ProviderConfig, endpoint: str | None = None, env: Mapping[str, str] | None = None
) -> str | None:
    """The endpoint setting that wins: a URL, ``embedded``, or None for the real service."""
    environ = os.environ if env is None else env
    for candidate in (endpoint, environ.get(ENDPOINT_ENV), provider.endpoint):
        if candidate is not None and candidate.strip():
            return candidate.strip()
    return None


def embedded_instances(
    instances: Sequence[DesiredInstance],
) -> list[tuple[str, str, bool, list[str]]]:
    """``(region, instance_id, independent_naming, parent topics)`` for start_embedded."""
    found = []
    for instance in instances:
        topics = sorted(
            {group.topic.split("/", 1)[0] for group in instance.groups if group.topic} - {""}
        )
        naming = instance.independent_naming if instance.independent_naming is not None else True
        found.append((instance.region, instance.instance_id, naming, topics))
    return found


@contextmanager
def cloud_session(
    provider: ProviderConfig,
    *,
    endpoint: str | None = None,
    instances: Sequence[DesiredInstance] = (),
    workdir: Path = DEFAULT_WORKDIR,
    rate_limits: MappingABC[str, Rate | None] | None = None,
    rate: Rate | None = None,
) -> Iterator[CloudSession]:
    """A session for the chosen endpoint; an embedded emulator is stopped on exit."""
    chosen = resolve_endpoint(provider, endpoint)
    server: EmulatorServer | None = None
    credentials: Credentials | None = None
    if chosen == EMBEDDED:
        from reconciler.cloud.credentials import Credentials  # noqa: PLC0415
        from reconciler.emulator import embedded  # noqa: PLC0415

        server = embedded.start_embedded(workdir / "emulator.sqlite", embedded_instances(instances))
        chosen = server.url
        label = f"embedded emulator at {server.url} ({workdir / 'emulator.sqlite'})"
        credentials = Credentials.model_validate(
            {
                "access_key_id": embedded.DEV_ACCESS_KEY_ID,
                "access_key_secret": embedded.DEV_ACCESS_KEY_SECRET,
                "source": "embedded emulator development key",
            }
        )
    elif chosen is not None:
        from reconciler.cloud.endpoints import normalise_endpoint  # noqa: PLC0415

        normalise_endpoint(chosen)  # a bad URL is reported before any work, not at a call
        label = chosen
    else:
        label = f"{provider.api}.{provider.region}.aliyuncs.com"
    session = CloudSession(
        endpoint=chosen,
        endpoint_label=label,
        embedded=server is not None,
        profile=provider.profile,
        credentials=credentials,  # the emulator's development key; else the profile's, lazily
        rate_limits=rate_limits,
        rate=rate,
    )
    try:
        yield session
    finally:
        session.close()
        if server is not None:
            server.stop()
