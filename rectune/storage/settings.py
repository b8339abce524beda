"""The storage setting: where a workspace's durable state lives.

``local`` (the default) keeps everything in the workspace folder: the journal as JSON files,
skill versions next to each SKILL.md, thread records as JSON and the LangGraph checkpoints in
SQLite. A ``postgresql://`` URL puts the journal, the skill versions, the thread records and
the checkpoints in that database, so any process that knows the URL can resume any round.

Where the setting comes from, first match wins: an explicit argument (``run_round(storage=
...)``, ``--storage``), a URL in the workspace's ``rectune.yaml`` (``storage:``), the
environment variable ``RECTUNE_STORAGE``, else ``local``. As for every other setting, the
environment fills a setting left at its default, so ``storage: local`` in the file counts as
unset.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from rectune.domain import RecTuneError

__all__ = [
    "ENV_VAR",
    "LOCAL",
    "StorageError",
    "is_postgres",
    "parse_storage",
    "redact",
    "resolve_storage",
    "set_override",
]

LOCAL = "local"
ENV_VAR = "RECTUNE_STORAGE"
_SCHEMES = ("postgresql://", "postgres://")


_override: str | None = None


class StorageError(RecTuneError):
    """A storage setting is not allowed, or the storage it names cannot be used."""


def is_postgres(spec: str) -> bool:
    """Whether `spec` is a Postgres URL."""
    return spec.startswith(_SCHEMES)


def parse_storage(value: object, *, where: str = "storage") -> str:
    """The setting `value` when it is ``local`` or a Postgres URL.

    Args:
        value: What was given.
        where: Names the source in the error (a file and field, an option, a variable).

    Raises:
        StorageError: naming `where`, the value and what is allowed.

    Example:
        >>> parse_storage("postgresql://app@db:5432/rectune")
        'postgresql://app@db:5432/rectune'
        >>> parse_storage("sqlite")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        rectune.storage.settings.StorageError: storage='sqlite' is not allowed; allowed: ...
    """
    text = value.strip() if isinstance(value, str) else value
    if text == LOCAL:
        return LOCAL
    if isinstance(text, str) and is_postgres(text) and len(text.split("://", 1)[1]) > 0:
        return text
    raise StorageError(
        f"{where}={redact(value) if isinstance(value, str) else value!r} is not allowed; "
        "allowed: 'local' or a postgresql:// URL "
        "(postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE)"
    )


def redact(url: str) -> str:
    """`url` with its password replaced by ``***`` (for messages and logs).

    Example:
        >>> redact("postgresql://app:s3cret@db/rectune")
        'postgresql://app:***@db/rectune'
    """
    return re.sub(r"^(\w+://[^:/@]+):[^@]*@", r"\1:***@", url)


def set_override(spec: str | None) -> None:
    """Make `spec` the storage of every run in this process that names none explicitly (the
    command line's ``--storage``); None removes the override."""
    global _override
    _override = None if spec is None else parse_storage(spec, where="--storage")


def resolve_storage(workspace: str | Path | None = None, explicit: str | None = None) -> str:
    """The storage of a run: `explicit`, else a URL in the workspace's ``storage:`` setting,
    else ``RECTUNE_STORAGE``, else ``local``.

    Raises:
        StorageError: when the setting found is not allowed (naming where it was found).
    """
    if explicit is not None:
        return parse_storage(explicit, where="storage")
    if _override is not None:
        return _override
    if workspace is not None:
        from rectune.workspace import Workspace, load_settings

        settings = load_settings(workspace)
        if settings.get("storage") is not None:
            where = f"{Workspace(workspace).settings}: storage"
            found = parse_storage(settings["storage"], where=where)
            if found != LOCAL:
                return found
    env = os.environ.get(ENV_VAR)
    if env:
        return parse_storage(env, where=ENV_VAR)
    return LOCAL
