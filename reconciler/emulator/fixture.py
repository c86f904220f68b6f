"""Seed an emulator store from a YAML fixture file; every mistake names file:line:column.

Shape (all lists optional; times are ms epoch, ISO 8601, or ``now`` / ``now-15m`` / ``now-2h``)::

    version: 1
    accounts:
      - access_key_id: LTAI5tExample
        access_key_secret: example-secret
        sts_tokens: [token-1, {token: token-2, expires: 2030-01-01T00:00:00Z}]
    instances:
      - instance_id: post-cn-demo
        account: LTAI5tExample       # the owner; needed when there are several accounts
        region: cn-hangzhou          # default cn-hangzhou
        independent_naming: true     # default true
        topics: [orders]
        groups: [GID_orders, {group_id: GID_billing, topic: orders, create_time: now-1d}]
        devices:
          - client_id: GID_orders@@@device-1
            online: true             # default true
            last_touch: now-5m       # default now
            socket: /10.0.0.7:50112
            subscriptions: [{parent_topic: orders, sub_topic: /room/1/, qos: 1}]
        online_history: [{group_id: GID_orders, at: now-1h, count: 3}]
        message_history:
          - {parent_topic: orders, at: now-1h, trans_type: PUB, tps: 2.5, total: 150,
             msg_type: SUB, qos: 1, sub_topic: ""}

A series stands for many samples: ``from``, ``to`` and ``every`` (``30s``, ``1m``, ``1h``)
instead of ``at`` gives a sample at each multiple of ``every`` in the range, and a value given
as a list (``count: [3, 5, 8]``, ``tps``, ``total``) is repeated in order along the series::

        online_history: [{group_id: GID_orders, from: now-3d, to: now, every: 1m, count: [3, 5]}]
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from reconciler.duration import duration_ms
from reconciler.emulator.store import (
    DEFAULT_SOCKET,
    EmulatorStore,
    Subscription,
)
from reconciler.errors import ConfigError
from reconciler.models import GROUP_ID_RE, GROUP_ID_RULE, client_id_problem

T = TypeVar("T")
_RELATIVE = re.compile(r"^now(?:\s*-\s*(\S+))?$")
# A series longer than this is a typo (every: 1ms over a year), not a fixture.
MAX_SERIES_SAMPLES = 1_000_000


class _Node:
    """A YAML value with the location it came from, for error messages."""

    def __init__(self, value: Any, source: str, line: int | None, column: int | None) -> None:
        self.value = value
        self.source = source
        self.line = line
        self.column = column

    def error(self, message: str) -> ConfigError:
        return ConfigError(message, file=self.source, line=self.line, column=self.column)

    def mapping(
        self, what: str, required: Iterable[str], optional: Iterable[str] = ()
    ) -> dict[str, _Node]:
        if not isinstance(self.value, Mapping):
            raise self.error(f"{what} must be a mapping")
        required = tuple(required)
        allowed_keys = {*required, *optional}
        children: dict[str, _Node] = {}
        for key, value in self.value.items():
            line, column = _position(self.value, key, "key")
            if str(key) not in allowed_keys:
                raise ConfigError(
                    f"unknown key {key!r} in {what} (allowed: {', '.join(sorted(allowed_keys))})",
                    file=self.source,
                    line=line,
                    column=column,
                )
            vline, vcolumn = _position(self.value, key, "value")
            children[str(key)] = _Node(value, self.source, vline, vcolumn)
        for key in required:
            if key not in children:
                raise self.error(f"{what} needs {key}")
        return children

    def items(self, what: str) -> list[_Node]:
        if self.value is None:
            return []
        if not isinstance(self.value, list):
            raise self.error(f"{what} must be a list")
        nodes = []
        for index, value in enumerate(self.value):
            line, column = _position(self.value, index, "item")
            nodes.append(_Node(value, self.source, line, column))
        return nodes

    def text(self, what: str) -> str:
        if not isinstance(self.value, str) or not self.value:
            raise self.error(f"{what} must be a non-empty string")
        return self.value

    def group_id(self, what: str) -> str:
        """A GID the emulator's own create would accept."""
        value = self.text(what)
        if not GROUP_ID_RE.match(value):
            raise self.error(f"{what} {value!r} is invalid: it {GROUP_ID_RULE}")
        return value

    def client_id(self, what: str) -> str:
        """A client id the service accepts."""
        value = self.text(what)
        problem = client_id_problem(value)
        if problem is not None:
            raise self.error(problem)
        return value

    def flag(self, what: str) -> bool:
        if not isinstance(self.value, bool):
            raise self.error(f"{what} must be true or false")
        return self.value

    def number(self, what: str) -> float:
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            raise self.error(f"{what} must be a number")
        return float(self.value)

    def millis(self, what: str) -> int:
        """A moment as ms epoch: an integer, an ISO timestamp or ``now[-N(ms|s|m|h|d)]``."""
        value = self.value
        if isinstance(value, bool):
            raise self.error(f"{what} must be a time")
        if isinstance(value, int):
            return value
        if isinstance(value, datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=UTC)
            return int(moment.timestamp() * 1000)
        if isinstance(value, date):
            return int(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp() * 1000)
        if isinstance(value, str):
            match = _RELATIVE.match(value.strip())
            back = None if match is None else duration_ms(match.group(1) or "0s")
            if back is not None:
                return int(time.time() * 1000) - back
            try:
                return _Node(datetime.fromisoformat(value), self.source, None, None).millis(what)
            except ValueError:
                pass
        raise self.error(f"{what} must be ms since the epoch, an ISO time or now-<N><unit>")


def _position(container: Any, key: Any, kind: str) -> tuple[int | None, int | None]:
    lc = getattr(container, "lc", None)
    if lc is None:
        return None, None
    try:
        line, column = getattr(lc, kind)(key)
    except (KeyError, IndexError, TypeError, AttributeError):
        return None, None
    return int(line) + 1, int(column) + 1


def _list(fields: dict[str, _Node], key: str) -> list[_Node]:
    """The items of the optional list ``key``."""
    return fields[key].items(key) if key in fields else []


def _optional(node: dict[str, _Node], key: str, read: Callable[[_Node], T], default: T) -> T:
    child = node.get(key)
    return default if child is None or child.value is None else read(child)


def load_fixture_text(text: str, source: str, store: EmulatorStore) -> None:
    """Parse ``text`` and seed ``store``; raises ConfigError naming source:line:column."""
    try:
        document = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise ConfigError(
            f"not valid YAML: {exc.problem}",
            file=source,
            line=None if mark is None else mark.line + 1,
            column=None if mark is None else mark.column + 1,
        ) from exc
    except YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", file=source) from exc
    root = _Node(document if document is not None else {}, source, 1, 1)
    top = root.mapping("the fixture", (), ("version", "accounts", "instances"))
    version = top.get("version")
    if version is not None and version.value != 1:
        raise version.error("version must be 1")
    for account in _list(top, "accounts"):
        _load_account(account, store)
    for instance in _list(top, "instances"):
        _load_instance(instance, store)


def load_fixture(path: str | Path, store: EmulatorStore) -> None:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read the fixture: {exc.strerror or exc}", file=str(path)
        ) from exc
    load_fixture_text(text, str(path), store)


def _load_account(node: _Node, store: EmulatorStore) -> None:
    fields = node.mapping("an account", ("access_key_id", "access_key_secret"), ("sts_tokens",))
    tokens: list[tuple[str, int | None]] = []
    for entry in _list(fields, "sts_tokens"):
        if isinstance(entry.value, str):
            tokens.append((entry.text("an STS token"), None))
            continue
        token = entry.mapping("an STS token", ("token",), ("expires",))
        expires = _optional(token, "expires", lambda n: n.millis("expires"), None)
        tokens.append((token["token"].text("token"), expires))
    store.add_account(
        fields["access_key_id"].text("access_key_id"),
        fields["access_key_secret"].text("access_key_secret"),
        sts_tokens=tokens,
    )


def _load_instance(node: _Node, store: EmulatorStore) -> None:
    fields = node.mapping(
        "an instance",
        ("instance_id",),
        (
            "account",
            "region",
            "independent_naming",
            "topics",
            "groups",
            "devices",
            "online_history",
            "message_history",
        ),
    )
    instance_id = fields["instance_id"].text("instance_id")
    topics = [t.text("a topic") for t in _list(fields, "topics")]
    try:
        store.add_instance(
            instance_id,
            region=_optional(fields, "region", lambda n: n.text("region"), "cn-hangzhou"),
            independent_naming=_optional(
                fields, "independent_naming", lambda n: n.flag("independent_naming"), True
            ),
            topics=topics,
            owner=_owner(node, fields.get("account"), store),
        )
    except ValueError as exc:
        raise node.error(str(exc)) from exc
    for group in _list(fields, "groups"):
        _load_group(group, instance_id, store)
    for device in _list(fields, "devices"):
        _load_device(device, instance_id, store)
    for sample in _list(fields, "online_history"):
        values = sample.mapping("an online sample", ("group_id", "count"), ("at", *_SERIES_KEYS))
        moments = _moments(sample, values)
        counts = _cycled(values["count"], "count", len(moments))
        store.add_online_samples(
            instance_id,
            values["group_id"].group_id("group_id"),
            [(at, int(count)) for at, count in zip(moments, counts, strict=True)],
        )
    for sample in _list(fields, "message_history"):
        _load_message_sample(sample, instance_id, store)


def _owner(instance: _Node, account: _Node | None, store: EmulatorStore) -> str | None:
    """The AccessKeyId owning the instance: ``account``, else the only account (None when
    there is none yet); with several accounts the fixture must say which."""
    known = store.account_ids()
    if account is not None:
        key = account.text("account")
        if key not in known:
            raise account.error(f"account {key!r} is not an access_key_id of the accounts")
        return key
    if len(known) > 1:
        raise instance.error(
            f"an instance needs account: (the access_key_id of its owner) when there are"
            f" {len(known)} accounts"
        )
    return known[0] if known else None


def _load_group(node: _Node, instance_id: str, store: EmulatorStore) -> None:
    if isinstance(node.value, str):
        store.add_group(instance_id, node.group_id("a group id"))
        return
    fields = node.mapping("a group", ("group_id",), ("topic", "create_time", "update_time"))
    store.add_group(
        instance_id,
        fields["group_id"].group_id("group_id"),
        topic=_optional(fields, "topic", lambda n: n.text("topic"), None),
        create_time=_optional(fields, "create_time", lambda n: n.millis("create_time"), None),
        update_time=_optional(fields, "update_time", lambda n: n.millis("update_time"), None),
    )


def _load_device(node: _Node, instance_id: str, store: EmulatorStore) -> None:
    fields = node.mapping(
        "a device", ("client_id",), ("online", "last_touch", "socket", "subscriptions")
    )
    subscriptions = []
    for sub in _list(fields, "subscriptions"):
        values = sub.mapping("a subscription", ("parent_topic",), ("sub_topic", "qos"))
        qos = int(_optional(values, "qos", lambda n: n.number("qos"), 0.0))
        if qos not in (0, 1, 2):
            raise values["qos"].error("qos must be 0, 1 or 2")
        sub_topic = values.get("sub_topic")
        subscriptions.append(
            Subscription(
                values["parent_topic"].text("parent_topic"),
                ""
                if sub_topic is None or sub_topic.value in (None, "")
                else sub_topic.text("sub_topic"),
                qos,
            )
        )
    client = fields["client_id"]
    try:
        store.add_client(
            client.client_id("client_id"),
            instance_id=instance_id,
            online=_optional(fields, "online", lambda n: n.flag("online"), True),
            last_touch=_optional(fields, "last_touch", lambda n: n.millis("last_touch"), None),
            socket=_optional(fields, "socket", lambda n: n.text("socket"), DEFAULT_SOCKET),
            subscriptions=subscriptions,
        )
    except ValueError as exc:
        raise client.error(str(exc)) from exc


def _load_message_sample(node: _Node, instance_id: str, store: EmulatorStore) -> None:
    fields = node.mapping(
        "a message sample",
        ("parent_topic", "trans_type"),
        ("at", "tps", "total", "msg_type", "qos", "sub_topic", *_SERIES_KEYS),
    )
    moments = _moments(node, fields)
    tps = _cycled(fields.get("tps"), "tps", len(moments))
    totals = _cycled(fields.get("total"), "total", len(moments))
    try:
        store.add_message_samples(
            instance_id,
            fields["parent_topic"].text("parent_topic"),
            [(at, rate, int(total)) for at, rate, total in zip(moments, tps, totals, strict=True)],
            trans_type=fields["trans_type"].text("trans_type"),
            msg_type=_optional(fields, "msg_type", lambda n: n.text("msg_type"), "SUB"),
            qos=int(_optional(fields, "qos", lambda n: n.number("qos"), 0.0)),
            sub_topic=_optional(fields, "sub_topic", lambda n: str(n.value), ""),
        )
    except ValueError as exc:
        raise node.error(str(exc)) from exc


_SERIES_KEYS = ("from", "to", "every")


def _moments(node: _Node, fields: dict[str, _Node]) -> list[int]:
    """``at`` as one moment, or ``from``/``to``/``every`` as each multiple of ``every``."""
    if "at" in fields:
        if any(key in fields for key in _SERIES_KEYS):
            raise node.error("give at, or from/to/every for a series, not both")
        return [fields["at"].millis("at")]
    missing = [key for key in _SERIES_KEYS if key not in fields]
    if missing:
        raise node.error(f"a sample needs at, or from, to and every (missing {missing[0]})")
    begin, end = fields["from"].millis("from"), fields["to"].millis("to")
    every_node = fields["every"]
    step = duration_ms(str(every_node.value)) or 0
    if step <= 0:
        raise every_node.error("every must be a positive duration such as 30s, 1m or 1h")
    if begin > end:
        raise fields["from"].error("from must not be after to")
    first = -(-begin // step) * step  # the first multiple of every at or after from
    if (end - first) // step >= MAX_SERIES_SAMPLES:
        raise every_node.error(f"the series would hold more than {MAX_SERIES_SAMPLES} samples")
    return list(range(first, end + 1, step))


def _cycled(node: _Node | None, what: str, length: int) -> list[float]:
    """``length`` values: a number repeated, or a list repeated in order (0 when absent)."""
    if node is None or node.value is None:
        return [0.0] * length
    if isinstance(node.value, list):
        values = [item.number(what) for item in node.items(what)]
        if not values:
            raise node.error(f"{what} must not be an empty list")
    else:
        values = [node.number(what)]
    return [values[i % len(values)] for i in range(length)]
