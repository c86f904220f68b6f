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
        edition: professional        # basic | standard | professional (default) | platinum
        custom_auth_capacity: 1000   # default 1000
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
        identities:                  # custom authentication, with the wire's values
          - {type: USER, username: fleet, secret: s3cret, sign_mode: ORIGIN}
          - {type: CLIENT, username: fleet, client_id: sensor-1, secret: k, sign_mode: SIGNED}
        permissions:
          - {identity_type: USER, identity: fleet, topic: orders/#, effect: ALLOW,
             permit_action: PUB_SUB}  # effect ALLOW and permit_action PUB_SUB by default
        blacklist: [sensor-9]

A series stands for many samples: ``from``, ``to`` and ``every`` (``30s``, ``1m``, ``1h``)
instead of ``at`` gives a sample at each multiple of ``every`` in the range, and a value given
as a list (``count: [3, 5, 8]``, ``tps``, ``total``) is repeated in order along the series::

        online_history: [{group_id: GID_orders, from: now-3d, to: now, every: 1m, count: [3, 5]}]

The whole file is read and checked (``fixture_model``) before anything is written to the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from reconciler.emulator.fixture_model import (
    AFTER_FIELD,
    VERBATIM,
    Fixture,
    FixtureModel,
    Instance,
    cycled,
)
from reconciler.emulator.mqtt.topics import parent_of
from reconciler.emulator.store import (
    EmulatorStore,
    IdentityRecord,
    PermissionRecord,
    Subscription,
)
from reconciler.errors import ConfigError

Loc = tuple[int | str, ...]


def load_fixture(path: str | Path, store: EmulatorStore) -> None:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read the fixture: {exc.strerror or exc}", file=str(path)
        ) from exc
    load_fixture_text(text, str(path), store)


def load_fixture_text(text: str, source: str, store: EmulatorStore) -> None:
    """Parse ``text`` and seed ``store``; raises ConfigError naming source:line:column."""
    document = _read_yaml(text, source)
    try:
        fixture = Fixture.model_validate({} if document is None else document)
    except ValidationError as exc:
        raise _located(exc.errors()[0], document, source) from None
    _Seeder(fixture, document, source, store).seed()


def _read_yaml(text: str, source: str) -> Any:
    try:
        return YAML(typ="rt").load(text)
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


# --- where a problem is ---------------------------------------------------------------------


def _position(document: Any, loc: Loc, *, at_key: bool = False) -> tuple[int, int]:
    """The 1-based line and column of ``loc`` in the round-trip document: of the deepest node
    on the path the document holds (a shorthand's implied key is its string), of the key itself
    when ``at_key``."""
    line, column = 0, 0
    node: Any = document
    for index, step in enumerate(loc):
        last = index == len(loc) - 1
        lc: Any = getattr(node, "lc", None)
        if isinstance(node, dict) and step in node and lc is not None:
            line, column = lc.key(step) if last and at_key else lc.value(step)
            node = node[step]
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            line, column = lc.item(step)
            node = node[step]
        else:
            break
    return line + 1, column + 1


def _model_at(loc: Loc) -> type[FixtureModel]:
    """The kind of entry ``loc`` leads to (list indices stay on their list's kind)."""
    model: type[FixtureModel] = Fixture
    for step in loc:
        if not isinstance(step, str) or step not in model.model_fields:
            continue
        annotation = model.model_fields[step].annotation
        inner = getattr(annotation, "__args__", ())
        found = [kind for kind in inner if isinstance(kind, type) and issubclass(kind, BaseModel)]
        if found and issubclass(found[0], FixtureModel):
            model = found[0]
    return model


def _field(loc: Loc) -> str:
    return next((str(step) for step in reversed(loc) if isinstance(step, str)), "the fixture")


def _message(error: ErrorDetails) -> tuple[str, Loc, bool]:
    """The words of a pydantic error, the path it is about, and whether that is a key."""
    loc: Loc = tuple(error["loc"])
    kind, field = error["type"], _field(loc)
    if kind == VERBATIM:
        return error["msg"], loc, False
    if kind == AFTER_FIELD:
        return f"{field} {error['msg']}", loc, False
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        allowed = ", ".join(sorted(info.alias or name for name, info in model.model_fields.items()))
        return f"unknown key {loc[-1]!r} in {model.WHAT} (allowed: {allowed})", loc, True
    if kind == "missing":
        return f"{_model_at(loc[:-1]).WHAT} needs {field}", loc[:-1], False
    if kind == "literal_error":
        return f"{field} must be {error.get('ctx', {}).get('expected')}", loc, False
    if kind == "too_short" and isinstance(error.get("input"), list):
        return f"{field} must not be an empty list", loc, False
    if kind in ("string_type", "string_too_short", "too_short"):
        return f"{field} must be a non-empty string", loc, False
    if kind == "bool_type":
        return f"{field} must be true or false", loc, False
    if kind == "list_type":
        return f"{field} must be a list", loc, False
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{_model_at(loc).WHAT} must be a mapping", loc, False
    return f"{field}: {error['msg']}", loc, False


def _located(error: ErrorDetails, document: Any, source: str) -> ConfigError:
    message, loc, at_key = _message(error)
    line, column = _position(document, loc, at_key=at_key)
    return ConfigError(message, file=source, line=line, column=column)


# --- seeding ----------------------------------------------------------------------------------


class _Seeder:
    """Writes a checked fixture; what only the store can tell (an owner, a client's instance)
    is still located in the file."""

    def __init__(self, fixture: Fixture, document: Any, source: str, store: EmulatorStore):
        self._fixture = fixture
        self._document = document
        self._source = source
        self._store = store

    def _error(self, message: str, loc: Loc) -> ConfigError:
        line, column = _position(self._document, loc)
        return ConfigError(message, file=self._source, line=line, column=column)

    def seed(self) -> None:
        known = [*self._store.account_ids()]
        known += [a.access_key_id for a in self._fixture.accounts if a.access_key_id not in known]
        owners = [
            self._owner(instance, ("instances", index), known)
            for index, instance in enumerate(self._fixture.instances)
        ]
        for index, instance in enumerate(self._fixture.instances):
            self._check_permission_parents(instance, ("instances", index))
        for account in self._fixture.accounts:
            self._store.add_account(
                account.access_key_id,
                account.access_key_secret,
                sts_tokens=[(token.token, token.expires) for token in account.sts_tokens],
            )
        for index, (instance, owner) in enumerate(
            zip(self._fixture.instances, owners, strict=True)
        ):
            self._instance(instance, owner, ("instances", index))

    def _check_permission_parents(self, instance: Instance, loc: Loc) -> None:
        """A permission's parent topic must be the instance's (in the file or the store), as
        the service requires."""
        for index, permission in enumerate(instance.permissions):
            parent = parent_of(permission.topic)
            if parent not in instance.topics and not self._store.has_topic(
                instance.instance_id, parent
            ):
                raise self._error(
                    f"the parent topic {parent!r} of {permission.topic!r} is not one of the"
                    " instance's topics (add it to topics:)",
                    (*loc, "permissions", index, "topic"),
                )

    def _owner(self, instance: Instance, loc: Loc, known: Sequence[str]) -> str | None:
        """The AccessKeyId owning the instance: ``account``, else the only account (None when
        there is none yet); with several accounts the fixture must say which."""
        if instance.account is not None:
            if instance.account not in known:
                raise self._error(
                    f"account {instance.account!r} is not an access_key_id of the accounts",
                    (*loc, "account"),
                )
            return instance.account
        if len(known) > 1:
            raise self._error(
                f"an instance needs account: (the access_key_id of its owner) when there are"
                f" {len(known)} accounts",
                loc,
            )
        return known[0] if known else None

    def _instance(self, instance: Instance, owner: str | None, loc: Loc) -> None:
        store, instance_id = self._store, instance.instance_id
        try:
            store.add_instance(
                instance_id,
                region=instance.region,
                independent_naming=instance.independent_naming,
                topics=instance.topics,
                owner=owner,
                edition=instance.edition,
                custom_auth_capacity=instance.custom_auth_capacity,
            )
        except ValueError as exc:
            raise self._error(str(exc), loc) from exc
        for group in instance.groups:
            store.add_group(
                instance_id,
                group.group_id,
                topic=group.topic,
                create_time=group.create_time,
                update_time=group.update_time,
            )
        for index, device in enumerate(instance.devices):
            try:
                store.add_client(
                    device.client_id,
                    instance_id=instance_id,
                    online=device.online,
                    last_touch=device.last_touch,
                    socket=device.socket,
                    subscriptions=[
                        Subscription(s.parent_topic, s.sub_topic, s.qos)
                        for s in device.subscriptions
                    ],
                )
            except ValueError as exc:
                raise self._error(str(exc), (*loc, "devices", index, "client_id")) from exc
        self._custom_auth(instance)
        for online in instance.online_history:
            moments = online.moments()
            counts = cycled(online.count, len(moments))
            store.add_online_samples(
                instance_id,
                online.group_id,
                [(at, int(count)) for at, count in zip(moments, counts, strict=True)],
            )
        for traffic in instance.message_history:
            moments = traffic.moments()
            rates = cycled(traffic.tps, len(moments))
            totals = cycled(traffic.total, len(moments))
            store.add_message_samples(
                instance_id,
                traffic.parent_topic,
                [
                    (at, rate, int(total))
                    for at, rate, total in zip(moments, rates, totals, strict=True)
                ],
                trans_type=traffic.trans_type,
                msg_type=traffic.msg_type,
                qos=traffic.qos,
                sub_topic=traffic.sub_topic,
            )

    def _custom_auth(self, instance: Instance) -> None:
        store, instance_id = self._store, instance.instance_id
        for identity in instance.identities:
            store.add_identity(
                IdentityRecord(
                    instance_id,
                    identity.type,
                    identity.username,
                    identity.client_id or "",
                    identity.secret,
                    identity.sign_mode,
                )
            )
        for permission in instance.permissions:
            store.add_permission(
                PermissionRecord(
                    instance_id,
                    permission.identity_type,
                    permission.identity,
                    permission.topic,
                    permission.effect,
                    permission.permit_action,
                )
            )
        for entry in instance.blacklist:
            store.add_blacklisted(instance_id, entry.client_id)
