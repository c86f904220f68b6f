"""A validated ``DesiredFile`` -> the resolved ``models.DesiredState`` the planner reads.

Resolution fills what the file leaves out: an instance's region from ``provider.region``, its
ownership and its groups' ``protect`` from ``defaults``, and it stamps each included group set
in. A set's groups are built once and shared by every instance that includes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import attrgetter
from typing import Any

from pydantic import SecretStr

from reconciler.config.checks import Expanded
from reconciler.config.plain_groups import CheckedGroup
from reconciler.config.schema import AccessSpec, DesiredFile, GroupSpec
from reconciler.models import (
    BLACKLIST_KIND_NAME,
    IDENTITY_KIND_NAME,
    PERMISSION_KIND_NAME,
    BackendConfig,
    DesiredBlacklistEntry,
    DesiredGroup,
    DesiredIdentity,
    DesiredInstance,
    DesiredPermission,
    DesiredState,
    KindOwnership,
    LocalBackendConfig,
    PostgresBackendConfig,
    ProviderConfig,
    SafetyConfig,
    construct_trusted,
    tags_text,
)

# The fields each form of a group sets explicitly, shared by every group built (never mutated:
# the models are frozen).
_SHORT_FORM_FIELDS = {"group_id", "protect"}
_LONG_FORM_FIELDS = {"group_id", "topic", "protect", "absent", "description", "clients", "tags"}


def resolve(doc: DesiredFile, expanded: Expanded, *, source: str | None) -> DesiredState:
    # defaults.protect adds protection; leaving it out (or false) removes none: only a GID's
    # own ``protect: false`` does.
    protect_by_default = True if doc.defaults.protect else None
    # One string per distinct topic, not one per group (100,000 groups share a handful).
    topics: dict[str, str] = {}
    tag_texts: dict[str, str] = {}  # the same for the tags
    # Each set of tags made into text once, by its items as given (json.dumps per GID cost
    # more than building the group).
    texts_by_items: dict[tuple[tuple[str, str], ...], str] = {}

    def text_of(tags: dict[str, str]) -> str:
        items = tuple(tags.items())
        text = texts_by_items.get(items)
        if text is None:
            text = texts_by_items[items] = _shared(tag_texts, tags_text(tags))
        return text

    # The schema (or ``plain_groups``) validated every value already (the same patterns and
    # types): a file of 100,000 groups skips validating them twice, and shares one fields set
    # among them. One loop per list, the common forms inline: a call per GID costs.
    def build(entries: Iterable[CheckedGroup]) -> list[DesiredGroup]:
        groups = []
        values: dict[str, object]
        for entry in entries:
            if isinstance(entry, str):
                values = {
                    "group_id": entry,
                    "topic": None,
                    "protect": protect_by_default,
                    "absent": False,
                    "description": None,
                    "clients": (),
                    "tags": None,
                }
                groups.append(construct_trusted(DesiredGroup, _SHORT_FORM_FIELDS, values))
            elif isinstance(entry, dict):  # a PlainGroup
                absent = entry.get("absent", False)
                protect = entry.get("protect")
                # A tombstone does not inherit defaults.protect: that would forbid every delete.
                if protect is None and not absent:
                    protect = protect_by_default
                topic = entry.get("topic")
                tags = entry.get("tags")
                values = {
                    "group_id": entry["id"],
                    "topic": topic if topic is None else topics.setdefault(topic, topic),
                    "protect": protect,
                    "absent": absent,
                    "description": entry.get("description"),
                    "clients": tuple(entry["clients"]) if "clients" in entry else (),
                    "tags": None if tags is None else text_of(tags),
                }
                groups.append(construct_trusted(DesiredGroup, _LONG_FORM_FIELDS, values))
            else:
                groups.append(build_spec(entry))
        return groups

    def build_spec(entry: GroupSpec) -> DesiredGroup:
        protect = entry.protect
        if protect is None and not entry.absent:
            protect = protect_by_default
        topic = entry.topic
        values = {
            "group_id": entry.id,
            "topic": topic if topic is None else _shared(topics, topic),
            "protect": protect,
            "absent": entry.absent,
            "description": entry.description,
            "clients": tuple(entry.clients),
            "tags": None if entry.tags is None else text_of(entry.tags),
        }
        return construct_trusted(DesiredGroup, _LONG_FORM_FIELDS, values)

    sets = {name: build(entries) for name, entries in doc.group_sets.items()}
    instances = []
    for spec in doc.instances:
        groups = [group for name in spec.include for group in sets[name]]
        groups.extend(build(spec.groups))
        # Sorted so that reordering the file (fmt) never changes the plan digest.
        groups.sort(key=attrgetter("group_id"))
        # model_construct: the schema validated these values (validating again would also
        # build validators at start-up that nothing else needs).
        instances.append(
            DesiredInstance.model_construct(
                instance_id=spec.id,
                region=spec.region or doc.provider.region,
                api=spec.api or doc.provider.api,
                ownership=spec.ownership or doc.defaults.ownership,
                independent_naming=spec.independent_naming,
                groups=tuple(groups),
                **_access(spec.id, spec.access, expanded),
            )
        )
    return DesiredState(
        version=1,
        provider=ProviderConfig.model_construct(
            region=doc.provider.region,
            api=doc.provider.api,
            endpoint=expanded.endpoint,
            profile=expanded.profile,
        ),
        backend=_backend(doc, expanded),
        safety=SafetyConfig.model_construct(
            max_deletes=doc.safety.max_deletes,
            max_delete_share=doc.safety.max_delete_share,
            share_min_groups=doc.safety.share_min_groups,
        ),
        instances=tuple(instances),
        source=source,
    )


def _shared(texts: dict[str, str], text: str) -> str:
    return texts.setdefault(text, text)


def _backend(doc: DesiredFile, expanded: Expanded) -> BackendConfig:
    backend = doc.backend
    if backend is None or "postgres" not in backend.model_fields_set:
        path = backend.local.path if backend is not None and backend.local is not None else None
        if path is None:
            return LocalBackendConfig.model_construct()
        return LocalBackendConfig.model_construct(path=path)
    postgres = backend.postgres
    if postgres is None:  # `postgres:` with no settings: the DSN is missing (already reported)
        raise ValueError("postgres backend without a dsn")
    return PostgresBackendConfig(
        dsn=SecretStr(expanded.dsn if expanded.dsn is not None else postgres.dsn),
        db_schema=postgres.db_schema,
        workspace=postgres.workspace,
    )


# The default sign mode of an identity that names none: the secret never travels as the
# password.
DEFAULT_SIGN_MODE = "signed"
_OWNERSHIP_KINDS = (
    ("blacklist", BLACKLIST_KIND_NAME),
    ("identities", IDENTITY_KIND_NAME),
    ("permissions", PERMISSION_KIND_NAME),
)


# Built once and without validation (the values are literals): a plan of GIDs alone builds
# no validator it does not use.
_ACCESS_LEFT_ALONE = tuple(
    KindOwnership.model_construct(kind=kind, ownership="managed") for _, kind in _OWNERSHIP_KINDS
)


def _access(instance_id: str, access: AccessSpec | None, expanded: Expanded) -> dict[str, Any]:
    """The access kinds' fields of a ``DesiredInstance``, each list sorted by key (so that
    reordering the file never changes the digest)."""
    if access is None:
        # No access block: its entries are left alone whatever the instance's ownership, so
        # an exclusive instance (for its GIDs) never starts deleting them on an upgrade.
        return {"kind_ownership": _ACCESS_LEFT_ALONE}
    identities = []
    for spec in access.identities:
        identity_type = "client" if spec.client_id else "user"
        identity = DesiredIdentity(
            identity_type=identity_type,
            username=spec.username,
            client_id=spec.client_id,
            sign_mode=None if spec.absent else (spec.sign_mode or DEFAULT_SIGN_MODE),
            absent=spec.absent,
        )
        secret = expanded.secrets.get((instance_id, identity.key_text))
        if secret is not None:
            identity = identity.model_copy(update={"secret": SecretStr(secret)})
        identities.append(identity)
    permissions = [
        DesiredPermission(
            identity_type="user" if spec.user is not None else "client",
            identity=spec.user if spec.user is not None else spec.client or "",
            topic=spec.topic,
            effect=spec.effect,
            permit_action=spec.action,
            absent=spec.absent,
        )
        for spec in access.permissions
    ]
    blacklist = [
        DesiredBlacklistEntry(client_id=entry)
        if isinstance(entry, str)
        else DesiredBlacklistEntry(client_id=entry.client_id, absent=entry.absent)
        for entry in access.blacklist
    ]
    ownership = access.ownership
    kind_ownership = tuple(
        KindOwnership(kind=kind, ownership=getattr(ownership, field))
        for field, kind in _OWNERSHIP_KINDS
        if ownership is not None and getattr(ownership, field) is not None
    )
    by_key = attrgetter("key_text")
    return {
        "identities": tuple(sorted(identities, key=by_key)),
        "permissions": tuple(sorted(permissions, key=by_key)),
        "blacklist": tuple(sorted(blacklist, key=by_key)),
        "kind_ownership": kind_ownership,
    }
