"""What a schema cannot say about an instance's ``access`` block, and where its secrets come from.

Run by ``checks.check_meaning`` on the raw data of each instance: the API it is managed through
(custom authentication is onsmqtt's), each key's rule (``models``), duplicates, tombstones that
say more than "delete", a permission's wildcards, and each identity's secret: ``${VAR}`` from the
environment or ``{file: PATH}``, never the text itself (a literal secret is refused without
being repeated). The secrets read are returned by (instance id, key text), for ``resolve``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.config.issues import Issue, Loc
from reconciler.config.schema import ENV_REFERENCE_PATTERN
from reconciler.models import (
    blacklist_key_text,
    custom_client_id_problem,
    identity_key_text,
    permission_key_text,
    topic_filter_problem,
    username_problem,
)
from reconciler.secrets_read import note_secret

# A secret given from the environment: the whole value is one reference.
_ENV_REFERENCE = re.compile(ENV_REFERENCE_PATTERN)
IN_THE_FILE_MESSAGE = (
    "a secret is never written in the file: give it as ${ENV_VAR} (one variable, nothing "
    "around it) or as {file: PATH}"
)


@dataclass
class AccessFacts:
    """What the checks of one document found: the secrets read, by (instance id, key text)."""

    secrets: dict[tuple[str, str], str] = field(default_factory=dict)


def identity_key(entry: Mapping[Any, Any]) -> str | None:
    """The key text of a raw identity entry (None: malformed, the shape check says why)."""
    username, client_id = entry.get("username"), entry.get("client_id")
    if not isinstance(username, str) or not isinstance(client_id, str | None):
        return None
    return identity_key_text("client" if client_id else "user", username, client_id)


def permission_key(entry: Mapping[Any, Any]) -> str | None:
    user, client, topic = entry.get("user"), entry.get("client"), entry.get("topic")
    if not isinstance(topic, str) or (user is None) == (client is None):
        return None
    identity = user if user is not None else client
    if not isinstance(identity, str):
        return None
    return permission_key_text("user" if user is not None else "client", identity, topic)


def blacklist_key(entry: Any) -> str | None:
    client_id = entry.get("client_id") if isinstance(entry, dict) else entry
    return blacklist_key_text(client_id) if isinstance(client_id, str) else None


# The lists of an access block, each with how a raw entry's key is read and its noun.
ACCESS_LISTS: tuple[tuple[str, Callable[[Any], str | None], str], ...] = (
    ("identities", lambda e: identity_key(e) if isinstance(e, dict) else None, "identity"),
    ("permissions", lambda e: permission_key(e) if isinstance(e, dict) else None, "permission"),
    ("blacklist", blacklist_key, "blacklist entry"),
)


def check_access(
    access: Any,
    base: Loc,
    *,
    instance_id: str | None,
    label: str,
    uses_ons: bool,
    env: Mapping[str, str] | None,
    unset_warns: bool,
    facts: AccessFacts,
    issues: list[Issue],
) -> None:
    """Every check of one instance's ``access`` block (``base``: its path)."""
    if not isinstance(access, dict):
        return
    if uses_ons:
        issues.append(
            Issue(
                base,
                f"instance {label} uses the ons API, which has no custom authentication: access "
                "rules need api: onsmqtt (an instance of the Professional or Platinum edition)",
                at_key=True,
            )
        )
        return
    for name, key_of, noun in ACCESS_LISTS:
        entries = access.get(name)
        if not isinstance(entries, list):
            continue
        first: dict[str, int] = {}
        for index, entry in enumerate(entries):
            loc = (*base, name, index)
            key = key_of(entry)
            if key is not None:
                seen = first.setdefault(key, index)
                if seen != index:
                    issues.append(
                        Issue(
                            loc,
                            f"duplicate {noun} {key} in instance {label}: first listed at {{0}}",
                            related=((*base, name, seen),),
                        )
                    )
                    continue
            if name == "identities" and isinstance(entry, dict):
                secret = _check_identity(entry, loc, env, unset_warns, issues)
                if secret is not None and key is not None and instance_id is not None:
                    facts.secrets[(instance_id, key)] = secret
            elif name == "permissions" and isinstance(entry, dict):
                _check_permission(entry, loc, issues)
            elif name == "blacklist":
                client_id = entry.get("client_id") if isinstance(entry, dict) else entry
                where = (*loc, "client_id") if isinstance(entry, dict) else loc
                _check(custom_client_id_problem, client_id, where, issues)


def _check(rule: Callable[[str], str | None], value: Any, loc: Loc, issues: list[Issue]) -> bool:
    """Whether ``value`` (a string: others are the shape check's) passes ``rule``."""
    if not isinstance(value, str):
        return False
    problem = rule(value)
    if problem is not None:
        issues.append(Issue(loc, problem))
    return problem is None


def _check_identity(
    entry: dict[Any, Any],
    loc: Loc,
    env: Mapping[str, str] | None,
    unset_warns: bool,
    issues: list[Issue],
) -> str | None:
    """The identity's checks; its secret when read."""
    _check(username_problem, entry.get("username"), (*loc, "username"), issues)
    if entry.get("client_id") is not None:
        _check(custom_client_id_problem, entry.get("client_id"), (*loc, "client_id"), issues)
    secret = entry.get("secret")
    if entry.get("absent") is True:
        for extra in ("secret", "sign_mode"):
            if entry.get(extra) is not None:
                issues.append(
                    Issue(
                        (*loc, extra),
                        f"an absent identity is deleted, so its {extra} has no meaning",
                    )
                )
        return None
    if secret is None:
        issues.append(Issue(loc, "an identity needs a secret: ${ENV_VAR} or {file: PATH}"))
        return None
    return read_secret(secret, (*loc, "secret"), env, unset_warns, issues)


def read_secret(
    secret: Any,
    loc: Loc,
    env: Mapping[str, str] | None,
    unset_warns: bool,
    issues: list[Issue],
) -> str | None:
    """The secret ``secret`` refers to (None: not read: ``env`` is None, as for fmt, or a
    problem was reported). The secret's text is never part of a message."""
    if isinstance(secret, str):
        match = _ENV_REFERENCE.fullmatch(secret)
        if match is None:
            issues.append(Issue(loc, IN_THE_FILE_MESSAGE))
            return None
        if env is None:
            return None
        name = match.group(1)
        value = env.get(name)
        if value is None:
            if unset_warns:
                issues.append(
                    Issue(
                        loc,
                        f"environment variable {name} is not set (plan and apply will need it)",
                        warning=True,
                    )
                )
            else:
                issues.append(Issue(loc, f"environment variable {name} is not set"))
            return None
        if not value:
            issues.append(Issue(loc, f"environment variable {name} is empty"))
            return None
        note_secret(value)
        return value
    if isinstance(secret, dict) and isinstance(secret.get("file"), str) and env is not None:
        path = secret["file"]
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            message = f"cannot read the secret file {path}: {reason}"
            # validate (a lint job without the secrets) warns; plan and apply need it.
            if unset_warns:
                message += " (plan and apply will need it)"
            issues.append(Issue((*loc, "file"), message, warning=unset_warns))
            return None
        value = text.removesuffix("\n").removesuffix("\r")
        if not value:
            issues.append(Issue((*loc, "file"), f"the secret file {path} is empty"))
            return None
        note_secret(value)
        return value
    return None


def _check_permission(entry: dict[Any, Any], loc: Loc, issues: list[Issue]) -> None:
    user, client = entry.get("user"), entry.get("client")
    if (user is None) == (client is None):
        found = "both" if user is not None else "neither"
        issues.append(
            Issue(loc, f"a permission names exactly one of user: or client:, {found} given")
        )
    elif user is not None:
        _check(username_problem, user, (*loc, "user"), issues)
    else:
        _check(custom_client_id_problem, client, (*loc, "client"), issues)
    _check(topic_filter_problem, entry.get("topic"), (*loc, "topic"), issues)
    if entry.get("absent") is True:
        return
    for required in ("effect", "action"):
        if entry.get(required) is None:
            choices = "allow or deny" if required == "effect" else "pub, sub or pub_sub"
            issues.append(Issue(loc, f"a permission needs its {required}: {choices}"))
