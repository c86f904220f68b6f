"""The emulator fixture's shape as pydantic models: what each entry may hold and what each value
must be. ``fixture`` reads the YAML, locates what these refuse, and seeds the store.

Every mistake a model finds is a ``FixtureProblem``: a pydantic error whose message either names
its field itself (``VERBATIM``) or reads after the field's name (``AFTER_FIELD``).
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from reconciler.duration import duration_ms
from reconciler.emulator.mqtt.topics import check_topic_filter, malformed_topic_filter
from reconciler.emulator.store import DEFAULT_SOCKET
from reconciler.emulator.store.instances import (
    DEFAULT_CUSTOM_AUTH_CAPACITY,
    DEFAULT_EDITION,
    Edition,
)
from reconciler.models import (
    DEFAULT_REGION,
    GROUP_ID_RE,
    GROUP_ID_RULE,
    client_id_problem,
    custom_client_id_problem,
)

VERBATIM = "fixture_verbatim"
AFTER_FIELD = "fixture_after_field"
_RELATIVE = re.compile(r"^now(?:\s*-\s*(\S+))?$")
# A series longer than this is a typo (every: 1ms over a year), not a fixture.
MAX_SERIES_SAMPLES = 1_000_000


def _problem(kind: str, message: str) -> PydanticCustomError:
    # The message is a template: braces in a user's value must not be read as placeholders.
    return PydanticCustomError(kind, message.replace("{", "{{").replace("}", "}}"))


def _millis(value: object) -> int:
    """A moment as ms epoch: an integer, an ISO timestamp or ``now[-<duration>]``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    if isinstance(value, date):
        return int(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp() * 1000)
    if isinstance(value, str):
        match = _RELATIVE.match(value.strip())
        back = None if match is None else duration_ms(match.group(1) or "0s")
        if back is not None:
            return int(time.time() * 1000) - back
        try:
            return _millis(datetime.fromisoformat(value))
        except ValueError:
            pass
    raise _problem(AFTER_FIELD, "must be ms since the epoch, an ISO time or now-<N><unit>")


def _number(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _problem(AFTER_FIELD, "must be a number")
    return value


def _group_id(value: str) -> str:
    if not GROUP_ID_RE.match(value):
        raise _problem(AFTER_FIELD, f"{value!r} is invalid: it {GROUP_ID_RULE}")
    return value


def _client_id(value: str) -> str:
    problem = client_id_problem(value)
    if problem is not None:
        raise _problem(VERBATIM, problem)
    return value


def _custom_client_id(value: str) -> str:
    problem = custom_client_id_problem(value)
    if problem is not None:
        raise _problem(VERBATIM, problem)
    return value


def _topic_filter(value: str) -> str:
    problem = malformed_topic_filter(value) or check_topic_filter(value)
    if problem is not None:
        raise _problem(AFTER_FIELD, f"{value!r} is not a topic filter: {problem}")
    return value


def _as_list(value: object) -> object:
    """One value stands for a list of it (``count: 3`` is ``count: [3]``)."""
    return value if isinstance(value, list) else [value]


def _blank_as_empty(value: object) -> object:
    return "" if value is None else str(value)


def _account_id(value: object) -> object:
    """An account's uid: digits, written as a number or a string."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not re.fullmatch(r"\d{1,32}", value):
        raise _problem(AFTER_FIELD, "must be the account's numeric id (digits)")
    return value


def _seconds(value: object) -> object:
    """Whole seconds: a number, or a duration such as 30s or 1h."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and (ms := duration_ms(value)) is not None and ms % 1000 == 0:
        return ms // 1000
    raise _problem(AFTER_FIELD, "must be whole seconds: a number, or a duration such as 30s or 1h")


def _role_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9.-]{1,64}", value):
        raise _problem(AFTER_FIELD, "must be 1 to 64 letters, digits, '.' or '-'")
    return value


def _json_text(value: object) -> object:
    """A JSON Web Key Set given as a mapping or as JSON text, kept as JSON text."""
    if isinstance(value, dict):
        return json.dumps(value)
    return value


Text = Annotated[StrictStr, Field(min_length=1)]
Number = Annotated[float, BeforeValidator(_number)]
Moment = Annotated[int, BeforeValidator(_millis)]
GroupId = Annotated[Text, AfterValidator(_group_id)]
ClientId = Annotated[Text, AfterValidator(_client_id)]
CustomClientId = Annotated[Text, AfterValidator(_custom_client_id)]
TopicFilter = Annotated[Text, AfterValidator(_topic_filter)]
Values = Annotated[list[Number], BeforeValidator(_as_list), Field(min_length=1)]
AccountId = Annotated[str, BeforeValidator(_account_id)]
Seconds = Annotated[int, BeforeValidator(_seconds)]
RoleName = Annotated[Text, AfterValidator(_role_name)]


class FixtureModel(BaseModel):
    """An entry of the fixture: unknown keys refused, a key given no value left at its default."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    # How messages name an entry of this kind ("unknown key 'x' in an instance").
    WHAT: ClassVar[str]
    # The field a bare string stands for (a GID's name, an STS token), if the entry has one.
    SHORTHAND: ClassVar[str | None] = None

    @model_validator(mode="before")
    @classmethod
    def drop_empty_values(cls, data: Any) -> Any:
        if isinstance(data, str) and cls.SHORTHAND is not None:
            return {cls.SHORTHAND: data}
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


class StsToken(FixtureModel):
    WHAT = "an STS token"
    SHORTHAND = "token"
    token: Text
    expires: Moment | None = None


class Role(FixtureModel):
    """A RAM role of the account: who may assume it and for how long."""

    WHAT = "a role"
    SHORTHAND = "name"
    name: RoleName
    max_session_duration: Annotated[Seconds, Field(ge=3600, le=43200)] = 3600
    external_id: Text | None = None
    trusted_accounts: list[AccountId] = []
    oidc_providers: list[Text] = []


class OidcProvider(FixtureModel):
    """An OIDC identity provider registered in the account: tokens must come from ``issuer``,
    name one of ``client_ids`` as audience, and be signed by its key (``public_key`` PEM, or
    ``jwks``, a JSON Web Key Set)."""

    WHAT = "an OIDC provider"
    name: Text
    issuer: Text
    client_ids: Annotated[list[Text], Field(min_length=1)]
    public_key: Text | None = None
    jwks: Annotated[Text | None, BeforeValidator(_json_text)] = None

    @model_validator(mode="after")
    def one_key(self) -> OidcProvider:
        if (self.public_key is None) == (self.jwks is None):
            raise _problem(VERBATIM, "an OIDC provider needs one of public_key and jwks")
        return self


class Account(FixtureModel):
    WHAT = "an account"
    access_key_id: Text
    access_key_secret: Text
    sts_tokens: list[StsToken] = []
    account_id: AccountId | None = None  # the uid in ARNs; derived from the key when absent
    roles: list[Role] = []
    oidc_providers: list[OidcProvider] = []


class Sts(FixtureModel):
    """What the emulator issues: ``duration`` is the lifetime of every credential (whatever
    DurationSeconds asked); the role ARNs the metadata endpoint and the credentials URI serve;
    ``metadata_hardened`` requires metadata tokens."""

    WHAT = "the sts settings"
    duration: Annotated[Seconds, Field(ge=1)] | None = None
    instance_role: Text | None = None
    credentials_uri_role: Text | None = None
    metadata_hardened: StrictBool = False


class Group(FixtureModel):
    WHAT = "a group"
    SHORTHAND = "group_id"
    group_id: GroupId
    topic: Text | None = None
    create_time: Moment | None = None
    update_time: Moment | None = None


class Subscription(FixtureModel):
    WHAT = "a subscription"
    parent_topic: Text
    sub_topic: Annotated[str, BeforeValidator(_blank_as_empty)] = ""
    qos: Literal[0, 1, 2] = 0


class Device(FixtureModel):
    WHAT = "a device"
    client_id: ClientId
    online: StrictBool = True
    last_touch: Moment | None = None
    socket: Text = DEFAULT_SOCKET
    subscriptions: list[Subscription] = []


class Series(FixtureModel):
    """Samples at one moment (``at``), or at each multiple of ``every`` from ``from`` to ``to``."""

    WHAT = "a sample"
    at: Moment | None = None
    begin: Moment | None = Field(default=None, alias="from")
    end: Moment | None = Field(default=None, alias="to")
    every: Annotated[str, BeforeValidator(_blank_as_empty)] | None = None

    @field_validator("every")
    @classmethod
    def every_is_a_duration(cls, value: str | None) -> str | None:
        if value is not None and not duration_ms(value):
            raise _problem(AFTER_FIELD, "must be a positive duration such as 30s, 1m or 1h")
        return value

    @model_validator(mode="after")
    def one_moment_or_a_range(self) -> Series:
        given = {"from": self.begin, "to": self.end, "every": self.every}
        if self.at is not None:
            if any(value is not None for value in given.values()):
                raise _problem(VERBATIM, "give at, or from/to/every for a series, not both")
            return self
        missing = [key for key, value in given.items() if value is None]
        if missing:
            raise _problem(
                VERBATIM, f"a sample needs at, or from, to and every (missing {missing[0]})"
            )
        assert self.begin is not None and self.end is not None
        if self.begin > self.end:
            raise _problem(VERBATIM, "from must not be after to")
        if (self.end - self._first()) // self._step() >= MAX_SERIES_SAMPLES:
            raise _problem(
                VERBATIM, f"the series would hold more than {MAX_SERIES_SAMPLES} samples"
            )
        return self

    def _step(self) -> int:
        return duration_ms(self.every or "") or 0

    def _first(self) -> int:
        """The first multiple of ``every`` at or after ``from``."""
        assert self.begin is not None
        step = self._step()
        return -(-self.begin // step) * step

    def moments(self) -> list[int]:
        if self.at is not None:
            return [self.at]
        assert self.end is not None
        return list(range(self._first(), self.end + 1, self._step()))


def cycled(values: list[float] | None, length: int) -> list[float]:
    """``length`` values: the list repeated in order (0 when absent)."""
    if not values:
        return [0.0] * length
    return [float(values[i % len(values)]) for i in range(length)]


class OnlineSample(Series):
    WHAT = "an online sample"
    group_id: GroupId
    count: Values


class MessageSample(Series):
    WHAT = "a message sample"
    parent_topic: Text
    trans_type: Literal["PUB", "SUB"]
    tps: Values | None = None
    total: Values | None = None
    msg_type: Literal["P2P", "SUB"] = "SUB"
    qos: Literal[0, 1, 2] = 0
    sub_topic: Annotated[str, BeforeValidator(_blank_as_empty)] = ""


class Identity(FixtureModel):
    """A custom-auth identity, with the wire's values."""

    WHAT = "an identity"
    type: Literal["USER", "CLIENT"]
    username: Text
    client_id: CustomClientId | None = None  # CLIENT only
    secret: Text
    sign_mode: Literal["ORIGIN", "SIGNED"] = "ORIGIN"

    @model_validator(mode="after")
    def client_id_for_client_only(self) -> Identity:
        if self.type == "CLIENT" and self.client_id is None:
            raise _problem(VERBATIM, "an identity of type CLIENT needs client_id")
        if self.type == "USER" and self.client_id is not None:
            raise _problem(VERBATIM, "client_id is only for an identity of type CLIENT")
        return self


class Permission(FixtureModel):
    """A custom-auth topic permission, with the wire's values."""

    WHAT = "a permission"
    identity_type: Literal["USER", "CLIENT"]
    identity: Text
    topic: TopicFilter  # its parent must be one of the instance's topics
    effect: Literal["ALLOW", "DENY"] = "ALLOW"
    permit_action: Literal["PUB", "SUB", "PUB_SUB"] = "PUB_SUB"


class Blacklisted(FixtureModel):
    WHAT = "a blacklist entry"
    SHORTHAND = "client_id"
    client_id: CustomClientId


class Instance(FixtureModel):
    WHAT = "an instance"
    instance_id: Text
    account: Text | None = None  # the owner's access_key_id; needed when there are several
    region: Text = DEFAULT_REGION
    independent_naming: StrictBool = True
    edition: Edition = DEFAULT_EDITION
    custom_auth_capacity: Annotated[int, Field(strict=True, ge=0)] = DEFAULT_CUSTOM_AUTH_CAPACITY
    topics: list[Text] = []
    groups: list[Group] = []
    devices: list[Device] = []
    online_history: list[OnlineSample] = []
    message_history: list[MessageSample] = []
    identities: list[Identity] = []
    permissions: list[Permission] = []
    blacklist: list[Blacklisted] = []


class Fixture(FixtureModel):
    WHAT = "the fixture"
    version: Literal[1] = 1
    accounts: list[Account] = []
    instances: list[Instance] = []
    sts: Sts | None = None
