"""A DSN's secrets never show: not in describe(), not in errors, not in the CLI's output.

Every DSN below carries a secret in a different shape; each one is tried for real (psycopg's
own error text, scrubbed), against a synthetic message that echoes the DSN and the secret, and
through ``reconciler state list``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from pydantic import SecretStr

from reconciler.cli import main
from reconciler.errors import StateError
from reconciler.models import PostgresBackendConfig
from reconciler.state.dsn import UNPARSEABLE, describe_dsn, scrub
from reconciler.state.postgres import PostgresBackend

# (DSN, the secrets in it). Port 1 refuses at once; hosts that are passwords do not resolve.
LEAKY_DSNS: list[tuple[str, tuple[str, ...]]] = [
    # URIs
    ("postgresql://someone:Pa55SECRET@127.0.0.1:1/test", ("Pa55SECRET",)),
    ("postgres://someone:Pa55%40SECRET@127.0.0.1:1/test", ("Pa55@SECRET", "Pa55%40SECRET")),
    ("postgresql://127.0.0.1:1/test?user=u&password=Pa55SECRET", ("Pa55SECRET",)),
    ("postgresql://127.0.0.1:1/test?passwd=Pa55SECRET", ("Pa55SECRET",)),
    ("postgresql://127.0.0.1:1/test?bogus_option=Pa55SECRET", ("Pa55SECRET",)),
    ("postgresql://u:Pa55SECRET@127.0.0.1:1/x?bogus=Pa55SECRET", ("Pa55SECRET",)),
    ("postgresql://u:Pa55SECRET@127.0.0.1:1/test?sslmode=disable", ("Pa55SECRET",)),
    ("postgresql://u:Pa55@SECRET@127.0.0.1:1/test", ("Pa55@SECRET", "Pa55")),
    ("postgresql://u:Pa55:SECRET@127.0.0.1:1/test", ("Pa55:SECRET",)),
    ("postgresql://[::1]:1,127.0.0.1:1/test?password=Pa55SECRET", ("Pa55SECRET",)),
    ("postgresql://u:Pa55SECRET@[bad", ("Pa55SECRET",)),
    ("postgresql://u:Pa55host@Pa55host:1/test", ("Pa55host",)),
    # key=value
    ("host=127.0.0.1 port=1 password=Pa55SECRET dbname=test", ("Pa55SECRET",)),
    ("host=127.0.0.1 port=1 password='Pa55 SECRET' dbname=test", ("Pa55 SECRET", "SECRET")),
    (r"host=127.0.0.1 port=1 password = 'Pa55\'SECRET'", ("Pa55'SECRET", r"Pa55\'SECRET")),
    ("host=127.0.0.1 port=1 PASSWORD=Pa55SECRET", ("Pa55SECRET",)),
    ("host=127.0.0.1 passwd=Pa55SECRET dbname=test", ("Pa55SECRET",)),
    ("host=127.0.0.1 port=1 sslpassword=Ss1SECRET password=Pa55SECRET", ("Ss1SECRET", "Pa55")),
    ("host=127.0.0.1 port=1 connect_timeout=5 user=me password=Pa55SECRET", ("Pa55SECRET",)),
    ("host=dbpass01 port=1 password=dbpass01", ("dbpass01",)),
    # garbage
    ("not a dsn", ("not a dsn",)),
    ("Pa55SECRET", ("Pa55SECRET",)),
    ("not a dsn Pa55SECRET", ("Pa55SECRET",)),
    ("host=127.0.0.1 password Pa55SECRET", ("Pa55SECRET",)),
    ("host=127.0.0.1 password='Pa55SECRET", ("Pa55SECRET",)),
    ("mysql://root:Pa55SECRET@127.0.0.1:1/test", ("Pa55SECRET",)),
]


def _config(dsn: str) -> PostgresBackendConfig:
    return PostgresBackendConfig(dsn=SecretStr(dsn), schema="s")


@pytest.mark.parametrize(("dsn", "secrets"), LEAKY_DSNS)
def test_describe_never_shows_a_secret(dsn: str, secrets: tuple[str, ...]) -> None:
    text = describe_dsn(dsn)
    for secret in secrets:
        assert secret not in text


@pytest.mark.parametrize(("dsn", "secrets"), LEAKY_DSNS)
def test_connection_errors_never_show_a_secret(dsn: str, secrets: tuple[str, ...]) -> None:
    with pytest.raises(StateError, match="cannot connect to PostgreSQL") as caught:
        PostgresBackend(_config(dsn))
    for secret in secrets:
        assert secret not in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("dsn", "secrets"), LEAKY_DSNS)
def test_scrub_removes_the_dsn_and_its_secrets_from_any_text(
    dsn: str, secrets: tuple[str, ...]
) -> None:
    echoes = [f"cannot use {dsn!r}"] + [
        f'bad value "{secret}" ({quote(secret)}), near ...{secret[1:]}' for secret in secrets
    ]
    for text in echoes:
        cleaned = scrub(text, dsn)
        assert dsn not in cleaned
        for secret in secrets:
            assert secret not in cleaned
            if len(secret) > 4:  # a longer piece of it is gone too
                assert secret[1:] not in cleaned


@pytest.mark.parametrize(("dsn", "secrets"), LEAKY_DSNS[::3])
def test_cli_output_never_shows_a_secret(
    dsn: str,
    secrets: tuple[str, ...],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    desired = tmp_path / "p.yaml"
    desired.write_text(
        "version: 1\n"
        'backend: {postgres: {dsn: "${PGDSN}", schema: x}}\n'
        "instances:\n  - id: post-cn-test0001\n    groups: [GID_abc]\n"
    )
    monkeypatch.setenv("PGDSN", dsn)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        main(["state", "list", "-c", str(desired)])
    assert exited.value.code == 1
    out, err = capsys.readouterr()
    assert "cannot connect to PostgreSQL" in err
    for secret in secrets:
        assert secret not in out + err


@pytest.mark.parametrize(
    ("dsn", "described"),
    [
        ("postgresql://u:pw@db:5432/app", "(host=db port=5432 dbname=app user=u)"),
        ("postgres://u:p%40ss@db/app?sslmode=require", "(host=db dbname=app user=u)"),
        ("postgresql://db/app?user=u&password=hunter2", "(host=db dbname=app user=u)"),
        ("postgresql://127.0.0.1:5432/test", "(host=127.0.0.1 port=5432 dbname=test)"),
        ("postgresql://db/app?passwd=hunter2", "(host=db dbname=app)"),
        ("host=db user=u password=hunter2 dbname=app", "(host=db dbname=app user=u)"),
        ("host=db dbname='my app'", "(host=db dbname='my app')"),
        ("host=db passwd=hunter2", UNPARSEABLE),
        ("not a dsn", UNPARSEABLE),
        ("host=hunter2 password=hunter2", "(host=***)"),
        ("postgresql://u:pw@x@db/app", "(host=*** dbname=app user=u)"),
        ("", "(libpq defaults)"),
    ],
)
def test_describe_shows_only_host_port_dbname_and_user(dsn: str, described: str) -> None:
    assert describe_dsn(dsn) == described


def test_scrub_keeps_what_helps() -> None:
    dsn = "postgresql://someone@127.0.0.1:1/test?connect_timeout=10&passwd=Pa55SECRET"
    text = 'invalid URI query parameter: "passwd"; connection to "127.0.0.1" as someone failed'
    assert scrub(text, dsn) == text
    # a DSN that does not parse has no public fields: everything from it goes
    garbled = "host=127.0.0.1 user=someone passwd=Pa55SECRET"
    assert (
        scrub(text, garbled)
        == 'invalid URI query parameter: "passwd"; connection to "***" as *** failed'
    )
