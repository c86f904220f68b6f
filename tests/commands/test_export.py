"""`reconciler export` against the emulator, end to end, fed back through `validate`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli, main
from reconciler.config import load_desired
from reconciler.config.export import NO_SCHEMA_COMMENT, ExportedInstance, render_export
from reconciler.config.fmt import format_text
from reconciler.config.loader import load_desired_text_result
from tests.fixtures.emulator import RunningEmulator

GIDS = ["GID_zz-last", "GID_orders", "GID_alpha_1", "GID-dash-form"]


@pytest.fixture
def credentials(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> RunningEmulator:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", emulator.access_key_id)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", emulator.access_key_secret)
    monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)
    monkeypatch.delenv("RECONCILER_ENDPOINT", raising=False)
    return emulator


def test_export_writes_a_file_that_validates(
    credentials: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = credentials
    for gid in GIDS:
        emulator.store.add_group(emulator.instance_id, gid)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "exported.yaml"

    result = CliRunner().invoke(
        cli,
        [
            "export",
            "--instance",
            emulator.instance_id,
            "--region",
            emulator.region,
            "--endpoint",
            emulator.url,
            "-o",
            str(out),
        ],
    )

    assert result.exit_code == 0, result.output
    assert emulator.access_key_secret not in result.output
    text = out.read_text(encoding="utf-8")
    # No checkout above tmp_path: the schema is named, not linked.
    assert text.startswith(NO_SCHEMA_COMMENT)
    assert emulator.url not in text  # the endpoint of one run is not part of the desired state
    validated = CliRunner().invoke(cli, ["validate", str(out)])
    assert validated.exit_code == 0, validated.output
    assert validated.stdout == f"{out}: valid (1 instance, {len(GIDS)} groups)\n"
    state = load_desired(out)
    (instance,) = state.instances
    assert instance.instance_id == emulator.instance_id
    assert instance.region == emulator.region
    assert instance.independent_naming is True
    assert [group.group_id for group in instance.groups] == sorted(GIDS)
    # Exporting is stable: the same listing gives the same bytes.
    again = CliRunner().invoke(
        cli,
        ["export", "--instance", emulator.instance_id, "--endpoint", emulator.url],
    )
    assert again.exit_code == 0
    assert again.stdout.split("\n", 1)[1] == text.split("\n", 1)[1]


def test_export_of_an_empty_instance_is_valid(credentials: RunningEmulator) -> None:
    result = CliRunner().invoke(
        cli, ["export", "--instance", credentials.instance_id, "--endpoint", credentials.url]
    )
    assert result.exit_code == 0, result.output
    state = load_desired_text_result(result.stdout, env={}).state
    assert state.instances[0].groups == ()


def test_export_of_an_unknown_instance_is_a_one_line_error(
    credentials: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["export", "--instance", "post-cn-missing", "--endpoint", credentials.url])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("Error: ") and "Traceback" not in err


def test_rendered_export_is_canonical_and_skips_names_it_cannot_declare() -> None:
    export = render_export(
        region="cn-shanghai",
        instances=[ExportedInstance("post-1", ["GID_b_b", "GID_aaa", "bad name"], False)],
    )
    assert export.skipped == ("bad name",)
    assert format_text(export.text) == export.text
    state = load_desired_text_result(export.text, env={}).state
    assert [g.group_id for g in state.instances[0].groups] == ["GID_aaa", "GID_b_b"]
    assert state.instances[0].independent_naming is False
