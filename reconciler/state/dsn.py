"""Describe a PostgreSQL DSN and scrub text that may quote it, never showing its secrets.

Safe by construction rather than by spotting the password: a DSN is never echoed. It is
described only by the host, port, dbname and user parsed from it, and text that may quote it
(psycopg's errors) loses the DSN itself, every other parameter value, and any longer piece of
the DSN that is not one of those four values or a libpq keyword. So a mistyped keyword
(``passwd=...``), an unknown URI parameter or a DSN that does not parse leaks nothing either.
"""

from __future__ import annotations

import difflib
import functools
import re
import string
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict

SHOWN = ("host", "port", "dbname", "user")
UNPARSEABLE = "(DSN not shown: it does not parse)"
MASK = "***"
# Pieces of the DSN this long or longer are scrubbed from text even when no parse saw them as
# a value (libpq reading the DSN differently from us, garbage).
MIN_PIECE = 4
# Values this long or longer are scrubbed wherever they appear. Shorter ones only under keys
# that may hold a secret: connect_timeout=5 must not mask the 5 of port 5432.
MIN_VALUE = 3
_URI_SCHEMES = ("postgresql://", "postgres://")
_SEPARATORS = re.compile(r"[\s=:/@?&,;'\"\[\]]+")
_KEY_RE = re.compile(r"(?:^|[\s?&])([A-Za-z_][A-Za-z0-9_]*)\s*=")
_KEEP_CHARS = frozenset(string.whitespace + string.punctuation)


@dataclass(frozen=True)
class DsnFacts:
    """What may be shown of a DSN and what must be scrubbed wherever it appears."""

    raw: str
    shown: dict[str, str] | None  # the public fields found; None when the DSN does not parse
    hidden: frozenset[str]  # every other value (as written and decoded) and unknown piece
    vocabulary: frozenset[str]  # words that may stay in scrubbed text: keywords, shown values


def describe_dsn(dsn: str) -> str:
    """``(host=db port=5432 dbname=app user=u)``: only the public fields, never the DSN."""
    shown = inspect_dsn(dsn).shown
    if shown is None:
        return UNPARSEABLE
    if not shown:
        return "(libpq defaults)"
    return "(" + " ".join(f"{key}={_quoted(value)}" for key, value in shown.items()) + ")"


def scrub(text: str, dsn: str) -> str:
    """``text`` without the DSN, its non-public values or longer pieces of it."""
    facts = inspect_dsn(dsn)
    strong = [False] * len(text)
    forms = {dsn, unquote(dsn)} - {""}
    for secret in forms | facts.hidden:
        _mark(strong, text, secret)
    # Longer pieces of the DSN no parse saw as a value go too, unless they are pieces of
    # keywords or public values ("connect" of connect_timeout in "connection failed").
    from_dsn = _covered(text, forms)
    innocent = _covered(text, {word for word in facts.vocabulary if len(word) >= MIN_PIECE})
    out: list[str] = []
    for index, char in enumerate(text):
        weak = from_dsn[index] and not innocent[index] and char not in _KEEP_CHARS
        masked = strong[index] or weak
        if not masked:
            out.append(char)
        elif not out or out[-1] != MASK:
            out.append(MASK)
    return "".join(out)


@functools.lru_cache(maxsize=64)
def inspect_dsn(dsn: str) -> DsnFacts:
    params = _parse(dsn)
    raw_pairs = _uri_pairs(dsn) if dsn.startswith(_URI_SCHEMES) else None
    pairs = list(params.items()) if params is not None else []
    hidden: set[str] = set()
    for key, value in pairs + (raw_pairs or []):
        if key in SHOWN or not value:
            continue
        for form in (value, unquote(value)):
            if len(form) >= MIN_VALUE or _may_hold_a_secret(key):
                hidden.add(form)
    shown: dict[str, str] | None = None
    if params is not None:
        found = {key: params[key] for key in SHOWN if params.get(key)}
        if raw_pairs is not None:
            # libpq and urllib read an unencoded "@" or ":" in the password differently;
            # a field they disagree on may hold part of the password.
            other = {key: unquote(value) for key, value in raw_pairs if value}
            found = {
                key: value if other.get(key, value) == value else MASK
                for key, value in found.items()
            }
        # A public field that contains a secret (a password that is also the host) is masked.
        shown = {
            key: MASK if value == MASK or any(secret in value for secret in hidden) else value
            for key, value in found.items()
        }
    public = [value for value in (shown or {}).values() if value != MASK]
    vocabulary = set(_keywords()) | {scheme.rstrip(":/") for scheme in _URI_SCHEMES}
    vocabulary |= set(public) | {piece for value in public for piece in _pieces(value)}
    # A mistyped keyword (passwd=) is vocabulary, so psycopg's "invalid connection option"
    # keeps naming it; anything else in the DSN may be a secret.
    vocabulary |= {
        key
        for key in _KEY_RE.findall(dsn)
        if difflib.get_close_matches(key, _keywords(), n=1, cutoff=0.8)
    }
    for piece in _pieces(dsn) + _pieces(unquote(dsn)):
        if piece not in vocabulary and len(piece) >= MIN_VALUE:
            hidden.add(piece)
    return DsnFacts(dsn, shown, frozenset(hidden), frozenset(vocabulary))


def _parse(dsn: str) -> dict[str, str] | None:
    """The DSN's parameters as libpq reads them; a URI libpq refuses (an unknown query
    parameter) is read by urllib instead; None when neither can."""
    try:
        return {key: str(value) for key, value in conninfo_to_dict(dsn).items()}
    except psycopg.Error:
        pass
    if not dsn.startswith(_URI_SCHEMES):
        return None
    pairs = _uri_pairs(dsn)
    if pairs is None:
        return None
    return {key: unquote(value) for key, value in pairs if value}


def _uri_pairs(dsn: str) -> list[tuple[str, str]] | None:
    """A URI's parameters as written (still percent-encoded); None when it does not split."""
    try:
        parts = urlsplit(dsn)
    except ValueError:
        return None
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    hosts: list[str] = []
    ports: list[str] = []
    for spec in hostinfo.split(","):
        if spec.startswith("["):  # [IPv6]:port
            host, _, rest = spec[1:].partition("]")
            port = rest.removeprefix(":")
        else:
            host, _, port = spec.partition(":")
        hosts.append(host)
        ports.append(port)
    pairs = [
        ("user", user),
        ("password", password if colon else ""),
        ("host", ",".join(hosts) if any(hosts) else ""),
        ("port", ",".join(ports) if any(ports) else ""),
        ("dbname", parts.path.removeprefix("/")),
    ]
    for item in parts.query.split("&"):
        key, _, value = item.partition("=")
        if key:
            pairs.append((unquote(key), value))
    return pairs


def _may_hold_a_secret(key: str) -> bool:
    return "pass" in key or "secret" in key or "key" in key or key not in _keywords()


@functools.cache
def _keywords() -> tuple[str, ...]:
    """Every connection keyword this libpq knows."""
    options: Any = pq.Conninfo.get_defaults()
    return tuple(option.keyword.decode() for option in options)


def _pieces(text: str) -> list[str]:
    return [piece for piece in _SEPARATORS.split(text) if piece]


def _covered(text: str, sources: set[str]) -> list[bool]:
    """Which characters of ``text`` lie in a run of MIN_PIECE or more that is also a
    substring of one of ``sources``."""
    covered = [False] * len(text)
    for start in range(len(text)):
        end = start
        while end < len(text) and any(text[start : end + 1] in source for source in sources):
            end += 1
        if end - start >= MIN_PIECE:
            covered[start:end] = [True] * (end - start)
    return covered


def _mark(mask: list[bool], text: str, secret: str) -> None:
    for found in re.finditer(re.escape(secret), text):
        mask[found.start() : found.end()] = [True] * (found.end() - found.start())


def _quoted(value: str) -> str:
    return f"'{value}'" if any(char.isspace() for char in value) or not value else value
