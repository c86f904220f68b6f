"""schemas/state.schema.json: generated from StateDocument, checked in, and what we write."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

from reconciler.models import LocalBackendConfig, StateResource
from reconciler.state import new_state, open_backend
from reconciler.state.schema import state_json_schema

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "state.schema.json"


def test_checked_in_schema_matches_the_model() -> None:
    generated = json.dumps(state_json_schema(), indent=2, sort_keys=True) + "\n"
    if os.environ.get("RECONCILER_UPDATE_SNAPSHOTS", "") not in ("", "0"):
        SCHEMA_PATH.write_text(generated, encoding="utf-8")
    assert SCHEMA_PATH.read_text(encoding="utf-8") == generated, (
        "schemas/state.schema.json is out of date; run with RECONCILER_UPDATE_SNAPSHOTS=1"
    )


def test_written_state_files_validate_against_the_schema(tmp_path: Path) -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    backend = open_backend(LocalBackendConfig(), base_dir=tmp_path)
    resource = StateResource(
        region="cn-hangzhou",
        instance_id="post-cn-test0001",
        group_id="GID_orders",
        topic="orders",
        protect=True,
        origin="adopted",
        recorded_at="2026-01-02T03:04:05+00:00",
    )
    backend.write(new_state().with_resource(resource), expected_serial=0)
    document = json.loads((tmp_path / ".reconciler" / "state.json").read_text())
    jsonschema.validate(document, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**document, "serial": -1}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**document, "extra": 1}, schema)
