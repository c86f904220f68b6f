"""The desired-state file's own shape (format v1), as written by people.

These models describe the YAML document before resolution: group sets, ``include``, the string
shorthand for a group, and optional settings that fall back to ``defaults`` / ``provider``.
``reconciler.config.resolve`` turns a validated ``DesiredFile`` into ``models.DesiredState``.

Models are strict (a quoted ``"true"`` is not a boolean, ``123`` is not a string) because a YAML
file's types are easy to get wrong silently; the error messages say how to fix it.
The JSON Schema in ``schemas/desired-state.schema.json`` is generated from these models.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from reconciler.models import (
    CLIENT_ID_MAX_LENGTH,
    DEFAULT_API,
    DEFAULT_REGION,
    GROUP_ID_PATTERN,
    INSTANCE_ID_PATTERN,
    MAX_TAGS,
    TAG_FORBIDDEN_PARTS,
    TAG_KEY_MAX_LENGTH,
    TAG_KEY_RESERVED_PREFIXES,
    TAG_RULE,
    TAG_VALUE_MAX_LENGTH,
    TAG_VALUE_RESERVED_PREFIXES,
    Api,
    Effect,
    Ownership,
    PermitAction,
    SignMode,
    empty_list,
)

REGION_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
# Parent topics: 3 to 64 letters, digits, "-" and "_" (the service's naming rule).
TOPIC_PATTERN = r"^[A-Za-z0-9_-]{3,64}$"
SET_NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"
GROUP_DESCRIPTION_MAX_LENGTH = 1024

# Tags of the group union: they appear in pydantic error locations and are stripped from paths.
GROUP_SHORTHAND_TAG = "id-string"
GROUP_MAPPING_TAG = "mapping"

GroupIdText = Annotated[
    str,
    Field(
        pattern=GROUP_ID_PATTERN,
        description="A Group ID: GID_ or GID- then 3 to 60 letters, digits, '-' or '_'.",
    ),
]
RegionText = Annotated[str, Field(pattern=REGION_PATTERN, description="A region id.")]
SetName = Annotated[str, Field(pattern=SET_NAME_PATTERN)]


class FileModel(BaseModel):
    # defer_build: only DesiredFile is ever validated, and its validator holds the others';
    # building one per class at import would cost start-up for nothing.
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, defer_build=True)


class ProviderSpec(FileModel):
    """Where the MQTT management API is."""

    region: RegionText = Field(
        default=DEFAULT_REGION, description="Default region of instances that name none."
    )
    api: Api = Field(
        default=DEFAULT_API,
        description="Default API of instances that name none: 'ons' (ONS 2019-02-14, the "
        "OnsMqtt* actions) or 'onsmqtt' (OnsMqtt 2020-04-20, for upgraded instances).",
    )
    endpoint: str | None = Field(
        default=None,
        description="'embedded' for the built-in emulator, or an http(s) URL; "
        "${ENV_VAR} references are expanded.",
    )
    profile: str | None = Field(
        default=None,
        description="aliyun CLI profile for credentials; ${ENV_VAR} references are expanded.",
    )


class LocalBackendSpec(FileModel):
    path: str = Field(default=".reconciler/state.json", min_length=1)


class PostgresBackendSpec(FileModel):
    dsn: str = Field(
        min_length=1,
        description="PostgreSQL connection string; give it as ${ENV_VAR} to keep the "
        "password out of the file. Never written anywhere.",
    )
    db_schema: str = Field(default="reconciler", alias="schema", min_length=1)
    workspace: str = Field(default="default", min_length=1)


class BackendSpec(FileModel):
    """Exactly one of ``local`` or ``postgres``."""

    # pydantic merges this into FileModel's config.
    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "maxProperties": 1})

    local: LocalBackendSpec | None = None
    postgres: PostgresBackendSpec | None = None


class DefaultsSpec(FileModel):
    ownership: Ownership = Field(
        default="managed",
        description="managed: never touch GIDs not in the file or state; "
        "exclusive: delete GIDs not in the file.",
    )
    protect: bool = Field(
        default=False,
        description="true: protect every present group that does not say protect: false. "
        "false (or left out) removes no protection: only a group's own protect: false does.",
    )


class SafetySpec(FileModel):
    """The delete circuit breaker: a plan deleting more than this is refused without override."""

    max_deletes: int = Field(default=10, ge=0)
    max_delete_share: float = Field(default=0.25, ge=0, le=1)
    share_min_groups: int = Field(default=20, ge=1)


def _any_case(text: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in text)


def _refusing(reserved: tuple[str, ...]) -> dict[str, Any]:
    """The JSON Schema words for the tag rules a length cannot say (reserved prefixes, in any
    case, and no URL), so an editor flags them as ``validate`` does (``models.tags_problem``,
    which the models check: these words serve the schema alone)."""
    prefixes = "|".join(_any_case(prefix) for prefix in reserved)
    urls = "|".join(_any_case(part) for part in TAG_FORBIDDEN_PARTS)
    return {"not": {"anyOf": [{"pattern": f"^(?:{prefixes})"}, {"pattern": f"(?:{urls})"}]}}


class GroupSpec(FileModel):
    """One group in its long form; the plain string ``GID_x`` is short for ``{id: GID_x}``."""

    id: GroupIdText
    topic: Annotated[str, Field(pattern=TOPIC_PATTERN)] | None = Field(
        default=None, description="Parent topic, used only when the GID is created."
    )
    protect: bool | None = Field(
        default=None,
        description="Refuse to delete this GID without an explicit override. Left out, the GID "
        "keeps the protection the state records; only protect: false removes it.",
    )
    absent: bool = Field(default=False, description="Tombstone: delete this GID if it exists.")
    description: str | None = Field(default=None, max_length=GROUP_DESCRIPTION_MAX_LENGTH)
    clients: list[Annotated[str, Field(min_length=1, max_length=CLIENT_ID_MAX_LENGTH)]] = Field(
        default_factory=empty_list,
        description="Known client ids (GID@@@device) of this GID; on an onsmqtt instance a "
        "delete asks whether they are online. Ignored on an ons instance.",
    )
    tags: (
        dict[
            Annotated[
                str,
                Field(
                    min_length=1,
                    max_length=TAG_KEY_MAX_LENGTH,
                    json_schema_extra=_refusing(TAG_KEY_RESERVED_PREFIXES),
                ),
            ],
            Annotated[
                str,
                Field(
                    max_length=TAG_VALUE_MAX_LENGTH,
                    json_schema_extra=_refusing(TAG_VALUE_RESERVED_PREFIXES),
                ),
            ],
        ]
        | None
    ) = Field(
        default=None,
        max_length=MAX_TAGS,
        description=f"Tags the GID is created with (onsmqtt instances only; at most {MAX_TAGS})."
        " A GID's tags cannot change after creation: a changed tag is shown, never applied. "
        "Left out, the GID's tags are not compared. " + TAG_RULE[0].upper() + TAG_RULE[1:] + ".",
    )


def _group_kind(value: Any) -> str:
    # Anything that is not a string is checked as the long form, so a list or a number gets
    # one clear "expected a mapping" error instead of one error per union member.
    return GROUP_SHORTHAND_TAG if isinstance(value, str) else GROUP_MAPPING_TAG


GroupEntry = Annotated[
    Annotated[GroupIdText, Tag(GROUP_SHORTHAND_TAG)] | Annotated[GroupSpec, Tag(GROUP_MAPPING_TAG)],
    Discriminator(_group_kind),
]


class SecretFileSpec(FileModel):
    """A secret read from a file (its whole content, without a final newline)."""

    file: str = Field(
        min_length=1,
        description="Path of the file holding the secret, relative to the working directory.",
    )


# A secret from the environment: the whole value one ${VAR}. In the JSON Schema only, so an
# editor flags a literal; the checks (``access_checks``) refuse it in their own words.
ENV_REFERENCE_PATTERN = r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$"
SecretEntry = Annotated[
    Annotated[
        str,
        Field(
            json_schema_extra={"pattern": ENV_REFERENCE_PATTERN},
            description="${ENV_VAR}: the secret is read from this environment variable.",
        ),
        Tag(GROUP_SHORTHAND_TAG),
    ]
    | Annotated[SecretFileSpec, Tag(GROUP_MAPPING_TAG)],
    Discriminator(_group_kind),
]


class IdentitySpec(FileModel):
    """A custom-auth identity: a username alone, or with a client id (one client)."""

    username: str = Field(min_length=1, max_length=64, description="The MQTT username.")
    client_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=CLIENT_ID_MAX_LENGTH,
        description="Given: the identity is this one client (type client); left out: any "
        "client using the username (type user).",
    )
    sign_mode: SignMode | None = Field(
        default=None,
        description="signed: the password is Base64(HMAC-SHA1(secret, client id)); origin: the "
        "password is the secret. Default: signed.",
    )
    secret: SecretEntry | None = Field(
        default=None,
        description="${ENV_VAR} or {file: PATH}; never the secret itself. Required unless absent.",
    )
    absent: bool = Field(default=False, description="Tombstone: delete this identity.")


class PermissionSpec(FileModel):
    """A topic permission of a username (``user:``) or of a client id (``client:``)."""

    user: str | None = Field(default=None, min_length=1, description="The username it is for.")
    client: str | None = Field(default=None, min_length=1, description="The client id it is for.")
    topic: str = Field(
        min_length=1, description="A topic or MQTT topic filter (+ and # wildcards)."
    )
    effect: Effect | None = Field(default=None, description="allow or deny (required).")
    action: PermitAction | None = Field(default=None, description="pub, sub or pub_sub (required).")
    absent: bool = Field(default=False, description="Tombstone: delete this permission.")


class BlacklistSpec(FileModel):
    """A client id refused at connect; the plain string ``ID`` is short for ``{client_id: ID}``."""

    client_id: str = Field(min_length=1, max_length=CLIENT_ID_MAX_LENGTH)
    absent: bool = Field(default=False, description="Tombstone: lift the block.")


BlacklistEntry = Annotated[
    Annotated[Annotated[str, Field(min_length=1)], Tag(GROUP_SHORTHAND_TAG)]
    | Annotated[BlacklistSpec, Tag(GROUP_MAPPING_TAG)],
    Discriminator(_group_kind),
]


class AccessOwnershipSpec(FileModel):
    """The ownership of one access kind, when it is not the instance's."""

    identities: Ownership | None = None
    permissions: Ownership | None = None
    blacklist: Ownership | None = None


class AccessSpec(FileModel):
    """Custom authentication of an onsmqtt instance (Professional and Platinum editions)."""

    ownership: AccessOwnershipSpec | None = Field(
        default=None, description="Per kind; default: the instance's ownership."
    )
    identities: list[IdentitySpec] = Field(default_factory=empty_list)
    permissions: list[PermissionSpec] = Field(default_factory=empty_list)
    blacklist: list[BlacklistEntry] = Field(
        default_factory=empty_list, description="Client ids refused at connect."
    )


class InstanceSpec(FileModel):
    id: Annotated[str, Field(pattern=INSTANCE_ID_PATTERN, description="Instance id.")]
    region: RegionText | None = Field(default=None, description="Default: provider.region.")
    api: Api | None = Field(default=None, description="Default: provider.api.")
    ownership: Ownership | None = Field(default=None, description="Default: defaults.ownership.")
    independent_naming: bool | None = Field(
        default=None,
        description="Whether the instance has its own GID namespace; checked against the cloud.",
    )
    include: list[SetName] = Field(
        default_factory=empty_list, description="Group sets to stamp in."
    )
    groups: list[GroupEntry] = Field(default_factory=empty_list)
    access: AccessSpec | None = Field(
        default=None,
        description="Identities, topic permissions and connect blacklist (api: onsmqtt only).",
    )


class DesiredFile(FileModel):
    """A desired-state file, format version 1."""

    model_config = ConfigDict(
        title="reconciler desired state", json_schema_extra={"additionalProperties": False}
    )

    version: Literal[1] = Field(description="Format version; must be 1.")
    provider: ProviderSpec = Field(default_factory=ProviderSpec.model_construct)
    backend: BackendSpec | None = Field(
        default=None, description="Where state is kept. Default: local .reconciler/state.json."
    )
    defaults: DefaultsSpec = Field(default_factory=DefaultsSpec.model_construct)
    safety: SafetySpec = Field(default_factory=SafetySpec.model_construct)
    group_sets: dict[SetName, list[GroupEntry]] = Field(
        default_factory=dict, description="Named lists of groups, stamped in with 'include'."
    )
    instances: list[InstanceSpec] = Field(default_factory=empty_list)


# Canonical key order per kind of mapping, used by fmt and by the did-you-mean suggestions.
TOP_KEYS = ("version", "provider", "backend", "defaults", "safety", "group_sets", "instances")
PROVIDER_KEYS = ("region", "api", "endpoint", "profile")
BACKEND_KEYS = ("local", "postgres")
LOCAL_KEYS = ("path",)
POSTGRES_KEYS = ("dsn", "schema", "workspace")
DEFAULTS_KEYS = ("ownership", "protect")
SAFETY_KEYS = ("max_deletes", "max_delete_share", "share_min_groups")
INSTANCE_KEYS = (
    "id",
    "region",
    "api",
    "ownership",
    "independent_naming",
    "include",
    "groups",
    "access",
)
ACCESS_KEYS = ("ownership", "identities", "permissions", "blacklist")
ACCESS_OWNERSHIP_KEYS = ("identities", "permissions", "blacklist")
IDENTITY_KEYS = ("username", "client_id", "sign_mode", "secret", "absent")
PERMISSION_KEYS = ("user", "client", "topic", "effect", "action", "absent")
BLACKLIST_KEYS = ("client_id", "absent")
GROUP_KEYS = ("id", "topic", "protect", "absent", "description", "clients", "tags")
