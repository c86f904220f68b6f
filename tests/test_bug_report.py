"""An unexpected exception is a bug: exit 3, one line on stderr, a masked report on disk."""

from __future__ import annotations

import json
import os
import platform
import stat
from pathlib import Path
from urllib.parse import quote

import pytest

from reconciler import __version__
from reconciler.bug_report import Masker, report_directory, write_bug_report
from reconciler.config.loader import load_desired_text
from reconciler.errors import EmulatorError
from reconciler.exit_codes import ExitCode
from tests.fixtures.runs import run_cli

ENV_SECRET = "env-secret-Zq8/w+Pk"
STS_TOKEN = "CAIS-sts-token-91xQ"
ARGV_SECRET = "argv-secret-Mn4"
PROFILE_SECRET = "profile-secret-Hy7"
DSN_PASSWORD = "dsn-pw-K3y"
KEYWORD_PASSWORD = "kw-pw-L9q"
SIGNATURE = "c2lnbmF0dXJl4x"
SECRETS = (ENV_SECRET, STS_TOKEN, ARGV_SECRET, PROFILE_SECRET, DSN_PASSWORD, KEYWORD_PASSWORD)
SERVE = ["emulator", "serve", "--port", "0", "--access-key-id", "ak-id"]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home with an aliyun CLI profile, secrets in the environment, no XDG_CACHE_HOME."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", ENV_SECRET)
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", STS_TOKEN)
    for name in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALICLOUD_ACCESS_KEY", "ALICLOUD_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    profile = {"name": "default", "mode": "AK", "access_key_id": "p-id"}
    profile["access_key_secret"] = PROFILE_SECRET
    aliyun = tmp_path / ".aliyun"
    aliyun.mkdir()
    (aliyun / "config.json").write_text(
        json.dumps({"current": "default", "profiles": [profile]}), encoding="utf-8"
    )
    return tmp_path


def crash_with(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    """Make ``emulator serve`` meet ``error`` where it builds its server."""

    def explode(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr("reconciler.commands.emulator.EmulatorServer", explode)


def leaky_error() -> RuntimeError:
    """A bug whose message quotes every kind of secret the report must mask."""
    return RuntimeError(
        f"boom: key {ENV_SECRET} encoded {quote(ENV_SECRET, safe='')} token {STS_TOKEN} "
        f"option {ARGV_SECRET} profile {PROFILE_SECRET} "
        f"dsn postgresql://app:{DSN_PASSWORD}@db:5432/app "
        f"conninfo host=db password={KEYWORD_PASSWORD} user=app "
        f"url /?Action=OnsMqttGroupIdList&Signature={SIGNATURE}&Format=JSON"
    )


def test_a_bug_exits_3_with_one_line_and_a_masked_report(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    crash_with(monkeypatch, leaky_error())
    args = [*SERVE, "--access-key-secret", ARGV_SECRET]
    code, out, err = run_cli(capsys, *args)

    assert code == ExitCode.BUG == 3
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith("Error: this is a bug in reconciler (unexpected RuntimeError)")
    reports = list((home / ".cache" / "reconciler").iterdir())
    assert len(reports) == 1
    report = reports[0]
    assert err.rstrip().endswith(str(report))
    assert report.name.startswith("bug-") and report.suffix == ".txt"
    assert stat.S_IMODE(report.stat().st_mode) == 0o600

    text = report.read_text(encoding="utf-8")
    assert f"reconciler: {__version__}" in text
    assert f"python: {platform.python_version()}" in text
    assert f"platform: {platform.platform()}" in text
    assert "command: reconciler emulator serve --port 0 --access-key-id ak-id" in text
    assert "Traceback (most recent call last):" in text
    assert "in explode" in text  # the frame that raised
    assert "RuntimeError: boom: key ***" in text
    assert "Signature=***&Format=JSON" in text
    assert "postgresql://app:***@db:5432/app" in text
    assert "password=*** user=app" in text
    for secret in (*SECRETS, SIGNATURE, quote(ENV_SECRET, safe="")):
        assert secret not in text, secret
        assert secret not in err


def test_a_secret_option_given_with_equals_is_masked_too(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    crash_with(monkeypatch, ValueError(f"saw {ARGV_SECRET}"))
    code, _, _ = run_cli(capsys, *[*SERVE, f"--access-key-secret={ARGV_SECRET}"])
    assert code == 3
    (report,) = (home / ".cache" / "reconciler").iterdir()
    text = report.read_text(encoding="utf-8")
    assert "--access-key-secret=***" in text
    assert ARGV_SECRET not in text


def test_the_oidc_token_in_its_file_is_masked_too(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    token = "eyJhbGciOiJSUzI1NiJ9.oidc-claims-Qw3.oidc-signature-Zt6"
    (home / "oidc-token").write_text(token + "\n", encoding="utf-8")
    monkeypatch.setenv("ALIBABA_CLOUD_OIDC_TOKEN_FILE", str(home / "oidc-token"))
    crash_with(monkeypatch, ValueError(f"saw {token}"))
    code, _, err = run_cli(capsys, *SERVE, "--access-key-secret", ARGV_SECRET)
    assert code == 3, err
    (report,) = (home / ".cache" / "reconciler").iterdir()
    text = report.read_text(encoding="utf-8")
    assert "ValueError: saw ***" in text
    assert token not in text


def test_the_report_goes_under_xdg_cache_home(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    crash_with(monkeypatch, KeyError("x"))
    code, _, err = run_cli(capsys, *[*SERVE, "--access-key-secret", ARGV_SECRET])
    assert code == 3
    (report,) = (cache / "reconciler").iterdir()
    assert str(report) in err
    assert not (home / ".cache").exists()


def test_report_directory_ignores_a_relative_xdg_cache_home(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert report_directory({"XDG_CACHE_HOME": "relative/cache"}) == home / ".cache" / "reconciler"
    assert report_directory({"XDG_CACHE_HOME": "/c"}) == Path("/c/reconciler")
    assert report_directory({}) == home / ".cache" / "reconciler"


def test_a_report_that_cannot_be_written_still_exits_3_in_one_line(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    crash_with(monkeypatch, leaky_error())
    code, out, err = run_cli(capsys, *[*SERVE, "--access-key-secret", ARGV_SECRET])
    assert code == 3
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith("Error: this is a bug in reconciler (unexpected RuntimeError)")
    assert "its report could not be written to " in err and str(blocker) in err
    assert not any(secret in err for secret in SECRETS)


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (EmulatorError("the fixture is bad"), ExitCode.ERROR, "Error: the fixture is bad"),
        (KeyboardInterrupt(), ExitCode.INTERRUPTED, "Interrupted."),
    ],
    ids=["user error", "interrupt"],
)
def test_user_errors_and_interrupts_keep_their_codes_and_write_no_report(
    error: BaseException,
    code: int,
    message: str,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    crash_with(monkeypatch, error)
    exit_code, out, err = run_cli(capsys, *[*SERVE, "--access-key-secret", ARGV_SECRET])
    assert (exit_code, out, err.strip()) == (code, "", message)  # click ends a ^C echo first
    assert not (home / ".cache").exists()


def test_exit_codes_keep_their_values() -> None:
    assert {code.name: int(code) for code in ExitCode} == {
        "OK": 0,
        "ERROR": 1,
        "CHANGES": 2,
        "BUG": 3,
        "NOT_APPLIED": 4,
        "INTERRUPTED": 130,
    }
    assert os.EX_OK == ExitCode.OK


# (how the DSN shows in the bug's text, the pieces of its password that must not show).
DSN_FORMS: list[tuple[str, tuple[str, ...]]] = [
    ("postgresql://app:Kq7@Zr4@db.internal/app", ("Kq7", "Zr4")),
    ("postgres://app:Kq7@Zr4@Wx2@db.internal:5432/app", ("Kq7", "Zr4", "Wx2")),
    ("postgresql://app:Kq7:Zr4@db.internal/app", ("Kq7", "Zr4")),
    ("postgresql://app:Kq7%40Zr4%3AWx2%2FVb5%3FNm6%23Ty8%20Hj9@db.internal/app", ("Kq7", "Hj9")),
    ("postgresql://app:Kq7/Zr4?Wx2#Vb5@db.internal/app", ("Kq7", "Zr4", "Wx2", "Vb5")),
    ("postgresql://:Kq7Zr4@db.internal/app", ("Kq7Zr4",)),
    ("postgresql://db.internal/app?user=app&password=Kq7%40Zr4%20Wx2", ("Kq7", "Zr4", "Wx2")),
    ("postgresql://db.internal/app?sslmode=require&password=Kq7@Zr4", ("Kq7", "Zr4")),
    ("postgresql://db.internal/app?passwd=Kq7Zr4", ("Kq7Zr4",)),
    ("host=db.internal password=Kq7@Zr4 user=app", ("Kq7", "Zr4")),
    ("host=db.internal password='Kq7 @Zr4: /?#Wx2' user=app", ("Kq7", "Zr4", "Wx2")),
    (r"host=db.internal password = 'Kq7\'Zr4' user=app", ("Kq7", "Zr4")),
    (r"host=db.internal password=Kq7\ Zr4 user=app", ("Kq7", "Zr4")),
    ("host=db.internal sslpassword=Kq7@Zr4 user=app", ("Kq7", "Zr4")),
    ("{'dsn': 'postgresql://app:Kq7@Zr4@db.internal/app'}", ("Kq7", "Zr4")),
    ('conninfo="host=db.internal password=Kq7@Zr4"', ("Kq7", "Zr4")),
    ("(dsn: postgresql://app:Kq7@Zr4@db.internal:5432/app)", ("Kq7", "Zr4")),
]


@pytest.mark.parametrize(("dsn", "pieces"), DSN_FORMS, ids=[form for form, _ in DSN_FORMS])
def test_a_dsn_in_a_traceback_line_loses_its_whole_password(
    home: Path, dsn: str, pieces: tuple[str, ...]
) -> None:
    # Nothing in the environment or the options knows this DSN: only parsing finds it.
    error = RuntimeError(f'connection to server failed: FATAL: {dsn} refused at "db.internal"')
    report = write_bug_report(error, ["plan"], env={"HOME": str(home)})
    text = report.read_text(encoding="utf-8")
    (line,) = [line for line in text.splitlines() if line.startswith("RuntimeError: ")]
    for piece in pieces:
        assert piece not in line, line
    assert "***" in line
    assert line.endswith('refused at "db.internal"'), line  # the text around it stays


def test_the_identity_secrets_a_desired_state_was_read_with_are_masked(tmp_path: Path) -> None:
    """An identity's secret may come from a variable of any name, or from a file."""
    (tmp_path / "key").write_text("file-secret-Rt5\n", encoding="utf-8")
    text = (
        "version: 1\ninstances:\n  - id: post-cn-x\n    api: onsmqtt\n    access:\n"
        "      identities:\n"
        '        - {username: a, secret: "${PLAIN_NAME}"}\n'
        f"        - {{username: b, secret: {{file: {tmp_path / 'key'}}}}}\n"
    )
    load_desired_text(text, env={"PLAIN_NAME": "env-any-name-Qw2"})
    masked = Masker.for_run([], {}).mask("values: env-any-name-Qw2 and file-secret-Rt5")
    assert masked == "values: *** and ***"
