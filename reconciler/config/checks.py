"""Every check of a parsed desired-state document, returning ``Issue`` objects (never raising).

Two kinds of checks run on the same plain data (dicts, lists, scalars) whatever parser built it:
``check_shape`` is one pydantic validation of the document against ``schema.DesiredFile`` (its
group lists checked apart by ``plain_groups``; its errors translated into plain messages),
``check_meaning`` walks the raw data for what a schema cannot say (duplicates after group sets
are merged, unknown set names, contradictions, ``${VAR}`` references, unknown regions). Both
tolerate any shape, so one load reports every problem at once.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from reconciler.config import plain_groups, schema
from reconciler.config.access_checks import AccessFacts, check_access
from reconciler.config.interpolate import INTERPOLATED_FIELDS, interpolate
from reconciler.config.issues import Issue, Loc
from reconciler.config.suggest import did_you_mean, one_of
from reconciler.models import (
    APIS,
    CLIENT_ID_MAX_LENGTH,
    DEFAULT_API,
    DEFAULT_REGION,
    EFFECTS,
    KNOWN_REGIONS,
    MAX_TAGS,
    OWNERSHIPS,
    PERMIT_ACTIONS,
    SIGN_MODES,
    TAG_KEY_MAX_LENGTH,
    TAG_RULE,
    TAG_VALUE_MAX_LENGTH,
    client_id_problem,
    tag_key_problem,
    tag_value_problem,
)

_UNION_TAGS = frozenset({schema.GROUP_SHORTHAND_TAG, schema.GROUP_MAPPING_TAG})
_GID_RULE = "a Group ID starts with GID_ or GID- followed by 3 to 60 letters, digits, '-' or '_'"
_INSTANCE_RULE = "an instance id is letters, digits, '.', '-' and '_' (for example post-cn-0pp1234)"
_REGION_RULE = "a region is lower-case words joined by '-' (for example cn-hangzhou)"
_TOPIC_RULE = "a parent topic is 3 to 64 letters, digits, '-' or '_'"
_SET_RULE = "a group set name is up to 64 letters, digits, '.', '-' and '_'"


@dataclass(frozen=True, slots=True)
class Expanded:
    """The interpolated values of the fields that allow ``${VAR}``."""

    endpoint: str | None = None
    profile: str | None = None
    dsn: str | None = None
    # Each identity's secret, by (instance id, key text).
    secrets: Mapping[tuple[str, str], str] = field(default_factory=dict)


# --- shape: one pydantic validation -----------------------------------------------------------


def check_shape(data: Any) -> tuple[schema.DesiredFile | None, list[Issue]]:
    """Validate the document: its group lists in their common shape apart (``plain_groups``,
    kept as the file gave them), the rest in one pydantic call; when that finds a problem, the
    whole document again (``check_whole_shape``), so the errors are always the same."""
    aside = plain_groups.set_aside(data) if isinstance(data, dict) else None
    doc = aside.validated() if aside is not None else None
    if doc is not None:
        return doc, []
    return check_whole_shape(data)


def check_whole_shape(data: Any) -> tuple[schema.DesiredFile | None, list[Issue]]:
    """Validate the whole document in one call; on failure translate every pydantic error."""
    try:
        return schema.DesiredFile.model_validate(data), []
    except ValidationError as exc:
        return None, [_translate(error) for error in exc.errors(include_url=False)]


def _translate(error: ErrorDetails) -> Issue:
    loc: list[str | int] = []
    at_key = False
    previous: Any = None
    for part in error["loc"]:
        if part == "[key]":
            at_key = True
        elif not (isinstance(previous, int) and part in _UNION_TAGS):
            loc.append(part)
        previous = part
    path = tuple(loc)
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        key = path[-1]
        hint = did_you_mean(key, allowed_keys(path[:-1])) if isinstance(key, str) else ""
        return Issue(path, f"unknown key {key!r}{hint}", at_key=True)
    if kind == "missing":
        return Issue(path[:-1], f"missing required key {path[-1]!r}")
    if at_key and path[-2:-1] == ("tags",):
        return Issue(path, _tag_key_issue(kind, value, ctx), True)
    if at_key:
        if kind == "string_pattern_mismatch":
            return Issue(path, f"{_show(value)} is not a valid group set name: {_SET_RULE}", True)
        found = describe_value(value)
        return Issue(path, f"a group set name must be a string, found {found}", True)
    if path == ("version",):
        return Issue(path, f"unsupported version {_show(value)}: this file format is version 1")
    if kind == "string_pattern_mismatch":
        return Issue(path, f"{_show(value)} is not valid: {_pattern_rule(path)}")
    if kind == "literal_error" and path[-1:] == ("api",):
        hint = did_you_mean(value, APIS) if isinstance(value, str) else ""
        return Issue(path, f"unknown api {_show(value)}{hint}: expected {one_of(APIS)}")
    if kind == "literal_error":
        choices = _ENUM_CHOICES.get(path[-1]) if path else None
        hint = did_you_mean(value, choices) if choices and isinstance(value, str) else ""
        return Issue(
            path, f"{_show(value)} is not allowed here{hint}: expected {ctx.get('expected')}"
        )
    if kind in ("greater_than_equal", "less_than_equal"):
        bound = ctx.get("ge", ctx.get("le"))
        relation = "at least" if kind == "greater_than_equal" else "at most"
        return Issue(path, f"must be {relation} {bound}, found {_show(value)}")
    if kind == "string_too_short":
        return Issue(path, "must not be empty")
    if kind == "string_too_long":
        return Issue(path, f"is longer than {ctx.get('max_length')} characters")
    if kind == "too_long" and path[-1:] == ("tags",):
        given = len(value) if isinstance(value, dict) else "too many"
        return Issue(path, f"{given} tags given: a GID holds at most {MAX_TAGS}")
    expected = _EXPECTED.get(kind)
    if expected is None:
        return Issue(path, error["msg"])
    if _is_group_entry(path):
        expected = "a GID string or a mapping with keys " + one_of(schema.GROUP_KEYS)
    return Issue(path, f"expected {expected}, found {describe_value(value)}{_hint(kind, value)}")


def _tag_key_issue(kind: str, value: Any, ctx: dict[str, Any]) -> str:
    if kind == "string_too_short":
        return f"a tag key must not be empty: {TAG_RULE}"
    if kind == "string_too_long":
        return f"tag key is longer than {ctx.get('max_length')} characters: {TAG_RULE}"
    return f"a tag key must be a string, found {describe_value(value)}{_hint(kind, value)}"


# The enum-like keys besides api, by name: what a misspelt value is compared with.
_ENUM_CHOICES: dict[str | int, tuple[str, ...]] = {
    "ownership": OWNERSHIPS,
    "identities": OWNERSHIPS,
    "permissions": OWNERSHIPS,
    "blacklist": OWNERSHIPS,
    "effect": EFFECTS,
    "action": PERMIT_ACTIONS,
    "sign_mode": SIGN_MODES,
}

_EXPECTED = {
    "string_type": "a string",
    "bool_type": "true or false",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
}


def _is_group_entry(path: Loc) -> bool:
    return (len(path) == 4 and path[0] == "instances" and path[2] == "groups") or (
        len(path) == 3 and path[0] == "group_sets"
    )


def _pattern_rule(path: Loc) -> str:
    last = path[-1] if path else ""
    if isinstance(last, int) and len(path) >= 2 and path[-2] == "include":
        return _SET_RULE
    if last == "region":
        return _REGION_RULE
    if last == "topic":
        return _TOPIC_RULE
    if last == "id" and len(path) == 3 and path[0] == "instances":
        return _INSTANCE_RULE
    return _GID_RULE


def _hint(kind: str, value: Any) -> str:
    if kind == "string_type" and isinstance(value, bool):
        return " (yes, no, on, off, true and false are booleans in YAML: quote the value)"
    if kind == "string_type" and isinstance(value, int | float | datetime.date):
        return " (quote the value to make it a string)"
    if kind == "bool_type" and isinstance(value, str):
        return " (write true or false without quotes)"
    return ""


def describe_value(value: Any) -> str:
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, datetime.date):
        return "a date"
    if isinstance(value, bytes):
        return "binary data"
    return f"a {type(value).__name__}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def allowed_keys(loc: Loc) -> tuple[str, ...]:
    """The keys a mapping at ``loc`` may hold (for did-you-mean)."""
    shape = tuple("*" if isinstance(part, int) else part for part in loc)
    if shape[:1] == ("group_sets",) and len(shape) == 3:
        return schema.GROUP_KEYS
    return _KEYS_BY_SHAPE.get(shape, ())


_KEYS_BY_SHAPE: dict[tuple[str, ...], tuple[str, ...]] = {
    (): schema.TOP_KEYS,
    ("provider",): schema.PROVIDER_KEYS,
    ("backend",): schema.BACKEND_KEYS,
    ("backend", "local"): schema.LOCAL_KEYS,
    ("backend", "postgres"): schema.POSTGRES_KEYS,
    ("defaults",): schema.DEFAULTS_KEYS,
    ("safety",): schema.SAFETY_KEYS,
    ("instances", "*"): schema.INSTANCE_KEYS,
    ("instances", "*", "groups", "*"): schema.GROUP_KEYS,
    ("instances", "*", "access"): schema.ACCESS_KEYS,
    ("instances", "*", "access", "ownership"): schema.ACCESS_OWNERSHIP_KEYS,
    ("instances", "*", "access", "identities", "*"): schema.IDENTITY_KEYS,
    ("instances", "*", "access", "permissions", "*"): schema.PERMISSION_KEYS,
    ("instances", "*", "access", "blacklist", "*"): schema.BLACKLIST_KEYS,
}


# --- meaning: what a schema cannot say --------------------------------------------------------


@dataclass(slots=True)
class _Origin:
    loc: Loc
    absent: bool
    set_name: str | None


def check_meaning(
    data: dict[Any, Any],
    env: Mapping[str, str] | None,
    *,
    unset_warns: bool = False,
    instance_files: Sequence[int] | None = None,
    shared_settings: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[list[Issue], Expanded]:
    """Semantic checks on raw data of any shape; ``env=None`` skips ``${VAR}`` expansion.

    ``unset_warns``: a ``${VAR}`` naming an unset variable is a warning, left unexpanded.
    ``instance_files``: for a document merged from several files, the file each entry of
    ``instances`` comes from; an instance is declared twice only within one file (across
    files its entries are merged, checked by ``config.merge``). ``shared_settings``: per
    instance id, the settings any of its entries gives (they hold for all its entries).
    """
    issues: list[Issue] = []
    expand = partial(_expand, env=env, issues=issues, unset_warns=unset_warns)
    version = data.get("version")
    if isinstance(version, bool):
        issues.append(Issue(("version",), "unsupported version: expected the number 1"))
    provider = _mapping(data.get("provider"))
    default_region = provider.get("region", DEFAULT_REGION)
    if not isinstance(default_region, str):
        default_region = DEFAULT_REGION
    elif "region" in provider:
        _check_region(default_region, ("provider", "region"), issues)
    endpoint = expand(provider.get("endpoint"), ("provider", "endpoint"))
    if endpoint is not None and not _valid_endpoint(endpoint):
        issues.append(
            Issue(("provider", "endpoint"), "expected 'embedded' or an http:// or https:// URL")
        )
    profile = expand(provider.get("profile"), ("provider", "profile"))
    dsn = _check_backend(data.get("backend"), issues, expand)
    set_groups = _check_group_sets(data.get("group_sets"), issues)
    default_api = provider.get("api", DEFAULT_API)
    facts = AccessFacts()
    used_sets = _check_instances(
        data.get("instances"),
        default_region,
        set_groups,
        issues,
        default_api=default_api if isinstance(default_api, str) else DEFAULT_API,
        sets_with_clients=_sets_holding(data.get("group_sets"), _has_clients),
        sets_with_tags=_sets_holding(data.get("group_sets"), _has_tags),
        instance_files=instance_files,
        shared_settings=shared_settings,
        check_access_block=partial(
            check_access, env=env, unset_warns=unset_warns, facts=facts, issues=issues
        ),
    )
    for name in set_groups:
        if name not in used_sets:
            issues.append(
                Issue(
                    ("group_sets", name),
                    f"group set {name!r} is not included by any instance",
                    at_key=True,
                    warning=True,
                )
            )
    return issues, Expanded(endpoint=endpoint, profile=profile, dsn=dsn, secrets=facts.secrets)


def _valid_endpoint(endpoint: str) -> bool:
    # Left unexpanded (fmt), a reference cannot be judged.
    return (
        endpoint == "embedded" or "${" in endpoint or endpoint.startswith(("http://", "https://"))
    )


def _mapping(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _check_region(region: str, loc: Loc, issues: list[Issue]) -> None:
    if region not in KNOWN_REGIONS:
        issues.append(
            Issue(
                loc,
                f"unknown region {region!r}{did_you_mean(region, KNOWN_REGIONS)}; "
                "fine if the region is new",
                warning=True,
            )
        )


def _expand(
    value: Any,
    loc: Loc,
    *,
    env: Mapping[str, str] | None,
    issues: list[Issue],
    unset_warns: bool,
) -> str | None:
    if not isinstance(value, str):
        return None
    if env is None or "${" not in value:
        return value
    unset: list[str] | None = [] if unset_warns else None
    expanded, problems = interpolate(value, env, unset=unset)
    issues.extend(Issue(loc, problem) for problem in problems)
    issues.extend(
        Issue(
            loc,
            f"environment variable {name} is not set (plan, apply and state will need it)",
            warning=True,
        )
        for name in unset or ()
    )
    return None if problems else expanded


def _check_backend(
    backend: Any, issues: list[Issue], expand: Callable[[Any, Loc], str | None]
) -> str | None:
    if not isinstance(backend, dict):
        return None
    kinds = [kind for kind in schema.BACKEND_KEYS if kind in backend]
    if len(kinds) != 1:
        found = "both" if kinds else "neither"
        issues.append(
            Issue(("backend",), f"expected exactly one of 'local' or 'postgres', {found} given")
        )
    if "postgres" in backend and backend["postgres"] is None:
        issues.append(Issue(("backend", "postgres"), "the postgres backend needs a 'dsn'"))
    for kind, keys in (("local", ("path",)), ("postgres", ("schema", "workspace"))):
        block = _mapping(backend.get(kind))
        for key in keys:
            value = block.get(key)
            if isinstance(value, str) and "${" in value:
                issues.append(
                    Issue(
                        ("backend", kind, key),
                        "${...} is only expanded in " + one_of(INTERPOLATED_FIELDS),
                    )
                )
    postgres = _mapping(backend.get("postgres"))
    raw = postgres.get("dsn")
    if isinstance(raw, str) and "${" not in raw and _has_password(raw):
        issues.append(
            Issue(
                ("backend", "postgres", "dsn"),
                "the DSN holds a password: give it as ${ENV_VAR} to keep the secret out of "
                "the file",
                warning=True,
            )
        )
    return expand(raw, ("backend", "postgres", "dsn"))


def _has_password(dsn: str) -> bool:
    if "password=" in dsn:
        return True
    _, sep, rest = dsn.partition("://")
    userinfo = rest.partition("@")[0] if sep and "@" in rest else ""
    return ":" in userinfo


def _group_facts(entry: Any) -> tuple[str, bool] | None:
    """(GID, absent) of a group entry, or None when the entry is malformed (shape reports it)."""
    if isinstance(entry, str):
        return entry, False
    if isinstance(entry, dict):
        gid = entry.get("id")
        if isinstance(gid, str):
            return gid, entry.get("absent") is True
    return None


def _is_absent(entry: Any) -> bool:
    """Whether a group entry is a tombstone (as ``_group_facts`` tells)."""
    return isinstance(entry, dict) and entry.get("absent") is True


def _check_contradictions(entry: Any, loc: Loc, issues: list[Issue]) -> None:
    if isinstance(entry, dict) and entry.get("absent") is True:
        if entry.get("protect") is True:
            issues.append(
                Issue(
                    (*loc, "protect"),
                    "a GID cannot be both protected and absent: remove 'protect: true' "
                    "before marking it absent",
                )
            )
        if entry.get("topic") is not None:
            issues.append(
                Issue((*loc, "topic"), "an absent GID is deleted, so its topic has no meaning")
            )
        if entry.get("tags") is not None:
            issues.append(
                Issue((*loc, "tags"), "an absent GID is deleted, so its tags have no meaning")
            )


# A file tags thousands of GIDs with the same few tags: each key and value is judged once.
_tag_key_problem = lru_cache(maxsize=1024)(tag_key_problem)
_tag_value_problem = lru_cache(maxsize=1024)(tag_value_problem)


def _check_tags(entry: Any, loc: Loc, issues: list[Issue]) -> None:
    """The service's rules for a tag that a schema cannot state (reserved prefixes, no URL);
    what is not a string, or too long, the shape check reports."""
    tags = entry.get("tags") if isinstance(entry, dict) else None
    if not isinstance(tags, dict):
        return
    for key, value in tags.items():
        if not isinstance(key, str) or not 0 < len(key) <= TAG_KEY_MAX_LENGTH:
            continue
        problem = _tag_key_problem(key)
        if problem is not None:
            issues.append(Issue((*loc, "tags", key), problem, at_key=True))
        elif isinstance(value, str) and len(value) <= TAG_VALUE_MAX_LENGTH:
            problem = _tag_value_problem(key, value)
            if problem is not None:
                issues.append(Issue((*loc, "tags", key), problem))


def _has_tags(entry: Any) -> bool:
    return isinstance(entry, dict) and entry.get("tags") is not None


def _tags_refused(label: str) -> str:
    return (
        f"instance {label} uses the ons API, which cannot tag a GID: tags are set by "
        "CreateGroupId of api: onsmqtt instances only"
    )


def _check_clients(entry: Any, loc: Loc, issues: list[Issue]) -> None:
    """Each known client id must be a client of the entry's own GID, listed once (a list of
    known ids naming one twice holds a typo)."""
    if not isinstance(entry, dict):
        return
    gid, clients = entry.get("id"), entry.get("clients")
    if not isinstance(gid, str) or not isinstance(clients, list):
        return
    seen: dict[str, int] = {}
    for index, client_id in enumerate(clients):
        # Not a string, empty or too long: the shape check says so.
        if not (isinstance(client_id, str) and 0 < len(client_id) <= CLIENT_ID_MAX_LENGTH):
            continue
        here = (*loc, "clients", index)
        problem = client_id_problem(client_id, group_id=gid)
        if problem is not None:
            issues.append(Issue(here, problem))
            continue
        first = seen.setdefault(client_id, index)
        if first != index:
            issues.append(
                Issue(
                    here,
                    f"duplicate client id {client_id!r} of {gid}: first listed at {{0}}",
                    related=((*loc, "clients", first),),
                )
            )


def _has_clients(entry: Any) -> bool:
    return isinstance(entry, dict) and bool(entry.get("clients"))


def _sets_holding(group_sets: Any, holds: Callable[[Any], bool]) -> set[str]:
    """The names of the group sets with an entry that ``holds``."""
    if not isinstance(group_sets, dict):
        return set()
    return {
        name
        for name, entries in group_sets.items()
        if isinstance(entries, list) and any(holds(entry) for entry in entries)
    }


def _clients_ignored(label: str) -> str:
    return (
        f"client ids are ignored on instance {label}: it uses the ons API, which counts a "
        "GID's online clients itself (clients serve api: onsmqtt instances)"
    )


def _check_group_sets(
    group_sets: Any, issues: list[Issue]
) -> dict[str, list[tuple[str, bool, int]]]:
    result: dict[str, list[tuple[str, bool, int]]] = {}
    if not isinstance(group_sets, dict):
        return result
    for name, entries in group_sets.items():
        if not isinstance(name, str):
            continue
        facts: list[tuple[str, bool, int]] = []
        result[name] = facts
        if not isinstance(entries, list):
            continue
        seen: dict[str, int] = {}
        for index, entry in enumerate(entries):
            fact = _group_facts(entry)
            if fact is None:
                continue
            loc = ("group_sets", name, index)
            if not isinstance(entry, str):
                _check_contradictions(entry, loc, issues)
                _check_clients(entry, loc, issues)
                _check_tags(entry, loc, issues)
            first = seen.setdefault(fact[0], index)
            if first != index:
                issues.append(
                    Issue(
                        loc,
                        f"duplicate GID {fact[0]!r} in group set {name!r}: first listed at {{0}}",
                        related=(("group_sets", name, first),),
                    )
                )
                continue
            facts.append((fact[0], fact[1], index))
    return result


def _check_instances(
    instances: Any,
    default_region: str,
    set_groups: dict[str, list[tuple[str, bool, int]]],
    issues: list[Issue],
    *,
    default_api: str,
    sets_with_clients: set[str],
    sets_with_tags: set[str],
    instance_files: Sequence[int] | None = None,
    shared_settings: Mapping[str, Mapping[str, Any]] | None = None,
    check_access_block: Callable[..., None],
) -> set[str]:
    used_sets: set[str] = set()
    if not isinstance(instances, list):
        return used_sets
    seen_instances: dict[tuple[int, str, str], int] = {}
    for index, instance in enumerate(instances):
        if not isinstance(instance, dict):
            continue
        base: Loc = ("instances", index)
        region = instance.get("region", default_region)
        if "region" in instance and isinstance(region, str):
            _check_region(region, (*base, "region"), issues)
        instance_id = instance.get("id")
        if isinstance(instance_id, str) and isinstance(region, str):
            file = instance_files[index] if instance_files is not None else 0
            first = seen_instances.setdefault((file, region, instance_id), index)
            if first != index:
                issues.append(
                    Issue(
                        (*base, "id"),
                        f"instance {instance_id!r} in {region} is declared twice: "
                        "first at {0}; merge the two entries",
                        related=(("instances", first, "id"),),
                    )
                )
        label = repr(instance_id) if isinstance(instance_id, str) else f"#{index}"
        # Across files, a setting one entry gives holds for the instance's other entries.
        given = (shared_settings or {}).get(instance_id) if isinstance(instance_id, str) else None
        settings = {**given, **instance} if given else instance
        uses_ons = settings.get("api", default_api) == "ons"
        merged: dict[str, _Origin] = {}
        include = instance.get("include")
        if uses_ons and isinstance(include, list):
            issues.extend(
                Issue((*base, "include", position), _clients_ignored(label), warning=True)
                for position, name in enumerate(include)
                if isinstance(name, str) and name in sets_with_clients
            )
            issues.extend(
                Issue(
                    (*base, "include", position),
                    f"group set {name!r} tags its GIDs: {_tags_refused(label)}",
                )
                for position, name in enumerate(include)
                if isinstance(name, str) and name in sets_with_tags
            )
        if isinstance(include, list):
            _merge_includes(
                include,
                base=base,
                label=label,
                set_groups=set_groups,
                merged=merged,
                used_sets=used_sets,
                issues=issues,
            )
        groups = instance.get("groups")
        if isinstance(groups, list):
            _check_groups(groups, base, label, uses_ons=uses_ons, merged=merged, issues=issues)
        if "access" in instance:
            check_access_block(
                instance["access"],
                (*base, "access"),
                instance_id=instance_id if isinstance(instance_id, str) else None,
                label=label,
                uses_ons=uses_ons,
            )
    return used_sets


def _check_groups(
    groups: list[Any],
    base: Loc,
    label: str,
    *,
    uses_ons: bool,
    merged: dict[str, _Origin],
    issues: list[Issue],
) -> None:
    """An instance's own groups: contradictions, client ids, and each GID declared once
    (after its sets, in ``merged``). Run per GID, so a GID with nothing to say allocates
    nothing: its path is made only for an issue, ``first_at`` notes its position (whether
    the first was absent is asked only of a duplicate)."""
    first_at: dict[str, int] = {}
    for position, entry in enumerate(groups):
        if isinstance(entry, str):
            gid = entry
        elif isinstance(entry, dict) and isinstance(entry.get("id"), str):
            gid = entry["id"]
            if entry.get("absent") is True or "clients" in entry or "tags" in entry:
                loc = (*base, "groups", position)
                _check_contradictions(entry, loc, issues)
                _check_clients(entry, loc, issues)
                _check_tags(entry, loc, issues)
                if uses_ons and _has_clients(entry):
                    issues.append(Issue((*loc, "clients"), _clients_ignored(label), warning=True))
                if uses_ons and _has_tags(entry):
                    issues.append(Issue((*loc, "tags"), _tags_refused(label)))
        else:
            continue  # malformed: the shape check says so
        if gid not in merged:
            first = first_at.setdefault(gid, position)
            if first == position:
                continue
            origin = _Origin((*base, "groups", first), _is_absent(groups[first]), None)
        else:
            origin = merged[gid]
        absent = _is_absent(entry)
        loc = (*base, "groups", position)
        issues.append(_duplicate(gid, label, origin, absent=absent, loc=loc, via_set=None))


def _merge_includes(
    include: list[Any],
    *,
    base: Loc,
    label: str,
    set_groups: dict[str, list[tuple[str, bool, int]]],
    merged: dict[str, _Origin],
    used_sets: set[str],
    issues: list[Issue],
) -> None:
    included: dict[str, int] = {}
    for position, name in enumerate(include):
        if not isinstance(name, str):
            continue
        loc = (*base, "include", position)
        first = included.setdefault(name, position)
        if first != position:
            issues.append(
                Issue(
                    loc,
                    f"group set {name!r} is included twice",
                    related=((*base, "include", first),),
                )
            )
            continue
        facts = set_groups.get(name)
        if facts is None:
            issues.append(Issue(loc, f"unknown group set {name!r}{did_you_mean(name, set_groups)}"))
            continue
        used_sets.add(name)
        for gid, absent, index in facts:
            origin = merged.get(gid)
            if origin is None:
                merged[gid] = _Origin(("group_sets", name, index), absent, name)
                continue
            issues.append(_duplicate(gid, label, origin, absent=absent, loc=loc, via_set=name))


def _duplicate(
    gid: str, label: str, origin: _Origin, *, absent: bool, loc: Loc, via_set: str | None
) -> Issue:
    first = f"in group set {origin.set_name!r}" if origin.set_name else "declared"
    if via_set is None:
        subject = f"duplicate GID {gid!r} in instance {label}"
        here = "here"
    else:
        subject = f"group set {via_set!r} brings GID {gid!r} into instance {label} a second time"
        here = f"here, via group set {via_set!r}"
    if origin.absent != absent:
        first_state, this_state = ("absent", "present") if origin.absent else ("present", "absent")
        message = (
            f"GID {gid!r} is both present and absent in instance {label}: {this_state} {here}, "
            f"{first_state} at {{0}}"
        )
    else:
        message = f"{subject}: already {first} at {{0}}"
    return Issue(loc, message, related=(origin.loc,))
