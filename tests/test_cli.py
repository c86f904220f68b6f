"""The root command: every registered subcommand loads and is listed."""

from __future__ import annotations

import gc
import importlib
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import click
import pytest
from click.testing import CliRunner

from reconciler.cli import COMMANDS, cli
from tests.fixtures.runs import ROOT, child_env, run_cli


def test_every_registered_command_loads_and_is_listed() -> None:
    context = click.Context(cli)
    assert cli.list_commands(context) == sorted(COMMANDS)
    for name in COMMANDS:
        command = cli.get_command(context, name)
        assert isinstance(command, click.Command), name
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    listed = result.output.split("Commands:", 1)[1]
    assert all(f"  {name} " in listed for name in COMMANDS)


@pytest.mark.parametrize(
    ("args", "command_path", "words"),
    [
        (
            ["plan", "d.yaml", "--detailed-exitcode", "--allow-protected-delete", "garbage"],
            "reconciler plan",
            "--allow-protected-delete",
        ),
        (["plan", "d.yaml", "--lock-timeout", "banana"], "reconciler plan", "banana"),
        (["plan", "d.yaml", "--parallelism", "0"], "reconciler plan", "--parallelism"),
        (["plan", "d.yaml", "--format", "xml"], "reconciler plan", "'xml'"),
        (["plan", "d.yaml", "--no-such-option"], "reconciler plan", "--no-such-option"),
        (["import", "bad"], "reconciler import", "INSTANCE_ID/GROUP_ID"),
        (["emulator", "serve", "--fault-rate", "2"], "reconciler emulator serve", "--fault-rate"),
        (["state", "list", "--lock-timeout", "x"], "reconciler state list", "--lock-timeout"),
        (["--bogus"], "reconciler", "--bogus"),
        (["nope"], "reconciler", "No such command 'nope'"),
    ],
)
def test_usage_errors_exit_1_with_one_line(
    args: list[str],
    command_path: str,
    words: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Exit 2 means "changes present" to `plan --detailed-exitcode`: a usage error must not.
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, *args)
    assert code == 1, err
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith("Error: ") and words in err
    assert err.rstrip().endswith(f"(see '{command_path} --help')"), err


def test_a_usage_error_in_a_command_body_names_the_command(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.yaml").write_text("version: 1\ninstances: []\n", encoding="utf-8")
    code, _, err = run_cli(capsys, *["apply", "d.yaml", "--no-lock"])
    assert code == 1
    assert err.startswith("Error: --lock=false (--no-lock) is refused")
    assert err.rstrip().endswith("(see 'reconciler apply --help')")


@pytest.mark.parametrize("args", [[], ["state"], ["emulator"]])
def test_a_group_without_a_command_prints_its_help_and_exits_1(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, *args)
    assert code == 1
    assert out == ""
    first = err.splitlines()[0]
    # click 8.5 writes "[COMMAND]", older releases "COMMAND".
    assert first.startswith(f"Usage: {' '.join(['reconciler', *args])} [OPTIONS]")
    assert "COMMAND" in first


def test_help_exits_0_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, *["--help"])
    assert code == 0
    assert out.startswith("Usage: reconciler")


def test_usage_errors_exit_1_under_click_runner_too() -> None:
    result = CliRunner().invoke(cli, ["plan", "--format", "xml", "d.yaml"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: Invalid value for '--format'")


def test_registry_short_help_equals_each_commands_own() -> None:
    context = click.Context(cli)
    for name, entry in COMMANDS.items():
        command = cli.get_command(context, name)
        assert command is not None
        assert entry.short_help == command.get_short_help_str(limit=1000), name


def _python(
    script: str, *, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``script`` run by this interpreter in a process of its own; it must exit 0."""
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=cwd, env=env
    )


def test_root_help_imports_no_command_module() -> None:
    script = (
        "import sys\n"
        "from reconciler.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('reconciler.commands.'))\n"
        "print('LOADED', loaded, file=sys.stderr)\n"
    )
    done = _python(script)
    assert "LOADED []" in done.stderr
    assert "Make the cloud match PATHS" in done.stdout


def test_a_command_is_imported_with_the_collector_paused(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    import_module = importlib.import_module

    def spy(name: str) -> ModuleType:
        seen.append(gc.isenabled())
        return import_module(name)

    monkeypatch.setattr(importlib, "import_module", spy)
    gc.enable()
    cli.get_command(click.Context(cli), "plan")
    assert seen == [False]
    assert gc.isenabled()


@pytest.mark.parametrize(
    ("setting", "loader"),
    [
        (None, "stand-in"),  # unset: the CLI disables every plugin
        ("1", "stand-in"),
        ("", "pydantic's"),  # set, even empty: the user's choice
        ("some_plugin", "pydantic's"),
    ],
)
def test_pydantic_plugins_are_disabled_unless_the_user_chose(
    tmp_path: Path, setting: str | None, loader: str
) -> None:
    (tmp_path / "d.yaml").write_text("version: 1\ninstances: []\n", encoding="utf-8")
    script = (
        "import sys\n"
        "from pydantic import BaseModel\n"
        "from reconciler.cli import main\n"
        "try:\n"
        "    main(['validate', 'd.yaml'])\n"
        "except SystemExit as exited:\n"
        "    print('CODE', exited.code, file=sys.stderr)\n"
        "class Probe(BaseModel):\n"
        "    value: int\n"
        "assert Probe.model_validate({'value': 1}).value == 1\n"
        "found = sys.modules['pydantic.plugin._loader']\n"
        "print('LOADER', 'stand-in' if getattr(found, '__file__', None) is None else"
        ' "pydantic\'s", file=sys.stderr)\n'
    )
    env = child_env()
    env.pop("PYDANTIC_DISABLE_PLUGINS", None)
    if setting is not None:
        env["PYDANTIC_DISABLE_PLUGINS"] = setting
    done = _python(script, cwd=tmp_path, env=env)
    assert "CODE 0" in done.stderr, done.stderr
    assert f"LOADER {loader}" in done.stderr, done.stderr


def test_the_script_imports_the_cli_without_a_collection() -> None:
    # Each collection notes whether reconciler.cli was being imported (compiling a stale
    # __main__.py from source, before the pause, may collect, and is no concern here).
    script = (
        "import gc, sys\n"
        "during = []\n"
        "def seen(phase, info):\n"
        "    cli = sys.modules.get('reconciler.cli')\n"
        "    during.append(cli is not None and not hasattr(cli, 'main'))\n"
        "gc.callbacks.append(seen)\n"
        "from reconciler.__main__ import main\n"
        "print('CLI', 'click' in sys.modules, gc.isenabled(), any(during), file=sys.stderr)\n"
    )
    done = _python(script)
    assert "CLI True True False" in done.stderr, done.stderr


def test_the_plugin_loader_stand_in_hands_anything_else_to_pydantic_s() -> None:
    script = (
        "import sys\n"
        "from reconciler.cli import disable_pydantic_plugins\n"
        "disable_pydantic_plugins()\n"
        "from pydantic.plugin._loader import get_plugins\n"
        "assert tuple(get_plugins()) == ()\n"
        "stand_in = sys.modules['pydantic.plugin._loader']\n"
        "from pydantic.plugin._loader import PYDANTIC_ENTRY_POINT_GROUP\n"
        "real = sys.modules['pydantic.plugin._loader']\n"
        "assert stand_in.PYDANTIC_ENTRY_POINT_GROUP == 'pydantic'\n"
        "assert sys.modules['pydantic.plugin._loader'] is real\n"
        "print('GROUP', PYDANTIC_ENTRY_POINT_GROUP, real.__file__.endswith('_loader.py'),"
        " file=sys.stderr)\n"
    )
    env = child_env()
    env.pop("PYDANTIC_DISABLE_PLUGINS", None)
    done = _python(script, env=env)
    assert "GROUP pydantic True" in done.stderr, done.stderr
