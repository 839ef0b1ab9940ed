"""Shared fixtures: a fake Backstory API per test and a tap config pointing at it."""

from __future__ import annotations

import compileall
import os
import typing as t

import pytest

from fake_backstory import FakeBackstory, FakeConfig
from tap_backstory_contacts import clock, redaction

START = "2026-01-01"
END = "2026-01-10"
PACKAGES = ("tap_backstory_contacts", "fake_backstory", "local_postgres")
# Marked slow: they do not depend on the interpreter and take most of the time, so they run
# once, on .venv's Python; the rest runs on every Python (the nox sessions deselect them). The
# chaos harness's fixed budget is here too (its regressions run everywhere), and the project
# conventions, which run the pre-commit hooks (mypy among them) on the checkout. The end-to-end
# ones are also marked e2e: `make test` runs them in a lane of their own.
E2E = "tests/e2e/"
SLOW = (
    E2E,
    "tests/test_packaging.py",
    "tests/test_benchmarks.py",
    "tests/test_project_conventions.py",
    "tests/test_chaos.py",
)


def pytest_configure(config: pytest.Config) -> None:
    """Bytecode for what the tests launch over and over (the tap's CLI above all), even where
    PYTHONDONTWRITEBYTECODE is set: without it every launch compiles from source. uv, which
    Meltano installs plugins with, writes none unless asked."""
    os.environ.setdefault("UV_COMPILE_BYTECODE", "1")
    for package in PACKAGES:
        compileall.compile_dir(config.rootpath / package, quiet=1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(SLOW):
            item.add_marker(pytest.mark.slow)
        if item.nodeid.startswith(E2E):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def _forget_secrets() -> t.Iterator[None]:
    """Secrets are redacted for the life of a process: one a test configures (say "secret")
    must not redact words in the messages of the tests after it."""
    yield
    redaction.forget()


@pytest.fixture
def api() -> t.Iterator[FakeBackstory]:
    """A fresh fake API: 5 contacts a day, 2 fragments per day's worth of records."""
    with FakeBackstory(FakeConfig(contacts_per_day=5, fragment_size=4)) as server:
        yield server


def make_config(api: FakeBackstory, **overrides: t.Any) -> dict[str, t.Any]:
    """A valid tap config against ``api`` with fast polling."""
    config: dict[str, t.Any] = {
        "client_id": api.config.client_id,
        "client_secret": api.config.client_secret,
        "api_url": api.url,
        "start_date": START,
        "end_date": END,
        "window_days": 5,
        "poll_interval_seconds": 0.01,
        "poll_max_interval_seconds": 0.05,
    }
    config.update(overrides)
    return config


@pytest.fixture
def config(api: FakeBackstory) -> dict[str, t.Any]:
    """The default config against the per-test fake API."""
    return make_config(api)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record every wait the tap asks for instead of sleeping (retries, polls).

    The tap's monotonic clock moves forward by each wait, so time-bounded loops still end.
    """
    recorded: list[float] = []
    real_monotonic = clock.monotonic

    def fake_sleep(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(clock, "sleep", fake_sleep)
    monkeypatch.setattr(clock, "monotonic", lambda: real_monotonic() + sum(recorded))
    return recorded
