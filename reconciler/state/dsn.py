"""Read a PostgreSQL DSN as libpq does and show it without its secrets.

libpq echoes the DSN's text only when it cannot parse it, so a DSN is parsed first
(``conninfo_to_dict``) and a parse failure is answered with a fixed message that names at most
the offending keyword, never a value. A DSN is shown only by its host, port, dbname and user,
with a field that holds a secret masked. ``scrub`` masks the secrets in text that may quote
them (libpq naming a host that is also the password). ``mask_dsns`` masks the passwords of
DSNs quoted in any text (a bug report's traceback), where nothing says what the DSN was: each
one found is read as a URI (its user information ends at its last "@") or as libpq's
``keyword=value`` pairs (quoted values, backslash escapes), and then by libpq itself.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import psycopg
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict

SHOWN = ("host", "port", "dbname", "user")
UNPARSEABLE = "(DSN not shown: it does not parse)"
MASK = "***"
# A secret is masked in every run of this many of its characters too ("...a55SECRET").
PIECE = 4
# Words this short of a DSN that does not parse stay (the "a" of "not a dsn").
MIN_WORD = 3
_URI_SCHEMES = ("postgresql://", "postgres://")
_URI_START = re.compile(r"postgres(?:ql)?://", re.IGNORECASE)
# What ends a URI quoted in text: it cannot hold these unencoded.
_URI_END = re.compile(r"""[\s'"<>`]""")
_PAIR_KEY = re.compile(r"([A-Za-z_]\w*)[ \t]*=[ \t]*")
_WORD = re.compile(r"[^\s=:/@?&,;'\"\[\]]+")
_UNKNOWN_OPTION = re.compile(r'invalid (?:connection option|URI query parameter:) "([^"]*)"')
# libpq's parse errors (echoing the DSN) -> what we say instead.
_PROBLEMS = (
    ('missing "=" after', 'a word without "=" (key=value pairs or a postgresql:// URI expected)'),
    ("unterminated quoted string", "an unterminated quoted string"),
)


@dataclass(frozen=True)
class ReadDsn:
    public: dict[str, str] | None  # host, port, dbname, user found; None when nothing parses
    secrets: frozenset[str]  # to mask wherever they appear
    problem: str | None  # why libpq refuses the DSN; None when it parses


def describe_dsn(dsn: str) -> str:
    """``(host=db port=5432 dbname=app user=u)``: only the public fields, never the DSN."""
    public = read_dsn(dsn).public
    if public is None:
        return UNPARSEABLE
    if not public:
        return "(libpq defaults)"
    return "(" + " ".join(f"{key}={_quoted(value)}" for key, value in public.items()) + ")"


def scrub(text: str, dsn: str) -> str:
    """``text`` with the DSN's secrets, and runs of PIECE of their characters, masked."""
    masked = [False] * len(text)
    for secret in read_dsn(dsn).secrets:
        if len(secret) < PIECE:  # "1" is masked as a word, not in "127.0.0.1"
            patterns = [rf"(?<!\w){re.escape(secret)}(?!\w)"]
        else:
            runs = {secret[start : start + PIECE] for start in range(len(secret) - PIECE + 1)}
            patterns = [re.escape(run) for run in runs]
        for pattern in patterns:
            for found in re.finditer(pattern, text):
                masked[found.start() : found.end()] = [True] * (found.end() - found.start())
    out: list[str] = []
    for char, hidden in zip(text, masked, strict=True):
        if not hidden:
            out.append(char)
        elif not out or out[-1] != MASK:
            out.append(MASK)
    return "".join(out)


def mask_dsns(text: str) -> str:
    """``text`` with the password of every DSN it quotes masked, whole (``postgresql://u:***@h``,
    ``password=***``), and anything else libpq reads as a secret of that DSN."""
    out: list[str] = []
    done = 0
    for start, end in _dsn_spans(text):
        dsn = text[start:end]
        masked = _mask_uri(dsn) if _URI_START.match(dsn) else _mask_pairs(dsn)
        out += [text[done:start], scrub(masked, dsn)]
        done = end
    return "".join(out) + text[done:]


def _dsn_spans(text: str) -> list[tuple[int, int]]:
    """Where DSNs are in ``text``: URIs, and runs of pairs that begin with a libpq keyword."""
    spans: list[tuple[int, int]] = []
    position = 0
    while position < len(text):
        uri = _URI_START.search(text, position)
        pair = _next_pairs(text, position)
        if uri is None and pair is None:
            break
        if pair is None or (uri is not None and uri.start() <= pair[0]):
            assert uri is not None
            stop = _URI_END.search(text, uri.end())
            span = (uri.start(), len(text) if stop is None else stop.start())
        else:
            span = pair
        spans.append(span)
        position = span[1]
    return spans


def _next_pairs(text: str, position: int) -> tuple[int, int] | None:
    """The next run of ``key=value`` pairs whose first key is a libpq keyword."""
    for found in _PAIR_KEY.finditer(text, position):
        if found.group(1).lower() not in _keywords() or not _word_start(text, found.start()):
            continue
        end = found.start()
        while (pair := _PAIR_KEY.match(text, end)) is not None:
            end = _value_end(text, pair.end())
            spaces = len(text[end:]) - len(text[end:].lstrip(" \t"))
            if _PAIR_KEY.match(text, end + spaces) is None:
                break
            end += spaces
        return found.start(), end
    return None


def _word_start(text: str, index: int) -> bool:
    return index == 0 or not (text[index - 1].isalnum() or text[index - 1] in "_.-")


def _value_end(text: str, start: int) -> int:
    """Where libpq's conninfo parser ends a value that begins at ``start``: a quoted value at
    its closing quote, any other at a space; a backslash escapes the next character. An
    unterminated quote runs to the end of the line."""
    quoted = text.startswith("'", start)
    index = start + quoted
    while index < len(text) and text[index] != "\n":
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if quoted and char == "'":
            return index + 1
        if not quoted and char.isspace():
            return index
        index += 1
    return min(index, len(text))


def _mask_uri(uri: str) -> str:
    """The password of the user information (up to the last "@": an unencoded "@", ":", "/",
    "?" or "#" in a password ends nothing) and of ``password``-like query parameters."""
    scheme_end = uri.index("://") + 3
    at = uri.rfind("@")
    if at > scheme_end:
        user, colon, _ = uri[scheme_end:at].partition(":")
        if colon:
            uri = f"{uri[:scheme_end]}{user}:{MASK}{uri[at:]}"
    authority_end = max(at, scheme_end)
    rest = uri[authority_end:]
    _, question, query = rest.partition("?")
    if not question:
        return uri
    query, hash_mark, fragment = query.partition("#")
    pairs = []
    for piece in query.split("&"):
        key, equals, _ = piece.partition("=")
        secret = equals and "pass" in unquote(key).lower()
        pairs.append(f"{key}={MASK}" if secret else piece)
    head = uri[: authority_end + rest.index("?") + 1]
    return head + "&".join(pairs) + hash_mark + fragment


def _mask_pairs(conninfo: str) -> str:
    """Each value of a ``password``-like key masked (``passwd`` too: libpq would refuse it,
    but it is meant as one)."""
    out: list[str] = []
    position = 0
    while (pair := _PAIR_KEY.match(conninfo, position)) is not None:
        end = _value_end(conninfo, pair.end())
        secret = "pass" in pair.group(1).lower()
        out.append(pair.group(0) + (MASK if secret else conninfo[pair.end() : end]))
        spaces = len(conninfo[end:]) - len(conninfo[end:].lstrip(" \t"))
        out.append(conninfo[end : end + spaces])
        position = end + spaces
    return "".join(out) + conninfo[position:]


@functools.lru_cache(maxsize=64)
def read_dsn(dsn: str) -> ReadDsn:
    try:
        params = _conninfo(dsn)
    except psycopg.Error as exc:
        return _unparseable(dsn, str(exc))
    public, secrets = _split(params)
    return ReadDsn(public, secrets, None)


def _unparseable(dsn: str, message: str) -> ReadDsn:
    problem, keyword = _problem(message, uri=dsn.startswith(_URI_SCHEMES))
    public: dict[str, str] | None = None
    secrets: frozenset[str] = frozenset()
    if dsn.startswith(_URI_SCHEMES):
        # libpq refuses a whole URI for one unknown query parameter; the part before the
        # query still says where it points.
        with contextlib.suppress(psycopg.Error):
            public, secrets = _split(_conninfo(dsn.partition("?")[0]))
    # Every other word of the DSN may be a secret libpq did not read as one.
    known = {*_keywords(), "postgresql", "postgres", *(public or {}).values()}
    if keyword:
        known.add(keyword)
    words = {*_WORD.findall(dsn), *_WORD.findall(unquote(dsn))}
    secrets |= {word for word in words if len(word) >= MIN_WORD and word not in known}
    return ReadDsn(public, secrets, problem)


def _split(params: dict[str, str]) -> tuple[dict[str, str], frozenset[str]]:
    """The public fields of parsed ``params`` and the secrets among all of them."""
    secrets = {value for key, value in params.items() if "pass" in key and value}
    for key in SHOWN:
        # An unencoded "@" in a URI's password ends it early for libpq; the rest of the
        # password lands in the host.
        if "@" in params.get(key, ""):
            secrets.add(params[key].rpartition("@")[0])
    public = {
        key: MASK if "@" in value or any(secret in value for secret in secrets) else value
        for key in SHOWN
        if (value := params.get(key))
    }
    return public, frozenset(secrets | {quote(secret, safe="") for secret in secrets})


def _problem(message: str, *, uri: bool) -> tuple[str, str | None]:
    """A fixed description of libpq's parse error, and the keyword it may name."""
    unknown = _UNKNOWN_OPTION.match(message)
    if unknown:
        word = unknown.group(1)
        # A name far from every keyword may be a piece of a value (an unquoted password
        # with a space and an "="), so only a near miss is named.
        near = difflib.get_close_matches(word.lower(), _keywords(), n=1, cutoff=0.8)
        if not near:
            return "an option libpq does not know", None
        return f'unknown option "{word}" (did you mean "{near[0]}"?)', word
    for start, problem in _PROBLEMS:
        if message.startswith(start):
            return problem, None
    return ("a malformed URI" if uri else "libpq cannot parse it"), None


def _conninfo(dsn: str) -> dict[str, str]:
    return {key: str(value) for key, value in conninfo_to_dict(dsn).items()}


@functools.cache
def _keywords() -> tuple[str, ...]:
    """Every connection keyword this libpq knows."""
    options: Any = pq.Conninfo.get_defaults()
    return tuple(option.keyword.decode() for option in options)


def _quoted(value: str) -> str:
    return f"'{value}'" if any(char.isspace() for char in value) or not value else value
