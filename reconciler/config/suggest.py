"""Did-you-mean suggestions for misspelt keys, set names, regions and enum values."""

from __future__ import annotations

from collections.abc import Iterable


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'topic'?)`` for the closest choice, or ``""`` when nothing is close.

    Case is ignored in comparing: ``ONS`` or ``Topic`` is one slip away from ``ons`` or
    ``topic``, not three."""
    import difflib  # noqa: PLC0415 - only a file with a mistake pays for it

    # Folded spelling -> the choice; the first of choices folding alike wins.
    by_folded: dict[str, str] = {}
    for choice in choices:
        by_folded.setdefault(choice.casefold(), choice)
    matches = difflib.get_close_matches(word.casefold(), list(by_folded), n=1, cutoff=0.6)
    return f" (did you mean {by_folded[matches[0]]!r}?)" if matches else ""


def one_of(choices: Iterable[str]) -> str:
    """``'a', 'b' or 'c'`` for messages listing what is allowed."""
    quoted = [repr(choice) for choice in choices]
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]
