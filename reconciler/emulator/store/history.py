"""History: online counts per GID and message traffic per topic series, over time, as a fixture
seeds them or the MQTT listener counts them; the history and trend actions read them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import astuple, dataclass

from reconciler.emulator.store.database import Database


@dataclass(frozen=True)
class MessageCount:
    """Messages published (PUB) or delivered (SUB) on one series during the minute ``at_ms``."""

    instance_id: str
    parent_topic: str
    sub_topic: str
    trans_type: str
    msg_type: str
    qos: int
    at_ms: int


@dataclass(frozen=True)
class StatsPoint:
    x: int
    y: float


class History(Database):
    SCHEMA = """
CREATE TABLE IF NOT EXISTS online_history (
    instance_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (instance_id, group_id, at_ms)
);
CREATE TABLE IF NOT EXISTS message_history (
    instance_id TEXT NOT NULL,
    parent_topic TEXT NOT NULL,
    sub_topic TEXT NOT NULL,
    trans_type TEXT NOT NULL,
    msg_type TEXT NOT NULL,
    qos INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    tps REAL NOT NULL,
    total INTEGER NOT NULL,
    -- One sample per series and moment, so re-applying a fixture does not double the traffic.
    PRIMARY KEY (instance_id, parent_topic, trans_type, at_ms, sub_topic, msg_type, qos)
);
"""

    def add_online_samples(
        self, instance_id: str, group_id: str, samples: Iterable[tuple[int, int]]
    ) -> None:
        """Many ``(at_ms, count)`` samples in one transaction (days of minutes are thousands)."""
        with self.transaction() as db:
            self._require_instance(db, instance_id)
            db.executemany(
                "INSERT OR REPLACE INTO online_history VALUES (?, ?, ?, ?)",
                [(instance_id, group_id, at_ms, count) for at_ms, count in samples],
            )

    def add_message_samples(
        self,
        instance_id: str,
        parent_topic: str,
        samples: Iterable[tuple[int, float, int]],
        *,
        trans_type: str,
        msg_type: str = "SUB",
        qos: int = 0,
        sub_topic: str = "",
    ) -> None:
        """Many ``(at_ms, tps, total)`` measurements of one series in one transaction."""
        if (
            trans_type not in ("PUB", "SUB")
            or msg_type not in ("P2P", "SUB")
            or qos not in (0, 1, 2)
        ):
            raise ValueError("trans_type is PUB|SUB, msg_type P2P|SUB, qos 0|1|2")
        with self.transaction() as db:
            self._require_instance(db, instance_id)
            db.executemany(
                "INSERT OR REPLACE INTO message_history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        instance_id,
                        parent_topic,
                        sub_topic,
                        trans_type,
                        msg_type,
                        qos,
                        at,
                        tps,
                        total,
                    )
                    for at, tps, total in samples
                ],
            )

    def online_history(
        self, instance_id: str, group_id: str, begin_ms: int, end_ms: int
    ) -> list[StatsPoint]:
        rows = self._query(
            "SELECT at_ms, count FROM online_history WHERE instance_id = ? AND group_id = ?"
            " AND at_ms BETWEEN ? AND ? ORDER BY at_ms",
            (instance_id, group_id, begin_ms, end_ms),
        )
        return [StatsPoint(x, float(y)) for x, y in rows]

    def message_trend(
        self,
        instance_id: str,
        parent_topic: str,
        begin_ms: int,
        end_ms: int,
        *,
        trans_type: str,
        summed: bool,
        sub_topic: str | None = None,
        msg_type: str | None = None,
        qos: int | None = None,
    ) -> list[StatsPoint]:
        """Per time point, the rate (``summed=False``) or total of every matching series."""
        column = "total" if summed else "tps"
        sql = (
            f"SELECT at_ms, SUM({column}) FROM message_history"  # noqa: S608
            " WHERE instance_id = ? AND parent_topic = ? AND trans_type = ?"
            " AND at_ms BETWEEN ? AND ?"
        )
        args: list[object] = [instance_id, parent_topic, trans_type, begin_ms, end_ms]
        for name, value in (("sub_topic", sub_topic), ("msg_type", msg_type), ("qos", qos)):
            if value is not None:
                sql += f" AND {name} = ?"
                args.append(value)
        rows = self._query(sql + " GROUP BY at_ms ORDER BY at_ms", args)
        return [StatsPoint(x, float(y)) for x, y in rows]

    def add_message_counts(self, counts: Mapping[MessageCount, int]) -> None:
        """Add live message counts to their minutes (the rate is the minute's total / 60)."""
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO message_history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT DO UPDATE SET total = total + excluded.total,"
                " tps = (total + excluded.total) / 60.0",
                # A MessageCount's fields are the table's key columns, in their order.
                [(*astuple(key), number / 60.0, number) for key, number in counts.items()],
            )
