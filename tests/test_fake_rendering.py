"""The fake API's rendering options over HTTP: pretty-printed JSON, added fields, renamed CSV
header columns and hostile bodies (which must stay cheap for the fake itself)."""

from __future__ import annotations

import json
import typing as t

import pytest
import requests

from fake_backstory import FakeBackstory
from tests.fake_client import WINDOW, authed_session, data, run_job

JOB = {**WINDOW, "output_format": "JSON"}


def _bodies(api: FakeBackstory, **params: t.Any) -> list[bytes]:
    with authed_session(api) as session:
        return _fetch_all(api, session, **params)


def _fetch_all(api: FakeBackstory, session: requests.Session, **params: t.Any) -> list[bytes]:
    done = run_job(api, session, **params)
    return [data(api, session, done["job_id"], i).content for i in range(done["fragments"])]


@pytest.mark.parametrize("shape", ["array", "wrapper"])
def test_pretty_printed_json_has_one_field_per_line(api: FakeBackstory, shape: str) -> None:
    api.config.json_shape = shape
    api.config.json_pretty = True
    expected = api.expected_records(**WINDOW)
    bodies = _bodies(api, **JOB)
    parsed = [json.loads(body) for body in bodies]
    records = [r for p in parsed for r in (p["data"] if shape == "wrapper" else p)]
    assert records == expected
    lines = bodies[0].decode().splitlines()
    assert sum(line.lstrip().startswith('"email": ') for line in lines) == len(
        parsed[0]["data"] if shape == "wrapper" else parsed[0]
    )


@pytest.mark.parametrize("shape", ["array", "lines", "wrapper"])
def test_added_fields_reach_every_json_record(api: FakeBackstory, shape: str) -> None:
    api.config.json_shape = shape
    api.config.added_fields = (("tags", ["a", {"b": 1}]), ("data", None))
    bodies = _bodies(api, **JOB)
    if shape == "lines":
        records = [json.loads(line) for body in bodies for line in body.splitlines()]
    else:
        parsed = [json.loads(body) for body in bodies]
        records = [r for p in parsed for r in (p["data"] if shape == "wrapper" else p)]
    assert len(records) == len(api.expected_records(**WINDOW))
    assert all(r["tags"] == ["a", {"b": 1}] and r["data"] is None for r in records)


def test_csv_header_names_can_be_renamed(api: FakeBackstory) -> None:
    api.config.csv_header_names = (("phone", "Email "),)
    header = _bodies(api, **{**WINDOW, "output_format": "CSV"})[0].split(b"\r\n")[0]
    assert b",email,Email ,job_title," in header


@pytest.mark.parametrize(
    ("shape", "hostile", "first"),
    [
        ("array", "whitespace", b"["),
        ("wrapper", "whitespace", b'{"data":['),
        ("lines", "long_value", b'{"first_name":"Hostile","notes":"xxx'),
        ("array", "long_value", b'[{"first_name":"Hostile","notes":"xxx'),
    ],
)
def test_hostile_bodies_lead_every_fragment(
    api: FakeBackstory, shape: str, hostile: str, first: bytes
) -> None:
    api.config.json_shape = shape
    api.config.hostile_body = hostile
    api.config.hostile_bytes = 3 << 16
    bodies = _bodies(api, **JOB)
    for body in bodies:
        assert body.startswith(first)
        assert len(body) > 3 << 16
        if hostile == "whitespace":
            assert body[len(first) : len(first) + (3 << 16)].isspace()
            json.loads(body)
