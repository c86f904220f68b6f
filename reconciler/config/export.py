"""Render a desired-state file from what an instance lists, to adopt or to bootstrap from it.

The output is plain, sorted and already in ``fmt``'s canonical form, so exporting twice gives
the same file and ``reconciler validate`` accepts it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from reconciler.models import DEFAULT_API, GROUP_ID_RE, AccessListing, Api, tags_of

SCHEMA_COMMENT = "# yaml-language-server: $schema={ref}"
# Without a checkout to point at there is no schema path an editor could open: name it instead.
NO_SCHEMA_COMMENT = "# JSON Schema: schemas/desired-state.schema.json in the reconciler source"
DEFAULT_SCHEMA_REF = "schemas/desired-state.schema.json"


@dataclass(frozen=True, slots=True)
class Export:
    text: str
    group_count: int
    skipped: tuple[str, ...]  # listed names this tool's naming rule rejects (written as comments)
    # The environment variables the exported identities' secrets are read from, in file order.
    secret_variables: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Recorded:
    """What the state records of a listed GID that the listing cannot tell."""

    topic: str | None
    protect: bool


@dataclass(frozen=True, slots=True)
class ExportedInstance:
    """One instance to declare: what its listing showed, and what the state records of it."""

    instance_id: str
    group_ids: Iterable[str]
    independent_naming: bool | None  # None: the listing was empty and could not tell
    recorded: Mapping[str, Recorded] = field(default_factory=dict)
    # The tags the listing reports, by GID (``models.tags_text``; GIDs without tags left out).
    tags: Mapping[str, str] = field(default_factory=dict)
    # Its custom-auth entries (None: not listed, or not available on its edition).
    access: AccessListing | None = None


def render_export(
    *,
    region: str,
    instances: Iterable[ExportedInstance],
    schema_ref: str | None = DEFAULT_SCHEMA_REF,
    api: Api = DEFAULT_API,
    origin: str | None = None,
) -> Export:
    """The desired-state file declaring exactly the listed GIDs of every instance of
    ``region``, in instance id order; ``api`` is written to ``provider`` when not the
    default."""
    lines = [
        NO_SCHEMA_COMMENT if schema_ref is None else SCHEMA_COMMENT.format(ref=schema_ref),
        f"# Exported from {origin or f'every instance of {region}'} by `reconciler export`.",
        "version: 1",
        "provider:",
        f"  region: {region}",
    ]
    if api != DEFAULT_API:
        lines.append(f"  api: {api}")
    ordered = sorted(instances, key=lambda instance: instance.instance_id)
    lines.append("instances:" if ordered else "instances: []")
    count = 0
    skipped: list[str] = []
    variables: list[str] = []
    for instance in ordered:
        names = sorted(set(instance.group_ids))
        valid = [name for name in names if GROUP_ID_RE.match(name)]
        left_out = [name for name in names if not GROUP_ID_RE.match(name)]
        lines.append(f"  - id: {instance.instance_id}")
        if instance.independent_naming is not None:
            naming = "true" if instance.independent_naming else "false"
            lines.append(f"    independent_naming: {naming}")
        lines.append("    groups:" if valid else "    groups: []")
        lines.extend(
            f"      - {_entry(name, instance.recorded.get(name), instance.tags.get(name))}"
            for name in valid
        )
        for name in left_out:
            # ascii() keeps odd characters from breaking the comment line.
            lines.append(f"      # left out, not a valid Group ID name: {name!a}")
        count += len(valid)
        skipped.extend(left_out)
        if instance.access is not None:
            lines.extend(_access_lines(instance.access, variables))
    return Export("\n".join(lines) + "\n", count, tuple(skipped), tuple(variables))


def secret_variable(username: str, client_id: str | None, taken: list[str]) -> str:
    """The environment variable an exported identity's secret is read from:
    ``MQTT_SECRET_<USERNAME>[_<CLIENT_ID>]`` in upper case, other characters as ``_``, made
    unique (``_2``...) among ``taken``, to which it is added."""
    words = [username] if client_id is None else [username, client_id]
    base = "MQTT_SECRET_" + "_".join(
        "".join(char if char.isascii() and char.isalnum() else "_" for char in word).upper()
        for word in words
    )
    name, number = base, 1
    while name in taken:
        number += 1
        name = f"{base}_{number}"
    taken.append(name)
    return name


def _access_lines(access: AccessListing, variables: list[str]) -> list[str]:
    """The ``access:`` block declaring exactly the listed entries, in fmt's order; each
    identity's secret as a ``${VAR}`` placeholder (a secret is never read back)."""
    if not (access.identities or access.permissions or access.blacklist):
        return []
    lines = ["    access:"]
    if access.identities:
        lines.append("      identities:")
    for identity in sorted(access.identities, key=lambda item: item.key_text):
        variable = secret_variable(identity.username, identity.client_id, variables)
        settings = [f"username: {_quoted(identity.username)}"]
        if identity.client_id is not None:
            settings.append(f"client_id: {_quoted(identity.client_id)}")
        if identity.sign_mode is not None:
            settings.append(f"sign_mode: {identity.sign_mode}")
        settings.append(f'secret: "${{{variable}}}"')
        lines.append(f"        - {{{', '.join(settings)}}}")
    if access.permissions:
        lines.append("      permissions:")
    for permission in sorted(access.permissions, key=lambda item: item.key_text):
        lines.append(
            f"        - {{{permission.identity_type}: {_quoted(permission.identity)}, "
            f"topic: {_quoted(permission.topic)}, effect: {permission.effect}, "
            f"action: {permission.permit_action}}}"
        )
    if access.blacklist:
        lines.append("      blacklist:")
    lines.extend(
        f"        - {_quoted(entry.client_id)}"
        for entry in sorted(access.blacklist, key=lambda item: item.key_text)
    )
    return lines


def _quoted(text: str) -> str:
    """``text`` as a double-quoted YAML string (topics hold '#' and '+', ids may hold ':')."""
    import json  # noqa: PLC0415

    return json.dumps(text)


def _entry(name: str, recorded: Recorded | None, tags: str | None) -> str:
    """``GID_x``, or its long form in fmt's key order when the state records a topic or
    protection (so a re-planned export neither loses ``protect`` nor flags the topic), or the
    listing reports tags."""
    settings = []
    if recorded is not None and recorded.topic is not None:
        settings.append(f"topic: {_scalar(recorded.topic)}")
    if recorded is not None and recorded.protect:
        settings.append("protect: true")
    given = tags_of(tags) if tags is not None else {}
    if given:
        pairs = ", ".join(
            f"{_flow_scalar(key)}: {_flow_scalar(value)}" for key, value in given.items()
        )
        settings.append(f"tags: {{{pairs}}}")
    return f"{{id: {name}, {', '.join(settings)}}}" if settings else name


def _scalar(text: str) -> str:
    """``text`` as YAML reads it back as that string (``true``, ``null`` or ``1234`` are valid
    topic names that plain YAML would read as something else)."""
    import json  # noqa: PLC0415

    import yaml  # noqa: PLC0415

    return text if yaml.safe_load(text) == text else json.dumps(text)


# What a plain scalar inside a flow mapping may hold and still read back as itself.
_FLOW_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./@-]*")


def _flow_scalar(text: str) -> str:
    """``text`` as it reads back inside a flow mapping (a tag key or value): plain when
    it is a simple word YAML reads as that string, else double-quoted."""
    if _FLOW_PLAIN.fullmatch(text):
        return _scalar(text)
    import json  # noqa: PLC0415

    return json.dumps(text, ensure_ascii=False)
