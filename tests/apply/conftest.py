from __future__ import annotations

from tests.fixtures.emulator import emulator, emulator_process

__all__ = ["emulator", "emulator_process"]
