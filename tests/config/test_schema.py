"""The checked-in JSON Schema matches the models; key tables match the models' fields."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from reconciler.config import schema
from reconciler.config.schema_gen import (
    FRAGMENT_SCHEMA_PATH,
    SCHEMA_PATH,
    build_fragment_schema,
    build_schema,
    main,
    render_schema,
)
from tests.fixtures.runs import ROOT


def test_checked_in_schema_is_up_to_date() -> None:
    checked_in = (ROOT / SCHEMA_PATH).read_text(encoding="utf-8")
    assert checked_in == render_schema(), (
        "schemas/desired-state.schema.json is stale: run `python -m reconciler.config.schema_gen`"
    )


@pytest.mark.parametrize("schema_path", [SCHEMA_PATH, FRAGMENT_SCHEMA_PATH])
def test_check_mode_fails_on_drift(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, schema_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["--check"]) == 1  # missing
    assert main([]) == 0
    assert main(["--check"]) == 0
    path = tmp_path / schema_path
    path.write_text(path.read_text(encoding="utf-8").replace("GID", "XID"), encoding="utf-8")
    assert main(["--check"]) == 1


def test_the_fragment_schema_is_the_whole_files_with_nothing_required() -> None:
    whole, fragment = build_schema(), build_fragment_schema()
    assert "required" not in fragment
    assert fragment["$defs"] == whole["$defs"]
    assert fragment["properties"] == whole["properties"]
    assert fragment["additionalProperties"] is False


def test_schema_forbids_unknown_keys_and_requires_version() -> None:
    generated = build_schema()
    assert generated["required"] == ["version"]
    assert generated["additionalProperties"] is False
    definitions = generated["$defs"]
    assert all(
        d.get("additionalProperties") is False for d in definitions.values() if "properties" in d
    )
    json.dumps(generated)


@pytest.mark.parametrize(
    ("model", "keys"),
    [
        (schema.DesiredFile, schema.TOP_KEYS),
        (schema.ProviderSpec, schema.PROVIDER_KEYS),
        (schema.BackendSpec, schema.BACKEND_KEYS),
        (schema.LocalBackendSpec, schema.LOCAL_KEYS),
        (schema.PostgresBackendSpec, schema.POSTGRES_KEYS),
        (schema.DefaultsSpec, schema.DEFAULTS_KEYS),
        (schema.SafetySpec, schema.SAFETY_KEYS),
        (schema.InstanceSpec, schema.INSTANCE_KEYS),
        (schema.GroupSpec, schema.GROUP_KEYS),
    ],
)
def test_canonical_key_order_lists_every_field(
    model: type[BaseModel], keys: tuple[str, ...]
) -> None:
    names = tuple(field.alias or name for name, field in model.model_fields.items())
    assert names == keys
