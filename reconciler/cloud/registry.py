"""The clients of one run: one per region and API, made on first use, all paced from one
``RateLimits``.

plan, apply, export, import and inspect take their clients from here (through the command
layer's ``cloud_session``), so the account's limits are shared by every instance, region and
API of a run; the credentials are resolved once, lazily, into one provider every client signs
with (temporary credentials are refreshed there, once for all clients). Clock and sleep are the
clients' and the buckets': a test passes its own and a minute of pacing takes no real time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

from reconciler.cloud.client import ONS_PRODUCT, OnsClient
from reconciler.cloud.onsmqtt import ONSMQTT_PRODUCT, OnsMqttClient
from reconciler.cloud.pacing import RateLimits
from reconciler.models import DEFAULT_API, Api

if TYPE_CHECKING:
    from reconciler.cloud.credentials import Credentials, CredentialsProvider
    from reconciler.cloud.query_responses import MqttInstance
    from reconciler.ratelimit import Rate

ApiClient = OnsClient | OnsMqttClient
# The one place an ``api`` value picks a client class.
CLIENT_CLASSES: Mapping[Api, type[ApiClient]] = {
    "ons": OnsClient,
    "onsmqtt": OnsMqttClient,
}
ClientT = TypeVar("ClientT", bound=ApiClient)
KNOWN_ACTIONS = ONS_PRODUCT.actions | ONSMQTT_PRODUCT.actions


class ClientRegistry:
    """One client per region and API, made on first use; credentials resolved once, lazily.

    ``rates`` replaces an action's limit (None lifts it) for every client of the run;
    ``write_rate`` (``--rate``) replaces the documented limit of each product's creates and
    deletes (see ``reconciler.cloud.pacing``). An action no product has is a ValueError.
    """

    def __init__(
        self,
        *,
        endpoint: str | None,
        profile: str | None = None,
        credentials: Credentials | CredentialsProvider | None = None,
        rates: Mapping[str, Rate | None] | None = None,
        write_rate: Rate | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.endpoint = endpoint
        self.rate_limits = RateLimits(rates, write_rate=write_rate, clock=clock)
        self.rate_limits.check_actions(KNOWN_ACTIONS)
        self._profile = profile
        self._provider: CredentialsProvider | None = None
        if credentials is not None:
            from reconciler.cloud.credentials import as_provider  # noqa: PLC0415

            self._provider = as_provider(credentials)
        self._clock = clock
        self._sleep = sleep
        self._clients: dict[tuple[str, Api], ApiClient] = {}
        self._lock = threading.Lock()

    def credentials(self) -> Credentials:
        """The credentials the next call signs with."""
        with self._lock:
            provider = self._provider_locked()
        return provider.current()

    def _provider_locked(self) -> CredentialsProvider:
        if self._provider is None:
            from reconciler.cloud.credentials import resolve_provider  # noqa: PLC0415

            self._provider = resolve_provider(profile=self._profile)
        return self._provider

    def check(self) -> None:
        """Resolve the credentials now, so a missing key is reported before any output."""
        self.credentials()

    def client(self, region: str, api: Api = DEFAULT_API) -> ApiClient:
        with self._lock:
            found = self._clients.get((region, api))
            if found is None:
                found = self._clients[(region, api)] = CLIENT_CLASSES[api](
                    self._provider_locked(),
                    region=region,
                    endpoint=self.endpoint,
                    rate_limits=self.rate_limits,
                    clock=self._clock,
                    sleep=self._sleep,
                )
            return found

    def client_as(self, region: str, kind: type[ClientT]) -> ClientT:
        """The region's client of class ``kind`` (for what only that API offers)."""
        api = next(api for api, known in CLIENT_CLASSES.items() if known is kind)
        client = self.client(region, api)
        if not isinstance(client, kind):
            raise TypeError(f"{client!r} is not a {kind.__name__}")
        return client

    def list_instances(self, region: str) -> list[MqttInstance]:
        """The account's MQTT instances in ``region`` (only OnsMqtt 2020-04-20 lists them)."""
        return self.client_as(region, OnsMqttClient).list_instances()

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
