"""End to end into PostgreSQL: the untuned pipe, the shipped ``meltano run`` and the COPY limit.

Three ways to land the same contacts from the fake API in the local PostgreSQL, in one run:

1. ``tap | target-postgres``, both with connection settings only (RECORD messages, defaults);
2. ``meltano run tap-backstory-contacts target-postgres`` with meltano.yml as in the repository
   (BATCH files, tuned loader), then the same command again at once (no new row expected);
3. ``psql \\copy`` of the loaded rows, from a CSV file into a bare table: the limit.

The server is the one PG* / TARGET_POSTGRES_* configure, or else an embedded one (local_postgres).
"""

# SQL here is built from this module's own random schema names and constants only.
# ruff: noqa: S608

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import tempfile
import time
import typing as t
import uuid
from pathlib import Path

import local_postgres
from benchmarks.cases import Context, Row
from benchmarks.harness import ROOT, FakeApi, write_config
from local_postgres import Connection

# The Meltano project (meltano.yml and its installed plugins) and meltano itself; the e2e tests
# point these at their installed copy of the project to smoke-test this case.
PROJECT = Path(os.environ.get("BENCH_MELTANO_PROJECT", ROOT))
MELTANO = Path(os.environ.get("MELTANO_BIN", ROOT / ".meltano-venv" / "bin" / "meltano"))
TARGET = PROJECT / ".meltano" / "loaders" / "target-postgres" / "venv" / "bin" / "target-postgres"
TAP = [sys.executable, "-m", "tap_backstory_contacts.tap"]
CASE = "pipeline into postgres"
STREAM = "enriched_contacts"
START = datetime.date(2025, 1, 1)


def pipeline_into_postgres(context: Context) -> list[Row]:
    """Target: the shipped ``meltano run`` >= 3x faster than the untuned pipe; one row a contact."""
    missing = [str(path) for path in (MELTANO, TARGET) if not path.exists()]
    if missing:
        return [Row(CASE, f"skipped: run `make install` ({missing} missing)", 0, 0, 0)]
    with local_postgres.server("bench") as db:
        return _pipeline(context, db)


def _pipeline(context: Context, db: Connection) -> list[Row]:
    days, per_day = (5, 400) if context.quick else (80, 2000)
    records = days * per_day
    end = (START + datetime.timedelta(days=days - 1)).isoformat()
    schemas = [f"bench_{uuid.uuid4().hex[:8]}" for _ in range(3)]
    # Jobs complete at their first poll, so neither pipeline waits on the fake API.
    with FakeApi(contacts_per_day=per_day, polls_queued=0, polls_running=0) as api:
        tap = {
            "api_url": api.url,
            "client_id": "test-client",
            "client_secret": "test-secret",
            "start_date": START.isoformat(),
            "end_date": end,
        }
        try:
            untuned = _untuned_pipe(context.scratch, tap, schemas[0], db)
            _check_rows(db, schemas[0], records, "untuned pipe")
            env = _meltano_env(context.scratch, tap, schemas[1], db)
            shipped = _timed(
                [str(MELTANO), "run", "tap-backstory-contacts", "target-postgres"], env
            )
            _check_rows(db, schemas[1], records, "meltano run")
            again = _timed([str(MELTANO), "run", "tap-backstory-contacts", "target-postgres"], env)
            _check_rows(db, schemas[1], records, "second meltano run")
            limit = _copy_limit(db, context.scratch, schemas[1], schemas[2])
            _check_rows(db, schemas[2], records, "psql \\copy", distinct=False)
        finally:
            for schema in schemas:
                _psql(db, f"drop schema if exists {schema} cascade")
    speedup = untuned / shipped
    return [
        Row(CASE, "tap piped to target-postgres, connection settings only", records, untuned, 0),
        Row(
            CASE,
            "meltano run as shipped (BATCH, tuned loader)",
            records,
            shipped,
            0,
            speedup,
            ">= 3x faster than the untuned pipe",
            speedup >= 3,
            "x",
        ),
        Row(CASE, "same meltano run again (no new day, no new row)", 0, again, 0),
        Row(
            CASE,
            "psql \\copy from CSV into a bare table (the limit)",
            records,
            limit,
            0,
            shipped / limit,
            "how far the shipped run stays from it",
            None,
            "x slower",
        ),
    ]


def _untuned_pipe(scratch: Path, tap: dict[str, t.Any], schema: str, db: Connection) -> float:
    """``tap | target-postgres`` with connection settings only; wall seconds."""
    tap_config = write_config(scratch, {**tap, "poll_interval_seconds": 1}, "untuned-tap.json")
    target_config = write_config(
        scratch,
        {
            **db.target_config(),
            "default_target_schema": schema,
        },
        "untuned-target.json",
    )
    started = time.perf_counter()
    with (
        tempfile.TemporaryFile() as errors,
        subprocess.Popen(  # noqa: S603
            [*TAP, "--config", str(tap_config)], cwd=ROOT, stdout=subprocess.PIPE, stderr=errors
        ) as producer,
        subprocess.Popen(  # noqa: S603
            [str(TARGET), "--config", str(target_config)],
            cwd=scratch,
            stdin=producer.stdout,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        ) as consumer,
    ):
        if producer.stdout is not None:
            producer.stdout.close()  # the target holds the pipe now
        codes = producer.wait(), consumer.wait()
        seconds = time.perf_counter() - started
        if codes != (0, 0):
            errors.seek(0)
            tail = errors.read()[-3000:].decode(errors="replace")
            raise RuntimeError(f"tap | target-postgres exited {codes}:\n{tail}")
    return seconds


def _meltano_env(
    scratch: Path, tap: dict[str, t.Any], schema: str, db: Connection
) -> dict[str, str]:
    """What the user supplies besides meltano.yml: credentials, API, range; a fresh state."""
    env = {f"TAP_BACKSTORY_CONTACTS_{name.upper()}": str(value) for name, value in tap.items()}
    return {
        **env,
        "TAP_BACKSTORY_CONTACTS_POLL_INTERVAL_SECONDS": "1",
        "MELTANO_DATABASE_URI": f"sqlite:///{scratch / f'meltano-{schema}.db'}",
        **db.target_env(),
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
    }


def _timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603
        command,
        cwd=PROJECT,
        env={**_clean_environment(), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    if done.returncode != 0:
        tail = done.stderr[-3000:].decode(errors="replace")
        raise RuntimeError(f"{command} exited {done.returncode}:\n{tail}")
    return time.perf_counter() - started


def _copy_limit(db: Connection, scratch: Path, loaded: str, bare: str) -> float:
    """Seconds of ``psql \\copy`` of the loaded rows (tap columns) from CSV into a bare table."""
    csv = scratch / "contacts.csv"
    columns = _psql(
        db,
        "select string_agg(quote_ident(column_name), ', ' order by ordinal_position) "
        "from information_schema.columns "
        f"where table_schema = '{loaded}' and table_name = '{STREAM}' "
        "and column_name not like '\\_sdc\\_%'",
    )
    _psql(db, f"create schema {bare}")
    empty = f"select {columns} from {loaded}.{STREAM} with no data"
    _psql(db, f"create table {bare}.{STREAM} as {empty}")
    _psql(db, f"\\copy (select {columns} from {loaded}.{STREAM}) to '{csv}' csv")
    started = time.perf_counter()
    _psql(db, f"\\copy {bare}.{STREAM} from '{csv}' csv")
    return time.perf_counter() - started


def _check_rows(
    db: Connection, schema: str, expected: int, what: str, *, distinct: bool = True
) -> None:
    counted = _psql(db, f"select count(*), count(distinct contact_key) from {schema}.{STREAM}")
    rows, keys = (int(n) for n in counted.split("|"))
    if rows != expected or (distinct and keys != rows):
        raise RuntimeError(f"{what}: {rows} rows, {keys} contacts; expected {expected} of each")


def _psql(db: Connection, sql: str) -> str:
    return local_postgres.psql(db, sql, timeout=600)


def _clean_environment() -> dict[str, str]:
    """This environment without the developer's own tap, target and Meltano settings."""
    prefixes = ("TAP_BACKSTORY_CONTACTS_", "TARGET_POSTGRES_", "MELTANO_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


CASES: dict[str, t.Callable[[Context], list[Row]]] = {"pipeline-postgres": pipeline_into_postgres}
