from __future__ import annotations

import os

import pytest

from tests.fixtures.thoroughness import IN_CI, load_hypothesis_profile

# Emulator first: the others import it, and a plugin imported before it is registered is not
# assertion-rewritten.
pytest_plugins = [
    "tests.fixtures.emulator",
    "tests.fixtures.sts",
    "tests.fixtures.apis",
    "tests.fixtures.inspect_clock",
]

# The official SDKs honour HTTP(S)_PROXY and ignore NO_PROXY; every test talks to 127.0.0.1.
for _name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_name, None)

# Before any test module builds its settings: they inherit the profile's example count.
load_hypothesis_profile()

# Markers of the tests the quick local loop leaves to CI (registered in pyproject.toml).
CI_ONLY = {
    "slow": "runs long (over ~3 s); CI runs it (set CI=true to run it here)",
    "network": "needs the network; CI runs it (set CI=true to run it here)",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if IN_CI:
        return
    for item in items:
        for marker, reason in CI_ONLY.items():
            if item.get_closest_marker(marker) is not None:
                item.add_marker(pytest.mark.skip(reason=f"{marker}: {reason}"))
                break


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto``: two workers a core. Most tests wait on child processes, servers and
    backoff rather than compute, so one worker a core leaves the cores half idle.
    PYTEST_XDIST_AUTO_NUM_WORKERS, when set, still decides."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    return 2 * len(os.sched_getaffinity(0))
