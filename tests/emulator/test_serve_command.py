"""``reconciler emulator serve`` as a real process: URL line, SDK calls, clean stop, restarts."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import pytest
from aliyunsdkcore.client import AcsClient
from aliyunsdkons.request.v20190214.OnsMqttGroupIdCreateRequest import OnsMqttGroupIdCreateRequest
from aliyunsdkons.request.v20190214.OnsMqttGroupIdListRequest import OnsMqttGroupIdListRequest

from reconciler.emulator.embedded import DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET
from tests.fixtures.emulator import TEST_ACCESS_KEY_SECRET, start_emulator_process
from tests.fixtures.runs import ROOT
from tests.fixtures.wire import signed_call


def _core(process, request, **params):
    client = AcsClient(process.access_key_id, process.access_key_secret, process.region)
    request.set_endpoint(process.url.removeprefix("http://"))
    request.set_protocol_type("http")
    for name, value in params.items():
        getattr(request, f"set_{name}")(value)
    return json.loads(client.do_action_with_exception(request))


def _listed(process):
    body = _core(process, OnsMqttGroupIdListRequest(), InstanceId=process.instance_id)
    return [row["GroupId"] for row in body["Data"]["MqttGroupIdDo"]]


def test_serve_drives_the_core_sdk_and_stops_cleanly_on_sigint(emulator_process):
    _core(
        emulator_process,
        OnsMqttGroupIdCreateRequest(),
        GroupId="GID_proc",
        InstanceId=emulator_process.instance_id,
        Topic="orders",
    )
    assert _listed(emulator_process) == ["GID_proc"]
    assert emulator_process.stop(signal.SIGINT) == 0
    out = emulator_process.process.stdout.read()
    err = emulator_process.process.stderr.read()
    printed = emulator_process.first_lines[0] + out + err
    assert (
        "accepting AccessKeyId LTAI5tEmulatorTestKey (secret from --access-key-secret)" in printed
    )
    assert TEST_ACCESS_KEY_SECRET not in printed
    assert "emulator stopped" in out


def test_sigterm_also_exits_zero():
    process = start_emulator_process()
    try:
        assert process.stop(signal.SIGTERM) == 0
    finally:
        process.process.stdout.close()
        process.process.stderr.close()


def test_db_survives_a_restart(tmp_path):
    db = tmp_path / "emulator.sqlite"
    first = start_emulator_process(db=db)
    try:
        _core(
            first, OnsMqttGroupIdCreateRequest(), GroupId="GID_kept", InstanceId=first.instance_id
        )
        created = _core(first, OnsMqttGroupIdListRequest(), InstanceId=first.instance_id)
    finally:
        assert first.stop() == 0
        first.process.stdout.close()
        first.process.stderr.close()
    second = start_emulator_process(db=db)
    try:
        again = _core(second, OnsMqttGroupIdListRequest(), InstanceId=second.instance_id)
        strip = lambda body: body["Data"]["MqttGroupIdDo"]  # noqa: E731
        assert strip(again) == strip(created)  # same names and the same CreateTime
    finally:
        second.stop()
        second.process.stdout.close()
        second.process.stderr.close()


def _run(*args, timeout=30):
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "emulator", "serve", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--throttle", "OnsMqttNope=1/s"], "--throttle"),
        (["--throttle", "CreateGroupIdx=1/s"], "--throttle"),
        (["--throttle", "OnsMqttGroupIdList=fast"], "not a rate"),
        (["--topic", "no-equals"], "INSTANCE=TOPIC"),
        (["--topic", "post-cn-undeclared=orders", "--port", "0"], "not declared"),
        (["--access-key-id", "only-the-id"], "together"),
        (["--fault-rate", "2"], "--fault-rate"),
        (["--mqtt-queue-bytes", "lots"], "not a size such as 16MiB"),
        (["--mqtt-queue-bytes", "1KiB"], "less than one message of the largest size"),
        (["--mqtt-queue-bytes", "2MiB", "--mqtt-queue-total-bytes", "1MiB"], "less than one"),
    ],
    ids=[
        "unknown action",
        "unknown 2020-04-20 action",
        "bad rate",
        "topic without =",
        "undeclared instance",
        "half key",
        "fault rate",
        "queue bound not a size",
        "queue bound too small",
        "total queue bound under one session's",
    ],
)
def test_bad_options_are_one_line_errors(args, words):
    result = _run(*args)
    assert result.returncode != 0
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(error_lines) == 1 and words in error_lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_bad_fixture_is_a_located_error(tmp_path):
    fixture = tmp_path / "world.yaml"
    fixture.write_text("instances:\n  - instance_id: x\n    colour: red\n")
    result = _run("--fixture", str(fixture), "--port", "0")
    assert result.returncode == 1
    assert f"{fixture}:3:5: unknown key 'colour'" in result.stderr


def test_dev_credentials_when_none_given_and_throttle_override_printed():
    process = start_emulator_process(
        "--throttle", "OnsMqttGroupIdList=2/s", "--throttle", "OnsMqttQueryClientByTopic=off"
    )
    try:
        process.stop()
        out = process.process.stdout.read()
    finally:
        process.process.stdout.close()
        process.process.stderr.close()
    assert "OnsMqttGroupIdList=2/s" in out
    assert "OnsMqttQueryClientByTopic" not in out


def _popen(*args, env=None):
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "emulator", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    first = process.stdout.readline()
    assert first.startswith("reconciler emulator listening on http://127.0.0.1:"), first
    return process, first.split(" on ", 1)[1].strip()


def _finish(process):
    """SIGINT, then everything printed after the first line; asserts exit 0."""
    try:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
        return process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()
        process.stderr.close()


def test_fixture_credentials(tmp_path):
    fixture = tmp_path / "world.yaml"
    fixture.write_text("accounts:\n  - {access_key_id: LTAI-fix, access_key_secret: fix-secret}\n")
    process, url = _popen("--fixture", str(fixture))
    response = signed_call(url, "OnsMqttGroupIdList", {}, key="LTAI-fix", secret="fix-secret")
    assert response.json()["Code"] == "MissingParameter"  # authenticated; no instance named
    rest = _finish(process)
    assert "accepting AccessKeyId LTAI-fix (secret from the fixture)" in rest
    assert "fix-secret" not in rest
    assert DEV_ACCESS_KEY_ID not in rest


def test_secret_from_the_environment_is_named_not_printed():
    env = {**os.environ, "RECONCILER_EMULATOR_ACCESS_KEY_SECRET": "env-secret-value"}
    process, url = _popen("--access-key-id", "LTAI-env", env=env)
    response = signed_call(url, "OnsMqttGroupIdList", {}, key="LTAI-env", secret="env-secret-value")
    assert response.json()["Code"] == "MissingParameter"
    rest = _finish(process)
    assert "LTAI-env (secret from $RECONCILER_EMULATOR_ACCESS_KEY_SECRET)" in rest
    assert "env-secret-value" not in rest


def test_serve_answers_both_products_on_one_port_and_takes_their_throttles():
    process = start_emulator_process(
        "--throttle", "CreateGroupId=off", "--throttle", "ListGroupId=20/s"
    )
    try:
        params = {"GroupId": "GID_v2020", "InstanceId": process.instance_id}
        created = signed_call(
            process.url,
            "CreateGroupId",
            params,
            key=process.access_key_id,
            secret=process.access_key_secret,
            version="2020-04-20",
        )
        assert created.status_code == 200, created.text
        assert _listed(process) == ["GID_v2020"]
        process.stop()
        out = process.process.stdout.read()
    finally:
        process.process.stdout.close()
        process.process.stderr.close()
    throttles = next(line for line in out.splitlines() if line.startswith("throttles:"))
    assert "ListGroupId=20/s" in throttles
    assert "DeleteGroupId=10/s" in throttles
    assert "CreateGroupId" not in throttles


def test_without_a_key_the_development_key_is_printed_ready_to_export():
    """A client needs the secret, not the name of a Python constant holding it."""
    process, url = _popen()
    try:
        lines = []
        while not (line := process.stdout.readline()).startswith("database:"):
            assert line, "the emulator stopped before its start-up lines"
            lines.append(line)
        match = re.search(
            r"export ALIBABA_CLOUD_ACCESS_KEY_ID=(\S+) ALIBABA_CLOUD_ACCESS_KEY_SECRET=(\S+)$",
            "".join(lines),
            re.MULTILINE,
        )
        assert match is not None, lines
        assert match[1] == DEV_ACCESS_KEY_ID
        response = signed_call(url, "OnsMqttGroupIdList", {}, key=match[1], secret=match[2])
        assert response.json()["Code"] == "MissingParameter"  # authenticated; no instance named
    finally:
        _finish(process)


def test_help_names_the_development_key_and_secret():
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "emulator", "serve", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    # click wraps at hyphens too: join a line broken after one before flattening.
    flat = " ".join(re.sub(r"-\n\s*", "-", result.stdout).split())
    assert f"{DEV_ACCESS_KEY_ID} / {DEV_ACCESS_KEY_SECRET}" in flat


def test_an_instance_without_its_owner_among_several_accounts_is_refused(tmp_path):
    fixture = tmp_path / "two.yaml"
    fixture.write_text(
        "accounts:\n"
        "  - {access_key_id: LTAI-a, access_key_secret: secret-a}\n"
        "  - {access_key_id: LTAI-b, access_key_secret: secret-b}\n"
    )
    result = _run("--fixture", str(fixture), "--instance", "post-cn-whose", "--port", "0")
    assert result.returncode != 0
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(error_lines) == 1, result.stderr
    assert "--instance" in error_lines[0] and "--access-key-id" in error_lines[0]
    assert "secret-a" not in result.stderr and "Traceback" not in result.stderr
