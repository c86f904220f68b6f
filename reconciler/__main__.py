"""``python -m reconciler``, and the ``reconciler`` script: the CLI's ``main``."""

from __future__ import annotations

from reconciler.collector import collector_paused

# The CLI's modules (click's among them) live until exit: the collector would scan them while
# they are imported and free nothing, as it would a command's (``cli.LazyGroup.get_command``).
with collector_paused():
    from reconciler.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    main()
