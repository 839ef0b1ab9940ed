"""Fixtures of the fake's own tests: a small fake with instant jobs, and a session on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from fake_backstory import FakeBackstory
from tests.fake_client import authed_session, small_fake


@pytest.fixture
def api() -> Iterator[FakeBackstory]:
    """A running fake with small fragments and instant jobs."""
    with small_fake() as fake:
        yield fake


@pytest.fixture
def session(api: FakeBackstory) -> Iterator[requests.Session]:
    """An authenticated requests session."""
    with authed_session(api) as sess:
        yield sess
