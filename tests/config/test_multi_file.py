"""The desired state across files: directories, merging, each conflict located at every place."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from reconciler.config import load_desired_paths
from reconciler.config.merge import instance_settings
from reconciler.config.schema import InstanceSpec
from reconciler.errors import ConfigErrors

BASE = """\
version: 1
provider:
  region: cn-shanghai
group_sets:
  standard:
    - GID_audit
    - GID_ota
instances:
  - id: post-1
    ownership: exclusive
    include: [standard]
"""
PAYMENTS = """\
instances:
  - id: post-1
    groups:
      - GID_pay
      - id: GID_refunds
        topic: pay
  - id: post-2
    groups: [GID_ledger]
"""
ORDERS = """\
instances:
  - id: post-1
    groups:
      - GID_orders
"""


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def estate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return _tree(
        tmp_path / "gids",
        {
            "base.yaml": BASE,
            "teams/payments.yaml": PAYMENTS,
            "teams/orders.yml": ORDERS,
            ".hidden/broken.yaml": "not: [valid\n",
            "teams/.draft.yaml": "also: [broken\n",
            "README.md": "not yaml at all: [\n",
        },
    )


def _errors(args: list[str]) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        load_desired_paths(args)
    return [error.format() for error in caught.value.errors]


# --- merging ------------------------------------------------------------------------------------


def test_a_directory_is_every_yaml_file_below_it_sorted_hidden_skipped(estate: Path) -> None:
    result = load_desired_paths(["gids"])
    assert list(result.state.files) == [
        "gids/base.yaml",
        "gids/teams/orders.yml",
        "gids/teams/payments.yaml",
    ]
    assert result.state.source == "gids (3 files)"
    # The same directory named again, however spelt, is one input.
    assert load_desired_paths(["gids", "./gids", "gids/"]).state.source == "gids (3 files)"
    by_id = {instance.instance_id: instance for instance in result.state.instances}
    assert list(by_id) == ["post-1", "post-2"]
    one = by_id["post-1"]
    # Settings from the file that gives them, the region from the provider in another file.
    assert (one.region, one.ownership) == ("cn-shanghai", "exclusive")
    assert [g.group_id for g in one.groups] == [
        "GID_audit",
        "GID_orders",
        "GID_ota",
        "GID_pay",
        "GID_refunds",
    ]
    assert by_id["post-2"].region == "cn-shanghai"
    assert result.warnings == ()


def test_several_files_merge_like_their_directory(estate: Path) -> None:
    files = ["gids/base.yaml", "gids/teams/payments.yaml", "gids/teams/orders.yml"]
    merged = load_desired_paths(files).state
    assert merged.instances == load_desired_paths(["gids"]).state.instances
    assert merged.digest() == load_desired_paths(["gids"]).state.digest()


def test_each_file_is_recorded_with_the_digest_of_its_bytes(estate: Path) -> None:
    files = load_desired_paths(["gids"]).state.files
    assert files["gids/base.yaml"] == hashlib.sha256(BASE.encode()).hexdigest()


def test_one_file_loads_as_before_and_records_its_digest(estate: Path) -> None:
    result = load_desired_paths(["gids/base.yaml"])
    assert result.state.source == "gids/base.yaml"
    assert list(result.state.files) == ["gids/base.yaml"]
    assert [g.group_id for g in result.state.instances[0].groups] == ["GID_audit", "GID_ota"]


def test_identical_blocks_may_stand_in_several_files(tmp_path: Path) -> None:
    _tree(tmp_path, {"a.yaml": BASE, "b.yaml": "version: 1\nprovider:\n  region: cn-shanghai\n"})
    assert load_desired_paths([tmp_path]).state.provider.region == "cn-shanghai"


def test_a_set_defined_in_one_file_is_included_from_another(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "a.yaml": "version: 1\ngroup_sets:\n  std: [GID_audit]\n",
            "b.yaml": "instances:\n  - id: post-9\n    include: [std]\n",
        },
    )
    (instance,) = load_desired_paths([tmp_path]).state.instances
    assert [g.group_id for g in instance.groups] == ["GID_audit"]


def test_an_unused_set_is_a_warning_located_in_its_file(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "a.yaml": "version: 1\ngroup_sets:\n  std: [GID_audit]\n",
            "b.yaml": "instances:\n  - id: post-9\n",
        },
    )
    (warning,) = load_desired_paths([tmp_path]).warnings
    assert warning.format() == (
        f"{tmp_path}/a.yaml:3:3: warning: group set 'std' is not included by any instance "
        "(at group_sets.std)"
    )


def test_every_instance_field_but_id_groups_sets_and_access_is_a_setting() -> None:
    # Generic: a field added to instances (an API generation...) must agree across files too.
    joined = {"id", "include", "groups", "access"}
    assert set(instance_settings()) == set(InstanceSpec.model_fields) - joined
    assert {"region", "ownership", "independent_naming"} <= set(instance_settings())


# --- problems, each located in its file ----------------------------------------------------------


def test_a_missing_path_and_an_empty_directory_are_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert _errors([str(tmp_path / "nope"), str(tmp_path / "empty")]) == [
        f"{tmp_path}/nope: cannot read the file: No such file or directory",
        f"{tmp_path}/empty: the directory holds no desired-state file (*.yaml or *.yml)",
    ]


def test_an_error_in_a_team_file_is_located_there(estate: Path) -> None:
    payments = estate / "teams" / "payments.yaml"
    payments.write_text(PAYMENTS.replace("GID_ledger", "gid_ledger"), encoding="utf-8")
    assert _errors(["gids"]) == [
        "gids/teams/payments.yaml:8:14: 'gid_ledger' is not valid: a Group ID starts with GID_ or "
        "GID- followed by 3 to 60 letters, digits, '-' or '_' (at instances[1].groups[0])"
    ]


def test_a_syntax_error_in_one_file_does_not_hide_the_others_problems(estate: Path) -> None:
    (estate / "teams" / "orders.yml").write_text("instances: [\n", encoding="utf-8")
    (estate / "teams" / "payments.yaml").write_text(
        PAYMENTS.replace("topic: pay", "topik: pay"), encoding="utf-8"
    )
    errors = _errors(["gids"])
    assert len(errors) == 2
    assert errors[0].startswith("gids/teams/orders.yml:2:1: YAML syntax error")
    assert errors[1] == (
        "gids/teams/payments.yaml:6:9: unknown key 'topik' (did you mean 'topic'?) "
        "(at instances[0].groups[1].topik)"
    )


def test_blocks_with_different_values_are_an_error_at_every_place(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "a.yaml": "version: 1\nprovider:\n  region: cn-shanghai\n",
            "b.yaml": "provider:\n  region: cn-beijing\n",
            "c.yaml": "provider: {region: cn-hangzhou}\ninstances: []\n",
        },
    )
    a, b, c = (f"{tmp_path}/{name}.yaml" for name in "abc")
    message = "'provider' is given in 3 files with 3 different values: here and at"
    advice = "give it in one file, or the same everywhere (at provider)"
    assert _errors([str(tmp_path)]) == [
        f"{a}:2:1: {message} {b}:1:1, {c}:1:1; {advice}",
        f"{b}:1:1: {message} {a}:2:1, {c}:1:1; {advice}",
        f"{c}:1:1: {message} {a}:2:1, {b}:1:1; {advice}",
    ]


def test_a_block_given_the_same_in_two_of_three_files_counts_its_values(
    tmp_path: Path,
) -> None:
    _tree(
        tmp_path,
        {
            "a.yaml": "version: 1\nprovider:\n  region: cn-shanghai\n",
            "b.yaml": "provider:\n  region: cn-shanghai\n",
            "c.yaml": "provider: {region: cn-hangzhou}\n",
        },
    )
    errors = _errors([str(tmp_path)])
    assert len(errors) == 3
    assert all(
        "'provider' is given in 3 files with 2 different values: here and at" in e for e in errors
    )


@pytest.mark.parametrize("block", ["version: 1", "safety: {max_deletes: 3}", "defaults: {}"])
def test_every_single_block_must_agree(tmp_path: Path, block: str) -> None:
    key = block.split(":", maxsplit=1)[0]
    other = {"version": "version: 2", "safety": "safety: {max_deletes: 4}", "defaults": "defaults:"}
    first = f"{block}\n" if key == "version" else f"version: 1\n{block}\n"
    _tree(tmp_path, {"a.yaml": first, "b.yaml": f"{other[key]}\n"})
    errors = [e for e in _errors([str(tmp_path)]) if "files with 2 different values" in e]
    assert [e.split(": ")[0] for e in errors] == [
        f"{tmp_path}/a.yaml:{1 if key == 'version' else 2}:1",
        f"{tmp_path}/b.yaml:1:1",
    ]


def test_a_group_set_defined_twice_is_an_error_at_both_places(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "a.yaml": "version: 1\ngroup_sets:\n  std: [GID_audit]\n",
            "b.yaml": "group_sets:\n  other: [GID_other]\n  std: [GID_audit]\n",
        },
    )
    a, b = f"{tmp_path}/a.yaml", f"{tmp_path}/b.yaml"
    errors = _errors([str(tmp_path)])
    assert errors[:2] == [
        f"{a}:3:3: group set 'std' is defined twice: also at {b}:3:3 (at group_sets.std)",
        f"{b}:3:3: group set 'std' is defined twice: also at {a}:3:3 (at group_sets.std)",
    ]


@pytest.mark.parametrize(
    ("setting", "here", "there"),
    [
        ("region", "cn-beijing", "cn-shanghai"),
        ("ownership", "managed", "exclusive"),
        ("independent_naming", "true", "false"),
    ],
)
def test_an_instance_s_settings_must_agree_where_given(
    tmp_path: Path, setting: str, here: str, there: str
) -> None:
    _tree(
        tmp_path,
        {
            "a.yaml": f"version: 1\ninstances:\n  - id: post-1\n    {setting}: {here}\n",
            "b.yaml": "instances:\n  - id: post-1\n    groups: [GID_one]\n",
            "c.yaml": f"instances:\n  - id: post-1\n    {setting}: {there}\n",
        },
    )
    a, c = f"{tmp_path}/a.yaml", f"{tmp_path}/c.yaml"
    shown_here = repr(here == "true") if setting == "independent_naming" else repr(here)
    shown_there = repr(there == "true") if setting == "independent_naming" else repr(there)
    tail = "its settings must agree in every file that gives them"
    assert _errors([str(tmp_path)]) == [
        f"{a}:4:{7 + len(setting)}: instance 'post-1' has {setting} {shown_here} here but "
        f"{shown_there} at {c}:3:{7 + len(setting)}: {tail} (at instances[0].{setting})",
        f"{c}:3:{7 + len(setting)}: instance 'post-1' has {setting} {shown_there} here but "
        f"{shown_here} at {a}:4:{7 + len(setting)}: {tail} (at instances[0].{setting})",
    ]


def test_settings_given_once_apply_to_every_file_s_entry(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "a.yaml": "version: 1\ninstances:\n  - id: post-1\n    region: cn-beijing\n",
            "b.yaml": "instances:\n  - id: post-1\n    groups: [GID_one]\n",
        },
    )
    (instance,) = load_desired_paths([tmp_path]).state.instances
    assert (instance.region, [g.group_id for g in instance.groups]) == ("cn-beijing", ["GID_one"])


def test_a_gid_declared_in_two_files_is_an_error_at_both(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "a.yaml": "version: 1\ninstances:\n  - id: post-1\n    groups: [GID_one, GID_two]\n",
            "b.yaml": "instances:\n  - id: post-1\n    groups:\n      - id: GID_two\n",
        },
    )
    a, b = f"{tmp_path}/a.yaml", f"{tmp_path}/b.yaml"
    message = "GID 'GID_two' is declared for instance 'post-1' in two files: also at"
    assert _errors([str(tmp_path)]) == [
        f"{a}:4:23: {message} {b}:4:9 (at instances[0].groups[1])",
        f"{b}:4:9: {message} {a}:4:23 (at instances[0].groups[0])",
    ]


def test_a_gid_from_a_set_and_from_another_file_is_an_error_at_both(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "a.yaml": BASE,
            "b.yaml": "instances:\n  - id: post-1\n    groups: [GID_ota]\n",
        },
    )
    a, b = f"{tmp_path}/a.yaml", f"{tmp_path}/b.yaml"
    message = (
        "GID 'GID_ota' (from group set 'standard') is declared for instance 'post-1' in two "
        "files: also at"
    )
    assert _errors([str(tmp_path)]) == [
        f"{a}:11:15: {message} {b}:3:14 (at instances[0].include[0])",
        f"{b}:3:14: {message} {a}:11:15 (at instances[0].groups[0])",
    ]


def test_a_set_included_for_one_instance_in_two_files_is_an_error_at_both(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {"a.yaml": BASE, "b.yaml": "instances:\n  - id: post-1\n    include: [standard]\n"},
    )
    a, b = f"{tmp_path}/a.yaml", f"{tmp_path}/b.yaml"
    message = "group set 'standard' is declared for instance 'post-1' in two files: also at"
    assert _errors([str(tmp_path)]) == [
        f"{a}:11:15: {message} {b}:3:15 (at instances[0].include[0])",
        f"{b}:3:15: {message} {a}:11:15 (at instances[0].include[0])",
    ]


def test_an_instance_twice_in_one_file_is_still_an_error(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "a.yaml": "version: 1\ninstances:\n  - id: post-1\n  - id: post-1\n",
            "b.yaml": "instances:\n  - id: post-2\n",
        },
    )
    (error,) = _errors([str(tmp_path)])
    assert error.startswith(f"{tmp_path}/a.yaml:4:9: instance 'post-1' in cn-hangzhou is declared")


def test_no_version_anywhere_is_an_error(tmp_path: Path) -> None:
    _tree(tmp_path, {"a.yaml": "instances: []\n", "b.yaml": "instances: []\n"})
    (error,) = _errors([str(tmp_path)])
    assert "missing required key 'version'" in error


# --- where each GID is declared ----------------------------------------------------------------


def test_declarations_locate_gids_in_their_file_and_sets(estate: Path) -> None:
    declared = load_desired_paths(["gids"]).declarations
    assert declared is not None
    keys = [
        ("post-1", "GID_refunds"),
        ("post-1", "GID_orders"),
        ("post-1", "GID_ota"),
        ("post-2", "GID_ledger"),
        ("post-1", "GID_undeclared"),
    ]
    assert declared.locate(keys) == {
        ("post-1", "GID_refunds"): ("gids/teams/payments.yaml", 5),
        ("post-1", "GID_orders"): ("gids/teams/orders.yml", 4),
        ("post-1", "GID_ota"): ("gids/base.yaml", 7),
        ("post-2", "GID_ledger"): ("gids/teams/payments.yaml", 8),
    }


def test_declarations_of_a_file_with_anchors_are_located_from_its_text(tmp_path: Path) -> None:
    # Anchors and aliases take the fallback parse, which notes no lines: located on demand.
    _tree(
        tmp_path,
        {
            "a.yaml": "version: 1\ngroup_sets:\n  std: &std\n    - GID_audit\n"
            "instances:\n  - id: post-1\n    groups: &g\n      - GID_one\n"
            "  - id: post-2\n    groups: *g\n",
            "b.yaml": "instances:\n  - id: post-3\n    include: [std]\n",
        },
    )
    declared = load_desired_paths([tmp_path]).declarations
    assert declared is not None
    a = f"{tmp_path}/a.yaml"
    # A set's GIDs are declared where the set is, not where it is included.
    assert declared.locate(
        [("post-1", "GID_one"), ("post-2", "GID_one"), ("post-3", "GID_audit")]
    ) == {
        ("post-1", "GID_one"): (a, 8),
        ("post-2", "GID_one"): (a, 10),
        ("post-3", "GID_audit"): (a, 4),
    }


def test_the_api_is_a_setting_too_and_holds_for_every_file_s_entry(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "a.yaml": "version: 1\ninstances:\n  - id: post-1\n    api: onsmqtt\n",
            "b.yaml": "group_sets:\n  edge:\n    - {id: GID_edge, clients: [GID_edge@@@dev-1]}\n"
            "instances:\n  - id: post-1\n    include: [edge]\n",
        },
    )
    result = load_desired_paths([tmp_path])
    (instance,) = result.state.instances
    assert instance.api == "onsmqtt"
    # b.yaml's entry does not repeat the api: its clients are not "ignored on an ons instance".
    assert result.warnings == ()
    _tree(tmp_path, {"c.yaml": "instances:\n  - id: post-1\n    api: ons\n"})
    errors = _errors([str(tmp_path)])
    assert [e.split(": ")[0] for e in errors] == [
        f"{tmp_path}/a.yaml:4:10",
        f"{tmp_path}/c.yaml:3:10",
    ]
    assert "instance 'post-1' has api 'onsmqtt' here but 'ons' at" in errors[0]
