"""Round thread records in Postgres (the ``rectune_threads`` table)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rectune.storage.pg import Database

if TYPE_CHECKING:
    from rectune.threads import ThreadRecord

__all__ = ["PostgresThreads"]


class PostgresThreads:
    """Thread records in the storage database; the thread id is the primary key."""

    def __init__(self, url: str) -> None:
        self.db = Database.for_url(url)

    @property
    def location(self) -> str:
        return f"the storage database {self.db.location}"

    def insert(self, record: ThreadRecord) -> bool:
        from psycopg.types.json import Jsonb

        with self.db.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO rectune_threads (thread_id, task, body) VALUES (%s, %s, %s) "
                "ON CONFLICT (thread_id) DO NOTHING",
                (record.thread_id, record.task, Jsonb(record.model_dump(mode="json"))),
            )
            return cur.rowcount == 1

    def get(self, thread_id: str) -> ThreadRecord | None:
        from rectune.threads import ThreadRecord

        with self.db.transaction(snapshot=True) as conn:
            row = conn.execute(
                "SELECT body FROM rectune_threads WHERE thread_id = %s", (thread_id,)
            ).fetchone()
        return None if row is None else ThreadRecord.model_validate(row[0])

    def replace(self, record: ThreadRecord) -> None:
        from psycopg.types.json import Jsonb

        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE rectune_threads SET body = %s WHERE thread_id = %s",
                (Jsonb(record.model_dump(mode="json")), record.thread_id),
            )

    def delete(self, thread_id: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM rectune_threads WHERE thread_id = %s", (thread_id,))

    def all(self) -> list[ThreadRecord]:
        from rectune.threads import ThreadRecord

        with self.db.transaction(snapshot=True) as conn:
            rows = conn.execute("SELECT body FROM rectune_threads ORDER BY seq").fetchall()
        return [ThreadRecord.model_validate(r[0]) for r in rows]
