"""Malformed desired-state files: located one-line errors and exit 1, never a traceback."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.config import load_desired, loader
from reconciler.errors import ConfigErrors

LOCATED = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<column>\d+): (?P<message>.+)$")

HEAD = "version: 1\n"


@dataclass(frozen=True)
class Case:
    name: str
    content: str | bytes
    # (line, column, fragment of the message) for every error expected, in order
    expected: tuple[Any, ...]
    env: tuple[tuple[str, str], ...] = ()


CASES = [
    Case(
        "unclosed flow list",
        HEAD + "instances: [\n",
        ((3, 1), "YAML syntax error"),
    ),
    Case(
        "mapping value in a plain scalar",
        HEAD + "provider: region: cn\n",
        ((2, 17), "syntax"),
    ),
    Case(
        "unclosed quote",
        HEAD + "provider:\n  region: 'cn-hangzhou\n",
        ((4, 1), "quoted scalar"),
    ),
    Case(
        "tab indentation",
        HEAD + "instances:\n\t- id: post-1\n",
        ((3, 1), "tab character"),
    ),
    Case(
        "empty file",
        "",
        ((1, 1), "the file is empty"),
    ),
    Case(
        "only comments",
        "# nothing here\n\n",
        ((1, 1), "the file is empty"),
    ),
    Case(
        "top level is a list",
        "- version: 1\n",
        ((1, 1), "top level must be a mapping"),
    ),
    Case(
        "top level is a scalar",
        "just text\n",
        ((1, 1), "top level must be a mapping"),
    ),
    Case(
        "missing version",
        "instances: []\n",
        ((1, 1), "missing required key 'version'"),
    ),
    Case(
        "wrong version",
        "version: 2\n",
        ((1, 10), "unsupported version 2"),
    ),
    Case(
        "version as a string",
        "version: '1'\n",
        ((1, 10), "unsupported version '1'"),
    ),
    Case(
        "version as a boolean",
        "version: true\n",
        ((1, 10), "unsupported version"),
    ),
    Case(
        "unknown top-level key",
        HEAD + "instance: []\n",
        ((2, 1), "unknown key 'instance' (did you mean 'instances'?)"),
    ),
    Case(
        "unknown instance key",
        HEAD + "instances:\n  - id: post-1\n    regoin: cn-hangzhou\n",
        ((4, 5), "unknown key 'regoin' (did you mean 'region'?)"),
    ),
    Case(
        "unknown group key",
        HEAD
        + "instances:\n  - id: post-1\n    groups:\n      - id: GID_orders\n        topik: o1\n",
        ((6, 9), "unknown key 'topik' (did you mean 'topic'?)"),
    ),
    Case(
        "lower-case GID",
        HEAD + "instances:\n  - id: post-1\n    groups: [gid_orders]\n",
        ((4, 14), "'gid_orders' is not valid: a Group ID starts with GID_"),
    ),
    Case(
        "GID too short",
        HEAD + "instances:\n  - id: post-1\n    groups:\n      - GID_ab\n",
        ((5, 9), "'GID_ab' is not valid"),
    ),
    Case(
        "instance id with a space",
        HEAD + "instances:\n  - id: post cn 1\n",
        ((3, 9), "an instance id is letters"),
    ),
    Case(
        "groups is a mapping",
        HEAD + "instances:\n  - id: post-1\n    groups:\n      GID_orders: true\n",
        ((5, 7), "expected a list, found a mapping"),
    ),
    Case(
        "quoted boolean",
        HEAD + "instances:\n  - id: post-1\n    groups:\n      - id: GID_orders\n"
        "        protect: 'yes'\n",
        ((6, 18), "expected true or false, found a string"),
    ),
    Case(
        "date where a string is expected",
        HEAD + "instances:\n  - id: post-1\n    groups:\n      - id: GID_orders\n"
        "        description: 2024-01-31\n",
        ((6, 22), "found a date (quote the value"),
    ),
    Case(
        "group entry is a number",
        HEAD + "instances:\n  - id: post-1\n    groups: [GID_orders, 42]\n",
        ((4, 26), "expected a GID string or a mapping"),
    ),
    Case(
        "duplicate key in an instance",
        HEAD + "instances:\n  - id: post-1\n    id: post-2\n",
        ((4, 5), "duplicate key 'id' (first at line 3, column 5)"),
    ),
    Case(
        "duplicate top-level key",
        HEAD + "instances: []\ninstances: []\n",
        ((3, 1), "duplicate key 'instances' (first at line 2, column 1)"),
    ),
    Case(
        "duplicate GID in an instance",
        HEAD + "instances:\n  - id: post-1\n    groups:\n      - GID_orders\n      - GID_orders\n",
        ((6, 9), "duplicate GID 'GID_orders' in instance 'post-1': already declared at line 5"),
    ),
    Case(
        "a GID listed three times in an instance",
        HEAD + "instances:\n  - id: post-1\n    groups:\n      - GID_orders\n"
        "      - {id: GID_orders, topic: t}\n      - GID_orders\n",
        (
            (6, 9, "'post-1': already declared at line 5, column 9 (at instances[0].groups[1])"),
            (7, 9, "'post-1': already declared at line 5, column 9 (at instances[0].groups[2])"),
        ),
    ),
    Case(
        "GID both in an included set and in the instance",
        HEAD + "group_sets:\n  base: [GID_orders]\ninstances:\n  - id: post-1\n"
        "    include: [base]\n    groups: [{id: GID_orders, topic: orders}]\n",
        (
            (
                7,
                14,
                "duplicate GID 'GID_orders' in instance 'post-1': already in group set 'base' "
                "at line 3, column 10",
            ),
        ),
    ),
    Case(
        "two included sets overlap",
        HEAD + "group_sets:\n  a: [GID_orders]\n  b: [GID_orders]\ninstances:\n"
        "  - id: post-1\n    include: [a, b]\n",
        ((7, 18), "group set 'b' brings GID 'GID_orders' into instance 'post-1' a second time"),
    ),
    Case(
        "duplicate instance",
        HEAD + "instances:\n  - id: post-1\n  - id: post-1\n",
        ((4, 9), "instance 'post-1' in cn-hangzhou is declared twice: first at line 3, column 9"),
    ),
    Case(
        "GID both present and absent",
        HEAD + "instances:\n  - id: post-1\n    groups:\n      - GID_orders\n"
        "      - {id: GID_orders, absent: true}\n",
        ((6, 9), "is both present and absent in instance 'post-1': absent here, present at line 5"),
    ),
    Case(
        "GID absent, then present",
        HEAD + "instances:\n  - id: post-1\n    groups:\n      - {id: GID_orders, absent: true}\n"
        "      - GID_orders\n",
        ((6, 9), "is both present and absent in instance 'post-1': present here, absent at line 5"),
    ),
    Case(
        "an absent GID twice",
        HEAD + "instances:\n  - id: post-1\n    groups:\n      - {id: GID_orders, absent: true}\n"
        "      - {id: GID_orders, absent: true}\n",
        ((6, 9), "duplicate GID 'GID_orders' in instance 'post-1': already declared at line 5"),
    ),
    Case(
        "unknown group set",
        HEAD
        + "group_sets:\n  base: [GID_orders]\ninstances:\n  - id: post-1\n    include: [bsae]\n",
        ((6, 15), "unknown group set 'bsae' (did you mean 'base'?)"),
    ),
    Case(
        "set included twice",
        HEAD + "group_sets:\n  base: [GID_orders]\ninstances:\n  - id: post-1\n"
        "    include: [base, base]\n",
        ((6, 21), "group set 'base' is included twice"),
    ),
    Case(
        "undefined alias",
        HEAD + "instances:\n  - id: post-1\n    groups: *standard\n",
        ((4, 13), "found undefined alias 'standard'"),
    ),
    Case(
        "alias to a value of the wrong type",
        HEAD + "defaults: &defaults\n  protect: true\ninstances:\n  - id: post-1\n"
        "    groups: *defaults\n",
        ((6, 13), "expected a list, found a mapping"),
    ),
    Case(
        "anchor defined twice",
        HEAD + "group_sets:\n  a: &s [GID_orders]\n  b: &s [GID_billing]\n",
        ((4, 6), "anchor &s is defined twice (first at line 3, column 6)"),
    ),
    Case(
        "merge of a scalar",
        HEAD + "instances:\n  - <<: 1\n    id: post-1\n",
        ((3, 9), "'<<' (merge) needs a mapping"),
    ),
    Case(
        "not UTF-8",
        b"version: 1\ninstances:\n  - id: post-\xff1\n",
        ((3, 14), "not valid UTF-8: byte 0xff at offset 35"),
    ),
    Case(
        "UTF-16 file",
        "version: 1\n".encode("utf-16"),
        ((1, 1), "not valid UTF-8: byte 0xff at offset 0"),
    ),
    Case(
        "control character",
        "version: 1\ninstances: [\x07]\n",
        ((2, 13), "character U+0007 is not allowed"),
    ),
    Case(
        "ownership not allowed",
        HEAD + "defaults:\n  ownership: mine\n",
        ((3, 14), "'mine' is not allowed here: expected 'managed' or 'exclusive'"),
    ),
    Case(
        # Case is ignored in suggesting: ONS is one slip from ons.
        "api in capitals",
        HEAD + "provider:\n  api: ONS\n",
        ((3, 8), "unknown api 'ONS' (did you mean 'ons'?): expected 'ons' or 'onsmqtt'"),
    ),
    Case(
        "ownership misspelt",
        HEAD + "defaults:\n  ownership: Exclusive\ninstances:\n  - id: post-cn-a\n"
        "    ownership: manged\n",
        (
            (
                3,
                14,
                "'Exclusive' is not allowed here (did you mean 'exclusive'?): expected "
                "'managed' or 'exclusive'",
            ),
            (
                6,
                16,
                "'manged' is not allowed here (did you mean 'managed'?): expected "
                "'managed' or 'exclusive'",
            ),
        ),
    ),
    Case(
        "key in capitals",
        HEAD + "Instances: []\n",
        ((2, 1), "unknown key 'Instances' (did you mean 'instances'?)"),
    ),
    Case(
        # A list of known client ids naming one twice holds a typo.
        "duplicate client id",
        HEAD + "instances:\n  - id: post-1\n    api: onsmqtt\n    groups:\n"
        "      - {id: GID_abc, clients: [GID_abc@@@d1, GID_abc@@@d2, GID_abc@@@d1]}\n",
        (
            (6, 61),
            "duplicate client id 'GID_abc@@@d1' of GID_abc: first listed at line 6, column 33",
        ),
    ),
    Case(
        "client ids with whitespace, control characters or '/'",
        HEAD + "group_sets:\n  base:\n    - {id: GID_set, clients: ['GID_set@@@a b']}\n"
        "instances:\n  - id: post-1\n    api: onsmqtt\n    groups:\n"
        '      - {id: GID_abc, clients: ["GID_abc@@@a\\tb", GID_abc@@@x/y, "GID_abc@@@\\x01"]}\n',
        (
            (4, 31, "client id 'GID_set@@@a b' contains a space: a client id is printable"),
            (9, 33, "client id 'GID_abc@@@a\\tb' contains U+0009"),
            (9, 51, "client id 'GID_abc@@@x/y' contains '/'"),
            (9, 66, "client id 'GID_abc@@@\\x01' contains U+0001"),
        ),
    ),
    Case(
        "negative max_deletes",
        HEAD + "safety:\n  max_deletes: -1\n",
        ((3, 16), "must be at least 0, found -1"),
    ),
    Case(
        "two backends",
        HEAD + "backend:\n  local: {path: s.json}\n  postgres: {dsn: '${PG}'}\n",
        ((3, 3), "expected exactly one of 'local' or 'postgres', both given"),
        env=(("PG", "postgresql://h/db"),),
    ),
    Case(
        # An unset variable is only a warning for validate (tests/commands/test_validate.py).
        "malformed environment variable reference",
        HEAD + "backend:\n  postgres:\n    dsn: ${RECONCILER_TEST_UNSET_DSN\n",
        ((4, 10), "unclosed '${' (write '${NAME}', or '$${' for a literal '${')"),
    ),
    Case(
        "interpolation where it is not expanded",
        HEAD + "backend:\n  local:\n    path: ${HOME}/state.json\n",
        ((4, 11), "${...} is only expanded in"),
    ),
    Case(
        "endpoint neither embedded nor a URL",
        HEAD + "provider:\n  endpoint: localhost:8080\n",
        ((3, 13), "expected 'embedded' or an http:// or https:// URL"),
    ),
    Case(
        "protected tombstone",
        HEAD + "instances:\n  - id: post-1\n    groups:\n      - id: GID_orders\n"
        "        absent: true\n        protect: true\n",
        ((7, 18), "cannot be both protected and absent"),
    ),
    Case(
        "nesting far too deep",
        HEAD + "provider: " + "[" * 3000 + "]" * 3000 + "\n",
        ((2, 1010), "exceeded maximum nesting depth"),
    ),
    Case(
        "two documents",
        HEAD + "---\nversion: 1\n",
        ((2, 1), "expected a single document"),
    ),
    Case(
        "unsupported tag",
        HEAD + "provider:\n  region: !!python/name:os.system cn-hangzhou\n",
        ((3, 11), "unsupported tag 'tag:yaml.org,2002:python/name:os.system'"),
    ),
    Case(
        "group set name with a space",
        HEAD + "group_sets:\n  my set: [GID_orders]\n",
        ((3, 3), "'my set' is not a valid group set name"),
    ),
]


def _normalise(case: Case) -> tuple[tuple[int, int, str], ...]:
    # Cases written as ((line, column), fragment) for brevity on one line.
    expected = case.expected
    if len(expected) == 2 and isinstance(expected[0], tuple) and isinstance(expected[1], str):
        (line, column), fragment = expected
        return ((line, column, fragment),)
    return expected


def _write(tmp_path: Path, case: Case) -> Path:
    path = tmp_path / "desired.yaml"
    if isinstance(case.content, bytes):
        path.write_bytes(case.content)
    else:
        path.write_text(case.content, encoding="utf-8")
    return path


def test_the_table_has_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_malformed_file_gives_located_errors_and_exit_1(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in case.env:
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("RECONCILER_TEST_UNSET_DSN", raising=False)
    path = _write(tmp_path, case)

    result = CliRunner().invoke(cli, ["validate", str(path)])

    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    *error_lines, summary = result.stderr.splitlines()
    assert summary.startswith("validate: ")
    located = [LOCATED.match(line) for line in error_lines]
    assert all(located), error_lines
    found = [(int(m["line"]), int(m["column"]), m["message"]) for m in located if m]
    assert all(m["file"] == str(path) for m in located if m)
    for line, column, fragment in _normalise(case):
        matches = [f for f in found if fragment in f[2]]
        assert matches, f"no error containing {fragment!r} in {error_lines}"
        assert (matches[0][0], matches[0][1]) == (line, column), error_lines


def test_every_error_is_reported_in_one_run(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text(
        "version: 1\n"
        "provider: {regoin: cn-hangzhou}\n"
        "instances:\n"
        "  - id: post-1\n"
        "    groups: [gid_bad, GID_orders, GID_orders]\n"
        "  - id: post-2\n"
        "    include: [missing]\n"
        "    ownership: mine\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigErrors) as caught:
        load_desired(path)
    messages = [error.format() for error in caught.value.errors]
    assert len(messages) == 5, messages
    assert messages == sorted(messages, key=lambda m: tuple(int(x) for x in m.split(":")[1:3]))
    assert "(at instances[0].groups[0])" in messages[1]


def test_missing_file_is_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert "nope.yaml: cannot read the file: No such file or directory" in result.stderr


def test_huge_file_is_refused_without_reading_it_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "MAX_FILE_BYTES", 1024)
    path = tmp_path / "huge.yaml"
    path.write_text("version: 1\n" + "# padding\n" * 200, encoding="utf-8")
    with pytest.raises(ConfigErrors, match="larger than"):
        load_desired(path)


READ_WITHOUT_RUAMEL = """
import json, sys
from reconciler.config import load_desired_text
from reconciler.errors import ConfigErrors
for text in json.load(sys.stdin):
    try:
        load_desired_text(text, "d.yaml", env={})
    except ConfigErrors:
        pass
print(sorted(name for name in sys.modules if name.startswith("ruamel")))
"""


def test_the_table_is_reported_without_ruamel() -> None:
    # One loader path: libyaml reads and words everything; ruamel.yaml is for `fmt` only.
    texts = [case.content for case in CASES if isinstance(case.content, str)]
    done = subprocess.run(
        [sys.executable, "-c", READ_WITHOUT_RUAMEL],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "[]", done.stderr
