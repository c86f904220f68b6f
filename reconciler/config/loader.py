"""Load a desired-state file: fast when it is right, precise when it is wrong.

The happy path parses with libyaml and validates the document with one pydantic call, its
group lists checked apart in one pass (``plain_groups``): a 100,000-GID file costs little more
than parsing it. Only when something is wrong, or a warning must be located, is the text read
again with libyaml's parser, keeping line and column (``locate``); every problem is then
reported at once, each as ``FILE:LINE:COLUMN: message (at instances[2].groups[5].id)``. When
the fast path parsed the file, only the nodes on the paths of the problems are composed:
locating them costs about one libyaml scan of the text. When it could not (a duplicate key, a
bad tag...), the whole tree is composed and the data rebuilt from it, noting every problem on
the way. Text libyaml cannot read at all is one syntax error, in libyaml's words at the
position it gives.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from reconciler.config import checks, fastyaml
from reconciler.config.issues import ConfigWarning, Issue, format_loc
from reconciler.config.resolve import resolve
from reconciler.config.schema import DesiredFile
from reconciler.errors import ConfigError, ConfigErrors
from reconciler.models import DesiredState

if TYPE_CHECKING:
    from reconciler.config.declared import Declarations
    from reconciler.config.locate import Located, Locator, Position, Wanted
    from reconciler.config.merge import GroupLines

# 100,000 GIDs take about 5 MB; far beyond that a file is a mistake, not a configuration.
MAX_FILE_BYTES = 64 * 1024 * 1024
_EMPTY = "the file is empty: a desired-state file starts with 'version: 1'"
_Found = TypeVar("_Found", ConfigError, ConfigWarning)


@dataclass(frozen=True, slots=True)
class LoadResult:
    """A loaded file: the resolved state and the warnings that did not stop the load."""

    state: DesiredState
    warnings: tuple[ConfigWarning, ...] = ()
    # Where each GID is declared (loads of named files only).
    declarations: Declarations | None = None

    @property
    def instance_count(self) -> int:
        return len(self.state.instances)

    @property
    def access_count(self) -> int:
        """Identities, permissions and blacklist entries declared."""
        return sum(
            len(instance.identities) + len(instance.permissions) + len(instance.blacklist)
            for instance in self.state.instances
        )

    @property
    def group_count(self) -> int:
        return sum(len(instance.groups) for instance in self.state.instances)


def load_desired(path: str | Path, *, env: Mapping[str, str] | None = None) -> DesiredState:
    """The resolved desired state in ``path``; raises ConfigErrors listing every problem."""
    return load_desired_result(path, env=env).state


def load_desired_text(
    text: str, source: str = "<string>", *, env: Mapping[str, str] | None = None
) -> DesiredState:
    return load_desired_text_result(text, source, env=env).state


def load_desired_result(
    path: str | Path,
    *,
    env: Mapping[str, str] | None = None,
    expand_env: bool = True,
    warn_unset_env: bool = False,
) -> LoadResult:
    """Like ``load_desired`` but also returns the warnings (unknown regions, unused sets...)."""
    return load_desired_text_result(
        read_text(path), str(path), env=env, expand_env=expand_env, warn_unset_env=warn_unset_env
    )


def load_desired_text_result(
    text: str,
    source: str = "<string>",
    *,
    env: Mapping[str, str] | None = None,
    expand_env: bool = True,
    warn_unset_env: bool = False,
) -> LoadResult:
    """Load from text. ``expand_env=False`` leaves ``${VAR}`` unexpanded (fmt needs no secrets).

    ``warn_unset_env=True`` checks each ``${VAR}`` but makes one naming an unset variable a
    warning, left unexpanded in the state (``validate``: a lint job needs no secrets).
    """
    checking = Checking(environment(env, expand_env), warn_unset_env)
    return load_text(text, source, checking)[0]


def environment(env: Mapping[str, str] | None, expand_env: bool) -> Mapping[str, str] | None:
    return (os.environ if env is None else env) if expand_env else None


def load_text(
    text: str, source: str, checking: Checking, *, with_lines: bool = False
) -> tuple[LoadResult, DesiredFile, GroupLines | None]:
    """The loaded file, its validated document and, ``with_lines``, the line of each group
    where the fast path noted it (``files`` reads where each GID is declared from them)."""
    failure: BaseException | None = None
    issues: list[Issue] = []
    item_lines: fastyaml.ItemLines | None = {} if with_lines else None
    try:
        # Also refuses text nested too deep for libyaml (RecursionError).
        data = fastyaml.load_fast(text, item_lines)
    except Exception as exc:  # any parse failure: the precise pass explains it
        failure = exc
    else:
        doc, issues, expanded = checking.check(data)
        lines = None
        if item_lines is not None and doc is not None:
            from reconciler.config.merge import group_lines  # noqa: PLC0415

            lines = group_lines(data, item_lines)
        # Free the raw tree before resolving, but for the group entries the document keeps
        # as given (``plain_groups``: smaller than a GroupSpec each).
        del data, item_lines
        if doc is not None and expanded is not None and all(i.warning for i in issues):
            state = resolve(doc, expanded, source=source)
            warnings = _locate_warnings(text, source, issues) if issues else ()
            return LoadResult(state, warnings), doc, lines
    raise ConfigErrors(_diagnose(text, source, checking, failure, issues))


def read_text(path: str | Path) -> str:
    """The file's text; unreadable, huge and non-UTF-8 files are ConfigErrors."""
    return read_file(path, str(path))[0]


def read_file(path: str | Path, source: str) -> tuple[str, str]:
    """The file's text and the sha256 of its bytes; errors name the file ``source``."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigErrors(
            [ConfigError(f"cannot read the file: {exc.strerror}", file=source)]
        ) from exc
    if len(data) > MAX_FILE_BYTES:
        raise ConfigErrors(
            [ConfigError(f"the file is larger than {MAX_FILE_BYTES // 2**20} MiB", file=source)]
        )
    try:
        return data.decode("utf-8-sig"), hashlib.sha256(data).hexdigest()
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        bad = data[exc.start : exc.start + 1].hex()
        raise ConfigErrors(
            [
                ConfigError(
                    f"not valid UTF-8: byte 0x{bad} at offset {exc.start}; save the file as UTF-8",
                    file=source,
                    line=line,
                    column=column,
                )
            ]
        ) from exc


@dataclass(frozen=True, slots=True)
class Checking:
    """How to check data: with which environment, and whether an unset variable only warns."""

    env: Mapping[str, str] | None
    warn_unset_env: bool = False

    def check(self, data: Any) -> tuple[DesiredFile | None, list[Issue], checks.Expanded | None]:
        if data is None:
            return None, [Issue((), _EMPTY)], None
        if not isinstance(data, dict):
            found = "a list" if isinstance(data, list) else "a single value"
            message = (
                f"the top level must be a mapping with 'version' and 'instances', found {found}"
            )
            return None, [Issue((), message)], None
        doc, shape_issues = checks.check_shape(data)
        meaning_issues, expanded = checks.check_meaning(
            data, self.env, unset_warns=self.warn_unset_env
        )
        return doc, shape_issues + meaning_issues, expanded


def _diagnose(
    text: str,
    source: str,
    checking: Checking,
    failure: BaseException | None,
    fast_issues: list[Issue],
) -> list[ConfigError]:
    from reconciler.config import locate  # noqa: PLC0415

    if not text.strip():
        return [ConfigError(_EMPTY, file=source, line=1, column=1)]
    # libyaml met a syntax error: composing the text again would only meet it again.
    if isinstance(failure, fastyaml.SYNTAX_ERRORS):
        return [located_problem(source, locate.syntax_problem(text, failure))]
    try:
        if failure is None:
            # The fast path read the file: its checks' issues only lack positions.
            pruned = locate.compose(text, _wanted(fast_issues))
            if not pruned.recursive_alias:  # else the rebuild below says where it is
                finder = locate.Locator(pruned)
                found = [
                    _located(source, finder, i, ConfigError) for i in fast_issues if not i.warning
                ]
                return sorted(found, key=_order)
        rebuilt = locate.rebuild(text)
    except locate.SyntaxProblem as exc:
        return [located_problem(source, exc.problem)]
    locator = rebuilt.locator
    errors = [located_problem(source, problem) for problem in rebuilt.problems]
    _, issues, _ = checking.check(rebuilt.data)
    errors.extend(_located(source, locator, i, ConfigError) for i in issues if not i.warning)
    if not errors:
        # The fast path failed where the rebuild found nothing to say: report what it saw.
        errors = [_located(source, locator, i, ConfigError) for i in fast_issues if not i.warning]
        if not errors:
            errors = [fast_failure(source, failure)]
    errors.sort(key=_order)
    return errors


def fast_failure(source: str, failure: BaseException | None) -> ConfigError:
    mark = getattr(failure, "problem_mark", None)
    problem = getattr(failure, "problem", None) or str(failure or "cannot be read")
    if isinstance(failure, fastyaml.DuplicateKeyFound):
        problem = f"duplicate key {failure}"
    if mark is not None:
        return ConfigError(problem, file=source, line=mark.line + 1, column=mark.column + 1)
    return ConfigError(str(problem), file=source)


def _order(found: ConfigError | ConfigWarning) -> tuple[int, int]:
    return (found.line or 0, found.column or 0)


def located_problem(source: str, problem: Located) -> ConfigError:
    return _at(ConfigError, source, problem.position, problem.message, problem.path)


def _located(source: str, locator: Locator, issue: Issue, kind: type[_Found]) -> _Found:
    position = locator.find(issue.loc, at_key=issue.at_key)
    return _at(kind, source, position, _message(locator, issue), format_loc(issue.loc) or None)


def _at(
    kind: type[_Found], source: str, position: Position | None, message: str, path: str | None
) -> _Found:
    if position is None:
        return kind(message, file=source, path=path)
    return kind(message, file=source, line=position.line, column=position.column, path=path)


def _message(locator: Locator, issue: Issue) -> str:
    message = issue.message
    for index, loc in enumerate(issue.related):
        position = locator.find(loc)
        place = position.describe() if position else format_loc(loc)
        # Plain replacement, not str.format: the message may quote user text holding braces.
        message = message.replace("{" + str(index) + "}", place)
    return message


def _locate_warnings(text: str, source: str, issues: list[Issue]) -> tuple[ConfigWarning, ...]:
    from reconciler.config import locate  # noqa: PLC0415

    try:
        locator = locate.Locator(locate.compose(text, _wanted(issues)))
    except locate.SyntaxProblem:  # the fast path read the text: only a corner case lands here
        locator = locate.Locator(None)
    return tuple(sorted((_located(source, locator, i, ConfigWarning) for i in issues), key=_order))


def _wanted(issues: list[Issue]) -> Wanted:
    from reconciler.config import locate  # noqa: PLC0415

    return locate.wanted_paths(loc for issue in issues for loc in (issue.loc, *issue.related))
