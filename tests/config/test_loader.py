"""Loading valid files: resolution, group sets, anchors, ${VAR}, warnings, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.config import load_desired, load_desired_result, load_desired_text
from reconciler.config.loader import load_desired_text_result
from reconciler.errors import ConfigErrors
from reconciler.models import DesiredGroup, LocalBackendConfig, PostgresBackendConfig

FULL = """\
version: 1
provider:
  region: cn-shanghai
  endpoint: ${ENDPOINT}
  profile: ci
backend:
  postgres:
    dsn: ${PG_DSN}
    schema: recon
    workspace: prod
defaults:
  ownership: exclusive
  protect: true
safety:
  max_deletes: 3
  max_delete_share: 0.5
  share_min_groups: 4
group_sets:
  standard: &standard
    - GID_audit
    - {id: GID_ota, topic: firmware, protect: false}
instances:
  - &first
    id: post-cn-a
    include: [standard]
    groups:
      - GID_extra
      - {id: GID_gone, absent: true}
  - <<: *first
    id: post-cn-b
    region: cn-beijing
    ownership: managed
    independent_naming: false
"""
ENV = {"ENDPOINT": "http://127.0.0.1:9", "PG_DSN": "postgresql://user:s3cret@db/recon"}


def test_full_file_resolves_defaults_sets_and_merges() -> None:
    state = load_desired_text(FULL, "full.yaml", env=ENV)
    assert state.provider.region == "cn-shanghai"
    assert state.provider.endpoint == "http://127.0.0.1:9"
    assert state.provider.profile == "ci"
    assert state.safety.max_deletes == 3
    assert state.safety.max_delete_share == 0.5
    first, second = state.instances
    assert (first.instance_id, first.region, first.ownership) == (
        "post-cn-a",
        "cn-shanghai",
        "exclusive",
    )
    assert (second.instance_id, second.region, second.ownership) == (
        "post-cn-b",
        "cn-beijing",
        "managed",
    )
    assert first.independent_naming is None and second.independent_naming is False
    assert [g.group_id for g in first.groups] == ["GID_audit", "GID_extra", "GID_gone", "GID_ota"]
    by_id = {g.group_id: g for g in first.groups}
    assert by_id["GID_audit"] == DesiredGroup(group_id="GID_audit", protect=True)
    assert by_id["GID_ota"] == DesiredGroup(group_id="GID_ota", topic="firmware", protect=False)
    # A tombstone does not inherit defaults.protect (that would forbid the delete).
    assert by_id["GID_gone"] == DesiredGroup(group_id="GID_gone", absent=True)
    assert second.groups == first.groups
    assert state.source == "full.yaml"


def test_dsn_is_expanded_into_a_secret_never_shown() -> None:
    state = load_desired_text(FULL, env=ENV)
    backend = state.backend
    assert isinstance(backend, PostgresBackendConfig)
    assert backend.dsn.get_secret_value() == ENV["PG_DSN"]
    assert (backend.db_schema, backend.workspace) == ("recon", "prod")
    assert "s3cret" not in repr(state)
    assert "s3cret" not in state.model_dump_json()


def test_missing_variable_error_does_not_leak_other_values() -> None:
    with pytest.raises(ConfigErrors) as caught:
        load_desired_text(FULL, "full.yaml", env={"PG_DSN": ENV["PG_DSN"]})
    text = str(caught.value)
    assert text == "full.yaml:4:13: environment variable ENDPOINT is not set (at provider.endpoint)"
    assert "s3cret" not in text


def test_literal_dollar_and_embedded_reference() -> None:
    text = "version: 1\nprovider: {profile: 'a$${b}-${P}'}\n"
    assert load_desired_text(text, env={"P": "x"}).provider.profile == "a${b}-x"


def test_defaults_when_blocks_are_absent() -> None:
    state = load_desired_text("version: 1\ninstances:\n  - id: post-1\n    groups: [GID_one]\n")
    assert state.backend == LocalBackendConfig()
    assert state.provider.endpoint is None
    (instance,) = state.instances
    assert (instance.region, instance.ownership) == ("cn-hangzhou", "managed")
    assert instance.groups == (DesiredGroup(group_id="GID_one"),)


def test_local_backend_path_and_empty_local_block() -> None:
    state = load_desired_text("version: 1\nbackend:\n  local: {path: s/state.json}\n")
    assert state.backend == LocalBackendConfig(path="s/state.json")
    state = load_desired_text("version: 1\nbackend:\n  local:\n")
    assert state.backend == LocalBackendConfig()


def test_warnings_are_located_and_do_not_fail(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(
        "version: 1\n"
        "group_sets:\n  spare: [GID_spare]\n"
        "instances:\n  - id: post-1\n    region: cn-hangzou\n",
        encoding="utf-8",
    )
    result = load_desired_result(path)
    assert [w.format() for w in result.warnings] == [
        f"{path}:3:3: warning: group set 'spare' is not included by any instance "
        "(at group_sets.spare)",
        f"{path}:6:13: warning: unknown region 'cn-hangzou' (did you mean 'cn-hangzhou'?); "
        "fine if the region is new (at instances[0].region)",
    ]
    assert result.state.instances[0].region == "cn-hangzou"


def test_literal_dsn_with_password_warns() -> None:
    text = "version: 1\nbackend:\n  postgres:\n    dsn: postgresql://u:pw@h/db\n"
    result = load_desired_text_result(text, "x.yaml", env={})
    (warning,) = result.warnings
    assert "holds a password" in warning.message
    assert "pw@" not in warning.format()


def test_fmt_mode_leaves_references_unexpanded() -> None:
    result = load_desired_text_result(FULL, env={}, expand_env=False)
    assert result.state.provider.endpoint == "${ENDPOINT}"


def test_yaml_11_booleans_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(
        b"\xef\xbb\xbfversion: 1\ninstances:\n  - id: post-1\n    groups:\n"
        b"      - {id: GID_one, protect: yes}\n"
    )
    assert load_desired(path).instances[0].groups[0].protect is True


def test_errors_under_an_alias_point_at_the_alias() -> None:
    text = (
        "version: 1\n"
        "group_sets:\n  base: &base [GID_one]\n"
        "instances:\n  - id: post-1\n    include: [base]\n    groups: *base\n"
    )
    with pytest.raises(ConfigErrors) as caught:
        load_desired_text(text, "a.yaml")
    (error,) = caught.value.errors
    assert (error.line, error.column) == (7, 13)
    assert "already in group set 'base' at line 3, column 16" in error.message


def test_rejected_happy_path_input_is_not_resolved_partially() -> None:
    with pytest.raises(ConfigErrors):
        load_desired_text("version: 1\nbackend:\n  postgres:\n")


def test_validate_mode_warns_of_unset_variables_and_expands_the_others() -> None:
    result = load_desired_text_result(
        FULL, "full.yaml", env={"PG_DSN": ENV["PG_DSN"]}, warn_unset_env=True
    )
    assert [warning.format() for warning in result.warnings] == [
        "full.yaml:4:13: warning: environment variable ENDPOINT is not set (plan, apply and "
        "state will need it) (at provider.endpoint)"
    ]
    assert result.state.provider.endpoint == "${ENDPOINT}"
    backend = result.state.backend
    assert isinstance(backend, PostgresBackendConfig)
    assert backend.dsn.get_secret_value() == ENV["PG_DSN"]


def test_validate_mode_still_refuses_malformed_references() -> None:
    text = "version: 1\nprovider: {profile: '${1X}', endpoint: 'http://${HOST'}\n"
    with pytest.raises(ConfigErrors) as caught:
        load_desired_text_result(text, "x.yaml", env={}, warn_unset_env=True)
    assert [error.format() for error in caught.value.errors] == [
        "x.yaml:2:21: '${1X}' is not a valid environment variable reference (at provider.profile)",
        "x.yaml:2:40: unclosed '${' (write '${NAME}', or '$${' for a literal '${') "
        "(at provider.endpoint)",
    ]
