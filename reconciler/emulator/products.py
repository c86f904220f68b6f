"""The API products the emulator serves on one port, told apart by their version: the two MQTT
APIs and STS.

This is the one place a request's version picks the product: ``Version`` (signature V1, query
or form) or ``x-acs-version`` (V3 header). Every product answers from the same store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.emulator import ons_actions, onsmqtt_actions, sts_actions
from reconciler.emulator.issuing import CredentialIssuer
from reconciler.emulator.protocol import ApiError
from reconciler.emulator.store import EmulatorStore
from reconciler.ratelimit import Rate

# (the request's parameters, the calling account's AccessKeyId) -> the success body.
Handler = Callable[[Mapping[str, str], str], dict[str, Any]]


@dataclass(frozen=True)
class Product:
    version: str
    service: str  # the endpoint's first label, shown in HostId
    handlers: Mapping[str, Handler]
    throttled: Callable[[str, Rate, float], ApiError]
    # Actions answered without a signature (STS AssumeRoleWithOIDC): no caller, no throttle.
    anonymous: frozenset[str] = field(default_factory=frozenset)

    def handler(self, action: str) -> Handler:
        found = self.handlers.get(action)
        if found is None:
            raise ApiError(
                404,
                "InvalidAction.NotFound",
                f"Specified api {action} is not found, please check your url and method.",
            )
        return found

    def host_id(self, region: str) -> str:
        return f"{self.service}.{region}.aliyuncs.com"


def products(store: EmulatorStore) -> dict[str, Product]:
    """Every product by its version."""
    ons = ons_actions.OnsActions(store)
    onsmqtt = onsmqtt_actions.OnsMqttActions(store)
    sts = sts_actions.StsActions(store, CredentialIssuer(store))
    return {
        ons_actions.VERSION: Product(
            ons_actions.VERSION, ons_actions.SERVICE, ons.handlers, ons_actions.throttled
        ),
        onsmqtt_actions.VERSION: Product(
            onsmqtt_actions.VERSION,
            onsmqtt_actions.SERVICE,
            onsmqtt.handlers,
            onsmqtt_actions.throttled,
        ),
        sts_actions.VERSION: Product(
            sts_actions.VERSION,
            sts_actions.SERVICE,
            sts.handlers,
            sts_actions.throttled,
            anonymous=sts_actions.ANONYMOUS_ACTIONS,
        ),
    }


def all_actions() -> tuple[str, ...]:
    """The action names of every product (they do not collide)."""
    return ons_actions.ALL_ACTIONS + onsmqtt_actions.ALL_ACTIONS + sts_actions.ALL_ACTIONS


def invalid_version(version: str) -> ApiError:
    return ApiError(400, "InvalidVersion", f"Specified parameter Version {version} is not valid.")
