"""The experiment journal in Postgres: the same API and checks as the file journal.

Each write is one transaction: it locks the task's row (``SELECT ... FOR UPDATE``), so the
writers of one task queue up across processes and hosts exactly as they do on the file lock;
it reads the task's journal, lets the shared `JournalStore` method check and change it, and
writes back only the rows that changed. The tables' constraints (see `rectune.storage.pg`)
are the second line: a write that would break an invariant is refused by the database even
if the checks above were bypassed. A read is one repeatable-read snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from rectune.memory.journal_store import (
    JournalCorruptError,
    JournalDocument,
    JournalError,
    JournalLockedError,
    JournalStore,
    check_task_name,
)
from rectune.storage.pg import Database

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresJournal"]


class PostgresJournal(JournalStore):
    """The journals of all tasks in one Postgres database (or schema).

    Args:
        url: A ``postgresql://`` URL.
        lock_timeout: Seconds a writer waits for another writer of the same task.
    """

    def __init__(self, url: str, *, lock_timeout: float = 30.0) -> None:
        self.db = Database.for_url(url)
        self.lock_timeout = lock_timeout

    @property
    def location(self) -> str:
        return self.db.location

    def tasks(self) -> list[str]:
        with self.db.transaction(snapshot=True) as conn:
            rows = conn.execute("SELECT task FROM rectune_journal_tasks ORDER BY task").fetchall()
        return [str(r[0]) for r in rows]

    def load(self, task: str) -> JournalDocument:
        check_task_name(task)
        with self.db.transaction(snapshot=True) as conn:
            return self._read(conn, task)

    def _read(self, conn: psycopg.Connection[Any], task: str) -> JournalDocument:
        head = conn.execute(
            "SELECT updated_at FROM rectune_journal_tasks WHERE task = %s", (task,)
        ).fetchone()
        if head is None:
            return JournalDocument(task=task)

        def rows(sql: str) -> list[Any]:
            return [r[0] for r in conn.execute(sql, (task,)).fetchall()]

        data = {
            "task": task,
            "updated_at": head[0],
            "candidates": rows("SELECT body FROM rectune_candidates WHERE task = %s ORDER BY seq"),
            "rounds": rows("SELECT body FROM rectune_rounds WHERE task = %s ORDER BY round"),
            "experiments": rows(
                "SELECT body FROM rectune_experiments WHERE task = %s ORDER BY seq"
            ),
        }
        try:
            return JournalDocument.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise JournalCorruptError(
                f"journal {task!r} in {self.location} does not validate: field {where}: "
                f"{first['msg']} ({len(exc.errors())} problem(s)); it was not modified"
            ) from None

    @contextmanager
    def _edit(self, task: str) -> Iterator[JournalDocument]:
        import psycopg

        check_task_name(task)
        try:
            with self.db.transaction() as conn:
                conn.execute(f"SET LOCAL lock_timeout = '{int(self.lock_timeout * 1000)}ms'")
                conn.execute(
                    "INSERT INTO rectune_journal_tasks (task) VALUES (%s) ON CONFLICT DO NOTHING",
                    (task,),
                )
                conn.execute(
                    "SELECT 1 FROM rectune_journal_tasks WHERE task = %s FOR UPDATE", (task,)
                )
                before = self._read(conn, task)
                doc = before.model_copy(deep=True)
                yield doc
                _persist(conn, before, doc)
        except psycopg.errors.LockNotAvailable:
            raise JournalLockedError(
                f"journal {task!r} in {self.location}: another writer held it for more than "
                f"{self.lock_timeout:g}s"
            ) from None
        except (
            psycopg.errors.IntegrityError, psycopg.errors.RaiseException, psycopg.errors.DataError
        ) as exc:
            message = exc.diag.message_primary or str(exc)
            constraint = exc.diag.constraint_name
            why = f" (constraint {constraint})" if constraint else ""
            raise JournalError(
                f"journal {task!r} in {self.location}: the database refused the write: "
                f"{message}{why}"
            ) from None


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


def _ordered_seqs(
    conn: psycopg.Connection[Any], keys: list[str], old: dict[str, int]
) -> dict[str, int]:
    """A sequence number per key that keeps the list order: kept keys keep theirs while they
    stay in order; new or moved ones take fresh numbers (as the file moves them to its end)."""
    out: dict[str, int] = {}
    last = -1
    for key in keys:
        seq = old.get(key)
        if seq is None or seq <= last:
            row = conn.execute("SELECT nextval('rectune_journal_seq')").fetchone()
            assert row is not None
            seq = int(row[0])
        out[key] = last = seq
    return out


def _persist(conn: psycopg.Connection[Any], before: JournalDocument, doc: JournalDocument) -> None:
    from psycopg.types.json import Jsonb

    task = doc.task
    if doc.task != before.task:
        raise JournalError(f"journal {before.task!r}: a write may not change the task")
    # Candidates.
    old_c = {c.id: _dump(c) for c in before.candidates}
    old_seq = {
        str(k): int(s)
        for k, s in conn.execute(
            "SELECT id, seq FROM rectune_candidates WHERE task = %s", (task,)
        ).fetchall()
    }
    ids = [c.id for c in doc.candidates]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise JournalError(f"journal {task!r}: candidate ids {dup} appear twice")
    for gone in sorted(set(old_c) - set(ids)):
        conn.execute("DELETE FROM rectune_candidates WHERE task = %s AND id = %s", (task, gone))
    seqs = _ordered_seqs(conn, ids, old_seq)
    for c in doc.candidates:
        body = _dump(c)
        args = (c.round, c.status.value, seqs[c.id], Jsonb(body), task, c.id)
        if c.id not in old_c:
            conn.execute(
                "INSERT INTO rectune_candidates (round, status, seq, body, task, id) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                args,
            )
        elif body != old_c[c.id] or seqs[c.id] != old_seq[c.id]:
            conn.execute(
                "UPDATE rectune_candidates SET round = %s, status = %s, seq = %s, body = %s "
                "WHERE task = %s AND id = %s",
                args,
            )
    # Rounds.
    old_r = {r.round: _dump(r) for r in before.rounds}
    numbers = [r.round for r in doc.rounds]
    if len(set(numbers)) != len(numbers):
        raise JournalError(f"journal {task!r}: two records of one round")
    for number in sorted(set(old_r) - set(numbers)):
        conn.execute("DELETE FROM rectune_rounds WHERE task = %s AND round = %s", (task, number))
    for r in doc.rounds:
        body = _dump(r)
        args2 = (r.thread_id, r.status.value, r.experiment_id, Jsonb(body), task, r.round)
        if r.round not in old_r:
            conn.execute(
                "INSERT INTO rectune_rounds (thread_id, status, experiment_id, body, task, round)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                args2,
            )
        elif body != old_r[r.round]:
            conn.execute(
                "UPDATE rectune_rounds SET thread_id = %s, status = %s, experiment_id = %s, "
                "body = %s WHERE task = %s AND round = %s",
                args2,
            )
    # Experiments.
    old_e = {e.experiment_id: _dump(e) for e in before.experiments}
    old_eseq = {
        str(k): int(s)
        for k, s in conn.execute(
            "SELECT experiment_id, seq FROM rectune_experiments WHERE task = %s", (task,)
        ).fetchall()
    }
    eids = [e.experiment_id for e in doc.experiments]
    if len(set(eids)) != len(eids):
        raise JournalError(f"journal {task!r}: two records of one experiment")
    for gone in sorted(set(old_e) - set(eids)):
        conn.execute(
            "DELETE FROM rectune_experiments WHERE task = %s AND experiment_id = %s", (task, gone)
        )
    eseqs = _ordered_seqs(conn, eids, old_eseq)
    for e in doc.experiments:
        body = _dump(e)
        args3 = (e.state.value, eseqs[e.experiment_id], Jsonb(body), task, e.experiment_id)
        if e.experiment_id not in old_e:
            conn.execute(
                "INSERT INTO rectune_experiments (state, seq, body, task, experiment_id) "
                "VALUES (%s, %s, %s, %s, %s)",
                args3,
            )
        elif body != old_e[e.experiment_id] or eseqs[e.experiment_id] != old_eseq[e.experiment_id]:
            conn.execute(
                "UPDATE rectune_experiments SET state = %s, seq = %s, body = %s "
                "WHERE task = %s AND experiment_id = %s",
                args3,
            )
    conn.execute("UPDATE rectune_journal_tasks SET updated_at = now() WHERE task = %s", (task,))

