"""Which cloud a command talks to, and with which credentials.

Endpoint precedence: ``--endpoint`` > ``RECONCILER_ENDPOINT`` > ``provider.endpoint`` > the
real regional endpoint. An endpoint that is not the file's is said on stderr with its source
(an exported variable otherwise overrides a file's ``endpoint: embedded`` unseen), and a
connection error names the endpoint and its source. ``embedded`` starts the built-in emulator
in this process (SQLite in ``<workdir>/emulator.sqlite``, the declared instances and their
topics created on first use and named when created, the local development credentials) and
talks to it over HTTP through the same signed client, so the quickstart exercises the real
code path with no account; an instance the emulator does not hold is reported with what it
holds and how to reset it.

The API is chosen per instance (``ons`` or ``onsmqtt``): the session is the run's
``ClientRegistry`` (``reconciler.cloud.registry``), one client per region and API paced from
one ``RateLimits``, so the account's 10 calls a second on the onsmqtt group actions are shared
by every instance and region of the run; ``--rate`` replaces that limit for the creates and
deletes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from collections.abc import Mapping as MappingABC
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict, Unpack

from reconciler.cloud.registry import ClientRegistry
from reconciler.errors import (
    CloudApiError,
    CloudConnectionError,
    EmulatorError,
    UnknownInstanceError,
)
from reconciler.models import DesiredInstance, ProviderConfig

if TYPE_CHECKING:
    from reconciler.cloud.credentials import Credentials
    from reconciler.emulator.embedded import EmbeddedEmulator
    from reconciler.ratelimit import Rate

ENDPOINT_ENV = "RECONCILER_ENDPOINT"
EMBEDDED = "embedded"
DEFAULT_WORKDIR = Path(".reconciler")
EMULATOR_RESET_COMMAND = "reconciler emulator reset"
# What the two APIs answer for an instance the cloud does not hold.
INSTANCE_NOT_FOUND_CODES = frozenset({"BIZ_INSTANCE_NOT_FOUND", "InstanceNotFound"})


class CloudSession(ClientRegistry):
    """The run's clients (``ClientRegistry``) with what the command says of the cloud: the
    endpoint's label, whether it is the embedded emulator, and the ``notices`` it writes on
    stderr once its arguments are checked (an endpoint that is not the file's, what an
    embedded emulator made)."""

    def __init__(
        self,
        *,
        endpoint: str | None,
        endpoint_label: str,
        embedded: bool,
        notices: Sequence[str] = (),
        **registry: Unpack[RegistryOptions],
    ) -> None:
        super().__init__(endpoint=endpoint, **registry)
        self.endpoint_label = endpoint_label
        self.embedded = embedded
        self.notices = tuple(notices)


class RegistryOptions(TypedDict, total=False):
    """What ``cloud_session`` passes on to the ``ClientRegistry``."""

    profile: str | None
    credentials: Credentials | None
    rates: MappingABC[str, Rate | None] | None
    write_rate: Rate | None
    clock: Callable[[], float]
    sleep: Callable[[float], None]


@dataclass(frozen=True)
class EndpointChoice:
    """The endpoint setting that wins (a URL, ``embedded``, or None for the real service),
    where it came from, and what the file itself says (``provider.endpoint``)."""

    value: str | None
    source: str
    file_value: str | None

    @property
    def overrides_file(self) -> bool:
        """A flag or the environment chose an endpoint other than the file's."""
        return self.value != self.file_value

    def override_note(self) -> str:
        files = "no provider.endpoint: the service's default endpoints"
        return (
            f"Using endpoint {self.value} ({self.source}), not the file's "
            f"({self.file_value if self.file_value is not None else files})."
        )


def choose_endpoint(
    provider: ProviderConfig,
    endpoint: str | None = None,
    env: Mapping[str, str] | None = None,
    *,
    file_label: str | None = None,
) -> EndpointChoice:
    """The endpoint by precedence, with its source (``file_label`` names the desired file in
    the source of a ``provider.endpoint``)."""
    from reconciler.state.binding import ENDPOINT_FLAG, NO_ENDPOINT_SOURCE  # noqa: PLC0415

    environ = os.environ if env is None else env
    file_value = _setting(provider.endpoint)
    in_file = "provider.endpoint" + (f" of {file_label}" if file_label else "")
    for candidate, source in (
        (endpoint, ENDPOINT_FLAG),
        (environ.get(ENDPOINT_ENV), f"${ENDPOINT_ENV}"),
        (provider.endpoint, in_file),
    ):
        value = _setting(candidate)
        if value is not None:
            return EndpointChoice(value, source, file_value)
    return EndpointChoice(None, NO_ENDPOINT_SOURCE, file_value)


def _setting(text: str | None) -> str | None:
    return text.strip() if text is not None and text.strip() else None


def resolve_endpoint(
    provider: ProviderConfig, endpoint: str | None = None, env: Mapping[str, str] | None = None
) -> str | None:
    """The endpoint setting that wins: a URL, ``embedded``, or None for the real service."""
    return choose_endpoint(provider, endpoint, env).value


def endpoint_identity(choice: EndpointChoice) -> str:
    """The cloud a state is bound to: ``default`` (the service's own endpoints, whichever API:
    not the per-API host, so an ``api:`` switch is the same cloud), ``embedded``, or the URL
    normalised (``127.0.0.1:8765/`` is ``http://127.0.0.1:8765``)."""
    from reconciler.state.binding import DEFAULT_ENDPOINT  # noqa: PLC0415

    if choice.value is None:
        return DEFAULT_ENDPOINT
    if choice.value == EMBEDDED:
        return EMBEDDED
    from reconciler.cloud.endpoints import normalise_endpoint  # noqa: PLC0415

    return normalise_endpoint(choice.value)


def embedded_instances(
    instances: Sequence[DesiredInstance],
) -> list[tuple[str, str, bool, list[str]]]:
    """``(region, instance_id, independent_naming, parent topics)`` for start_embedded: the
    parent topics the GIDs' topics and the access permissions' filters name (a permission
    needs its parent topic to exist)."""
    found = []
    for instance in instances:
        named = [group.topic for group in instance.groups if group.topic]
        named.extend(permission.topic for permission in instance.permissions)
        topics = sorted({topic.split("/", 1)[0] for topic in named} - {""})
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
    file_label: str | None = None,
    **registry: Unpack[RegistryOptions],
) -> Iterator[CloudSession]:
    """A session for the chosen endpoint; an embedded emulator is stopped on exit. The
    session's ``notices`` say when the endpoint is not the file's (``file_label`` names the
    file) and what an embedded emulator created. ``registry``: the rates, clock and sleep of
    its clients (the profile and credentials come from the file or the emulator)."""
    choice = choose_endpoint(provider, endpoint, file_label=file_label)
    notices = [choice.override_note()] if choice.overrides_file else []
    chosen = choice.value
    server: EmbeddedEmulator | None = None
    credentials: Credentials | None = None
    if chosen == EMBEDDED:
        from reconciler.cloud.credentials import Credentials  # noqa: PLC0415
        from reconciler.emulator import embedded  # noqa: PLC0415

        server = embedded.start_embedded(workdir / "emulator.sqlite", embedded_instances(instances))
        notices.extend(_embedded_notices(server))
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
    registry["profile"] = provider.profile
    # The emulator's development key; else the profile's, lazily.
    registry["credentials"] = credentials
    session = CloudSession(
        endpoint=chosen,
        endpoint_label=label,
        embedded=server is not None,
        notices=notices,
        **registry,
    )
    try:
        yield session
    except CloudConnectionError as err:
        from reconciler.state.binding import source_phrase  # noqa: PLC0415

        # Its own class kept: an untrusted certificate is not retried further up either.
        where = source_phrase(choice.source)
        raise type(err)(f"{err} (endpoint {where})", action=err.action) from err
    except (CloudApiError, UnknownInstanceError) as err:
        unknown_instance = isinstance(err, UnknownInstanceError) or (
            err.code in INSTANCE_NOT_FOUND_CODES
        )
        if server is None or not unknown_instance:
            raise
        raise EmulatorError(
            f"{err}; the embedded emulator ({server.db_path}) holds {server.holdings()}: "
            f"fix the file, or start the emulator afresh with {EMULATOR_RESET_COMMAND}"
        ) from err
    finally:
        session.close()
        if server is not None:
            server.stop()


def _embedded_notices(server: EmbeddedEmulator) -> list[str]:
    """What the embedded emulator made of the file, so a typo shows on first use."""
    from reconciler.emulator.embedded import describe_instances  # noqa: PLC0415

    notices = []
    if server.created:
        notices.append(
            f"The embedded emulator ({server.db_path}) created {describe_instances(server.created)}"
            f" on first use; {EMULATOR_RESET_COMMAND} starts it afresh."
        )
    notices.extend(
        f"warning: {held.instance_id} is declared in {declared}, but the embedded emulator "
        f"({server.db_path}) holds it in {held.region}; {EMULATOR_RESET_COMMAND} starts it afresh."
        for held, declared in server.misplaced
    )
    return notices
