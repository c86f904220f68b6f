"""The wire shapes of the RPC protocol: request parameters in, JSON or XML bodies out."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from json.encoder import encode_basestring
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


class ApiError(Exception):
    """An error answer: HTTP status, Code and Message, as the service writes them, and any
    response headers that go with it (``x-acs-retry-after`` on a throttled call)."""

    def __init__(
        self, status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        super().__init__(f"{code} (HTTP {status}): {message}")


def missing(name: str) -> ApiError:
    return ApiError(
        400,
        "MissingParameter",
        f'The input parameter "{name}" that is mandatory for processing this request'
        " is not supplied.",
    )


def invalid(message: str) -> ApiError:
    return ApiError(400, "BIZ_FIELD_CHECK_INVALID", message)


def optional(params: Mapping[str, str], name: str) -> str | None:
    """An optional parameter; blank counts as absent, as the SDKs send blanks for unset fields."""
    value = params.get(name, "").strip()
    return value or None


def required(
    params: Mapping[str, str], name: str, absent: Callable[[str], ApiError] = missing
) -> str:
    """A mandatory parameter; ``absent(name)`` is the product's answer when it is blank."""
    value = optional(params, name)
    if value is None:
        raise absent(name)
    return value


def merge_parameters(query: str, body: bytes, content_type: str) -> dict[str, str]:
    """Query-string and form-body parameters merged (body wins), blank values kept.

    Both SDK wire shapes are accepted: the core SDK puts everything in the query, Tea puts the
    action's parameters in the body. A body without a content type is read as a form too.
    """
    params = query_parameters(query)
    kind = content_type.split(";", 1)[0].strip().lower()
    if body and kind in ("", FORM_CONTENT_TYPE):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise invalid("the request body is not UTF-8") from exc
        params.update(parse_qsl(text, keep_blank_values=True))
    return params


@dataclass(frozen=True)
class SignedRequest:
    """What a V3 (``Authorization: ACS3-...``) signature covers, as received: the method, the
    decoded path, the query's parameters, every header (names lower-cased, repeats kept in
    order) and the exact body bytes."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Sequence[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (lower-case), or None."""
        return next((value for key, value in self.headers if key == name), None)


def query_parameters(query: str) -> dict[str, str]:
    return dict(parse_qsl(query, keep_blank_values=True))


def new_request_id() -> str:
    return str(uuid.uuid4()).upper()


@dataclass(frozen=True)
class Encoded:
    body: bytes
    content_type: str
    headers: Mapping[str, str] = field(default_factory=dict)


def wants_xml(params: Mapping[str, str], *, default_format: str = "XML") -> bool:
    """Signature V1 answers XML unless ``Format`` says JSON (any case); V3 defaults to JSON."""
    return params.get("Format", default_format).strip().upper() != "JSON"


def encode_success(action: str, body: Mapping[str, Any], *, xml: bool) -> Encoded:
    return _encode(f"{action}Response", body, xml=xml)


def encode_error(error: ApiError, *, request_id: str, host_id: str, xml: bool) -> Encoded:
    body = {
        "RequestId": request_id,
        "HostId": host_id,
        "Code": error.code,
        "Message": error.message,
        "Recommend": f"https://api.aliyun.com/troubleshoot?q={error.code}",
    }
    encoded = _encode("Error", body, xml=xml)
    return replace(encoded, headers=error.headers) if error.headers else encoded


def _encode(root: str, body: Mapping[str, Any], *, xml: bool) -> Encoded:
    """``body`` as JSON, or as XML under the element ``root``."""
    if xml:
        return Encoded(_xml_document(root, body), "text/xml;charset=utf-8")
    return Encoded(_json_text(body).encode("utf-8"), "application/json;charset=utf-8")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Records:
    """A list of records sharing one set of fields, held a column at a time, for a success
    body: what a listing of thousands of rows answers.

    Its JSON text is what ``json.dumps`` writes for the same list of dicts, byte for byte, at
    a fraction of the cost (a 1,000-GID listing spent more on ``json.dumps`` walking a dict
    per row than on everything else it did): each column goes through the encoder json itself
    uses for its type, strings through ``json.encoder.encode_basestring`` and exact ints
    through ``int.__repr__`` (what json's C encoder calls), booleans and empty lists as their
    literals, and a column holding anything else through ``json.dumps`` a cell at a time.
    The XML answer, and anything else that reads the body, sees the dicts (``dicts``).
    """

    def __init__(self, fields: Sequence[str], columns: Sequence[Sequence[Any]]) -> None:
        if not fields or len(fields) != len(columns):
            raise ValueError("Records needs one column per field, and at least one field")
        if len({len(column) for column in columns}) != 1:
            raise ValueError("the columns of Records differ in length")
        self.fields = tuple(fields)
        self.columns = tuple(columns)

    def __len__(self) -> int:
        return len(self.columns[0])

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.fields, row, strict=True)) for row in zip(*self.columns, strict=True)]

    def json_text(self) -> str:
        """The JSON array of the records, as ``json.dumps(self.dicts(), ensure_ascii=False,
        separators=(",", ":"))`` writes it."""
        # One %-template per row: the field names between the cells, "%" escaped in them.
        keys = [f"{encode_basestring(name)}:".replace("%", "%%") for name in self.fields]
        template = "{" + ",".join(f"{key}%s" for key in keys) + "}"
        cells = [_json_cells(column) for column in self.columns]
        return "[" + ",".join([template % row for row in zip(*cells, strict=True)]) + "]"


_BOOLEANS = {True: "true", False: "false"}


def _json_cells(column: Sequence[Any]) -> list[str]:
    """Each value of ``column`` as ``json.dumps`` (ensure_ascii off) writes it."""
    # Exact types only (a bool is an int, and json writes it otherwise).
    types = set(map(type, column))
    if types == {str}:
        return list(map(encode_basestring, column))
    if types == {int}:
        return list(map(int.__repr__, column))
    if types == {bool}:
        return [_BOOLEANS[value] for value in column]
    if types == {list} and not any(column):
        return ["[]"] * len(column)
    return list(map(_dumps, column))


def _json_text(value: Any) -> str:
    """``value`` as ``json.dumps`` writes it (ensure_ascii off, no spaces), ``Records``
    written by themselves wherever they sit among the body's nested objects."""
    if isinstance(value, Records):
        return value.json_text()
    if type(value) is dict and _holds_records(value):
        members = []
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError(f"an object holding Records has a key {key!r} that is no str")
            members.append(f"{encode_basestring(key)}:{_json_text(item)}")
        return "{" + ",".join(members) + "}"
    return _dumps(value)


def _holds_records(body: dict[Any, Any]) -> bool:
    return any(
        isinstance(item, Records) or (type(item) is dict and _holds_records(item))
        for item in body.values()
    )


def _xml_document(root: str, body: Mapping[str, Any]) -> bytes:
    parts = ['<?xml version="1.0" encoding="UTF-8"?>']
    _xml_element(parts, root, body)
    return "".join(parts).encode("utf-8")


def _xml_element(parts: list[str], name: str, value: Any) -> None:
    if isinstance(value, Records):
        value = value.dicts()
    # Lists repeat their element name, as the service's XML does: <Data><Item/><Item/></Data>.
    if isinstance(value, list):
        for item in value:
            _xml_element(parts, name, item)
        return
    parts.append(f"<{name}>")
    if isinstance(value, Mapping):
        for key, child in value.items():
            _xml_element(parts, str(key), child)
    elif isinstance(value, bool):
        parts.append("true" if value else "false")
    elif value is not None:
        parts.append(escape(str(value)))
    parts.append(f"</{name}>")
