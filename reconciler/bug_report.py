"""The report of a bug: an exception no part of reconciler expected, written for its maintainers.

A user mistake is one line on stderr and exit 1; a bug is exit 3 and a file under the user's
cache directory holding what a maintainer needs (versions, the command line, the traceback).
The file is meant to be attached to an issue, so every secret the process could know is masked
before it is written: values of secret-looking environment variables, options and aliyun CLI
profile entries (as given and as encoded into a string to sign), signatures and tokens in
request parameters, the passwords of the DSNs the text quotes (found and parsed by
``state.dsn.mask_dsns``), and the resources' secrets the desired state was read with
(``secrets_read``).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shlex
import traceback
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from reconciler import __version__
from reconciler.secrets_read import secrets_read

# Environment variables and options whose values are masked wherever they appear.
_SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSW|CREDENTIAL|DSN|DATABASE_URL|PRIVATE", re.IGNORECASE)
_PACKAGES = ("click", "pydantic", "certifi", "psycopg", "ruamel.yaml", "PyYAML", "rich")


def report_directory(env: Mapping[str, str] = os.environ) -> Path:
    """``$XDG_CACHE_HOME/reconciler``, else ``~/.cache/reconciler`` (a relative
    ``XDG_CACHE_HOME`` is ignored, as the XDG specification says)."""
    cache = env.get("XDG_CACHE_HOME", "")
    base = Path(cache) if os.path.isabs(cache) else Path.home() / ".cache"
    return base / "reconciler"


def write_bug_report(
    error: BaseException,
    argv: Sequence[str],
    *,
    env: Mapping[str, str] = os.environ,
    now: datetime | None = None,
) -> Path:
    """Write the masked report of ``error`` and return its path; OSError when it cannot."""
    moment = now or datetime.now(UTC)
    text = Masker.for_run(argv, env).mask(report_text(error, argv, moment))
    directory = report_directory(env)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = moment.strftime("%Y%m%dT%H%M%S.%fZ")
    path = directory / f"bug-{stamp}-{os.getpid()}.txt"
    # Exclusive create, owner-only: the report names files and hosts of the user's.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(descriptor, "w", encoding="utf-8") as out:
        out.write(text)
    return path


def report_text(error: BaseException, argv: Sequence[str], moment: datetime) -> str:
    """The report before masking."""
    lines = [
        "reconciler bug report: please attach this file when reporting the bug.",
        "Secrets known to the process are masked as ***; look it over before sharing.",
        "",
        f"time: {moment.isoformat(timespec='seconds')}",
        f"reconciler: {__version__}",
        f"python: {platform.python_version()} ({platform.python_implementation()})",
        f"platform: {platform.platform()}",
        f"packages: {', '.join(_installed(_PACKAGES))}",
        f"command: {shlex.join(['reconciler', *argv])}",
        "",
        *traceback.format_exception(error),
    ]
    return "\n".join(line.rstrip("\n") for line in lines) + "\n"


class Masker:
    """Replaces every form of the known secret values, then the patterns of secrets."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Imported here, once a bug happened: the cloud client is heavy to import.
        from reconciler.cloud.rpc import (  # noqa: PLC0415
            REDACTED,
            SECRET_PARAMETERS,
            redaction_forms,
        )
        from reconciler.state.dsn import mask_dsns  # noqa: PLC0415

        self._mask_dsns = mask_dsns
        self._mark = REDACTED
        self._forms = redaction_forms(secrets)
        names = "|".join([*sorted(SECRET_PARAMETERS), "x-acs-security-token"])
        # Signature=..., "SecurityToken": "...", x-acs-security-token: ... (query, dict, header).
        self._parameters = re.compile(
            rf"\b({names})(['\"]?\s*[:=]\s*['\"]?)([^\s&,'\"]+)", re.IGNORECASE
        )

    @classmethod
    def for_run(cls, argv: Sequence[str], env: Mapping[str, str]) -> Masker:
        return cls(
            [
                *_secret_environment(env),
                *_secret_options(argv),
                *_profile_secrets(),
                *_oidc_token(env),
                *secrets_read(),
            ]
        )

    def mask(self, text: str) -> str:
        for form in self._forms:
            text = text.replace(form, self._mark)
        text = self._parameters.sub(rf"\1\2{self._mark}", text)
        return self._mask_dsns(text)


def _secret_environment(env: Mapping[str, str]) -> list[str]:
    return [value for name, value in env.items() if _SECRET_NAME.search(name)]


def _secret_options(argv: Sequence[str]) -> list[str]:
    """Values of ``--access-key-secret X`` and ``--access-key-secret=X`` style options."""
    values: list[str] = []
    for index, arg in enumerate(argv):
        name, equals, value = arg.partition("=")
        if not name.startswith("--") or not _SECRET_NAME.search(name):
            continue
        if equals:
            values.append(value)
        elif index + 1 < len(argv):
            values.append(argv[index + 1])
    return values


def _profile_secrets() -> list[str]:
    """Secret values of every profile in the aliyun CLI config, not only the one in use."""
    from reconciler.cloud.credentials.cli_profile import default_config_path  # noqa: PLC0415

    try:
        document = json.loads(default_config_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    found: list[str] = []
    pending: list[object] = [document]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if isinstance(value, str) and _SECRET_NAME.search(str(key)):
                    found.append(value)
                else:
                    pending.append(value)
        elif isinstance(item, list):
            pending.extend(item)
    return found


def _oidc_token(env: Mapping[str, str]) -> list[str]:
    """The OIDC token the credential chain reads: in a file, so no variable holds it."""
    from reconciler.cloud.credentials.chain import ENV_OIDC_TOKEN_FILE  # noqa: PLC0415

    path = env.get(ENV_OIDC_TOKEN_FILE)
    try:
        token = Path(path).read_text(encoding="utf-8").strip() if path else ""
    except OSError:
        return []
    return [token] if token else []


def _installed(names: Iterable[str]) -> list[str]:
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return found
