"""Frozen data models shared by every layer: keys, desired state, inventory, state.

These are the resolved forms. The YAML file's own shape (group sets, includes, string
shorthand) lives in ``reconciler.config`` and resolves into ``DesiredState``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    SecretStr,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError

# "GID_" or "GID-", then letters, digits, "-" and "_": 7 to 64 characters in all.
GROUP_ID_PATTERN = r"^GID[_-][A-Za-z0-9_-]{3,60}$"
GROUP_ID_RE = re.compile(GROUP_ID_PATTERN)
# The service's naming rule, worded once for every message that refuses a GID.
GROUP_ID_RULE = (
    "must start with GID_ or GID-, be 7 to 64 characters long and use only letters, digits,"
    " '-' and '_'"
)
# Instance ids are "post-cn-..." or "MQ_INST_..."; we only insist on a safe token.
INSTANCE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"

KNOWN_REGIONS: tuple[str, ...] = (
    "cn-beijing",
    "cn-hangzhou",
    "cn-shanghai",
    "cn-shenzhen",
    "ap-southeast-1",
    "cn-hangzhou-finance",
    "cn-shenzhen-finance-1",
    "cn-shanghai-finance-1",
    "mq-internet-access",
)
DEFAULT_REGION = "cn-hangzhou"

# The MQTT management API an instance is managed through, by the products' own codes: "ons"
# (ONS 2019-02-14, the OnsMqtt* actions) or "onsmqtt" (OnsMqtt 2020-04-20, CreateGroupId...).
Api = Literal["ons", "onsmqtt"]
APIS: tuple[str, ...] = ("ons", "onsmqtt")  # oldest generation first
DEFAULT_API: Api = "ons"
# A client id is "<GroupId>@@@<DeviceId>", at most this many characters.
CLIENT_ID_MAX_LENGTH = 64
CLIENT_ID_SEPARATOR = "@@@"

Ownership = Literal["managed", "exclusive"]
OWNERSHIPS: tuple[str, ...] = get_args(Ownership)
GroupId = Annotated[str, Field(pattern=GROUP_ID_PATTERN)]
InstanceId = Annotated[str, Field(pattern=INSTANCE_ID_PATTERN)]


class FrozenModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


def empty_list() -> list[Any]:
    """A new empty list: the default factory of the models' list fields, for ``list``.

    Building a validator, pydantic reads each default factory's signature; a builtin's is
    parsed from its text by the tokenize module, whose patterns take some 2 ms to compile (at
    every start-up: a small plan's validators had four ``list`` factories), and 0.1 ms a
    factory after. A Python function's signature is read directly.
    """
    return []


FrozenT = TypeVar("FrozenT", bound="FrozenModel")


def construct_trusted(cls: type[FrozenT], fields_set: set[str], values: dict[str, Any]) -> FrozenT:
    """An instance from values validated elsewhere (internal, for the 100,000-row paths).

    ``values`` must hold every field, in declaration order; ``fields_set`` is kept (share one
    set among many instances: see ``share_fields_set``). Like ``model_construct`` without its
    per-field bookkeeping, about five times cheaper; fit only for FrozenModel subclasses, which
    have no private attributes, extras, post-init hooks or ``__new__``.
    """
    model = _new(cls)
    _set_slot(model, "__dict__", values)
    _set_slot(model, "__pydantic_fields_set__", fields_set)
    _set_slot(model, "__pydantic_extra__", None)
    _set_slot(model, "__pydantic_private__", None)
    return model


# Looked up once: the look-ups of object.__setattr__ and cls.__new__ were a quarter of a call's
# cost (100,000 calls for a file of 100,000 GIDs). No FrozenModel has a __new__ of its own
# (tests/test_models_internal.py checks).
_new = object.__new__
_set_slot = object.__setattr__


def construct_trusted_all(
    cls: type[FrozenT], fields_set: set[str], every_values: Iterable[dict[str, Any]]
) -> list[FrozenT]:
    """``construct_trusted`` of each of ``every_values``, in one loop: a listing's thousands
    of rows spend a third less than through a call each."""
    new, set_slot = cls.__new__, object.__setattr__
    built = []
    for values in every_values:
        model = new(cls)
        set_slot(model, "__dict__", values)
        set_slot(model, "__pydantic_fields_set__", fields_set)
        set_slot(model, "__pydantic_extra__", None)
        set_slot(model, "__pydantic_private__", None)
        built.append(model)
    return built


# One set per combination of given fields, shared by every frozen instance given those.
_SHARED_FIELDS_SETS: dict[frozenset[str], set[str]] = {}
# The set shared last (a list: rebound without a global statement).
_last_shared: list[set[str]] = [set()]


def share_fields_set(model: BaseModel) -> None:
    """Make ``model``'s ``model_fields_set`` the one set shared by the models given the same
    fields (internal, for large states).

    pydantic gives every validated instance its own set of the field names it was given:
    about 700 bytes for a 12-field model, 70 MB over 100,000 state resources. Called as each
    is validated, so the set it replaces is freed at once and a large state never holds them
    all. Sharing is safe for frozen models: nothing adds to the set of a frozen instance, and
    copies get their own.
    """
    names = model.__pydantic_fields_set__
    # Nearly every model of a large state was given the same fields: comparing with the set
    # shared last is cheaper than hashing a frozenset of them.
    one = _last_shared[0]
    if one != names:
        one = _SHARED_FIELDS_SETS.setdefault(frozenset(names), names)
        _last_shared[0] = one
    if one is not names:
        object.__setattr__(model, "__pydantic_fields_set__", one)


# --- resource kinds --------------------------------------------------------------------------
#
# The engine (plan model, diff, guards, journal, state, apply) handles a resource as (kind,
# region, instance, key) plus the attributes its kind declares; ARCHITECTURE.md ("Resource
# kinds") says what a new kind brings. GIDs are the first kind; ``GID_KIND`` and ``KINDS`` are
# declared below the models their views read.

GID_KIND_NAME = "gid"


def _known_kind(name: str) -> str:
    if name not in KINDS:
        raise PydanticCustomError(
            "unknown_kind",
            "unknown resource kind {name!r}; known: {known}",
            {"name": name, "known": ", ".join(sorted(KINDS))},
        )
    return name


class _KindNameSchema:
    """The JSON Schema of a kind's name: the kinds registered when the schema is made."""

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: Any, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        names = sorted(KINDS)
        if len(names) == 1:
            return {"const": names[0], "type": "string"}
        return {"enum": names, "type": "string"}


# A registered kind's name (``KINDS``); checked when a model is validated, so a kind
# registered at run time (a test's) is accepted as GIDs are.
ResourceKindName = Annotated[str, AfterValidator(_known_kind), _KindNameSchema]


def _nothing_listed(inventory: InstanceInventory) -> Mapping[str, Mapping[str, str]]:
    return {}


def _always_available(inventory: InstanceInventory) -> str | None:
    return None


# What a change takes away that a resource grants now: given its key's text, the values it has
# and those it gets (None: it is deleted), a warning's words, or None.
CutOff = Callable[[str, Mapping[str, str | None], Mapping[str, str | None] | None], str | None]


@dataclass(frozen=True)
class ResourceKind:
    """What the engine knows of one kind of resource (see ARCHITECTURE.md, "Resource kinds").

    ``noun``: how messages name one (``GID``); ``key_label``: how its key is written after
    ``INSTANCE_ID/`` (``GROUP_ID``).

    The three views the diff compares, per instance: ``declared`` (the instance's desired
    models of this kind: each has ``absent`` and the kind's attributes; ``key_of`` gives its
    key's text), ``listed`` (the keys an instance's inventory lists) and ``listed_values`` (the
    attribute values the listing reports, by key; what it does not report is compared with the
    state). The state's view is the ``StateResource``s of the kind.

    Attributes, each named as on the desired model:

    - ``immutable``: set at creation only; a change is shown (``!``, ``NotInPlace``), never
      applied;
    - ``mutable``: a change is one update call through the kind's capability;
    - ``write_only``: sent, never stored or shown; the state keeps a salted digest
      (``write_only_digest``) so a change is found without revealing either value;
    - ``state_only``: reconciler's own settings, fields of ``StateResource`` never sent
      (``protect``: a delete is refused until the file lifts it; ``clients``: known client ids).

    ``online_clients``: a delete first asks how many clients are online (GIDs).
    ``unavailable``: why an instance's listing could not list the kind (None: it did); its
    resources on that instance are then not planned, and the plan says why once.
    ``cuts_off``: a warning on an update or delete that takes away what a resource grants now
    (a permission turned to deny). ``rename_breaks``: what a probable rename (a delete and a
    create of near-identical keys) breaks; None: not flagged.
    ``shared_namespace``: names may be shared across instances without independent naming
    (GIDs), so creates are checked against the other instances' names.
    """

    name: str
    noun: str
    key_label: str
    declared: Callable[[DesiredInstance], Sequence[Any]]
    key_of: Callable[[Any], str]
    listed: Callable[[InstanceInventory], frozenset[str]]
    listed_values: Callable[[InstanceInventory], Mapping[str, Mapping[str, str]]] = _nothing_listed
    immutable: tuple[str, ...] = ()
    mutable: tuple[str, ...] = ()
    write_only: tuple[str, ...] = ()
    state_only: tuple[str, ...] = ()
    online_clients: bool = False
    shared_namespace: bool = False
    unavailable: Callable[[InstanceInventory], str | None] = _always_available
    cuts_off: CutOff | None = None
    # How messages name several (None: the noun and an "s").
    plural: str | None = None
    # What a rename breaks, said on a delete and a create of near-identical keys (None: such
    # pairs are not flagged: a permission's topic or a blacklist entry changes by design).
    rename_breaks: str | None = None

    @property
    def nouns(self) -> str:
        return self.plural if self.plural is not None else f"{self.noun}s"

    @property
    def sent(self) -> tuple[str, ...]:
        """The attributes a create sends (the write-only ones travel apart)."""
        return (*self.immutable, *self.mutable)


def write_only_digest(value: str, *, salt: str | None = None) -> str:
    """``sha256:SALT:HEX``, what the state keeps of a write-only value (a fresh salt unless
    one is given: the same value gives another digest in another resource)."""
    salt = secrets.token_hex(16) if salt is None else salt
    digest = hashlib.sha256(f"{salt}:{value}".encode()).hexdigest()
    return f"sha256:{salt}:{digest}"


def write_only_matches(value: str, digest: str) -> bool:
    """Whether ``digest`` (``write_only_digest``'s) was made of ``value``."""
    scheme, _, rest = digest.partition(":")
    salt, _, _ = rest.partition(":")
    if scheme != "sha256" or not salt:
        return False
    return hmac.compare_digest(write_only_digest(value, salt=salt), digest)


class ResourceKey(FrozenModel):
    """A resource's identity. A GID's is written on the command line as
    ``INSTANCE_ID/GROUP_ID``."""

    region: str
    instance_id: str
    group_id: str
    kind: ResourceKindName = GID_KIND_NAME

    def __str__(self) -> str:
        return f"{self.instance_id}/{self.group_id}"

    def sort_key(self) -> tuple[str, str, str, str]:
        return (self.region, self.instance_id, self.kind, self.group_id)

    @classmethod
    def trusted(cls, region: str, instance_id: str, group_id: str, kind: str) -> ResourceKey:
        """The key of a change or resource whose parts were validated when it was built:
        asked several times per change of a large apply, where validating (or pydantic's
        ``model_construct``) cost more than the rest of building it."""
        values = {"region": region, "instance_id": instance_id, "group_id": group_id, "kind": kind}
        return construct_trusted(cls, _RESOURCE_KEY_FIELDS, values)


_RESOURCE_KEY_FIELDS = set(ResourceKey.model_fields)


# What a client id may hold, worded once for every message that refuses one. The service
# forbids non-printable characters; whitespace and '/' (a topic separator) are refused too, by
# the emulator's MQTT listener as by the file's checks and inspect.
CLIENT_ID_CHARACTERS_RULE = "a client id is printable characters other than whitespace and '/'"


def forbidden_client_id_character(client_id: str) -> str | None:
    """The first character ``client_id`` may not hold, named for a message (``a space``,
    ``'/'``, ``U+0009``), or None when every character is allowed."""
    for char in client_id:
        if char == " ":
            return "a space"
        if char == "/":
            return "'/'"
        if char.isspace() or not char.isprintable():
            return f"U+{ord(char):04X}"
    return None


def group_of_client_id(client_id: str) -> str:
    """The GID part of ``GROUP_ID@@@DEVICE_ID`` (all of ``client_id`` when it has no ``@@@``)."""
    return client_id.partition(CLIENT_ID_SEPARATOR)[0]


def client_id_problem(client_id: str, *, group_id: str | None = None) -> str | None:
    """Why ``client_id`` is not a client id the service accepts, or not one of ``group_id``'s
    clients when that is given; None when it is. The one statement of the rule: the file's
    checks, inspect, both emulated APIs, the emulator's fixture and its MQTT listener ask it."""
    prefix = f"{group_id}{CLIENT_ID_SEPARATOR}"
    if group_id is not None and not client_id.startswith(prefix):
        return f"client id {client_id!r} does not belong to {group_id}: it must start with {prefix}"
    group, separator, device = client_id.partition(CLIENT_ID_SEPARATOR)
    if not separator:
        return f"client id {client_id!r} is not GROUP_ID{CLIENT_ID_SEPARATOR}DEVICE_ID"
    if not device:
        return f"client id {client_id!r} has no device id after {CLIENT_ID_SEPARATOR}"
    if not GROUP_ID_RE.match(group):
        return f"client id {client_id!r} has an invalid group {group!r}: a GID {GROUP_ID_RULE}"
    if len(client_id) > CLIENT_ID_MAX_LENGTH:
        return (
            f"client id {client_id!r} is {len(client_id)} characters long; "
            f"the service allows at most {CLIENT_ID_MAX_LENGTH}"
        )
    forbidden = forbidden_client_id_character(client_id)
    if forbidden is not None:
        return f"client id {client_id!r} contains {forbidden}: {CLIENT_ID_CHARACTERS_RULE}"
    return None


# --- GID tags --------------------------------------------------------------------------------
#
# The rules Alibaba Cloud documents for a tag of any resource (its common ``Tag`` structure:
# https://www.alibabacloud.com/help/en/emr/emr-on-ecs/developer-reference/api-emr-2021-03-20-struct-tag),
# and the 20 tags a GID may hold (ListGroupId's reference). A GID's tags are set when it is
# created and never changed (the tag actions accept only instances), so the engine carries
# them as one immutable attribute: their canonical text (``tags_text``).
MAX_TAGS = 20
TAG_KEY_MAX_LENGTH = 128
TAG_VALUE_MAX_LENGTH = 128
TAG_KEY_RESERVED_PREFIXES = ("aliyun", "acs:")
TAG_VALUE_RESERVED_PREFIXES = ("acs:",)
TAG_FORBIDDEN_PARTS = ("http://", "https://")
TAG_RULE = (
    f"a tag key is 1 to {TAG_KEY_MAX_LENGTH} characters, not starting with 'aliyun' or 'acs:';"
    f" a value is at most {TAG_VALUE_MAX_LENGTH} characters, not starting with 'acs:';"
    " neither may contain 'http://' or 'https://'"
)


def tag_key_problem(key: str) -> str | None:
    """Why ``key`` is not a tag key the service accepts, or None. The one statement of the
    rule: the file's checks and the emulator's CreateGroupId ask it."""
    if not key:
        return f"a tag key must not be empty: {TAG_RULE}"
    if len(key) > TAG_KEY_MAX_LENGTH:
        return f"tag key {key[:40]!r}... is {len(key)} characters long: {TAG_RULE}"
    return _tag_text_problem("key", key, TAG_KEY_RESERVED_PREFIXES)


def tag_value_problem(key: str, value: str) -> str | None:
    """Why ``value`` is not a value the service accepts for tag ``key``, or None."""
    if len(value) > TAG_VALUE_MAX_LENGTH:
        return f"the value of tag {key!r} is {len(value)} characters long: {TAG_RULE}"
    return _tag_text_problem(f"value of tag {key!r}", value, TAG_VALUE_RESERVED_PREFIXES)


def _tag_text_problem(what: str, text: str, reserved: tuple[str, ...]) -> str | None:
    lowered = text.lower()
    for prefix in reserved:
        if lowered.startswith(prefix):
            return f"the {what} starts with the reserved prefix {prefix!r}: {TAG_RULE}"
    for part in TAG_FORBIDDEN_PARTS:
        if part in lowered:
            return f"the {what} contains {part!r}: {TAG_RULE}"
    return None


def tags_problem(tags: Mapping[str, str]) -> str | None:
    """Why ``tags`` cannot be a GID's tags (too many, or a key or value the service
    refuses), or None."""
    if len(tags) > MAX_TAGS:
        return f"{len(tags)} tags given: a GID holds at most {MAX_TAGS}"
    for key, value in tags.items():
        problem = tag_key_problem(key) or tag_value_problem(key, value)
        if problem is not None:
            return problem
    return None


def tags_text(tags: Mapping[str, str]) -> str:
    """The canonical text of a set of tags (what the engine compares, plans show and the
    state keeps): a JSON object sorted by key, so equal tags always read the same."""
    return json.dumps(dict(sorted(tags.items())), ensure_ascii=False, separators=(", ", ": "))


def tags_of(text: str) -> dict[str, str]:
    """The tags ``tags_text`` wrote."""
    parsed = json.loads(text)
    if not isinstance(parsed, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in parsed.items()
    ):
        raise ValueError(f"not the text of a set of tags: {text!r}")
    return parsed


def parse_key_text(text: str) -> tuple[str, str]:
    """Split ``INSTANCE_ID/KEY`` at its first ``/`` (an instance id never holds one); raises
    ValueError with a message fit for the user.

    A GID's key is its name; an access kind's key starts with the kind's name and a ``:``
    (``identity:user:alice``, ``permission:user:alice/telemetry/#``, ``blacklist:dev-1``), so
    no key of one kind reads as another's, and only a permission's key (its topic) holds a
    ``/``.
    """
    instance_id, sep, key = text.partition("/")
    if not sep or not instance_id or not key or key_text_problem(key) is not None:
        raise ValueError(
            f"{text!r} is not a KEY of the form INSTANCE_ID/GROUP_ID or "
            "INSTANCE_ID/KIND:KEY (identity:user:USERNAME, identity:client:USERNAME:CLIENT_ID, "
            "permission:TYPE:IDENTITY/TOPIC, blacklist:CLIENT_ID)"
        )
    return instance_id, key


def kind_of_key_text(key: str) -> str:
    """The kind a resource key's text names: the registered kind before its first ``:``, or a
    GID (whose names hold no ``:``)."""
    prefix, sep, _ = key.partition(":")
    return prefix if sep and prefix in KINDS else GID_KIND_NAME


def key_text_problem(key: str) -> str | None:
    """Why ``key`` is no resource key's text (None: it is one)."""
    if "/" in key and kind_of_key_text(key) != PERMISSION_KIND_NAME:
        return "only a permission's key holds a '/'"
    return None


# --- desired state (resolved) ---------------------------------------------------------------


class DesiredGroup(FrozenModel):
    group_id: GroupId
    topic: str | None = None
    # None: the file does not say, so a GID keeps the protection the state records; only an
    # explicit ``protect: false`` removes it.
    protect: bool | None = None
    absent: bool = False
    description: str | None = None
    # Known client ids ("GID@@@device"), asked about before a delete on an onsmqtt instance.
    clients: tuple[str, ...] = ()
    # ``tags_text`` of the tags it is created with; None: the file does not say, so the
    # tags it has are not compared (like ``topic``).
    tags: str | None = None


# --- access kinds (custom authentication of an onsmqtt instance) ------------------------------
#
# Values are the file's lower-case words; the wire's upper-case ones are the client's business.
IdentityType = Literal["user", "client"]
SignMode = Literal["signed", "origin"]
Effect = Literal["allow", "deny"]
PermitAction = Literal["pub", "sub", "pub_sub"]
IDENTITY_TYPES: tuple[str, ...] = get_args(IdentityType)
SIGN_MODES: tuple[str, ...] = get_args(SignMode)
EFFECTS: tuple[str, ...] = get_args(Effect)
PERMIT_ACTIONS: tuple[str, ...] = get_args(PermitAction)
# The service's limit on a custom-auth username.
USERNAME_MAX_LENGTH = 64
IDENTITY_KIND_NAME = "identity"
PERMISSION_KIND_NAME = "permission"
BLACKLIST_KIND_NAME = "blacklist"
# What a username may hold, worded once: the key texts split on ':' and '/'.
USERNAME_RULE = (
    "a username is 1 to 64 printable characters other than whitespace, ':' and '/' "
    "(reconciler writes keys as identity:user:USERNAME)"
)


def username_problem(username: str) -> str | None:
    """Why ``username`` is no custom-auth username reconciler manages (None: it is one)."""
    if not 0 < len(username) <= USERNAME_MAX_LENGTH:
        return f"username {username!r} is {len(username)} characters long: {USERNAME_RULE}"
    if ":" in username or forbidden_client_id_character(username) is not None:
        return f"username {username!r} is not valid: {USERNAME_RULE}"
    return None


def custom_client_id_problem(client_id: str) -> str | None:
    """Why a custom-auth ClientId is refused, or None: any form (it need not be
    ``GROUP_ID@@@DEVICE_ID``), at most 64 printable characters without whitespace or '/'. The
    one statement of the rule: the file's checks, and the emulator's CustomAuth actions,
    fixture and MQTT listener."""
    if not client_id:
        return "the ClientId is empty"
    if len(client_id) > CLIENT_ID_MAX_LENGTH:
        return (
            f"client id {client_id!r} is {len(client_id)} characters long; "
            f"the service allows at most {CLIENT_ID_MAX_LENGTH}"
        )
    forbidden = forbidden_client_id_character(client_id)
    if forbidden is not None:
        return f"client id {client_id!r} contains {forbidden}: {CLIENT_ID_CHARACTERS_RULE}"
    return None


# A topic (or filter) is at most this long; its first level is the parent topic.
MAX_TOPIC_LENGTH = 64
SINGLE_LEVEL = "+"
MULTI_LEVEL = "#"


def malformed_topic_filter(topic_filter: str) -> str | None:
    """Why a topic filter breaks MQTT 3.1.1's own syntax (4.7.1, 4.7.3), or None.

    In a SUBSCRIBE a malformed filter is a protocol violation: the connection is closed, not
    answered with a refusal code as a well-formed filter the service's rules refuse is."""
    if not topic_filter:
        return "the filter is empty"
    levels = topic_filter.split("/")
    for position, level in enumerate(levels):
        if MULTI_LEVEL in level and (level != MULTI_LEVEL or position != len(levels) - 1):
            return "'#' must be a whole level and the last one"
        if SINGLE_LEVEL in level and level != SINGLE_LEVEL:
            return "'+' must be a whole level"
    return None


def check_topic_filter(topic_filter: str) -> str | None:
    """Why the service refuses a well-formed topic filter, or None when it is acceptable
    (parent not looked up); ``malformed_topic_filter`` is asked first."""
    if len(topic_filter) > MAX_TOPIC_LENGTH:
        return f"the filter is {len(topic_filter)} characters long (at most {MAX_TOPIC_LENGTH})"
    if topic_filter.partition("/")[0] in ("", SINGLE_LEVEL, MULTI_LEVEL):
        return "the first level must name a parent topic"
    return None


def topic_filter_problem(topic: str) -> str | None:
    """Why ``topic`` is no permission topic (a topic or an MQTT filter the service takes),
    naming it, or None: the two rules above, one after the other."""
    problem = malformed_topic_filter(topic) or check_topic_filter(topic)
    return None if problem is None else f"topic {topic!r}: {problem}"


def identity_key_text(identity_type: str, username: str, client_id: str | None) -> str:
    """``identity:user:USERNAME`` or ``identity:client:USERNAME:CLIENT_ID``."""
    if identity_type == "client":
        return f"{IDENTITY_KIND_NAME}:client:{username}:{client_id}"
    return f"{IDENTITY_KIND_NAME}:user:{username}"


def permission_key_text(identity_type: str, identity: str, topic: str) -> str:
    """``permission:TYPE:IDENTITY/TOPIC`` (the identity holds no '/', the topic may)."""
    return f"{PERMISSION_KIND_NAME}:{identity_type}:{identity}/{topic}"


def blacklist_key_text(client_id: str) -> str:
    return f"{BLACKLIST_KIND_NAME}:{client_id}"


def parse_identity_key(key: str) -> tuple[IdentityType, str, str | None]:
    """(type, username, client id) of ``identity_key_text``'s text (a username holds no ':')."""
    identity_type, _, rest = key.removeprefix(f"{IDENTITY_KIND_NAME}:").partition(":")
    if identity_type == "client":
        username, _, client_id = rest.partition(":")
        return "client", username, client_id
    return "user", rest, None


def parse_permission_key(key: str) -> tuple[IdentityType, str, str]:
    """(identity type, identity, topic) of ``permission_key_text``'s text (an identity holds
    no '/')."""
    identity_type, _, rest = key.removeprefix(f"{PERMISSION_KIND_NAME}:").partition(":")
    identity, _, topic = rest.partition("/")
    return ("client" if identity_type == "client" else "user"), identity, topic


def parse_blacklist_key(key: str) -> str:
    return key.removeprefix(f"{BLACKLIST_KIND_NAME}:")


class DesiredIdentity(FrozenModel):
    """A custom-auth identity: by username alone (``user``) or username and client id
    (``client``); its secret comes from the environment or a file, never the file's text."""

    identity_type: IdentityType
    username: str
    client_id: str | None = None
    sign_mode: SignMode | None = None
    secret: SecretStr | None = None
    absent: bool = False

    @property
    def key_text(self) -> str:
        return identity_key_text(self.identity_type, self.username, self.client_id)


class DesiredPermission(FrozenModel):
    identity_type: IdentityType
    identity: str
    topic: str
    effect: Effect | None = None
    # The wire's name: ``action`` is a field of every plan change (create, update...).
    permit_action: PermitAction | None = None
    absent: bool = False

    @property
    def key_text(self) -> str:
        return permission_key_text(self.identity_type, self.identity, self.topic)


class DesiredBlacklistEntry(FrozenModel):
    client_id: str
    absent: bool = False

    @property
    def key_text(self) -> str:
        return blacklist_key_text(self.client_id)


class KindOwnership(FrozenModel):
    """An ownership set for one kind, overriding the instance's."""

    kind: str
    ownership: Ownership


class DesiredInstance(FrozenModel):
    instance_id: InstanceId
    region: str = DEFAULT_REGION
    api: Api = DEFAULT_API
    ownership: Ownership = "managed"
    # What the user expects; checked against the cloud at plan time. None: not asserted.
    independent_naming: bool | None = None
    groups: tuple[DesiredGroup, ...] = ()
    identities: tuple[DesiredIdentity, ...] = ()
    permissions: tuple[DesiredPermission, ...] = ()
    blacklist: tuple[DesiredBlacklistEntry, ...] = ()
    # Kinds whose ownership is not the instance's ``ownership`` (sorted by kind).
    kind_ownership: tuple[KindOwnership, ...] = ()

    def key(self, group_id: str) -> ResourceKey:
        return ResourceKey(region=self.region, instance_id=self.instance_id, group_id=group_id)

    def ownership_of(self, kind: str) -> Ownership:
        """The ownership of the instance's resources of ``kind``."""
        for item in self.kind_ownership:
            if item.kind == kind:
                return item.ownership
        return self.ownership


class ProviderConfig(FrozenModel):
    region: str = DEFAULT_REGION
    # The default API of instances that name none.
    api: Api = DEFAULT_API
    # None: the real service; "embedded": the built-in emulator; otherwise a URL.
    endpoint: str | None = None
    profile: str | None = None


class LocalBackendConfig(FrozenModel):
    kind: Literal["local"] = "local"
    path: str = ".reconciler/state.json"


class PostgresBackendConfig(FrozenModel):
    kind: Literal["postgres"] = "postgres"
    # Resolved from ${ENV} at load time; SecretStr keeps it out of reprs and dumps.
    dsn: SecretStr
    db_schema: str = Field(default="reconciler", alias="schema")
    workspace: str = "default"

    model_config = ConfigDict(populate_by_name=True)  # merged into FrozenModel's


BackendConfig = Annotated[LocalBackendConfig | PostgresBackendConfig, Field(discriminator="kind")]


class SafetyConfig(FrozenModel):
    """Delete circuit breaker thresholds."""

    max_deletes: int = Field(default=10, ge=0)
    max_delete_share: float = Field(default=0.25, ge=0, le=1)
    # The share rule only applies to instances holding at least this many GIDs.
    share_min_groups: int = Field(default=20, ge=1)


class DesiredState(FrozenModel):
    version: Literal[1] = 1
    # Defaults built without validation: validating one would build its validator at import.
    provider: ProviderConfig = ProviderConfig.model_construct()
    backend: BackendConfig = LocalBackendConfig.model_construct()
    safety: SafetyConfig = SafetyConfig.model_construct()
    instances: tuple[DesiredInstance, ...] = ()
    # Where it was loaded from, for messages; not part of the digest.
    source: str | None = Field(default=None, exclude=True)
    # The files it was loaded from, each with the sha256 of its bytes (a saved plan is stale
    # when one changed, appeared or disappeared); not part of the digest.
    files: dict[str, str] = Field(default_factory=dict, exclude=True)

    def digest(self) -> str:
        """sha256 of what the plan depends on: instances and safety (not backend secrets)."""
        payload = self.model_dump_json(include={"version", "safety", "instances"})
        return hashlib.sha256(payload.encode()).hexdigest()


# --- inventory (what the cloud lists) -------------------------------------------------------


class CloudGroup(FrozenModel):
    group_id: str
    instance_id: str
    independent_naming: bool
    create_time: int = 0
    update_time: int = 0
    # ``tags_text`` of the tags the listing reports; None: the API's listing reports none
    # (ONS 2019-02-14 has no GID tags).
    tags: str | None = None


class ListedIdentity(FrozenModel):
    identity_type: IdentityType
    username: str
    client_id: str | None = None
    # None: the answer did not say.
    sign_mode: SignMode | None = None

    @property
    def key_text(self) -> str:
        return identity_key_text(self.identity_type, self.username, self.client_id)


class ListedPermission(FrozenModel):
    identity_type: IdentityType
    identity: str
    topic: str
    effect: Effect
    permit_action: PermitAction

    @property
    def key_text(self) -> str:
        return permission_key_text(self.identity_type, self.identity, self.topic)


class ListedBlacklistEntry(FrozenModel):
    client_id: str

    @property
    def key_text(self) -> str:
        return blacklist_key_text(self.client_id)


class AccessListing(FrozenModel):
    """An onsmqtt instance's custom-auth entries; ``unsupported``: why they could not be
    listed (an edition without custom auth), the service's words."""

    identities: tuple[ListedIdentity, ...] = ()
    permissions: tuple[ListedPermission, ...] = ()
    blacklist: tuple[ListedBlacklistEntry, ...] = ()
    unsupported: str | None = None

    def lines(self) -> list[str]:
        """One line per entry, key and listed values, sorted: what a fingerprint covers."""
        found = [
            *(f"{item.key_text} {item.sign_mode}" for item in self.identities),
            *(f"{item.key_text} {item.effect} {item.permit_action}" for item in self.permissions),
            *(item.key_text for item in self.blacklist),
        ]
        if self.unsupported is not None:
            found.append(f"unsupported {self.unsupported}")
        return sorted(found)


class InstanceInventory(FrozenModel):
    region: str
    instance_id: str
    groups: tuple[CloudGroup, ...] = ()
    # None: not listed (an ons instance, or one whose client offers no custom auth).
    access: AccessListing | None = None

    def group_ids(self) -> frozenset[str]:
        return frozenset(group.group_id for group in self.groups)

    def independent_naming(self) -> bool | None:
        """What the listed GIDs say about the namespace; None when the instance has none."""
        return self.groups[0].independent_naming if self.groups else None

    def fingerprint(self) -> str:
        """Stable digest of the listed GID names and access entries, for stale-plan
        detection."""
        return inventory_fingerprint(self, sorted(self.group_ids()))


def group_ids_fingerprint(sorted_group_ids: Iterable[str]) -> str:
    """The fingerprint of an inventory listing these GID names (already sorted and unique)
    and no access entries."""
    # sha256 over each name followed by a newline, hashed in one call.
    text = "".join(f"{group_id}\n" for group_id in sorted_group_ids)
    return hashlib.sha256(text.encode()).hexdigest()


def inventory_fingerprint(inventory: InstanceInventory, sorted_group_ids: Iterable[str]) -> str:
    """``InstanceInventory.fingerprint`` given its GID names already sorted: the GIDs' digest,
    then, when the instance lists access entries, a digest of that and of them."""
    groups = group_ids_fingerprint(sorted_group_ids)
    if inventory.access is None:
        return groups
    text = groups + "\n" + "".join(f"{line}\n" for line in inventory.access.lines())
    return hashlib.sha256(text.encode()).hexdigest()


# --- the GID kind --------------------------------------------------------------------------


def _declared_groups(instance: DesiredInstance) -> Sequence[DesiredGroup]:
    return instance.groups


def _key_of_group(group: DesiredGroup) -> str:
    return group.group_id


def _listed_groups(inventory: InstanceInventory) -> frozenset[str]:
    return inventory.group_ids()


def _listed_tags(inventory: InstanceInventory) -> Mapping[str, Mapping[str, str]]:
    # One small mapping per distinct set of tags, shared by the GIDs holding it: an instance
    # of 100,000 GIDs has a handful.
    shared: dict[str, Mapping[str, str]] = {}
    return {
        group.group_id: shared.setdefault(group.tags, {"tags": group.tags})
        for group in inventory.groups
        if group.tags is not None
    }


GID_KIND = ResourceKind(
    name=GID_KIND_NAME,
    noun="GID",
    key_label="GROUP_ID",
    declared=_declared_groups,
    key_of=_key_of_group,
    listed=_listed_groups,
    listed_values=_listed_tags,
    immutable=("topic", "tags"),
    state_only=("protect", "clients"),
    online_clients=True,
    shared_namespace=True,
    rename_breaks="clients still using the old name fail authentication on their next reconnect",
)
# Every kind the engine plans, by name. A kind is registered by adding it here (a test adds
# its own for the length of the test); its client capability is registered beside the
# clients (``cloud.capabilities.KIND_CAPABILITIES``).
KINDS: dict[str, ResourceKind] = {GID_KIND.name: GID_KIND}


# --- the access kinds ------------------------------------------------------------------------


def _access(inventory: InstanceInventory) -> AccessListing:
    return inventory.access if inventory.access is not None else _NO_ACCESS


# Built without validation: validating at import would build its validator for every plan.
_NO_ACCESS = AccessListing.model_construct()


def _access_unavailable(inventory: InstanceInventory) -> str | None:
    return _access(inventory).unsupported


def _declared_identities(instance: DesiredInstance) -> Sequence[DesiredIdentity]:
    return instance.identities


def _listed_identities(inventory: InstanceInventory) -> frozenset[str]:
    return frozenset(item.key_text for item in _access(inventory).identities)


def _identity_values(inventory: InstanceInventory) -> Mapping[str, Mapping[str, str]]:
    return {
        item.key_text: {"sign_mode": item.sign_mode}
        for item in _access(inventory).identities
        if item.sign_mode is not None
    }


def _declared_permissions(instance: DesiredInstance) -> Sequence[DesiredPermission]:
    return instance.permissions


def _listed_permissions(inventory: InstanceInventory) -> frozenset[str]:
    return frozenset(item.key_text for item in _access(inventory).permissions)


def _permission_values(inventory: InstanceInventory) -> Mapping[str, Mapping[str, str]]:
    return {
        item.key_text: {"effect": item.effect, "permit_action": item.permit_action}
        for item in _access(inventory).permissions
    }


def _declared_blacklist(instance: DesiredInstance) -> Sequence[DesiredBlacklistEntry]:
    return instance.blacklist


def _listed_blacklist(inventory: InstanceInventory) -> frozenset[str]:
    return frozenset(item.key_text for item in _access(inventory).blacklist)


def _key_text_of(item: DesiredIdentity | DesiredPermission | DesiredBlacklistEntry) -> str:
    return item.key_text


# What each action lets an identity do.
_GRANTS = {"pub": {"publish"}, "sub": {"subscribe"}, "pub_sub": {"publish", "subscribe"}}


def _permission_cuts_off(
    key: str, current: Mapping[str, str | None], desired: Mapping[str, str | None] | None
) -> str | None:
    """An allow that is deleted, turned to deny or narrowed takes away what it grants."""
    if current.get("effect") != "allow":
        return None
    granted = _GRANTS.get(current.get("permit_action") or "", set())
    if desired is None or desired.get("effect") == "deny":
        kept: set[str] = set()
    else:
        kept = _GRANTS.get(desired.get("permit_action") or "", granted)
    lost = sorted(granted - kept)
    if not lost:
        return None
    identity_type, identity, topic = parse_permission_key(key)
    how = "deleted" if desired is None else "changed"
    return (
        f"cuts off {identity_type} {identity}: this {how} permission takes away "
        f"{' and '.join(lost)} on {topic}, which it allows now"
    )


IDENTITY_KIND = ResourceKind(
    name=IDENTITY_KIND_NAME,
    noun="identity",
    plural="identities",
    key_label="IDENTITY",
    declared=_declared_identities,
    key_of=_key_text_of,
    listed=_listed_identities,
    listed_values=_identity_values,
    mutable=("sign_mode",),
    write_only=("secret",),
    unavailable=_access_unavailable,
    rename_breaks="clients still signing in as the old identity are refused on their next connect",
)
PERMISSION_KIND = ResourceKind(
    name=PERMISSION_KIND_NAME,
    noun="permission",
    key_label="PERMISSION",
    declared=_declared_permissions,
    key_of=_key_text_of,
    listed=_listed_permissions,
    listed_values=_permission_values,
    mutable=("effect", "permit_action"),
    unavailable=_access_unavailable,
    cuts_off=_permission_cuts_off,
)
BLACKLIST_KIND = ResourceKind(
    name=BLACKLIST_KIND_NAME,
    noun="blacklist entry",
    plural="blacklist entries",
    key_label="BLACKLIST",
    declared=_declared_blacklist,
    key_of=_key_text_of,
    listed=_listed_blacklist,
    unavailable=_access_unavailable,
)
ACCESS_KINDS: tuple[ResourceKind, ...] = (IDENTITY_KIND, PERMISSION_KIND, BLACKLIST_KIND)
KINDS.update((kind.name, kind) for kind in ACCESS_KINDS)


# --- state (what we created or adopted) -----------------------------------------------------


class NamedValue(FrozenModel):
    """One attribute's value, by name (kept in tuples, sorted, so models stay hashable)."""

    name: str
    value: str


def named(values: Iterable[NamedValue]) -> dict[str, str]:
    return {item.name: item.value for item in values}


def named_values(values: Mapping[str, str | None]) -> tuple[NamedValue, ...]:
    """Those of ``values`` that are set, sorted by name."""
    return tuple(
        NamedValue(name=name, value=value)
        for name, value in sorted(values.items())
        if value is not None
    )


StateOrigin = Literal["created", "adopted", "imported"]


class StateResource(FrozenModel):
    # Required in a stored format 2 document (``state.document`` reads format 1 as GIDs).
    kind: ResourceKindName = GID_KIND_NAME
    region: str
    instance_id: str
    group_id: str
    topic: str | None = None
    protect: bool = False
    origin: StateOrigin = "created"
    recorded_at: str = ""
    # The API its instance was managed through when last written; files from before it was
    # recorded read as "ons", the only API there was.
    api: Api = DEFAULT_API
    # Its known client ids, kept so that a delete after the GID left the file can still ask
    # whether they are online (onsmqtt cannot count a GID's clients).
    clients: tuple[str, ...] = ()
    # The values of its kind's attributes that are no field of their own (a GID's ``topic``
    # is), by name, sorted; and a salted digest of each write-only one (never the value).
    attributes: tuple[NamedValue, ...] = ()
    digests: tuple[NamedValue, ...] = ()

    @model_validator(mode="after")
    def _shared_fields_set(self) -> StateResource:
        share_fields_set(self)
        return self

    def value(self, attribute: str) -> str | None:
        """The recorded value of one of its kind's attributes (None: not recorded)."""
        if attribute in _STATE_RESOURCE_FIELDS:
            found: str | None = getattr(self, attribute)
            return found
        return named(self.attributes).get(attribute)

    @property
    def key(self) -> ResourceKey:
        return ResourceKey.trusted(self.region, self.instance_id, self.group_id, self.kind)


# Asked per resource by the planner: the class's ``model_fields`` is a costlier look-up.
_STATE_RESOURCE_FIELDS = frozenset(StateResource.model_fields)


class StateBinding(FrozenModel):
    """What a state describes, so that it is never planned against something else.

    ``desired``: the desired-state files and directories it was written from, as normalised
    POSIX paths relative to the working directory (absolute only when outside it), sorted.
    ``endpoint``: the cloud it was written against: ``default`` (the service's own regional
    endpoints, whichever API), ``embedded``, or the endpoint URL, normalised.
    """

    desired: tuple[str, ...]
    endpoint: str


def resource_sort_key(resource: StateResource) -> tuple[str, str, str, str]:
    """``resource.key.sort_key()`` as a plain tuple, without building a key model: a state's
    order and identity, asked of each resource of states of 100,000."""
    return (resource.region, resource.instance_id, resource.kind, resource.group_id)


def first_duplicate(resources: Sequence[StateResource]) -> tuple[int, int] | None:
    """The index of the first resource whose key an earlier one has, and that earlier one's;
    None when each key is there once."""
    # Counting distinct keys runs in C; the resources are walked in Python only to name a
    # duplicate there is.
    if len(set(map(resource_sort_key, resources))) == len(resources):
        return None
    first: dict[tuple[str, str, str, str], int] = {}
    for index, key in enumerate(map(resource_sort_key, resources)):
        seen = first.setdefault(key, index)
        if seen != index:
            return index, seen
    return None


# Format 1 (0.1.0 and every release before kinds): resources without ``kind``, all GIDs.
# Format 2: each resource records its kind. ``state.document`` reads both and writes 2.
STATE_FORMAT_VERSION: Literal[2] = 2


class StateDocument(FrozenModel):
    format_version: Literal[2] = STATE_FORMAT_VERSION
    lineage: str
    serial: int = Field(default=0, ge=0)
    # None in a state written before bindings were recorded: bound on its next write.
    binding: StateBinding | None = None
    resources: tuple[StateResource, ...] = ()

    @model_validator(mode="after")
    def _one_resource_per_key(self) -> StateDocument:
        # Two entries for one GID would leave which one counts (and its ``protect``) to
        # whoever reads last; a stored state with them is refused, never resolved.
        duplicate = first_duplicate(self.resources)
        if duplicate is not None:
            index, seen = duplicate
            resource = self.resources[index]
            raise PydanticCustomError(
                "duplicate_resource",
                "resources[{index}] ({key}): duplicate resource: {key} in {region} is "
                "already at resources[{seen}]",
                {"index": index, "key": str(resource.key), "region": resource.region, "seen": seen},
            )
        return self

    def by_key(self) -> dict[ResourceKey, StateResource]:
        return {resource.key: resource for resource in self.resources}

    def with_resource(self, resource: StateResource) -> StateDocument:
        """A copy with ``resource`` added or replaced; the serial is left to the backend."""
        kept = [r for r in self.resources if r.key != resource.key]
        kept.append(resource)
        kept.sort(key=lambda r: r.key.sort_key())
        return self.model_copy(update={"resources": tuple(kept)})

    def without(self, key: ResourceKey) -> StateDocument:
        kept = tuple(r for r in self.resources if r.key != key)
        return self.model_copy(update={"resources": kept})
