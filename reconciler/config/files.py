"""Load the desired state from files and directories: one file as always, several merged.

``load_desired_paths(["teams/"])`` reads every YAML file below ``teams/`` (``inputs``), parses
each with the fast path, merges them (``merge``) and checks the merged document once. Every
problem is located in the file it is in, as ``FILE:LINE:COLUMN: message``; a problem between
files (a block given twice with different values, a GID declared twice) is reported at each
place, naming the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from reconciler.collector import collector_paused
from reconciler.config import checks, fastyaml, merge
from reconciler.config.inputs import InputFile, expand_inputs, inputs_label
from reconciler.config.issues import ConfigWarning, Loc, format_loc
from reconciler.config.loader import (
    Checking,
    LoadResult,
    environment,
    fast_failure,
    load_text,
    located_problem,
    read_file,
)
from reconciler.config.resolve import resolve
from reconciler.errors import ConfigError, ConfigErrors

if TYPE_CHECKING:
    from reconciler.config.locate import Locator

_Located = TypeVar("_Located", ConfigError, ConfigWarning)
_TOP_LEVEL = "the top level must be a mapping with 'version' and 'instances', found {}"


def load_desired_paths(
    args: Sequence[str | Path],
    *,
    base: Path | None = None,
    env: Mapping[str, str] | None = None,
    expand_env: bool = True,
    warn_unset_env: bool = False,
) -> LoadResult:
    """The desired state the files and directories ``args`` hold (see ``inputs``); raises
    ConfigErrors listing every problem. ``base``: where relative ``args`` are (default: the
    working directory). The state's ``files`` records each file's digest."""
    files = expand_inputs(args, base=base)
    checking = Checking(environment(env, expand_env), warn_unset_env)
    with collector_paused():
        if len(files) == 1:
            return _load_one(files[0], checking)
        return _load_several(files, checking, inputs_label(args, files))


def _load_one(item: InputFile, checking: Checking) -> LoadResult:
    text, digest = read_file(item.path, item.name)
    result, doc, lines = load_text(text, item.name, checking, with_lines=True)
    origins = merge.single_file_origins(doc)
    state = result.state.model_copy(update={"files": {item.name: digest}})
    declared = merge.declarations(doc, origins, [item.name], [text], lines)
    return LoadResult(state, result.warnings, declared)


class _Files:
    """The files being merged: their names, texts and, for those the fast path could not
    read, the locator of their rebuilt tree."""

    def __init__(self, items: Sequence[InputFile]) -> None:
        self.names = [item.name for item in items]
        self.texts = [""] * len(items)
        self.digests: dict[str, str] = {}
        self.rebuilt: dict[int, Locator] = {}

    def locators(self, wanted: Mapping[int, list[Loc]]) -> dict[int, Locator]:
        from reconciler.config import locate  # noqa: PLC0415  (only once something is wrong)

        found: dict[int, Locator] = {}
        for file, locs in wanted.items():
            if file in self.rebuilt:
                found[file] = self.rebuilt[file]
                continue
            try:
                composed = locate.compose(self.texts[file], locate.wanted_paths(locs))
                found[file] = locate.Locator(composed)
            except locate.SyntaxProblem:  # it parsed once: only a corner case lands here
                found[file] = locate.Locator(None)
        return found


def _load_several(items: Sequence[InputFile], checking: Checking, label: str) -> LoadResult:
    files = _Files(items)
    item_lines: fastyaml.ItemLines = {}
    errors: list[ConfigError] = []
    documents: list[tuple[int, dict[object, object]]] = []
    for index, item in enumerate(items):
        try:
            text, digest = read_file(item.path, item.name)
        except ConfigErrors as exc:
            errors.extend(exc.errors)
            continue
        files.texts[index] = text
        files.digests[item.name] = digest
        data = _parse(index, item.name, text, files, errors, item_lines=item_lines)
        if data is None:
            continue  # an empty file adds nothing
        if not isinstance(data, dict):
            found = "a list" if isinstance(data, list) else "a single value"
            errors.append(ConfigError(_TOP_LEVEL.format(found), file=item.name, line=1, column=1))
            continue
        documents.append((index, data))

    merged = merge.merge_documents(documents)
    document = merged.document
    doc, shape_issues = checks.check_shape(document)
    meaning_issues, expanded = checks.check_meaning(
        document,
        checking.env,
        unset_warns=checking.warn_unset_env,
        instance_files=merged.origins.instance_files,
        shared_settings=merge.shared_settings(document),
    )
    lines = merge.group_lines(document, item_lines) if doc is not None else None
    del document, documents, item_lines  # the raw trees, but for the group entries doc keeps
    placed = merged.issues + merge.instance_conflicts(merged)
    placed.extend(merged.origins.placed(issue) for issue in shape_issues + meaning_issues)
    problems = [issue for issue in placed if not issue.warning]
    if errors or problems or doc is None:
        errors.extend(_locate(problems, files, ConfigError))
        order = {name: number for number, name in enumerate(files.names)}
        errors.sort(key=lambda e: (order.get(e.file or "", -1), e.line or 0, e.column or 0))
        raise ConfigErrors(errors)
    declared = merge.declarations(doc, merged.origins, files.names, files.texts, lines)
    state = resolve(merge.join_instances(doc, merged.origins), expanded, source=label)
    state = state.model_copy(update={"files": files.digests})
    warnings = _locate([issue for issue in placed if issue.warning], files, ConfigWarning)
    return LoadResult(state, tuple(warnings), declared)


def _parse(
    index: int,
    name: str,
    text: str,
    files: _Files,
    errors: list[ConfigError],
    *,
    item_lines: fastyaml.ItemLines,
) -> Any:
    """The file's plain data; its problems, when the fast path cannot read it, into ``errors``;
    the line of each list item the fast path built into ``item_lines``."""
    lines: fastyaml.ItemLines = {}
    try:
        data = fastyaml.load_fast(text, lines)
        item_lines.update(lines)
        return data
    except Exception as exc:  # any parse failure: the precise pass explains it
        failure = exc
    from reconciler.config import locate  # noqa: PLC0415

    if isinstance(failure, fastyaml.SYNTAX_ERRORS):
        errors.append(located_problem(name, locate.syntax_problem(text, failure)))
        return None
    try:
        rebuilt = locate.rebuild(text)
    except locate.SyntaxProblem as exc:
        errors.append(located_problem(name, exc.problem))
        return None
    errors.extend(located_problem(name, problem) for problem in rebuilt.problems)
    if not rebuilt.problems:
        errors.append(fast_failure(name, failure))
    files.rebuilt[index] = rebuilt.locator
    return rebuilt.data


def _locate(issues: Sequence[merge.Placed], files: _Files, kind: type[_Located]) -> list[_Located]:
    wanted: dict[int, list[Loc]] = {}
    for issue in issues:
        wanted.setdefault(issue.file, []).append(issue.loc)
        for file, loc in issue.related:
            wanted.setdefault(file, []).append(loc)
    locators = files.locators(wanted)
    result = []
    for issue in issues:
        position = locators[issue.file].find(issue.loc, at_key=issue.at_key)
        message = issue.message
        for number, (file, loc) in enumerate(issue.related):
            there = locators[file].find(loc, at_key=issue.at_key)
            if there is None:
                place = f"{files.names[file]} ({loc})"
            elif file == issue.file:
                place = there.describe()
            else:
                place = f"{files.names[file]}:{there.line}:{there.column}"
            message = message.replace("{" + str(number) + "}", place)
        result.append(
            kind(
                message,
                file=files.names[issue.file],
                line=position.line if position else None,
                column=position.column if position else None,
                path=format_loc(issue.loc) or None,
            )
        )
    return result
