"""``reconciler inspect`` end to end against the emulator (a real HTTP server on port 0):
every command in every format, the day-window seams, pacing under the 30/min limit, and
every error a user can meet."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.commands.inspect_options import Runtime
from reconciler.emulator.store import Subscription
from reconciler.ratelimit import Rate
from tests.fixtures.emulator import RunningEmulator
from tests.fixtures.inspect_clock import BASE, DAY, MINUTE, NOW, FakeClock


def run(*args: str, runtime: Runtime | None = None) -> Result:
    return CliRunner().invoke(cli, ["inspect", *args], obj=runtime or Runtime(wall_ms=lambda: NOW))


@pytest.fixture
def world(emulator: RunningEmulator, workdir: Path) -> RunningEmulator:
    """GIDs, devices, four days of one-minute history and a topic with P2P and SUB traffic
    at each QoS, in both directions."""
    store, instance = emulator.store, emulator.instance_id
    for gid in ("GID_orders", "GID_billing", "GID_idle"):
        store.add_group(instance, gid)
    store.add_client(
        "GID_orders@@@pos-1",
        instance_id=instance,
        last_touch=NOW - 5 * MINUTE,
        socket="/10.0.0.7:50112",
        subscriptions=[Subscription("orders", "/store/1/", 1), Subscription("orders", "", 0)],
    )
    store.add_client("GID_orders@@@pos-2", instance_id=instance, last_touch=NOW)
    store.add_client("GID_billing@@@svc-1", instance_id=instance, last_touch=NOW)
    store.add_client("GID_orders@@@pos-3", instance_id=instance, online=False, last_touch=NOW)
    store.add_online_samples(
        instance, "GID_orders", [(BASE + i * MINUTE, i % 17) for i in range(4 * 1440 + 1)]
    )
    for direction in ("PUB", "SUB"):
        for msg_type in ("P2P", "SUB"):
            for qos in (0, 1, 2):
                # A distinct rate per series, so each filter's answer is recognisable.
                tps = {"PUB": 100, "SUB": 200}[direction] + {"P2P": 10, "SUB": 20}[msg_type] + qos
                store.add_message_samples(
                    instance,
                    "orders",
                    [(NOW - i * MINUTE, float(tps), tps * 60) for i in range(120)],
                    trans_type=direction,
                    msg_type=msg_type,
                    qos=qos,
                )
    return emulator


def history_points(begin: int, end: int) -> list[tuple[int, int]]:
    return [
        (BASE + i * MINUTE, i % 17)
        for i in range(4 * 1440 + 1)
        if begin <= BASE + i * MINUTE <= end
    ]


# --- group, topic, client ----------------------------------------------------------------


def test_the_runs_rates_name_actions_of_either_api_whichever_is_asked(
    world: RunningEmulator,
) -> None:
    # One registry paces the clients of both APIs: a rate for an onsmqtt action does not
    # trouble an ons command (the ons client once refused it as an unknown action).
    rates = {"BatchQuerySessionByClientIds": Rate(1, 1.0), "OnsMqttQueryClientByGroupId": None}
    runtime = Runtime(wall_ms=lambda: NOW, rate_limits=rates)
    result = run("group", "GID_orders", "--instance", world.instance_id, runtime=runtime)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"GID_orders ({world.instance_id}): 2 clients online\n"


def test_group_in_every_format(world: RunningEmulator) -> None:
    instance = world.instance_id
    text = run("group", "GID_orders", "--instance", instance)
    assert text.exit_code == 0, text.output
    assert text.stdout == f"GID_orders ({instance}): 2 clients online\n"
    data = json.loads(run("group", "GID_orders", "--instance", instance, "--format", "json").stdout)
    assert data == {"group_id": "GID_orders", "instance_id": instance, "online": 2}
    rows = list(
        csv.reader(
            io.StringIO(run("group", "GID_idle", "--instance", instance, "--format", "csv").stdout)
        )
    )
    assert rows == [["group_id", "instance_id", "online"], ["GID_idle", instance, "0"]]


def test_topic_in_every_format(world: RunningEmulator) -> None:
    instance = world.instance_id
    text = run("topic", "orders", "/store/1/", "--instance", instance)
    assert text.exit_code == 0, text.output
    assert text.stdout == f"orders/store/1/ ({instance}): 1 subscriber online\n"
    data = json.loads(run("topic", "orders", "--instance", instance, "--format", "json").stdout)
    assert data == {"parent_topic": "orders", "sub_topic": "", "instance_id": instance, "online": 1}
    rows = list(
        csv.reader(
            io.StringIO(run("topic", "orders", "--instance", instance, "--format", "csv").stdout)
        )
    )
    assert rows == [
        ["parent_topic", "sub_topic", "instance_id", "online"],
        ["orders", "", instance, "1"],
    ]


def test_client_in_every_format(world: RunningEmulator) -> None:
    instance = world.instance_id
    text = run("client", "GID_orders@@@pos-1", "--instance", instance)
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert lines[0] == f"GID_orders@@@pos-1 ({instance}): online"
    assert lines[1].startswith("  last touch ") and lines[1].endswith("(5 minutes ago)")
    assert lines[2] == "  socket         /10.0.0.7:50112"
    assert lines[3] == "  subscriptions  2"
    assert "parent topic" in lines[4] and "QoS" in lines[4]
    assert any("/store/1/" in line and line.rstrip().endswith("1") for line in lines[5:])
    data = json.loads(
        run("client", "GID_orders@@@pos-1", "--instance", instance, "--format", "json").stdout
    )
    assert data["online"] is True and data["last_touch_ms"] == NOW - 5 * MINUTE
    assert data["last_touch"].endswith("Z") and data["socket"] == "/10.0.0.7:50112"
    assert {"parent_topic": "orders", "sub_topic": "/store/1/", "qos": 1} in data["subscriptions"]
    rows = list(
        csv.reader(
            io.StringIO(
                run(
                    "client", "GID_orders@@@pos-3", "--instance", instance, "--format", "csv"
                ).stdout
            )
        )
    )
    assert rows[0] == [
        "client_id",
        "online",
        "last_touch",
        "socket",
        "parent_topic",
        "sub_topic",
        "qos",
    ]
    assert rows[1][:2] == ["GID_orders@@@pos-3", "false"] and len(rows) == 2


# --- history and trend ---------------------------------------------------------------------


def test_a_three_day_history_gives_each_fixture_point_once_in_order(world: RunningEmulator) -> None:
    begin, end = BASE + 7 * MINUTE, BASE + 7 * MINUTE + 3 * DAY
    result = run(
        "history", "GID_orders", "--instance", world.instance_id,
        "--from", str(begin), "--to", str(end), "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["calls"] == 3
    got = [(p["epoch_ms"], p["value"]) for p in data["points"]]
    expected = history_points(begin, end)
    # Points sit on each seam (begin + 1 day, begin + 2 days): each is there exactly once.
    assert begin + DAY in {at for at, _ in got} and begin + 2 * DAY in {at for at, _ in got}
    assert got == expected
    assert data["summary"] == {"min": 0, "max": 16, "last": expected[-1][1]}
    assert data["from"].endswith("Z") and data["kind"] == "history"


def test_history_csv_and_numbers(world: RunningEmulator) -> None:
    instance = world.instance_id
    result = run(
        "history", "GID_orders", "--instance", instance, "--since", "10m", "--format", "csv"
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["time", "epoch_ms", "value"]
    assert [int(r[1]) for r in rows[1:]] == [at for at, _ in history_points(NOW - 10 * MINUTE, NOW)]
    assert all(r[0].endswith(":00Z") for r in rows[1:])
    # Not on a terminal, text is the numbers (never a chart), then min / max / last.
    numbers = run("history", "GID_orders", "--instance", instance, "--since", "10m")
    lines = numbers.stdout.splitlines()
    assert lines[0].startswith("# GID_orders online clients")
    assert len(lines) == 1 + 11 + 1
    # As the README says: the title, one `time value` line per point, the summary.
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  \d+", line) for line in lines[1:-1])
    assert lines[-1].startswith("min ") and " · max " in lines[-1] and " · last " in lines[-1]
    assert "┌" not in numbers.stdout


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ((), 6 * 100 + 3 * 10 + 3 * 20 + 2 * (0 + 1 + 2)),
        (("--type", "p2p"), 3 * 110 + 3),
        (("--type", "sub", "--qos", "2"), 122),
        (("--qos", "1"), 2 * 100 + 10 + 20 + 2),
    ],
)
def test_trend_filters_by_type_and_qos(
    world: RunningEmulator, filters: tuple[str, ...], expected: int
) -> None:
    result = run(
        "trend", "orders", "--direction", "pub", "--instance", world.instance_id,
        "--since", "1h", "--format", "json", *filters,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["points"] and {p["value"] for p in data["points"]} == {expected}
    assert data["unit"] == "msg/s" and data["filters"]["direction"] == "pub"


def test_trend_sum_sub_direction_csv(world: RunningEmulator) -> None:
    result = run(
        "trend", "orders", "--direction", "sub", "--sum", "--type", "p2p", "--qos", "0",
        "--instance", world.instance_id, "--since", "30m", "--format", "csv",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["time", "epoch_ms", "value"]
    assert len(rows) == 1 + 31 and {r[2] for r in rows[1:]} == {str(210 * 60)}
    text = run(
        "trend",
        "orders",
        "--direction",
        "sub",
        "--instance",
        world.instance_id,
        "--since",
        "30m",
        "--no-chart",
    )
    assert text.exit_code == 0 and text.stdout.splitlines()[-1].startswith("min ")


# --- instance -----------------------------------------------------------------------------


def write_config(path: Path, instance: str, state_gids: list[str]) -> None:
    """A desired file and a local state recording ``state_gids`` of ``instance``."""
    path.write_text(
        f"version: 1\ninstances:\n  - id: {instance}\n    groups: [GID_orders]\n",
        encoding="utf-8",
    )
    resources = [
        {
            "region": "cn-hangzhou", "instance_id": instance, "group_id": gid, "topic": None,
            "protect": False, "origin": "created", "recorded_at": "2026-12-01T00:00:00Z",
        }
        for gid in state_gids
    ]  # fmt: skip
    state = path.parent / ".reconciler" / "state.json"
    state.parent.mkdir()
    state.write_text(
        json.dumps({"format_version": 1, "lineage": "l-1", "serial": 1, "resources": resources}),
        encoding="utf-8",
    )


def test_instance_table_json_csv_marks_the_state_and_takes_no_lock(
    world: RunningEmulator, workdir: Path
) -> None:
    instance = world.instance_id
    write_config(workdir / "reconciler.yaml", instance, ["GID_orders", "GID_idle"])
    text = run("instance", instance)
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    body = [line.split() for line in lines[2:-1]]
    assert body == [
        ["GID_orders", "2", "managed"],
        ["GID_billing", "1"],
        ["GID_idle", "0", "managed"],
    ]
    assert (
        lines[-1] == f"3 GIDs in {instance} (cn-hangzhou), 3 clients online; 2 managed by the state"
    )
    # Read-only: no lock file was made, the state is byte-for-byte unchanged.
    assert not (workdir / ".reconciler" / "state.json.lock").exists()
    assert sorted(p.name for p in (workdir / ".reconciler").iterdir()) == ["state.json"]
    data = json.loads(run("instance", instance, "--format", "json").stdout)
    assert data["groups"][0] == {"group_id": "GID_orders", "online": 2, "managed": True}
    assert data["total_online"] == 3 and data["looked_up"] == 3
    rows = list(
        csv.reader(io.StringIO(run("instance", instance, "--format", "csv", "--limit", "1").stdout))
    )
    assert rows == [
        ["group_id", "online", "managed"],
        ["GID_billing", "1", "false"],
        ["GID_idle", "", "true"],
        ["GID_orders", "", "true"],
    ]


def test_instance_reads_the_state_while_another_run_holds_the_lock(
    world: RunningEmulator, workdir: Path
) -> None:
    from reconciler.commands.options import open_state  # noqa: PLC0415
    from reconciler.state.locking import hold_lock  # noqa: PLC0415

    write_config(workdir / "reconciler.yaml", world.instance_id, ["GID_orders"])
    _, backend = open_state([workdir / "reconciler.yaml"])
    with backend, hold_lock(backend, "apply"):
        result = run("instance", world.instance_id, "--format", "csv")
    assert result.exit_code == 0, result.output
    assert ["GID_orders", "2", "true"] in list(csv.reader(io.StringIO(result.stdout)))


# --- pacing ---------------------------------------------------------------------------------


def test_a_40_call_command_under_30_a_minute_completes_and_reports_its_wait(
    paced_emulator: tuple[RunningEmulator, FakeClock],
) -> None:
    emulator, clock = paced_emulator
    for index in range(40):
        emulator.store.add_group(emulator.instance_id, f"GID_device-{index:02d}")
    started = clock.now
    runtime = Runtime(clock=clock.monotonic, sleep=clock.sleep, wall_ms=lambda: NOW)
    result = run("instance", emulator.instance_id, "--format", "csv", runtime=runtime)
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 41
    stderr = result.stderr
    assert "40 calls of OnsMqttQueryClientByGroupId, about 20 s at 30 a minute" in stderr
    assert "waiting 2s for the 30/min rate limit" in stderr
    assert "waited 20 s for the rate limit" in stderr
    assert "Throttling" not in stderr  # paced, never refused
    assert clock.now - started == pytest.approx(20.0, abs=0.5)


def test_a_long_history_says_how_many_calls_before_starting(
    paced_emulator: tuple[RunningEmulator, FakeClock],
) -> None:
    emulator, clock = paced_emulator
    emulator.store.add_group(emulator.instance_id, "GID_orders")
    runtime = Runtime(clock=clock.monotonic, sleep=clock.sleep, wall_ms=lambda: NOW)
    result = run(
        "history", "GID_orders", "--instance", emulator.instance_id, "--since", "31d",
        "--format", "json", runtime=runtime,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # The longest range asked in one command: 31 calls, one more than the bucket holds.
    assert result.stderr.startswith(
        "31 calls of OnsMqttQueryHistoryOnline, about 2 s at 30 a minute\n"
    )
    assert json.loads(result.stdout)["calls"] == 31


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("group", "GID_missing"),
            "Error: GID GID_missing not found in instance {i} (BIZ_SUBSCRIPTION_NOT_FOUND)",
        ),
        (
            ("history", "GID_missing", "--since", "1h"),
            "Error: GID GID_missing not found in instance {i} (BIZ_SUBSCRIPTION_NOT_FOUND)",
        ),
        (("topic", "nope"), "Error: topic nope not found in instance {i} (BIZ_TOPIC_NOT_FOUND)"),
        (
            ("trend", "nope", "--direction", "pub"),
            "Error: topic nope not found in instance {i} (BIZ_TOPIC_NOT_FOUND)",
        ),
        (
            ("client", "GID_orders@@@ghost"),
            "Error: client GID_orders@@@ghost is unknown to instance {i}: it has never been"
            " online (BIZ_CONSUMER_NOT_ONLINE)",
        ),
    ],
)
def test_unknown_things_are_one_line_naming_them(
    world: RunningEmulator, args: tuple[str, ...], message: str
) -> None:
    result = run(*args, "--instance", world.instance_id)
    assert result.exit_code == 1
    assert result.stderr == message.format(i=world.instance_id) + "\n"
    assert "RequestId" not in result.stderr


def test_unknown_instance_is_one_line(world: RunningEmulator) -> None:
    for args in (
        ("instance", "post-cn-nowhere"),
        ("group", "GID_orders", "--instance", "post-cn-nowhere"),
    ):
        result = run(*args)
        assert result.exit_code == 1
        assert result.stderr.splitlines()[-1] == (
            "Error: instance post-cn-nowhere not found in region cn-hangzhou"
            " (BIZ_INSTANCE_NOT_FOUND)"
        )


def test_debug_adds_the_request_id(world: RunningEmulator) -> None:
    result = CliRunner().invoke(
        cli, ["--debug", "inspect", "group", "GID_missing", "--instance", world.instance_id],
        obj=Runtime(wall_ms=lambda: NOW),
    )  # fmt: skip
    assert result.exit_code == 1
    last = result.stderr.splitlines()[-1]
    assert last.startswith("Error: GID GID_missing not found") and "[RequestId " in last


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("history", "GID_orders", "--since", "yesterday-ish"), "'yesterday-ish' is not a time"),
        (
            ("trend", "orders", "--direction", "pub", "--from", "1h", "--to", "2h"),
            "--from (1h) is after --to (2h)",
        ),
        (
            ("history", "GID_orders", "--since", "1h", "--from", "2h"),
            "give --since, or --from/--to, not both",
        ),
    ],
)
def test_bad_times_are_usage_errors_showing_the_accepted_forms(
    world: RunningEmulator, args: tuple[str, ...], fragment: str
) -> None:
    result = run(*args, "--instance", world.instance_id)
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert fragment in line
    if "not both" not in fragment:
        assert "30m, 6h, 7d" in line and "ISO 8601" in line and "epoch ms" in line


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (
            ("history", "GID_orders", "--since", "100000d"),
            "--since 100000d to now spans 100000 days",
        ),
        (
            ("trend", "orders", "--direction", "pub", "--from", "40d", "--to", "8d12h"),
            "--from 40d to 8d12h spans 31.5 days",
        ),
    ],
)
def test_a_range_longer_than_31_days_is_refused_before_any_call(
    world: RunningEmulator, args: tuple[str, ...], fragment: str
) -> None:
    # Nothing listens on the endpoint: a call would fail with a connection error instead.
    result = run(*args, "--instance", world.instance_id, "--endpoint", "http://127.0.0.1:9")
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert fragment in line and "at most 31 days per command" in line, line


@pytest.mark.slow  # 31 calls under the real 30/min limit: 2 to 4 s
def test_a_range_of_31_days_is_asked_in_one_command(world: RunningEmulator) -> None:
    result = run("history", "GID_orders", "--since", "31d", "--instance", world.instance_id)
    assert result.exit_code == 0, result.output


def test_bad_names_are_usage_errors(world: RunningEmulator) -> None:
    for args in (("group", "orders"), ("client", "no-separator"), ("trend", "orders")):
        result = run(*args, "--instance", world.instance_id)
        assert result.exit_code == 1, args
        assert len(result.stderr.splitlines()) == 1


def test_trend_needs_an_instance(world: RunningEmulator) -> None:
    result = run("trend", "orders", "--direction", "pub")
    assert result.exit_code == 1
    assert "--instance ID is required" in result.stderr
