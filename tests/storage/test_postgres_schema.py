"""The Postgres tables enforce the journal's invariants themselves (a writer that bypasses
rectune is refused), the schema is versioned, and skill versions are append-only."""

from __future__ import annotations

import psycopg
import pytest

from rectune.domain import Candidate, CandidateStatus, RoundStatus
from rectune.storage import StorageError
from rectune.storage.pg import LATEST_SCHEMA_VERSION, Database, connect, migrate, schema_version
from rectune.storage.pg_journal import PostgresJournal
from rectune.storage.pg_skills import PostgresVersionStore


def cand(i: int) -> Candidate:
    return Candidate(id=f"c{i}", task="t", round=1, delta={"a": 1.0}, config={"a": 1.0})


def raw(url: str, sql: str, *args: object) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql, args or None)


def test_schema_is_versioned_and_migrations_run_once(pg_url: str) -> None:
    conn = connect(pg_url)
    assert schema_version(conn) == 0
    assert migrate(conn, pg_url) == LATEST_SCHEMA_VERSION
    assert migrate(conn, pg_url) == LATEST_SCHEMA_VERSION
    rows = conn.execute("SELECT version, description FROM rectune_schema_version").fetchall()
    assert [r[0] for r in rows] == list(range(1, LATEST_SCHEMA_VERSION + 1))
    conn.execute("INSERT INTO rectune_schema_version (version, description) VALUES (99, 'x')")
    with pytest.raises(StorageError, match=r"schema version 99.*upgrade rectune"):
        migrate(conn, pg_url)
    conn.close()


def test_unreachable_database_is_a_clear_error() -> None:
    with pytest.raises(StorageError, match=r"cannot connect.*postgresql://u:\*\*\*@127.0.0.1:9"):
        connect("postgresql://u:secret@127.0.0.1:9/nothing")


def test_database_refuses_what_the_journal_forbids(pg_url: str) -> None:
    j = PostgresJournal(pg_url)
    r = j.reserve_round("t", "th")
    j.propose("t", 1, "th", [cand(1), cand(2)])
    j.decide("t", 1, "th", [cand(1).transition(CandidateStatus.APPROVED)])
    j.finish_round("t", r.model_copy(update={"status": RoundStatus.COMPLETED}))
    Database.for_url(pg_url).connection()
    cases = [
        # A decided candidate is never deleted; a proposed one may be (re-run Critic).
        ("DELETE FROM rectune_candidates WHERE id = 'c1'", "never deleted"),
        # Lifecycle moves only forward.
        ("UPDATE rectune_candidates SET status = 'proposed', "
         "body = jsonb_set(body, '{status}', '\"proposed\"') WHERE id = 'c1'",
         "illegal transition"),
        # One record per (task, round); one round per thread; one launch key per round.
        ("INSERT INTO rectune_rounds (task, round, thread_id, status, body) VALUES "
         "('t', 1, '', 'running', '{\"round\": 1, \"status\": \"running\"}')",
         "rectune_rounds_pkey"),
        ("INSERT INTO rectune_rounds (task, round, thread_id, status, body) VALUES "
         "('t', 2, 'th', 'running', "
         "'{\"round\": 2, \"status\": \"running\", \"thread_id\": \"th\"}')", "round_per_thread"),
        # A finished round never re-opens, and is never deleted.
        ("UPDATE rectune_rounds SET status = 'running', "
         "body = jsonb_set(body, '{status}', '\"running\"')", "cannot become running"),
        ("DELETE FROM rectune_rounds", "cannot be deleted"),
        # Unique candidate ids per task; the row and its body agree.
        ("INSERT INTO rectune_candidates (task, id, round, status, seq, body) "
         "SELECT task, id, round, status, seq + 100, body FROM rectune_candidates WHERE id='c2'",
         "rectune_candidates_pkey"),
        ("UPDATE rectune_candidates SET status = 'rejected' WHERE id = 'c2'",
         "candidate_body_matches"),
    ]
    for sql, message in cases:
        with pytest.raises(psycopg.Error, match=message):
            raw(pg_url, sql)
    assert [c.status for c in j.candidates("t")] == [
        CandidateStatus.APPROVED, CandidateStatus.PROPOSED
    ]


def test_one_experiment_and_one_launch_key_per_round(pg_url: str) -> None:
    j = PostgresJournal(pg_url)
    r1 = j.reserve_round("t", "th-1")
    r2 = j.reserve_round("t", "th-2")
    j.finish_round("t", r1.model_copy(update={"experiment_id": "exp-1"}))
    with pytest.raises(Exception, match="round_experiment_unique"):
        j.finish_round("t", r2.model_copy(update={"experiment_id": "exp-1"}))
    with psycopg.connect(pg_url) as conn:
        keys = conn.execute("SELECT idempotency_key FROM rectune_rounds ORDER BY round").fetchall()
    assert [k[0] for k in keys] == ["th-1:t:r1", "th-2:t:r2"]


def test_skill_versions_are_append_only(pg_url: str) -> None:
    store = PostgresVersionStore(pg_url, "s")
    store.record(1, "one", "first", "human")
    store.record(2, "two", "second", "agent", "skill_agent")
    assert [e.version for e in store.entries()] == [1, 2] and store.read(2) == "two"
    assert store.diff(1, 2).startswith("--- s/v0001")
    from rectune.skillhub.errors import SkillVersionError

    with pytest.raises(SkillVersionError, match="not after"):
        store.record(2, "again", "dup", "human")
    with pytest.raises(SkillVersionError, match="not after"):
        store.record(1, "older", "back", "human")
    for sql, message in [
        ("UPDATE rectune_skill_versions SET text = 'x'", "append-only"),
        ("DELETE FROM rectune_skill_versions", "append-only"),
        ("TRUNCATE rectune_skill_versions", "append-only"),
        ("INSERT INTO rectune_skill_versions (skill, version, text, reason, author, at, sha256) "
         "VALUES ('s', 3, 'x', 'r', 'human', now(), 'bad')", "skill_version_digest"),
    ]:
        with pytest.raises(psycopg.Error, match=message):
            raw(pg_url, sql)
    assert [e.version for e in store.entries()] == [1, 2]
