"""A full sync against the fake API over real HTTP: records, lineage, bookmarks, requests."""

from __future__ import annotations

import json
import logging
import typing as t
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from fake_backstory import FakeBackstory
from tap_backstory_contacts import schemas
from tests.conftest import END, START, make_config
from tests.singer_run import bookmark_state, run_cli, sync

TAP_FIELDS = {"contact_key", "export_job_id", "export_start_date", "export_end_date"}
WINDOWS = [("2026-01-01", "2026-01-05"), ("2026-01-06", "2026-01-10")]


def _api_part(record: dict[str, t.Any]) -> dict[str, t.Any]:
    return {k: v for k, v in record.items() if k not in TAP_FIELDS}


def _normalised(expected: dict[str, t.Any]) -> dict[str, t.Any]:
    """The API record as the tap emits it: empty strings read as null."""
    return {k: (None if v == "" else v) for k, v in expected.items()}


def test_full_sync_emits_every_record_in_window_order_with_bookmarks(
    api: FakeBackstory, config: dict[str, t.Any]
) -> None:
    out = sync(config)

    expected = [
        (window, _normalised(r)) for window in WINDOWS for r in api.expected_records(*window)
    ]
    assert len(out.records) == len(expected) == 50
    jobs = api.created_jobs()
    assert [(j.params["start_date"], j.params["end_date"]) for j in jobs] == WINDOWS
    for record, (window, api_record) in zip(out.records, expected, strict=True):
        assert _api_part(record) == api_record
        assert (record["export_start_date"], record["export_end_date"]) == window
    by_window = {w: jobs[i].job_id for i, w in enumerate(WINDOWS)}
    assert {r["export_job_id"] for r in out.records} == set(by_window.values())
    assert out.bookmark() == END
    assert "jobs" in out.final_state["bookmarks"]["enriched_contacts"]
    assert out.final_state["bookmarks"]["enriched_contacts"]["jobs"] == []
    # The bookmark moves to each window's end only after its last record.
    bookmarks = out.bookmarks_in_order()
    assert "2026-01-05" in bookmarks
    first_state_with_w1 = next(
        i
        for i, m in enumerate(out.messages)
        if m["type"] == "STATE" and out.bookmark(m["value"]) == "2026-01-05"
    )
    w1_records = [
        i
        for i, m in enumerate(out.messages)
        if m["type"] == "RECORD" and m["record"]["export_end_date"] == "2026-01-05"
    ]
    w2_records = [
        i
        for i, m in enumerate(out.messages)
        if m["type"] == "RECORD" and m["record"]["export_end_date"] == END
    ]
    assert max(w1_records) < first_state_with_w1 < min(w2_records)


def test_records_match_the_discovered_schema_and_keys_are_unique(
    api: FakeBackstory, config: dict[str, t.Any]
) -> None:
    schema = json.loads(resources.files(schemas).joinpath("enriched_contacts.json").read_text())
    out = sync(config)
    validator = jsonschema.Draft7Validator(schema)
    for record in out.records:
        validator.validate(record)
    keys = [r["contact_key"] for r in out.records]
    assert len(set(keys)) == len(keys)
    assert any(r["email"] is None for r in out.records), (
        "fake data should include contacts without email"
    )


def test_job_requests_always_send_the_booleans_and_filters_only_when_set(
    api: FakeBackstory,
) -> None:
    sync(make_config(api, end_date="2026-01-05"))
    sync(make_config(api, end_date="2026-01-05", country="United States", include_existing=False))
    plain, filtered = (j.params for j in api.created_jobs())
    assert plain == {
        "start_date": START,
        "end_date": "2026-01-05",
        "include_historical": True,
        "include_existing": True,
        "is_sourced_by_people_ai": False,
        "output_format": "JSON",
    }
    assert filtered["country"] == "United States"
    assert filtered["include_existing"] is False
    assert "state" not in filtered


def test_filters_reach_the_records(api: FakeBackstory) -> None:
    out = sync(make_config(api, country="United States"))
    assert out.records
    assert {r["country"] for r in out.records} == {"United States"}
    everyone = sum(len(api.expected_records(*w)) for w in WINDOWS)
    assert len(out.records) < everyone


def test_every_fragment_is_downloaded_once(api: FakeBackstory, config: dict[str, t.Any]) -> None:
    sync(config)
    fragments = sum(job.fragments for job in api.created_jobs())
    assert fragments == 2 * 7  # 25 records per window, 4 per fragment
    data = [r for r in api.requests if r.endpoint == "data"]
    assert len(data) == fragments
    assert sorted((r.path, r.query["fragment"]) for r in data) == sorted(
        {(r.path, r.query["fragment"]) for r in data}
    )
    assert api.count("token") == 1


@pytest.mark.parametrize(
    ("json_shape", "gzip"),
    [
        ("array", "none"),
        ("lines", "none"),
        ("wrapper", "none"),
        ("array", "header"),
        ("lines", "magic"),
        ("wrapper", "magic"),
    ],
)
def test_every_json_shape_and_gzip_mode_gives_the_same_records(
    api: FakeBackstory, json_shape: str, gzip: str
) -> None:
    baseline = sync(make_config(api, end_date="2026-01-05")).records
    api.config.json_shape = json_shape
    api.config.gzip = gzip
    again = sync(make_config(api, end_date="2026-01-05")).records
    assert [_api_part(r) for r in again] == [_api_part(r) for r in baseline]
    assert len(again) == 25


@pytest.mark.parametrize(
    ("empty_fragments", "status"), [("zero", 200), ("missing", 200), ("zero", 204), ("zero", 404)]
)
def test_empty_export_reads_the_stitched_file_and_still_advances(
    api: FakeBackstory, empty_fragments: str, status: int
) -> None:
    api.config.data_last_day = "2025-12-31"
    api.config.empty_fragments = empty_fragments
    api.config.empty_data_status = status
    out = sync(make_config(api))
    assert out.records == []
    assert out.bookmark() == END
    data = [r for r in api.requests if r.endpoint == "data"]
    assert len(data) == 2
    assert all("fragment" not in r.query for r in data)


def test_numeric_job_ids_become_strings(api: FakeBackstory, config: dict[str, t.Any]) -> None:
    api.config.job_id_type = "int"
    out = sync(config)
    ids = {r["export_job_id"] for r in out.records}
    assert len(ids) == 2
    assert all(isinstance(i, str) and i.isdigit() for i in ids)


def test_undocumented_fields_are_logged_once_and_dropped(
    api: FakeBackstory, config: dict[str, t.Any], caplog: pytest.LogCaptureFixture
) -> None:
    api.config.extra_fields = True
    out = sync(config)
    assert len(out.records) == 50
    assert all("linkedin_url" not in r for r in out.records)
    warnings = [r.getMessage() for r in caplog.records if "not in the schema" in r.getMessage()]
    assert len(warnings) == 1
    assert "enrichment_score" in warnings[0]
    assert "linkedin_url" in warnings[0]


def test_stream_is_up_to_date_creates_no_job(
    api: FakeBackstory, config: dict[str, t.Any], caplog: pytest.LogCaptureFixture
) -> None:
    state = bookmark_state(END)
    caplog.set_level(logging.INFO)
    out = sync(config, state)
    assert out.records == []
    assert api.count("create") == 0
    assert api.count("token") == 0
    assert out.bookmark() == END
    assert any("is up to date" in r.getMessage() for r in caplog.records)


def test_csv_export_gives_the_same_records_as_json(api: FakeBackstory) -> None:
    as_json = sync(make_config(api)).records
    as_csv = sync(make_config(api, output_format="CSV")).records
    assert [_api_part(r) | {"k": r["contact_key"]} for r in as_csv] == [
        _api_part(r) | {"k": r["contact_key"]} for r in as_json
    ]


def test_deselected_properties_are_not_emitted(api: FakeBackstory, tmp_path: Path) -> None:
    discovered = run_cli(tmp_path, {}, "--discover")
    catalog = json.loads(discovered.stdout)
    for entry in catalog["streams"][0]["metadata"]:
        if entry["breadcrumb"] in (["properties", "phone"], ["properties", "email"]):
            entry["metadata"]["selected"] = False
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    result = run_cli(
        tmp_path,
        make_config(api, end_date="2026-01-05"),
        "--catalog",
        str(tmp_path / "catalog.json"),
    )
    assert result.returncode == 0, result.stderr
    records = result.output.records
    assert len(records) == 25
    assert all("phone" not in r and "email" not in r for r in records)
    assert all("first_name" in r and "contact_key" in r for r in records)


def test_fragments_download_in_parallel_and_are_emitted_in_order(api: FakeBackstory) -> None:
    """Fragment 0 is slow: with 4 downloads at once, fragments 1-3 finish before it, yet the
    records still come out in fragment order."""
    api.faults.add("data", "delay", seconds=0.5, fragment=0)
    out = sync(make_config(api, end_date="2026-01-05", max_parallel_downloads=4))
    finished = [int(r.query["fragment"]) for r in api.requests if r.endpoint == "data"]
    assert finished.index(0) >= 3, f"fragment 0 should finish after 1-3: {finished}"
    expected = api.expected_records("2026-01-01", "2026-01-05")
    assert [r["email"] for r in out.records] == [r["email"] for r in expected]


def test_one_download_at_a_time_when_configured(api: FakeBackstory) -> None:
    api.faults.add("data", "delay", seconds=0.2, fragment=0)
    sync(make_config(api, end_date="2026-01-05", max_parallel_downloads=1))
    finished = [int(r.query["fragment"]) for r in api.requests if r.endpoint == "data"]
    assert finished == list(range(7))
