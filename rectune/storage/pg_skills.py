"""Skill versions in Postgres: an append-only table, and a lock per skill across hosts.

``rectune_skill_versions`` holds every SKILL.md text ever written with its reason, author and
digest; the database refuses an update, a delete, a version that is not after the latest and
a digest that does not match the text (see `rectune.storage.pg`). The hub keeps SKILL.md on
each host as a copy of the latest version and refreshes it whenever the database moved on.

Writers of one skill take a Postgres advisory lock (on a connection of their own, released
when the writer is done or its process dies), the cross-host twin of the file lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rectune.skillhub.errors import SkillError, SkillVersionError
from rectune.skillhub.versions import Author, VersionEntry, VersionLog, entry_for
from rectune.storage.pg import Database, connect

__all__ = ["PostgresVersionStore", "skill_lock", "stored_skills"]


class PostgresVersionStore(VersionLog):
    """The versions of skill `name` in the storage database."""

    def __init__(self, url: str, name: str) -> None:
        self.db = Database.for_url(url)
        self.name = name

    def entries(self) -> list[VersionEntry]:
        with self.db.transaction(snapshot=True) as conn:
            rows = conn.execute(
                "SELECT version, reason, author, actor, at, sha256, rollback_of "
                "FROM rectune_skill_versions WHERE skill = %s ORDER BY version",
                (self.name,),
            ).fetchall()
        return [
            VersionEntry(
                version=r[0], reason=r[1], author=r[2], actor=r[3], at=r[4], sha256=r[5],
                rollback_of=r[6],
            )
            for r in rows
        ]

    def path(self, version: int) -> Path:
        return Path(f"{self.db.location}#skill={self.name}&version={version}")

    def read(self, version: int) -> str:
        with self.db.transaction(snapshot=True) as conn:
            row = conn.execute(
                "SELECT text FROM rectune_skill_versions WHERE skill = %s AND version = %s",
                (self.name, version),
            ).fetchone()
        if row is None:
            known = [e.version for e in self.entries()]
            raise SkillVersionError(
                f"skill {self.name!r}: no version {version} in {self.db.location}; "
                f"versions: {known}"
            )
        return str(row[0])

    def record(
        self,
        version: int,
        text: str,
        reason: str,
        author: Author,
        actor: str = "",
        rollback_of: int | None = None,
    ) -> VersionEntry:
        import psycopg

        entry = entry_for(version, text, reason, author, actor, rollback_of)
        try:
            with self.db.transaction() as conn:
                conn.execute(
                    "INSERT INTO rectune_skill_versions (skill, version, text, reason, author, "
                    "actor, at, sha256, rollback_of) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (self.name, version, text, reason, author, actor, entry.at, entry.sha256,
                     rollback_of),
                )
        except (psycopg.errors.IntegrityError, psycopg.errors.RaiseException) as exc:
            raise SkillVersionError(
                f"skill {self.name!r}: the database refused version {version}: "
                f"{exc.diag.message_primary or exc}"
            ) from None
        return entry


def stored_skills(url: str) -> list[str]:
    """Names of the skills that have versions in the database."""
    db = Database.for_url(url)
    with db.transaction(snapshot=True) as conn:
        rows = conn.execute(
            "SELECT DISTINCT skill FROM rectune_skill_versions ORDER BY skill"
        ).fetchall()
    return [str(r[0]) for r in rows]


@contextmanager
def skill_lock(url: str, name: str, timeout: float) -> Iterator[None]:
    """Hold skill `name`'s advisory lock in the database for the body.

    Raises:
        SkillError: when another writer held it for more than `timeout` seconds.
    """
    import psycopg

    Database.for_url(url).connection()  # migrated before anything waits on it
    conn = connect(url)
    try:
        conn.execute(f"SET lock_timeout = '{max(1, int(timeout * 1000))}ms'")
        try:
            conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"rectune skill {name}",))
        except psycopg.errors.LockNotAvailable:
            raise SkillError(
                f"skill {name!r} is being written by another process; gave up after "
                f"{timeout:g}s (advisory lock in {Database.for_url(url).location})"
            ) from None
        yield
    finally:
        conn.close()  # closing the session releases its advisory locks
