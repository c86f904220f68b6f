"""The ``access:`` block of a desired file: its shape, located errors, secrets from the
environment or a file (never the file's text), team files merged like GIDs, fmt."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema
import pytest

from reconciler.config.files import load_desired_paths
from reconciler.config.fmt import format_text
from reconciler.config.loader import load_desired_text, load_desired_text_result
from reconciler.errors import ConfigErrors
from tests.fixtures.runs import run_cli

LITERAL = "hunter2-literal"
ROOT = Path(__file__).resolve().parents[2]


def doc(access: str, *, api: str = "onsmqtt") -> str:
    block = textwrap.indent(textwrap.dedent(access).strip("\n"), "      ")
    return f"version: 1\ninstances:\n  - id: post-cn-x\n    api: {api}\n    access:\n{block}\n"


def errors(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigErrors) as raised:
        load_desired_text(text, "d.yaml", env=env or {})
    return [error.format() for error in raised.value.errors]


def test_the_block_resolves_into_the_three_kinds_with_their_secrets(tmp_path: Path) -> None:
    secret_file = tmp_path / "bob.secret"
    secret_file.write_text("from-a-file\n", encoding="utf-8")
    text = doc(
        f"""
        ownership: {{blacklist: exclusive}}
        identities:
          - {{username: alice, secret: "${{ALICE}}", sign_mode: origin}}
          - {{username: bob, client_id: dev-1, secret: {{file: {secret_file}}}}}
          - {{username: gone, absent: true}}
        permissions:
          - {{user: alice, topic: telemetry/#, effect: allow, action: pub}}
          - {{client: dev-1, topic: telemetry/+/cmd, effect: deny, action: pub_sub}}
        blacklist: [dev-9, {{client_id: dev-8, absent: true}}]
        """
    )
    (instance,) = load_desired_text(text, env={"ALICE": "from-env"}).instances
    secrets = {i.key_text: i.secret and i.secret.get_secret_value() for i in instance.identities}
    assert secrets == {
        "identity:client:bob:dev-1": "from-a-file",
        "identity:user:alice": "from-env",
        "identity:user:gone": None,
    }
    assert [i.sign_mode for i in instance.identities] == ["signed", "origin", None]
    assert [(p.identity_type, p.effect, p.permit_action) for p in instance.permissions] == [
        ("client", "deny", "pub_sub"),
        ("user", "allow", "pub"),
    ]
    assert [(b.client_id, b.absent) for b in instance.blacklist] == [
        ("dev-8", True),
        ("dev-9", False),
    ]
    assert instance.ownership_of("blacklist") == "exclusive"
    assert instance.ownership_of("identity") == "managed"
    assert "from-env" not in repr(instance) and "from-a-file" not in repr(instance)


def test_a_literal_secret_is_a_located_error_that_does_not_repeat_it() -> None:
    found = errors(doc(f"identities: [{{username: alice, secret: {LITERAL}}}]"))
    assert found == [
        "d.yaml:6:46: a secret is never written in the file: give it as ${ENV_VAR} (one variable,"
        " nothing around it) or as {file: PATH} (at instances[0].access.identities[0].secret)"
    ]
    assert not any(LITERAL in line for line in found)
    embedded = errors(doc('identities: [{username: a, secret: "pre-${X}"}]'), {"X": "x"})
    assert "a secret is never written in the file" in embedded[0]


def test_an_unset_variable_fails_a_plan_and_warns_validate() -> None:
    text = doc('identities: [{username: a, secret: "${NOT_SET}"}]')
    assert errors(text) == [
        "d.yaml:6:42: environment variable NOT_SET is not set "
        "(at instances[0].access.identities[0].secret)"
    ]
    result = load_desired_text_result(text, "d.yaml", env={}, warn_unset_env=True)
    (warning,) = result.warnings
    assert "environment variable NOT_SET is not set (plan and apply will need it)" in (
        warning.format()
    )
    assert errors(doc("identities: [{username: a}]"))[0].endswith(
        "an identity needs a secret: ${ENV_VAR} or {file: PATH} "
        "(at instances[0].access.identities[0])"
    )
    missing = errors(doc("identities: [{username: a, secret: {file: /nonexistent/s}}]"))
    assert "cannot read the secret file /nonexistent/s: No such file or directory" in missing[0]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("permissions: [{user: a, topic: 'a/#/b', effect: allow, action: pub}]", "'#' must"),
        ("permissions: [{user: a, topic: 'a/b+', effect: allow, action: pub}]", "'+' must"),
        ("permissions: [{user: a, topic: '#', effect: allow, action: pub}]", "parent topic"),
        ("permissions: [{user: a, topic: a/b, effect: allow}]", "needs its action"),
        ("permissions: [{topic: a/b, effect: allow, action: sub}]", "neither given"),
        ("permissions: [{user: a, topic: a/b, effect: alow, action: pub}]", "did you mean 'allow'"),
        ("identities: [{username: 'a:b', secret: '${S}'}]", "username 'a:b' is not valid"),
        ("identities: [{username: a, absent: true, secret: '${S}'}]", "its secret has no meaning"),
        ("blacklist: ['dev 1']", "contains a space"),
        ("blacklist: [d, d]", "duplicate blacklist entry blacklist:d"),
        ("ownership: {permission: exclusive}", "did you mean 'permissions'"),
    ],
)
def test_each_mistake_is_a_located_error(entry: str, message: str) -> None:
    (found,) = errors(doc(entry), {"S": "s"})
    assert found.startswith("d.yaml:") and message in found


def test_access_on_an_ons_instance_is_an_error() -> None:
    (found,) = errors(doc("blacklist: [dev-9]", api="ons"))
    assert found.startswith("d.yaml:5:5: instance 'post-cn-x' uses the ons API")


def test_team_files_add_their_own_entries_and_a_duplicate_is_located_in_both(
    tmp_path: Path,
) -> None:
    platform = tmp_path / "platform.yaml"
    platform.write_text(
        "version: 1\nprovider: {api: onsmqtt}\ninstances:\n  - id: post-cn-x\n    access:\n"
        "      permissions: [{user: a, topic: t/#, effect: allow, action: pub}]\n"
    )
    team = tmp_path / "team.yaml"
    team.write_text(
        "instances:\n  - id: post-cn-x\n    access:\n"
        "      permissions: [{user: b, topic: t/#, effect: allow, action: sub}]\n"
        "      blacklist: [dev-9]\n"
    )
    (instance,) = load_desired_paths([platform, team]).state.instances
    assert [p.identity for p in instance.permissions] == ["a", "b"]
    assert [b.client_id for b in instance.blacklist] == ["dev-9"]

    team.write_text(team.read_text().replace("user: b", "user: a").replace("sub}", "pub}"))
    with pytest.raises(ConfigErrors) as raised:
        load_desired_paths([platform, team])
    found = [error.format() for error in raised.value.errors]
    assert found == [
        f"{platform}:6:21: permission permission:user:a/t/# is declared for instance "
        f"'post-cn-x' in two files: also at {team}:4:21 (at instances[0].access.permissions[0])",
        f"{team}:4:21: permission permission:user:a/t/# is declared for instance "
        f"'post-cn-x' in two files: also at {platform}:6:21 "
        "(at instances[0].access.permissions[0])",
    ]


def test_fmt_orders_keys_and_sorts_entries_by_key() -> None:
    text = doc(
        """
        blacklist: [z, a]
        permissions:
          - {action: sub, effect: allow, topic: b/#, user: zed}
          - {user: al, topic: a/#, effect: deny, action: pub}
        """
    )
    formatted = format_text(text)
    assert formatted == doc(
        """
        permissions:
          - {user: al, topic: a/#, effect: deny, action: pub}
          - {user: zed, topic: b/#, effect: allow, action: sub}
        blacklist: [a, z]
        """
    )
    assert format_text(formatted) == formatted


def test_validate_counts_the_access_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(doc("identities: [{username: a, secret: '${UNSET_HERE}'}]\nblacklist: [x]"))
    monkeypatch.delenv("UNSET_HERE", raising=False)
    result = run_cli(capsys, "validate", str(path))
    assert result.code == 0, result.err
    assert result.out == f"{path}: valid (1 instance, 0 groups, 2 access entries)\n"
    assert "environment variable UNSET_HERE is not set (plan and apply will need it)" in (
        result.err
    )


def test_the_json_schema_flags_a_literal_secret_as_the_checks_do() -> None:
    schema = json.loads((ROOT / "schemas" / "desired-state.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)

    def valid(secret: object) -> bool:
        data = {
            "version": 1,
            "instances": [
                {
                    "id": "post-cn-x",
                    "api": "onsmqtt",
                    "access": {"identities": [{"username": "a", "secret": secret}]},
                }
            ],
        }
        return validator.is_valid(data)

    assert valid("${SECRET_VAR}") and valid({"file": "key.txt"})
    assert not valid(LITERAL) and not valid("pre-${X}")
