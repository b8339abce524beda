"""The real Postgres server of the test machines, one fresh schema per test.

Tests that need Postgres read its URL from ``RECTUNE_TEST_POSTGRES_URL`` (``.ci/run`` sets it).
Without it they skip, saying how to run them, except in CI (``CI`` set), where a missing or
unreachable server fails them: a skipped Postgres suite in CI would hide a regression.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest

ENV = "RECTUNE_TEST_POSTGRES_URL"
HOW = (
    f"set {ENV}=postgresql://postgres@127.0.0.1:5432/test (a server with trust auth) to run "
    "the Postgres tests"
)


def base_url() -> str:
    """The server's URL, or skip/fail as the module docstring says."""
    url = os.environ.get(ENV, "")
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{ENV} is not set in CI; the Postgres tests must run there ({HOW})")
        pytest.skip(HOW)
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.Error as exc:
        pytest.fail(f"{ENV}={url} is set but the server cannot be reached: {exc}")
    return url


def with_schema(url: str, schema: str) -> str:
    """`url` whose connections use `schema` (every table is created there)."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(f'-csearch_path={schema}')}"


def create_schema(url: str) -> tuple[str, str]:
    """A new uniquely named schema: (its name, a URL that uses it)."""
    import psycopg

    schema = f"rt_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return schema, with_schema(url, schema)


def drop_schema(url: str, schema: str, schema_url: str) -> None:
    """Drop `schema` and forget this process's connections to it."""
    import psycopg

    from rectune.storage.pg import Database

    db = Database._open.pop(schema_url, None)
    if db is not None:
        db.close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A Postgres storage URL on a fresh schema, dropped after the test."""
    url = base_url()
    schema, schema_url = create_schema(url)
    try:
        yield schema_url
    finally:
        drop_schema(url, schema, schema_url)
