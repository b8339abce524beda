"""The Postgres database behind ``storage: postgresql://...``: connections and migrations.

The schema is versioned: ``rectune_schema_version`` holds one row per applied migration, and
every process applies the missing ones (in one transaction, under an advisory lock, so two
workers starting at once do not race) before it touches a table. A database whose schema is
newer than this rectune knows is refused rather than used half-understood.

The tables repeat the journal's invariants as constraints, so they hold across hosts even
for a writer that bypasses rectune: a task's round numbers and a thread's round are unique,
a round's launch key (thread, task, round) and its experiment are unique, candidate ids are
unique per task, a candidate's status only moves forward along its lifecycle and a decided
candidate is never deleted, a finished round never re-opens, and skill versions are
append-only with increasing numbers and a checked digest.

Tests and shared servers isolate themselves with a schema: put ``options=-csearch_path=NAME``
in the URL (``postgresql://u@h/db?options=-csearch_path%3DNAME``) and every table, rectune's
and LangGraph's, lives in that schema.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, ClassVar

from rectune.storage.settings import StorageError, redact

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "LATEST_SCHEMA_VERSION",
    "MIGRATIONS",
    "Database",
    "RoundBusyError",
    "connect",
    "schema_version",
    "thread_lease",
]

_V1 = """
CREATE TABLE rectune_journal_tasks (
    task text PRIMARY KEY CHECK (task ~ '^[A-Za-z0-9_.-]+$'),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE SEQUENCE rectune_journal_seq;

CREATE TABLE rectune_candidates (
    task text NOT NULL REFERENCES rectune_journal_tasks (task),
    id text NOT NULL CHECK (id <> ''),
    round integer NOT NULL CHECK (round >= 0),
    status text NOT NULL CHECK (status IN
        ('proposed', 'rejected', 'approved', 'live', 'completed', 'aborted')),
    seq bigint NOT NULL,
    body jsonb NOT NULL,
    PRIMARY KEY (task, id),
    CONSTRAINT candidate_body_matches CHECK (
        body ->> 'id' = id AND body ->> 'task' = task AND body ->> 'status' = status
        AND (body ->> 'round')::integer = round)
);

-- Every status reachable from another through legal moves (one write may take an approved
-- candidate through live to completed); nothing leaves a final status.
CREATE TABLE rectune_candidate_moves (
    from_status text NOT NULL,
    to_status text NOT NULL,
    PRIMARY KEY (from_status, to_status)
);
INSERT INTO rectune_candidate_moves VALUES
    ('proposed', 'rejected'), ('proposed', 'approved'), ('proposed', 'live'),
    ('proposed', 'completed'), ('proposed', 'aborted'),
    ('approved', 'live'), ('approved', 'completed'), ('approved', 'aborted'),
    ('live', 'completed'), ('live', 'aborted');

CREATE FUNCTION rectune_check_candidate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'proposed' THEN
            RAISE EXCEPTION 'candidate % of task % is %; only proposed candidates may be '
                'replaced, a decided one is never deleted', OLD.id, OLD.task, OLD.status;
        END IF;
        RETURN OLD;
    END IF;
    IF NEW.status <> OLD.status AND NOT EXISTS (
        SELECT 1 FROM rectune_candidate_moves
        WHERE from_status = OLD.status AND to_status = NEW.status
    ) THEN
        RAISE EXCEPTION 'candidate % of task %: illegal transition % -> %',
            OLD.id, OLD.task, OLD.status, NEW.status;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER rectune_candidate_lifecycle BEFORE UPDATE OR DELETE ON rectune_candidates
    FOR EACH ROW EXECUTE FUNCTION rectune_check_candidate();

CREATE TABLE rectune_rounds (
    task text NOT NULL REFERENCES rectune_journal_tasks (task),
    round integer NOT NULL CHECK (round >= 0),
    thread_id text NOT NULL DEFAULT '',
    status text NOT NULL,
    experiment_id text,
    -- The launch key of the round (see agents.runtime.idempotency_key).
    idempotency_key text GENERATED ALWAYS AS (
        CASE WHEN thread_id = '' THEN NULL ELSE thread_id || ':' || task || ':r' || round END
    ) STORED,
    body jsonb NOT NULL,
    PRIMARY KEY (task, round),
    CONSTRAINT round_idempotency_key_unique UNIQUE (idempotency_key),
    CONSTRAINT round_experiment_unique UNIQUE (task, experiment_id),
    CONSTRAINT round_body_matches CHECK (
        (body ->> 'round')::integer = round AND body ->> 'status' = status
        AND coalesce(body ->> 'thread_id', '') = thread_id
        AND (body ->> 'experiment_id') IS NOT DISTINCT FROM experiment_id)
);
CREATE UNIQUE INDEX rectune_round_per_thread ON rectune_rounds (task, thread_id)
    WHERE thread_id <> '';

CREATE FUNCTION rectune_check_round() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'round % of task % cannot be deleted', OLD.round, OLD.task;
    END IF;
    IF OLD.status IN ('completed', 'rejected', 'failed', 'aborted')
            AND NEW.status NOT IN ('completed', 'rejected', 'failed', 'aborted') THEN
        RAISE EXCEPTION 'round % of task % ended (%); it cannot become % again',
            OLD.round, OLD.task, OLD.status, NEW.status;
    END IF;
    IF NEW.thread_id <> OLD.thread_id AND OLD.thread_id <> '' THEN
        RAISE EXCEPTION 'round % of task % belongs to thread %, not %',
            OLD.round, OLD.task, OLD.thread_id, NEW.thread_id;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER rectune_round_lifecycle BEFORE UPDATE OR DELETE ON rectune_rounds
    FOR EACH ROW EXECUTE FUNCTION rectune_check_round();

CREATE TABLE rectune_experiments (
    task text NOT NULL REFERENCES rectune_journal_tasks (task),
    experiment_id text NOT NULL CHECK (experiment_id <> ''),
    state text NOT NULL CHECK (state IN ('running', 'completed', 'aborted')),
    seq bigint NOT NULL,
    body jsonb NOT NULL,
    PRIMARY KEY (task, experiment_id),
    CONSTRAINT experiment_body_matches CHECK (
        body ->> 'experiment_id' = experiment_id AND body ->> 'state' = state)
);

CREATE TABLE rectune_threads (
    thread_id text PRIMARY KEY CHECK (thread_id <> ''),
    task text NOT NULL,
    seq bigserial NOT NULL,
    body jsonb NOT NULL,
    CONSTRAINT thread_body_matches CHECK (body ->> 'thread_id' = thread_id)
);

CREATE TABLE rectune_skill_versions (
    skill text NOT NULL CHECK (skill ~ '^[A-Za-z0-9_.-]+$'),
    version integer NOT NULL CHECK (version >= 1),
    text text NOT NULL,
    reason text NOT NULL CHECK (btrim(reason) <> ''),
    author text NOT NULL CHECK (author IN ('human', 'agent', 'system')),
    actor text NOT NULL DEFAULT '',
    at timestamptz NOT NULL,
    sha256 text NOT NULL,
    rollback_of integer,
    PRIMARY KEY (skill, version),
    CONSTRAINT skill_version_digest CHECK (
        sha256 = encode(sha256(convert_to(text, 'UTF8')), 'hex'))
);

CREATE FUNCTION rectune_skill_versions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF EXISTS (SELECT 1 FROM rectune_skill_versions
                   WHERE skill = NEW.skill AND version >= NEW.version) THEN
            RAISE EXCEPTION 'skill %: version % is not after the latest version', NEW.skill,
                NEW.version USING ERRCODE = 'unique_violation';
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'skill versions are append-only (% refused)', TG_OP;
END $$;

CREATE TRIGGER rectune_skill_versions_insert BEFORE INSERT ON rectune_skill_versions
    FOR EACH ROW EXECUTE FUNCTION rectune_skill_versions_append_only();
CREATE TRIGGER rectune_skill_versions_frozen BEFORE UPDATE OR DELETE ON rectune_skill_versions
    FOR EACH ROW EXECUTE FUNCTION rectune_skill_versions_append_only();
CREATE TRIGGER rectune_skill_versions_no_truncate BEFORE TRUNCATE ON rectune_skill_versions
    FOR EACH STATEMENT EXECUTE FUNCTION rectune_skill_versions_append_only();
"""

MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (1, "journal, thread records and skill versions", _V1),
)
"""(version, what it adds, SQL): applied in order, each once, never edited after release."""

LATEST_SCHEMA_VERSION = MIGRATIONS[-1][0]

_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS rectune_schema_version (
    version integer PRIMARY KEY,
    description text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


def connect(url: str, *, autocommit: bool = True) -> psycopg.Connection[tuple[object, ...]]:
    """A new connection to `url`.

    Raises:
        StorageError: naming the (redacted) URL when the server cannot be reached or refuses.
    """
    try:
        import psycopg
    except ImportError:  # pragma: no cover - depends on the installation
        raise StorageError(
            "storage is a postgresql:// URL but psycopg is not installed; install rectune "
            "with the postgres extra: pip install 'rectune[postgres]'"
        ) from None
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=10)
    except psycopg.Error as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StorageError(
            f"cannot connect to the storage database {redact(url)}: {detail}"
        ) from None


def schema_version(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    """The newest migration applied to the database (0 for a database rectune never used)."""
    row = conn.execute("SELECT to_regclass('rectune_schema_version') IS NOT NULL").fetchone()
    if row is None or not row[0]:
        return 0
    found = conn.execute("SELECT coalesce(max(version), 0) FROM rectune_schema_version").fetchone()
    return int(found[0]) if found else 0  # type: ignore[call-overload]


def migrate(conn: psycopg.Connection[tuple[object, ...]], url: str) -> int:
    """Apply the missing migrations; returns the schema version now in force.

    Raises:
        StorageError: when the database's schema is newer than this rectune's.
    """
    with conn.transaction():
        # One migrator at a time per database; the others wait and then find nothing to do.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('rectune schema migration'))")
        conn.execute(_VERSION_TABLE)
        current = schema_version(conn)
        if current > LATEST_SCHEMA_VERSION:
            raise StorageError(
                f"the storage database {redact(url)} has schema version {current}; this rectune "
                f"knows versions up to {LATEST_SCHEMA_VERSION}: upgrade rectune"
            )
        for version, description, sql in MIGRATIONS:
            if version <= current:
                continue
            conn.execute(sql.encode())
            conn.execute(
                "INSERT INTO rectune_schema_version (version, description) VALUES (%s, %s)",
                (version, description),
            )
        return LATEST_SCHEMA_VERSION


class Database:
    """One process's connection to one storage URL, migrated on first use.

    Every statement runs under `lock`: LangGraph runs some nodes in threads, and one
    connection carries one transaction at a time. A forked child opens its own connection.
    """

    _open: ClassVar[dict[str, Database]] = {}
    _guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, url: str) -> None:
        self.url = url
        self.lock = threading.RLock()
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._pid = 0

    @classmethod
    def for_url(cls, url: str) -> Database:
        """The shared `Database` of `url` in this process."""
        with cls._guard:
            db = cls._open.get(url)
            if db is None:
                db = cls._open[url] = Database(url)
            return db

    @property
    def location(self) -> str:
        """The URL without its password."""
        return redact(self.url)

    def connection(self) -> psycopg.Connection[tuple[object, ...]]:
        """The open connection (a new one after a fork or a lost connection)."""
        with self.lock:
            conn = self._conn
            if conn is None or conn.closed or conn.broken or self._pid != os.getpid():
                import psycopg

                conn = connect(self.url)
                try:
                    migrate(conn, self.url)
                except psycopg.Error as exc:
                    conn.close()
                    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                    raise StorageError(
                        f"the storage database {self.location} cannot be used: {first}"
                    ) from None
                self._conn, self._pid = conn, os.getpid()
            return conn

    @contextmanager
    def transaction(
        self, *, snapshot: bool = False
    ) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
        """One transaction on the shared connection; `snapshot` makes it a read-only
        repeatable-read one (a consistent view across several SELECTs)."""
        import psycopg

        with self.lock:
            conn = self.connection()
            try:
                with conn.transaction():
                    if snapshot:
                        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    yield conn
            except psycopg.OperationalError as exc:
                if conn.broken or conn.closed:
                    raise StorageError(
                        f"lost the connection to the storage database {self.location}: {exc}"
                    ) from None
                raise

    def close(self) -> None:
        """Close the connection (a later use opens a new one)."""
        with self.lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


class RoundBusyError(StorageError):
    """Another worker is driving the round right now; try again when it pauses or ends."""


@contextmanager
def thread_lease(url: str, thread_id: str) -> Iterator[None]:
    """Hold round `thread_id` for the body, so two workers never drive one round at once.

    The lease is a Postgres advisory lock on a connection of its own: it ends with the body,
    or with the process (a killed worker's lease is gone when its connection drops).

    Raises:
        RoundBusyError: when another worker holds the round.
    """
    Database.for_url(url).connection()
    conn = connect(url)
    try:
        row = conn.execute(
            "SELECT pg_try_advisory_lock(hashtext(%s))", (f"rectune round {thread_id}",)
        ).fetchone()
        if row is None or not row[0]:
            raise RoundBusyError(
                f"round {thread_id} is being run by another worker right now; nothing was "
                f"changed: resume it once that worker pauses or ends (rectune status "
                f"{thread_id})"
            )
        yield
    finally:
        conn.close()
