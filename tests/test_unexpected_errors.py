"""An error the tap did not foresee still ends the run with one clear line (its type, its
message and what to do), the traceback only at DEBUG, and a non-zero exit status."""

from __future__ import annotations

import os
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from fake_backstory import FakeBackstory
from tests.singer_run import cli_command

# The tap's CLI with Python's temp dir set to a regular file: creating anything in it fails
# with the operating system's own error (NotADirectoryError, errno 20).
DRIVER = """
import sys, tempfile
tempfile.tempdir = sys.argv.pop(1)
from tap_backstory_contacts.tap import TapBackstoryContacts
TapBackstoryContacts.cli()
"""
HINT = (
    "set TAP_BACKSTORY_CONTACTS_LOGLEVEL=DEBUG to see the traceback; under Meltano, run "
    "`meltano --log-level=debug run ...` instead"
)


def error_lines(stderr: str) -> list[str]:
    """The ERROR log lines."""
    return [line for line in stderr.splitlines() if "| ERROR    |" in line]


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_an_unusable_temp_dir_is_one_clear_line(
    api: FakeBackstory, config: dict[str, t.Any], tmp_path: Path, level: str
) -> None:
    not_a_dir = tmp_path / "not-a-directory"
    not_a_dir.write_text("")
    command = cli_command(tmp_path, config, None)
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, str(not_a_dir), *command[3:]],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TAP_BACKSTORY_CONTACTS_LOGLEVEL": level},
        check=False,
    )
    assert done.returncode == 1
    errors = error_lines(done.stderr)
    assert (
        "| The tap stopped on an unexpected error: NotADirectoryError: [Errno 20] Not a "
        f"directory: '{not_a_dir}" in errors[-1]
    )
    assert HINT in errors[-1]
    assert not [line for line in errors if line.endswith("| 20")]  # no bare errno
    assert ("Traceback" in done.stderr) == (level == "DEBUG")
