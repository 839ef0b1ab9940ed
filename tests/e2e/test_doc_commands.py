"""Every ```sh block of README.md and docs/ runs as shown, one test per block.

A block marked ``<!-- not-run: <reason> -->`` (the line right before its fence) is reported as
skipped with its reason (``-ra`` lists them): it is not run, and not a pass.

Where the blocks run, as a reader would run them:

- in a copy of this checkout (the files git tracks or would track; ``.venv`` and
  ``.meltano-venv`` linked, ``.meltano``'s installed plugins copied without their state), as from
  a fresh clone after ``make venv`` and ``make install``; docs/meltano.md's blocks start in the
  directory holding that copy, as its setup says;
- blocks of one page one after the other, each starting where the previous one ended (its
  ``cd``), each with BLOCK_SECONDS to finish;
- with ``meltano`` and a virtualenv of its own (for ``pip install``) on PATH, and the
  environment a reader's ``.env`` would give: the fake API's URL and credentials, a short
  ``start_date``, fast polling, and target-postgres on the tests' PostgreSQL
  (tests/e2e/postgres.py), loading into the schema the docs configure (README's block reads it
  back from backstory_dev).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import typing as t
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from fake_backstory import FakeBackstory, FakeConfig
from local_postgres import Connection
from tests.doc_blocks import Block, documents, sh_blocks
from tests.e2e.postgres import target_env
from tests.e2e.test_meltano import REPO, clean_environment, yesterday
from tests.e2e.test_resume_in_a_user_project import meltano_bin

BLOCK_SECONDS = 300
FROM_PARENT = {"docs/meltano.md"}  # its setup starts next to the clone
BLOCKS = [block for page in documents() for block in sh_blocks(page)]
LINKED = (".venv", ".meltano-venv")


@dataclass
class Workspace:
    """Where the blocks run and with what environment."""

    home: Path
    clone: Path
    env: dict[str, str]
    cwd: dict[str, Path] = field(default_factory=dict)


def copy_checkout(clone: Path) -> None:
    """The checkout's files (tracked, or new and not ignored), with their times kept so that
    make's stamps stay valid; the venvs linked; the installed plugins copied, state left out."""
    listed = subprocess.run(
        [shutil.which("git") or "git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / name)
    for name in LINKED:
        (clone / name).symlink_to(REPO / name)
    if (REPO / ".meltano").is_dir():
        shutil.copytree(
            REPO / ".meltano",
            clone / ".meltano",
            symlinks=True,
            ignore=shutil.ignore_patterns("meltano.db*", "batches", "run", "logs"),
        )


@pytest.fixture(scope="module")
def workspace(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: Connection
) -> t.Iterator[Workspace]:
    executable = meltano_bin()
    home = tmp_path_factory.mktemp("reader")
    clone = home / "tap-backstory-contacts"
    copy_checkout(clone)
    python_env = home / "python"
    subprocess.run([sys.executable, "-m", "venv", str(python_env)], check=True, timeout=120)
    config = FakeConfig(contacts_per_day=2, polls_queued=0, polls_running=0)
    with FakeBackstory(config) as api:
        api.config.data_last_day = yesterday().isoformat()
        path = [str(python_env / "bin"), str(Path(executable).parent), os.environ["PATH"]]
        env = {
            **clean_environment(),
            "PATH": os.pathsep.join(path),
            "TAP_BACKSTORY_CONTACTS_API_URL": api.url,
            "TAP_BACKSTORY_CONTACTS_CLIENT_ID": api.config.client_id,
            "TAP_BACKSTORY_CONTACTS_CLIENT_SECRET": api.config.client_secret,
            "TAP_BACKSTORY_CONTACTS_START_DATE": (yesterday() - timedelta(days=6)).isoformat(),
            "TAP_BACKSTORY_CONTACTS_POLL_INTERVAL_SECONDS": "1",
            "TAP_BACKSTORY_CONTACTS_POLL_MAX_INTERVAL_SECONDS": "1",
            # The server only: the schema is what the docs' own configuration says.
            **target_env(),
        }
        yield Workspace(home=home, clone=clone, env=env)


@pytest.mark.parametrize("block", BLOCKS, ids=[block.where for block in BLOCKS])
def test_documented_commands_run_as_shown(workspace: Workspace, block: Block) -> None:
    if block.not_run is not None:
        pytest.skip(f"not-run: {block.where}: {block.not_run}")
    page = block.path.relative_to(REPO).as_posix()
    start = workspace.home if page in FROM_PARENT else workspace.clone
    cwd = workspace.cwd.get(page, start)
    ended_in = workspace.home / f"cwd-{uuid.uuid4().hex}"
    log = workspace.home / f"block-{uuid.uuid4().hex}.log"
    script = f'{block.text}\npwd > "{ended_in}"\n'
    with log.open("w") as output:
        process = subprocess.Popen(
            [shutil.which("bash") or "bash", "-eo", "pipefail", "-c", script],
            cwd=cwd,
            env=workspace.env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            returncode = process.wait(timeout=BLOCK_SECONDS)
        except subprocess.TimeoutExpired:
            returncode = None
        finally:
            # Whatever the block started in the background (a server) ends with it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert returncode == 0, (
        f"{block.where} {'timed out' if returncode is None else f'exited {returncode}'} "
        f"in {cwd}:\n{block.text}\n--- output ---\n{log.read_text()[-6000:]}"
    )
    workspace.cwd[page] = Path(ended_in.read_text().strip())
