"""Colour for terminal text: rich styles by name, one palette for plan and apply output.

Whether to colour is the caller's decision (a terminal, no ``--no-color``, no ``NO_COLOR``);
rich is imported only when colour is on, so output to a pipe or a file does not pay for it.
"""

from __future__ import annotations

from functools import cache

from reconciler.plan.model import Action

BOLD = "bold"
REFUSED = "bold red"
NOTE = "yellow"
FAILED = "red"
# A change looks the same in the plan and in the apply log.
ACTION_STYLES = {
    Action.CREATE: "green",
    Action.DELETE: "red",
    Action.ADOPT: "cyan",
    Action.FORGET: "magenta",
    Action.UPDATE: "yellow",
}


def paint(text: str, style: str, enabled: bool) -> str:
    """``text`` in ``style`` (a rich style such as ``"bold red"``) when ``enabled``."""
    if not enabled or not style:
        return text
    prefix, suffix = _codes(style)
    return f"{prefix}{text}{suffix}"


@cache
def _codes(style: str) -> tuple[str, str]:
    """The escape codes around a text in ``style``, in the 8 standard colours (what every
    terminal shows alike)."""
    from rich.color import ColorSystem  # noqa: PLC0415
    from rich.style import Style  # noqa: PLC0415

    marked = Style.parse(style).render("\0", color_system=ColorSystem.STANDARD)
    prefix, _, suffix = marked.partition("\0")
    return prefix, suffix
