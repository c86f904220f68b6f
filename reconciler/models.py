"""Frozen data models shared by every layer: keys, desired state, inventory, state.

These are the resolved forms. The YAML file's own shape (group sets, includes, string
shorthand) lives in ``reconciler.config`` and resolves into ``DesiredState``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
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


FrozenT = TypeVar("FrozenT", bound="FrozenModel")


def construct_trusted(cls: type[FrozenT], fields_set: set[str], values: dict[str, Any]) -> FrozenT:
    """An instance from values validated elsewhere (internal, for the 100,000-row paths).

    ``values`` must hold every field, in declaration order; ``fields_set`` is kept (share one
    set among many instances: see ``share_fields_sets``). Like ``model_construct`` without its
    per-field bookkeeping, about five times cheaper; fit only for FrozenModel subclasses, which
    have no private attributes, extras or post-init hooks.
    """
    model = cls.__new__(cls)
    object.__setattr__(model, "__dict__", values)
    object.__setattr__(model, "__pydantic_fields_set__", fields_set)
    object.__setattr__(model, "__pydantic_extra__", None)
    object.__setattr__(model, "__pydantic_private__", None)
    return model


def share_fields_sets(models: Iterable[BaseModel]) -> None:
    """Make equal ``model_fields_set`` sets one shared object (internal, for large states).

    pydantic gives every validated instance its own set of the field names it was given:
    about 700 bytes for a 7-field model, 70 MB over 100,000 state resources. Sharing is safe
    for frozen models: nothing adds to the set of a frozen instance, and copies get their own.
    """
    shared: dict[frozenset[str], set[str]] = {}
    for model in models:
        names = model.__pydantic_fields_set__
        key = frozenset(names)
        one = shared.setdefault(key, names)
        if one is not names:
            object.__setattr__(model, "__pydantic_fields_set__", one)


# --- resource kinds --------------------------------------------------------------------------
#
# The engine (plan model, diff, guards, journal, state) handles a resource as (kind, region,
# instance, key) plus the attributes its kind declares; ARCHITECTURE.md ("Adding a resource
# kind") says what a new kind brings. GIDs are the only kind so far.

ResourceKindName = Literal["gid"]
GID_KIND_NAME: ResourceKindName = "gid"


@dataclass(frozen=True)
class ResourceKind:
    """What the engine knows of one kind of resource.

    ``noun``: how messages name one (``GID``). ``immutable``: the attributes set at creation
    only, each a field of the desired model, the state resource and ``NotInPlace.current``'s
    source alike; a changed one is shown (``!``, ``NotInPlace``) and never applied.
    """

    name: ResourceKindName
    noun: str
    immutable: tuple[str, ...] = ()


GID_KIND = ResourceKind(name=GID_KIND_NAME, noun="GID", immutable=("topic",))
KINDS: dict[str, ResourceKind] = {kind.name: kind for kind in (GID_KIND,)}


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


def parse_key_text(text: str) -> tuple[str, str]:
    """Split ``INSTANCE_ID/GROUP_ID``; raises ValueError with a message fit for the user."""
    instance_id, sep, group_id = text.partition("/")
    if not sep or not instance_id or not group_id or "/" in group_id:
        raise ValueError(f"{text!r} is not a KEY of the form INSTANCE_ID/GROUP_ID")
    return instance_id, group_id


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


class DesiredInstance(FrozenModel):
    instance_id: InstanceId
    region: str = DEFAULT_REGION
    api: Api = DEFAULT_API
    ownership: Ownership = "managed"
    # What the user expects; checked against the cloud at plan time. None: not asserted.
    independent_naming: bool | None = None
    groups: tuple[DesiredGroup, ...] = ()

    def key(self, group_id: str) -> ResourceKey:
        return ResourceKey(region=self.region, instance_id=self.instance_id, group_id=group_id)


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


class InstanceInventory(FrozenModel):
    region: str
    instance_id: str
    groups: tuple[CloudGroup, ...] = ()

    def group_ids(self) -> frozenset[str]:
        return frozenset(group.group_id for group in self.groups)

    def independent_naming(self) -> bool | None:
        """What the listed GIDs say about the namespace; None when the instance has none."""
        return self.groups[0].independent_naming if self.groups else None

    def fingerprint(self) -> str:
        """Stable digest of the listed GID names, for stale-plan detection."""
        return group_ids_fingerprint(sorted(self.group_ids()))


def group_ids_fingerprint(sorted_group_ids: Iterable[str]) -> str:
    """``InstanceInventory.fingerprint`` of the given names, already sorted and unique."""
    # sha256 over each name followed by a newline, hashed in one call.
    text = "".join(f"{group_id}\n" for group_id in sorted_group_ids)
    return hashlib.sha256(text.encode()).hexdigest()


# --- state (what we created or adopted) -----------------------------------------------------

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

    @property
    def key(self) -> ResourceKey:
        return ResourceKey(
            region=self.region, instance_id=self.instance_id, group_id=self.group_id, kind=self.kind
        )


class StateBinding(FrozenModel):
    """What a state describes, so that it is never planned against something else.

    ``desired``: the desired-state files and directories it was written from, as normalised
    POSIX paths relative to the working directory (absolute only when outside it), sorted.
    ``endpoint``: the cloud it was written against: ``default`` (the service's own regional
    endpoints, whichever API), ``embedded``, or the endpoint URL, normalised.
    """

    desired: tuple[str, ...]
    endpoint: str


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
        first: dict[tuple[str, str, str, str], int] = {}
        for index, resource in enumerate(self.resources):
            key = (resource.region, resource.instance_id, resource.kind, resource.group_id)
            seen = first.setdefault(key, index)
            if seen != index:
                raise PydanticCustomError(
                    "duplicate_resource",
                    "resources[{index}] ({key}): duplicate resource: {key} in {region} is "
                    "already at resources[{seen}]",
                    {
                        "index": index,
                        "key": str(resource.key),
                        "region": resource.region,
                        "seen": seen,
                    },
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
