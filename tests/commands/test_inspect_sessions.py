"""``inspect client`` through the OnsMqtt 2020-04-20 API and ``inspect clients FILE|-``
through either API, end to end against the emulator (a real HTTP server on port 0)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.commands.inspect_options import Runtime
from reconciler.ratelimit import Rate
from tests.fixtures.emulator import RunningEmulator
from tests.fixtures.inspect_clock import NOW, FakeClock

ONLINE = ("GID_orders@@@pos-1", "GID_orders@@@pos-2", "GID_billing@@@svc-1")
OFFLINE = ("GID_orders@@@pos-3",)  # known to the service, not connected
NEVER_SEEN = tuple(f"GID_orders@@@ghost-{n:02d}" for n in range(8))
NOT_AVAILABLE = (
    "  last touch, socket and subscriptions: not available through the OnsMqtt 2020-04-20 API"
    " (it tells only whether a client is online)"
)


def run(*args: str, stdin: str | None = None, runtime: Runtime | None = None) -> Result:
    return CliRunner().invoke(
        cli, ["inspect", *args], input=stdin, obj=runtime or Runtime(wall_ms=lambda: NOW)
    )


def add_devices(emulator: RunningEmulator) -> None:
    store, instance = emulator.store, emulator.instance_id
    for gid in ("GID_orders", "GID_billing"):
        store.add_group(instance, gid)
    for client_id in ONLINE:
        store.add_client(client_id, instance_id=instance, last_touch=NOW)
    for client_id in OFFLINE:
        store.add_client(client_id, instance_id=instance, online=False, last_touch=NOW)


@pytest.fixture
def devices(emulator: RunningEmulator, workdir: Path) -> RunningEmulator:
    add_devices(emulator)
    return emulator


def id_file(path: Path) -> Path:
    """Twelve distinct ids (two batches of at most ten), a repeat, comments, blank lines."""
    lines = [
        "# devices of the orders shop",
        "",
        *ONLINE,
        "  GID_orders@@@pos-1  ",
        *OFFLINE,
        "# never connected",
        *NEVER_SEEN,
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def expected_rows() -> list[tuple[str, bool]]:
    return sorted(
        [(c, True) for c in ONLINE] + [(c, False) for c in OFFLINE + NEVER_SEEN],
    )


# --- inspect client --api onsmqtt -----------------------------------------------------------


def test_client_through_onsmqtt_says_online_and_what_it_cannot_tell(
    devices: RunningEmulator,
) -> None:
    instance = devices.instance_id
    on = run("client", "GID_orders@@@pos-1", "--api", "onsmqtt", "--instance", instance)
    assert on.exit_code == 0, on.output
    assert on.stdout == f"GID_orders@@@pos-1 ({instance}): online\n{NOT_AVAILABLE}\n"
    # Known but disconnected, and never seen: this API cannot tell them apart.
    for client_id in ("GID_orders@@@pos-3", "GID_orders@@@ghost"):
        off = run("client", client_id, "--api", "onsmqtt", "--instance", instance)
        assert off.exit_code == 0, off.output
        assert off.stdout.splitlines()[0] == f"{client_id} ({instance}): offline"


def test_client_through_onsmqtt_json_and_csv(devices: RunningEmulator) -> None:
    instance = devices.instance_id
    args = ("client", "GID_billing@@@svc-1", "--api", "onsmqtt", "--instance", instance)
    data = json.loads(run(*args, "--format", "json").stdout)
    assert data == {
        "client_id": "GID_billing@@@svc-1",
        "instance_id": instance,
        "api": "onsmqtt",
        "online": True,
        "last_touch": None,
        "last_touch_ms": None,
        "socket": None,
        "subscriptions": None,
    }
    rows = list(csv.reader(io.StringIO(run(*args, "--format", "csv").stdout)))
    assert rows == [
        ["client_id", "online", "last_touch", "socket", "parent_topic", "sub_topic", "qos"],
        ["GID_billing@@@svc-1", "true", "", "", "", "", ""],
    ]
    # The ONS answer names its API too, and keeps its subscriptions a list.
    ons = json.loads(
        run("client", "GID_billing@@@svc-1", "--instance", instance, "--format", "json").stdout
    )
    assert ons["api"] == "ons" and ons["subscriptions"] == []


# --- inspect clients ------------------------------------------------------------------------


def test_clients_from_a_file_through_onsmqtt_two_batch_calls(
    devices: RunningEmulator, workdir: Path
) -> None:
    path = id_file(workdir / "ids.txt")
    instance = devices.instance_id
    result = CliRunner().invoke(
        cli,
        ["--debug", "inspect", "clients", str(path), "--api", "onsmqtt", "--instance", instance],
        obj=Runtime(wall_ms=lambda: NOW),
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["client", "id", "online"]
    body = [line.split() for line in lines[2:-1]]
    assert body == [[c, "online" if on else "offline"] for c, on in expected_rows()]
    assert lines[-1] == f"3 online, 9 offline ({instance})"
    # Twelve ids: one call with ten, one with two (the repeat asked once).
    calls = [
        line
        for line in result.stderr.splitlines()
        if "BatchQuerySessionByClientIds attempt" in line
    ]
    assert len(calls) == 2
    assert "ClientIdList.10" in calls[0] and "ClientIdList.3" not in calls[1]
    assert "ClientIdList.2" in calls[1]


def test_clients_from_stdin_as_json_and_csv(devices: RunningEmulator, workdir: Path) -> None:
    text = id_file(workdir / "ids.txt").read_text(encoding="utf-8")
    instance = devices.instance_id
    args = ("clients", "-", "--api", "onsmqtt", "--instance", instance)
    result = run(*args, "--format", "json", stdin=text)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data == {
        "instance_id": instance,
        "api": "onsmqtt",
        "calls": 2,
        "online": 3,
        "offline": 9,
        "clients": [{"client_id": c, "online": on} for c, on in expected_rows()],
    }
    rows = list(csv.reader(io.StringIO(run(*args, "--format", "csv", stdin=text).stdout)))
    assert rows == [["client_id", "online"]] + [
        [c, "true" if on else "false"] for c, on in expected_rows()
    ]


def test_clients_through_ons_ask_one_id_a_call(devices: RunningEmulator, workdir: Path) -> None:
    path = id_file(workdir / "ids.txt")
    result = run("clients", str(path), "--instance", devices.instance_id, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["api"] == "ons" and data["calls"] == 12
    # A client the service has never seen is offline, as through onsmqtt.
    assert [(c["client_id"], c["online"]) for c in data["clients"]] == expected_rows()
    assert result.stderr == ""  # 12 calls fit the bucket of 30: nothing to announce


# --- pacing ---------------------------------------------------------------------------------


@pytest.fixture
def paced(
    paced_emulator: tuple[RunningEmulator, FakeClock],
) -> tuple[RunningEmulator, FakeClock]:
    add_devices(paced_emulator[0])
    return paced_emulator


def many_ids(workdir: Path, count: int) -> Path:
    path = workdir / "many.txt"
    path.write_text("".join(f"GID_orders@@@dev-{n:03d}\n" for n in range(count)), encoding="utf-8")
    return path


def test_forty_ids_through_ons_are_announced_paced_and_reported(
    paced: tuple[RunningEmulator, FakeClock], workdir: Path
) -> None:
    emulator, clock = paced
    started = clock.now
    runtime = Runtime(clock=clock.monotonic, sleep=clock.sleep, wall_ms=lambda: NOW)
    result = run(
        "clients", str(many_ids(workdir, 40)), "--instance", emulator.instance_id,
        "--format", "csv", runtime=runtime,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 41
    assert result.stderr.startswith(
        "40 calls of OnsMqttQueryClientByClientId, about 20 s at 30 a minute\n"
    )
    assert "waited 20 s for the rate limit" in result.stderr
    assert "Throttling" not in result.stderr
    assert clock.now - started == pytest.approx(20.0, abs=0.5)


def test_batches_beyond_the_onsmqtt_bucket_are_announced(
    paced: tuple[RunningEmulator, FakeClock], workdir: Path
) -> None:
    emulator, clock = paced
    runtime = Runtime(
        clock=clock.monotonic,
        sleep=clock.sleep,
        wall_ms=lambda: NOW,
        rate_limits={"BatchQuerySessionByClientIds": Rate(1, 1.0)},
    )
    result = run(
        "clients", str(many_ids(workdir, 25)), "--api", "onsmqtt",
        "--instance", emulator.instance_id, "--format", "json", runtime=runtime,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(
        "3 calls of BatchQuerySessionByClientIds, about 2 s at 1 a second\n"
    )
    data = json.loads(result.stdout)
    assert data["calls"] == 3 and data["offline"] == 25


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "GID_orders@@@pos-1\n# ok\n  no-separator\nGID_x@@@\n",
            "many.txt:3:3: client id 'no-separator' is not GROUP_ID@@@DEVICE_ID"
            " (and 1 more bad lines: 4)",
        ),
        (
            "GID_orders@@@" + "d" * 52 + "\n",
            f"many.txt:1:1: client id 'GID_orders@@@{'d' * 52}' is 65 characters long; the"
            " service allows at most 64",
        ),
        (
            "GID_orders@@@pos 1\n",
            "many.txt:1:1: client id 'GID_orders@@@pos 1' contains a space: a client"
            " id is printable characters other than whitespace and '/'",
        ),
        ("# nothing\n\n", "many.txt: no client ids (one GROUP_ID@@@DEVICE_ID a line)"),
    ],
)
def test_a_bad_id_file_is_one_located_usage_error(
    devices: RunningEmulator, workdir: Path, content: str, message: str
) -> None:
    (workdir / "many.txt").write_text(content, encoding="utf-8")
    for api in ("ons", "onsmqtt"):
        result = run("clients", "many.txt", "--api", api, "--instance", devices.instance_id)
        assert result.exit_code == 1
        (line,) = result.stderr.splitlines()
        assert line.startswith(f"Error: {message}")


def test_bad_input_streams_are_usage_errors(devices: RunningEmulator, workdir: Path) -> None:
    (workdir / "latin1.txt").write_bytes(b"GID_orders@@@caf\xe9\n")
    for args, fragment in (
        (("clients", "missing.txt"), "'missing.txt' does not exist"),
        (("clients", "latin1.txt"), "latin1.txt: not UTF-8 text (byte 17)"),
    ):
        result = run(*args, "--instance", devices.instance_id)
        assert result.exit_code == 1
        (line,) = result.stderr.splitlines()
        assert fragment in line
    result = run("clients", "-", "--instance", devices.instance_id, stdin="bad id\n")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: <stdin>:1:1: client id 'bad id' is not GROUP_ID@@@")


def test_an_unknown_instance_is_one_line_through_onsmqtt(
    devices: RunningEmulator, workdir: Path
) -> None:
    path = id_file(workdir / "ids.txt")
    expected = (
        "Error: instance post-cn-nowhere not found in region cn-hangzhou (InstanceNotFound)\n"
    )
    for args in (("client", "GID_orders@@@pos-1"), ("clients", str(path))):
        result = run(*args, "--api", "onsmqtt", "--instance", "post-cn-nowhere")
        assert result.exit_code == 1
        assert result.stderr == expected


def test_onsmqtt_needs_an_instance(devices: RunningEmulator, workdir: Path) -> None:
    path = id_file(workdir / "ids.txt")
    for args in (("client", "GID_orders@@@pos-1"), ("clients", str(path))):
        result = run(*args, "--api", "onsmqtt")
        assert result.exit_code == 1
        (line,) = result.stderr.splitlines()
        assert "--instance ID is required" in line


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("group", "GID_orders"), "which cannot count a GID's online clients"),
        (("topic", "orders"), "which cannot count a topic's subscribers"),
        (("history", "GID_orders", "--since", "1h"), "which keeps no online history"),
        (("trend", "orders", "--direction", "pub"), "which reports no message trends"),
    ],
)
def test_the_ons_only_commands_refuse_onsmqtt_in_one_line(
    devices: RunningEmulator, args: tuple[str, ...], fragment: str
) -> None:
    result = run(*args, "--api", "onsmqtt", "--instance", devices.instance_id)
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: inspect ") and fragment in line
    assert f"instance {devices.instance_id} is asked through onsmqtt" in line
    instance = run("instance", devices.instance_id, "--api", "onsmqtt")
    assert instance.exit_code == 1 and "inspect clients FILE" in instance.stderr


# --- the API from the desired-state file ------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "instance"),
    [("provider:\n  api: onsmqtt\n", ""), ("", "    api: onsmqtt\n")],
)
def test_the_file_says_which_api_and_api_overrides_it(
    devices: RunningEmulator, workdir: Path, provider: str, instance: str
) -> None:
    (workdir / "reconciler.yaml").write_text(
        f"version: 1\n{provider}instances:\n  - id: {devices.instance_id}\n{instance}"
        "    groups: [GID_orders]\n",
        encoding="utf-8",
    )
    path = id_file(workdir / "ids.txt")
    through_file = run("clients", str(path), "--format", "json")
    assert through_file.exit_code == 0, through_file.output
    assert json.loads(through_file.stdout)["api"] == "onsmqtt"
    assert json.loads(through_file.stdout)["calls"] == 2
    overridden = run("clients", str(path), "--api", "ons", "--format", "json")
    assert json.loads(overridden.stdout)["api"] == "ons"
    refused = run("group", "GID_orders")
    assert refused.exit_code == 1 and "is asked through onsmqtt" in refused.stderr
    assert run("group", "GID_orders", "--api", "ons").exit_code == 0


def test_a_file_of_several_instances_asks_to_name_one(
    devices: RunningEmulator, workdir: Path
) -> None:
    (workdir / "gids.yaml").write_text(
        "version: 1\nprovider:\n  api: onsmqtt\ninstances:\n"
        f"  - id: {devices.instance_id}\n    groups: [GID_orders]\n"
        "  - id: post-cn-other\n    groups: [GID_orders]\n",
        encoding="utf-8",
    )
    expected = (
        f"gids.yaml declares 2 instances ({devices.instance_id}, post-cn-other): "
        "name one with --instance"
    )
    for args in (
        ("group", "GID_orders"),
        ("trend", "orders", "--direction", "pub"),
        ("client", "GID_orders@@@pos-1"),
    ):
        result = run(*args, "-c", "gids.yaml")
        assert result.exit_code != 0
        (line,) = result.stderr.splitlines()
        assert line.startswith(f"Error: {expected}"), line
    named = run("group", "GID_orders", "-c", "gids.yaml", "--instance", devices.instance_id)
    assert f"instance {devices.instance_id} is asked through onsmqtt" in named.stderr


def test_onsmqtt_without_an_instance_or_file_says_what_to_use(devices: RunningEmulator) -> None:
    result = run("group", "GID_orders", "--api", "onsmqtt")
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert "but the API asked is onsmqtt (OnsMqtt 2020-04-20)" in line
    assert line.endswith("use --api ons to ask the shared-namespace instances of cn-hangzhou")


def test_config_may_be_a_directory_as_for_the_other_commands(
    devices: RunningEmulator, workdir: Path
) -> None:
    # The desired state split across files: the API and the instance come from the directory.
    (workdir / "gids" / "teams").mkdir(parents=True)
    (workdir / "gids" / "platform.yaml").write_text(
        f"version: 1\nprovider:\n  api: onsmqtt\ninstances:\n  - id: {devices.instance_id}\n",
        encoding="utf-8",
    )
    (workdir / "gids" / "teams" / "orders.yaml").write_text(
        f"instances:\n  - id: {devices.instance_id}\n    groups: [GID_orders]\n",
        encoding="utf-8",
    )
    path = id_file(workdir / "ids.txt")
    result = run("clients", str(path), "-c", "gids", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["api"] == "onsmqtt"
    refused = run("group", "GID_orders", "--config", "gids/")
    assert refused.exit_code == 1
    assert f"instance {devices.instance_id} is asked through onsmqtt" in refused.stderr
