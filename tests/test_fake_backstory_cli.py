"""The fake API's command line: flags built from FakeConfig's fields, serving until SIGTERM."""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from fake_backstory import FakeConfig
from fake_backstory.__main__ import build_parser, config_from_args
from tests.fake_client import ROOT

#: A value other than the default for every FakeConfig field, as the command line spells it.
CHANGED: dict[str, tuple[str, Any]] = {
    "port": ("8765", 8765),
    "client_id": ("cid", "cid"),
    "client_secret": ("csecret", "csecret"),
    "token_ttl_seconds": ("1.5", 1.5),
    "contacts_per_day": ("3", 3),
    "seed": ("11", 11),
    "data_last_day": ("2026-01-02", "2026-01-02"),
    "polls_queued": ("0", 0),
    "polls_running": ("4", 4),
    "job_seconds": ("0.25", 0.25),
    "fragment_size": ("9", 9),
    "empty_fragments": ("missing", "missing"),
    "json_shape": ("lines", "lines"),
    "json_pretty": ("yes", True),
    "gzip": ("deflate", "deflate"),
    "csv_bool": ("1", "1"),
    "csv_bom": ("true", True),
    "csv_line_terminator": ("lf", "\n"),
    "csv_header_names": ('[["email", "E-mail"]]', (("email", "E-mail"),)),
    "job_id_type": ("int", "int"),
    "extra_fields": ("on", True),
    "added_fields": ('[["data", [1, 2]]]', (("data", [1, 2]),)),
    "hostile_body": ("long_value", "long_value"),
    "hostile_bytes": ("64", 64),
    "max_window_days": ("7", 7),
    "enforce_job_limits": ("1", True),
    "throttle_bytes_per_second": ("1000", 1000),
    "fail_jobs": ("2", 2),
    "cancel_jobs": ("3", 3),
    "status_override": ("Running", "Running"),
    "expired_status": ("410", 410),
    "log_requests": ("yes", True),
    "report_fragments": ("false", False),
    "empty_data_status": ("204", 204),
    "bad_value_at": ("5", 5),
    "bad_value": ("1_000", "1_000"),
    "fragments_override": ("12", 12),
    "job_ids": ('["a/b", 42]', ("a/b", 42)),
}


def test_every_config_field_has_a_flag_that_sets_it() -> None:
    names = [spec.name for spec in dataclasses.fields(FakeConfig)]
    assert sorted(CHANGED) == sorted(names), "give every new FakeConfig field a value here"
    argv = [
        arg for name, (word, _) in CHANGED.items() for arg in (f"--{name.replace('_', '-')}", word)
    ]
    config = config_from_args(build_parser().parse_args(argv))
    assert config == FakeConfig(**{name: value for name, (_, value) in CHANGED.items()})
    assert all(getattr(config, name) != getattr(FakeConfig(), name) for name in names)


def test_no_flags_give_the_default_config() -> None:
    assert config_from_args(build_parser().parse_args([])) == FakeConfig()


def test_a_bare_boolean_flag_means_true() -> None:
    assert config_from_args(build_parser().parse_args(["--log-requests"])).log_requests is True


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--json-shape", "xml"], "invalid choice"),
        (["--csv-line-terminator", "cr"], "invalid choice"),
        (["--csv-bom", "maybe"], "not a boolean"),
        (["--job-ids", "{}"], "not a JSON list"),
        (["--contacts-per-day", "many"], "invalid int value"),
    ],
)
def test_bad_flag_values_are_refused(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(argv)
    assert message in capsys.readouterr().err


def test_cli_serves_until_sigterm(tmp_path: Path) -> None:
    ready = tmp_path / "url"
    proc = subprocess.Popen(
        [sys.executable, "-m", "fake_backstory", "--port", "0", "--ready-file", str(ready)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        url = ready.read_text().strip()
        assert url.startswith("http://127.0.0.1:")
        with requests.Session() as sess:
            form = {
                "grant_type": "client_credentials",
                "client_id": "test-client",
                "client_secret": "test-secret",
            }
            resp = sess.post(f"{url}/auth/v1/tokens", data=form, timeout=30)
        assert resp.status_code == 200
        assert resp.json()["token_type"] == "bearer"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out == f"fake-backstory listening on {url}\n"
