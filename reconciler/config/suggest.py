"""Did-you-mean suggestions for misspelt keys, set names and regions."""

from __future__ import annotations

from collections.abc import Iterable


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'topic'?)`` for the closest choice, or ``""`` when nothing is close."""
    import difflib  # noqa: PLC0415 - only a file with a mistake pays for it

    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {matches[0]!r}?)" if matches else ""


def one_of(choices: Iterable[str]) -> str:
    """``'a', 'b' or 'c'`` for messages listing what is allowed."""
    quoted = [repr(choice) for choice in choices]
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]
