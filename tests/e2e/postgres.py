"""PostgreSQL for the end-to-end tests: one server per pytest session, psql, unique schemas and
databases, and the settings that point target-postgres and Meltano at them.

The server is the one the environment configures (PG* or TARGET_POSTGRES_* variables), or else an
embedded PostgreSQL 18 of this session's own (local_postgres), stopped when the session ends.
The fixtures are registered for tests/e2e/ in its conftest.py.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

import local_postgres
from fake_backstory import FakeBackstory
from local_postgres import Connection

IN_CI = os.environ.get("CI", "").lower() == "true"
_current: list[Connection] = []  # the session's server, once postgres_server has started it


def connection() -> Connection:
    """The session's server (the `postgres_server` fixture must have run)."""
    if not _current:
        raise RuntimeError("no PostgreSQL yet: use the postgres fixture first")
    return _current[-1]


def psql(sql: str, database: str | None = None) -> str:
    """Run one statement on the session's server; its unaligned output."""
    target = connection() if database is None else connection().with_database(database)
    return local_postgres.psql(target, sql)


def row_counts(table: str) -> tuple[int, int]:
    """Rows and distinct contact keys in ``table``."""
    query = f"select count(*), count(distinct contact_key) from {table}"  # noqa: S608 - our table
    rows, keys = psql(query).split("|")
    return int(rows), int(keys)


def target_env(schema: str | None = None) -> dict[str, str]:
    """TARGET_POSTGRES_* for the session's server (and ``schema``, if given)."""
    env = connection().target_env()
    if schema is not None:
        env["TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA"] = schema
    return env


def postgres_env(
    api: FakeBackstory, tmp_path: Path, start: date, end: date, schema: str | None = None
) -> dict[str, str]:
    """The tap's settings for one test (``tap_env``) plus the target's server and schema."""
    # Imported here: test_meltano imports this module.
    from tests.e2e.test_meltano import tap_env

    return {**tap_env(api, tmp_path, start, end), **target_env(schema)}


def system_database_uri(database: str) -> str:
    """MELTANO_DATABASE_URI for Meltano's system tables in ``database`` of the session's server."""
    return connection().with_database(database).sqlalchemy_url()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Connection]:
    """The configured server or an embedded one (stopped at the session's end), whose database
    `backstory_e2e` (created if missing) the tests load into."""
    stack = contextlib.ExitStack()
    try:
        server = stack.enter_context(local_postgres.server("pytest"))
        if server.embedded:
            local_postgres.psql(server, "create database backstory_e2e")
            server = server.with_database("backstory_e2e")
    except (RuntimeError, OSError, ImportError, subprocess.SubprocessError) as exc:
        stack.close()
        message = f"no PostgreSQL: {exc}"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: end-to-end tests must run)")
        pytest.skip(message)
    with stack:
        _current.append(server)
        try:
            yield server
        finally:
            _current.remove(server)


@pytest.fixture
def postgres(postgres_server: Connection) -> Connection:
    """The session's server, reachable (checked with `select 1`)."""
    psql("select 1")
    return postgres_server


@pytest.fixture
def postgres_schema(postgres: Connection) -> Iterator[str]:
    """A schema name unique to this test, dropped afterwards."""
    schema = f"backstory_e2e_{uuid.uuid4().hex[:10]}"
    yield schema
    psql(f"drop schema if exists {schema} cascade")


@pytest.fixture
def postgres_database(postgres: Connection) -> Iterator[str]:
    """A database of its own for this test (e.g. Meltano's system tables), dropped afterwards."""
    name = f"meltano_e2e_{uuid.uuid4().hex[:10]}"
    psql(f"create database {name}")
    yield name
    psql(f"drop database if exists {name} with (force)")
