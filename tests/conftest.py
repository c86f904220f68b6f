from __future__ import annotations

import os

from tests.fixtures.thoroughness import load_hypothesis_profile

pytest_plugins = ["tests.fixtures.emulator", "tests.fixtures.inspect_clock"]

# The official SDKs honour HTTP(S)_PROXY and ignore NO_PROXY; every test talks to 127.0.0.1.
for _name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_name, None)

# Before any test module builds its settings: they inherit the profile's example count.
load_hypothesis_profile()
