"""local_postgres: a configured server wins; otherwise an embedded server of the caller's own,
on a unix socket in its own folder, stopped and removed at the end, even after an error or when
its owner died without stopping it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import local_postgres
from local_postgres import Connection

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_root() -> Iterator[Path]:
    """A folder for servers under the project's .postgres/, removed afterwards. Not under
    pytest's tmp_path: as root the server runs as the OS user embedded_postgres, which must
    traverse the path, and every pytest session resets /tmp/pytest-of-root to mode 0700."""
    local_postgres.DATA_ROOT.mkdir(exist_ok=True)
    root = local_postgres.DATA_ROOT / f"test-{uuid.uuid4().hex[:8]}"
    root.mkdir()
    yield root
    shutil.rmtree(root, ignore_errors=True)


def running(data_dir: Path) -> bool:
    """Whether the postmaster of ``data_dir`` is alive (its pid file names a live process)."""
    pid_file = data_dir / "data" / "postmaster.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().split()[0])
    return Path(f"/proc/{pid}").exists()


def test_no_variable_means_no_configured_server() -> None:
    assert local_postgres.configured({"PGPASSWORD": "x", "HOME": "/root"}) is None


def test_target_variables_win_over_libpq_ones() -> None:
    found = local_postgres.configured(
        {"PGHOST": "db.internal", "PGPORT": "6543", "TARGET_POSTGRES_HOST": "warehouse"}
    )
    assert found == Connection("warehouse", 6543, "postgres", "postgres", "test")
    assert found.target_env()["TARGET_POSTGRES_HOST"] == "warehouse"


def test_a_socket_directory_reaches_target_postgres_as_a_url() -> None:
    """target-postgres 0.8.1 loses a socket directory given as host: it gets the whole URL."""
    socket = Connection("/srv/pg sock", 5433, "me", "p@ss", "db", embedded=True)
    assert socket.target_env() == {
        "TARGET_POSTGRES_SQLALCHEMY_URL": "postgresql+psycopg://me:p%40ss@/db"
        "?host=%2Fsrv%2Fpg+sock&port=5433",
        "TARGET_POSTGRES_PASSWORD": "p@ss",
    }


def test_embedded_server_is_private_and_removed_after_an_error(data_root: Path) -> None:
    seen: list[Path] = []

    def use_then_fail() -> None:
        with local_postgres.embedded("t", data_root) as db:
            (data_dir,) = data_root.iterdir()
            seen.append(data_dir)
            assert db.embedded
            assert db.host.startswith(str(data_dir))  # its socket, in its own folder: no TCP
            assert local_postgres.psql(db, "show listen_addresses") == ""
            assert local_postgres.psql(db, "select 41 + 1") == "42"
            assert running(data_dir)
            seen.append(
                Path(f"/proc/{(data_dir / 'data' / 'postmaster.pid').read_text().split()[0]}")
            )
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        use_then_fail()
    data_dir, postmaster = seen
    assert not data_dir.exists()
    assert not postmaster.exists(), "the server process is gone"


def test_two_servers_at_once_do_not_share(data_root: Path) -> None:
    with local_postgres.embedded("a", data_root) as a, local_postgres.embedded("b", data_root) as b:
        assert a.host != b.host
        local_postgres.psql(a, "create table only_in_a (x int)")
        assert local_postgres.psql(b, "select to_regclass('only_in_a') is null") == "t"


def test_up_leaves_a_server_that_down_or_a_later_sweep_stops(
    data_root: Path, tmp_path: Path
) -> None:
    """`python -m local_postgres up DIR` (scripts/demo.sh) belongs to the calling shell: once
    that shell is gone (killed before its trap ran), the next start sweeps the server away."""
    data_dir = data_root / "demo-1"
    shell = subprocess.run(
        [
            "/bin/bash",
            "-c",
            f'"{sys.executable}" -m local_postgres up "{data_dir}" --database d; true',
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    exports = dict(line.removeprefix("export ").split("=", 1) for line in shell.stdout.splitlines())
    assert exports["LOCAL_POSTGRES_EMBEDDED"] == "1"
    assert exports["PGDATABASE"] == "d"
    assert running(data_dir), "up leaves the server running for the script"

    local_postgres.sweep(data_root)  # the shell that owned it has exited

    assert not running(data_dir)
    assert not data_dir.exists()


def test_up_with_a_configured_server_starts_nothing(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "local_postgres", "up", str(tmp_path / "x")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={"PATH": "/usr/bin:/bin", "PGHOST": "db.example", "PGPASSWORD": "s3cret"},
    )
    assert "export LOCAL_POSTGRES_EMBEDDED=0" in done.stdout
    assert "export TARGET_POSTGRES_HOST=db.example" in done.stdout
    assert not (tmp_path / "x").exists()
