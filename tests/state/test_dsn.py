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
from reconciler.state.dsn import UNPARSEABLE, describe_dsn, read_dsn, scrub
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
        ("postgresql://u:Pa55@SECRET@127.0.0.1:1/test", "(host=*** port=1 dbname=test user=u)"),
        (
            "postgresql://u:Pa55SECRET@127.0.0.1:1/x?bogus=1",
            "(host=127.0.0.1 port=1 dbname=x user=u)",
        ),
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


@pytest.mark.parametrize(
    ("dsn", "problem"),
    [
        ("host=db passwd=hunter2", 'unknown option "passwd" (did you mean "password"?)'),
        ("host=db PASSWORD=hunter2", 'unknown option "PASSWORD" (did you mean "password"?)'),
        (
            "postgresql://db/app?passwd=hunter2",
            'unknown option "passwd" (did you mean "password"?)',
        ),
        # a name far from every keyword may be a piece of an unquoted password: not named
        ("host=db password=abc def=1", "an option libpq does not know"),
        ("postgresql://db/app?bogus_option=hunter2", "an option libpq does not know"),
        ("not a dsn", 'a word without "=" (key=value pairs or a postgresql:// URI expected)'),
        ("hunter2", 'a word without "=" (key=value pairs or a postgresql:// URI expected)'),
        ("host=db password='hunter2", "an unterminated quoted string"),
        ("postgresql://u:hunter2@[bad", "a malformed URI"),
        ("postgresql://u:hunter2@db/app%zz", "a malformed URI"),
    ],
)
def test_a_dsn_that_does_not_parse_gets_a_fixed_message(dsn: str, problem: str) -> None:
    assert read_dsn(dsn).problem == problem


@pytest.mark.parametrize("dsn", ["", "host=db", "postgresql://u:pw@db/app?sslmode=require"])
def test_a_dsn_that_parses_has_no_problem(dsn: str) -> None:
    assert read_dsn(dsn).problem is None


def test_a_dsn_that_does_not_parse_is_refused_before_connecting() -> None:
    with pytest.raises(StateError) as caught:
        PostgresBackend(_config("host=127.0.0.1 port=1 passwd=hunter2"))
    assert str(caught.value) == (
        "cannot connect to PostgreSQL: the DSN does not parse: "
        'unknown option "passwd" (did you mean "password"?)'
    )
    with pytest.raises(StateError) as caught:
        PostgresBackend(_config("postgresql://127.0.0.1:1/test?passwd=hunter2"))
    assert str(caught.value) == (
        "cannot connect to PostgreSQL (host=127.0.0.1 port=1 dbname=test): the DSN does not "
        'parse: unknown option "passwd" (did you mean "password"?)'
    )


def test_scrub_masks_a_short_password_only_as_a_word() -> None:
    text = 'connection to "pwhost" as pwuser failed; password "pw" rejected'
    assert scrub(text, "host=pwhost user=pwuser password=pw") == (
        'connection to "pwhost" as pwuser failed; password "***" rejected'
    )


def test_scrub_masks_what_an_unencoded_at_sign_pushed_into_the_host() -> None:
    dsn = "postgresql://u:Pa55@SECRET@127.0.0.1:1/test"
    text = 'could not translate host name "SECRET@127.0.0.1" to address'
    assert "SECRET" not in scrub(text, dsn)
