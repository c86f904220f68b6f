"""A small plan pays only for what it uses (issue 8's start-up target, `bench/bench_plan.py`).

Timings belong to the benchmark; these tests pin the reasons it is fast, in a fresh interpreter
(the test process has imported everything long ago): which modules a plan with a local backend
against an emulator URL imports, which pydantic validators it builds, that pydantic's plugin
scan is off and that the collector skips the last pass over every object at exit.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

import reconciler
from tests.fixtures.apply_kit import subprocess_env
from tests.fixtures.emulator import TEST_INSTANCE_ID, RunningEmulator

SCRIPT = """\
import atexit, gc, json, sys

# Registered before the CLI's own hook, so it runs after it (atexit runs in reverse order).
atexit.register(lambda: print("FROZEN", gc.get_freeze_count() > 0, file=sys.stderr))

from pydantic import BaseModel
from reconciler.cli import main

try:
    main(sys.argv[1:])
except SystemExit as exited:
    code = exited.code
models = [
    value
    for name, module in list(sys.modules.items())
    if name.startswith("reconciler")
    for value in list(vars(module).values())
    if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == name
]
defined = sorted(value.__qualname__ for value in models)
built = sorted(
    f"{value.__module__}.{value.__qualname__}" for value in models if value.__pydantic_complete__
)
import os
report = {
    "code": code,
    "modules": sorted(sys.modules),
    "defined": defined,
    "built": built,
    "plugins": os.environ.get("PYDANTIC_DISABLE_PLUGINS"),
}
print("REPORT", json.dumps(report), file=sys.stderr)
"""

# Loaded by other commands or backends, never by this plan (the first ones are C-backed or
# large; requests and urllib3, which only the CI forges use, cost as much to import as the rest
# of the plan; the others are modules of this package that only other formats or commands need).
NOT_IMPORTED = (
    "requests",
    "urllib3",
    "psycopg",
    "deepdiff",
    "rich",
    "ruamel.yaml",
    "difflib",
    # Only a large state's read ahead hands its values over by pickle.
    "pickle",
    "reconciler.emulator",
    "reconciler.state.postgres",
    "reconciler.render.json",
    "reconciler.render.markdown",
    "reconciler.plan.planfile",
    "reconciler.config.locate",
    "reconciler.apply",
    # The CustomAuth answers: only a listing of an onsmqtt instance's access entries reads them.
    "reconciler.cloud.access_responses",
    # A static key: none of the chain's later sources (profile files, roles), nor STS's client.
    "reconciler.cloud.credentials.cli_profile",
    "reconciler.cloud.credentials.ini_file",
    "reconciler.cloud.credentials.roles",
    "reconciler.cloud.credentials.sts",
    "reconciler.cloud.credentials.ecs_metadata",
    "reconciler.cloud.credentials.uri",
    "reconciler.cloud.credentials.http_source",
    "reconciler.cloud.credentials.refresh",
    "alibabacloud_credentials",
    "jwt",
    # pydantic's plugin loader would import it; with every plugin disabled it is not asked.
    "importlib.metadata",
)

# Answers of the query and instance actions: a plan without deletes asks none of them, so their
# classes (each costs start-up time to create, built or not) are never even defined.
NOT_DEFINED = {
    "ClientSetResponse",
    "ClientInfoResponse",
    "StatsResponse",
    "SessionResponse",
    "SessionListResponse",
    "InstanceListResponse",
}

# The models this plan validates (or serialises): the file's shape, the resolved desired state
# (its digest), the lock record and a listing response. Every other model is created with
# ``model_construct`` from values already validated, so its validator is never built.
VALIDATED = {
    "reconciler.config.schema.DesiredFile",
    "reconciler.models.DesiredState",
    "reconciler.state.base.LockInfo",
    "reconciler.cloud.responses.GroupIdListResponse",
    "reconciler.cloud.responses.GroupIdDataResponse",
}


def _small_plan(tmp_path: Path, emulator: RunningEmulator) -> tuple[dict[str, Any], str]:
    """The benchmark's small plan: 10 GIDs in the cloud, declared, adopted into a new state."""
    names = [f"GID_small_{n:02d}" for n in range(10)]
    with emulator.store.transaction() as conn:
        for name in names:
            emulator.store.insert_group(conn, TEST_INSTANCE_ID, name, emulator.topic)
    groups = "".join(f"      - {name}\n" for name in names)
    (tmp_path / "small.yaml").write_text(
        "version: 1\nbackend:\n  local:\n    path: state.json\n"
        f"instances:\n  - id: {TEST_INSTANCE_ID}\n    groups:\n{groups}",
        encoding="utf-8",
    )
    url = emulator.url
    env = subprocess_env(url)
    env.pop("PYDANTIC_DISABLE_PLUGINS", None)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, "plan", "small.yaml", "--endpoint", url],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    line = next(line for line in done.stderr.splitlines() if line.startswith("REPORT "))
    return json.loads(line.removeprefix("REPORT ")), done.stderr


def test_a_small_plan_imports_and_builds_only_what_it_uses(
    tmp_path: Path, emulator: RunningEmulator
) -> None:
    report, stderr = _small_plan(tmp_path, emulator)
    assert report["code"] == 0, stderr
    modules = set(report["modules"])
    loaded = [
        name for name in NOT_IMPORTED if any(m == name or m.startswith(f"{name}.") for m in modules)
    ]
    assert loaded == []

    assert NOT_DEFINED & set(report["defined"]) == set()
    assert "GroupIdListResponse" in report["defined"]  # the check sees defined models

    built = set(report["built"])
    assert "reconciler.config.schema.DesiredFile" in built  # the check sees built models
    assert built <= VALIDATED, sorted(built - VALIDATED)

    # pydantic's scan of every installed distribution for plugins is skipped ...
    assert report["plugins"] == "__all__"
    # ... and so is the collector's last pass over every live object at exit.
    assert "FROZEN True" in stderr


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_no_default_factory_has_its_signature_parsed_from_text() -> None:
    """Building a validator, pydantic reads each default factory's signature: a builtin's
    (``list``) is parsed from its text by tokenize, whose patterns cost a start-up some 2 ms
    to compile (``models.empty_list`` instead)."""
    for module in pkgutil.walk_packages(reconciler.__path__, "reconciler."):
        importlib.import_module(module.name)
    models = [
        model for model in _subclasses(BaseModel) if model.__module__.startswith("reconciler.")
    ]
    assert any(model.__name__ == "DesiredFile" for model in models)  # the walk sees them
    parsed = [
        f"{model.__module__}.{model.__qualname__}.{name}"
        for model in models
        for name, field in model.model_fields.items()
        if getattr(field.default_factory, "__text_signature__", None) is not None
    ]
    assert parsed == []
