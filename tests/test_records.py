"""Record shaping: exact types, empty as null, lineage, contact_key, unknown fields."""

from __future__ import annotations

import json
import logging
import typing as t
from importlib import resources

import pytest

from tap_backstory_contacts import schemas
from tap_backstory_contacts.errors import DataFormatError
from tap_backstory_contacts.records import RecordShaper, contact_key

LINEAGE = {
    "export_job_id": "j1",
    "export_start_date": "2026-01-01",
    "export_end_date": "2026-01-05",
}


@pytest.fixture
def shaper() -> RecordShaper:
    schema_file = resources.files(schemas).joinpath("enriched_contacts.json")
    return RecordShaper(json.loads(schema_file.read_text(encoding="utf-8")))


def _where() -> str:
    return "job j1, fragment 0 of 1, record 7"


def test_json_and_csv_rows_give_identical_records(shaper: RecordShaper) -> None:
    as_json = {
        "email": "A@X.example",
        "from_cc": True,
        "total_inbound": 4,
        "phone": None,
        "state": "",
    }
    as_csv = {
        "email": "A@X.example",
        "from_cc": "True",
        "total_inbound": "4",
        "phone": "",
        "state": "",
    }
    one = shaper.shape(as_json, LINEAGE, _where)
    two = shaper.shape(as_csv, LINEAGE, _where)
    assert one == two
    assert one["total_inbound"] == 4
    assert one["from_cc"] is True
    assert one["phone"] is None
    assert one["state"] is None
    assert one["first_name"] is None  # a documented field that is absent is null
    assert {k: one[k] for k in LINEAGE} == LINEAGE


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("FALSE", False),
        ("1", True),
        ("0", False),
        ("Yes", True),
        ("no", False),
        (1, True),
    ],
)
def test_boolean_spellings(shaper: RecordShaper, raw: t.Any, expected: bool) -> None:
    assert shaper.shape({"from_cc": raw}, LINEAGE, _where)["from_cc"] is expected


@pytest.mark.parametrize(
    ("field", "raw"),
    [("total_inbound", "abc"), ("total_inbound", 1.5), ("from_cc", "maybe"), ("email", ["x"])],
)
def test_untypable_value_fails_naming_position_and_field(
    shaper: RecordShaper, field: str, raw: t.Any
) -> None:
    with pytest.raises(
        DataFormatError, match=rf"job j1, fragment 0 of 1, record 7, field '{field}'"
    ):
        shaper.shape({field: raw}, LINEAGE, _where)


def test_contact_key_is_email_based_case_and_space_insensitive() -> None:
    assert contact_key({"email": " Ann@X.example "}) == contact_key({"email": "ann@x.example"})
    assert contact_key({"email": "ann@x.example"}) != contact_key({"email": "bob@x.example"})


def test_contact_key_without_email_uses_identity_fields() -> None:
    ann = {"email": None, "first_name": "Ann", "last_name": "Lee", "account_crm_id": "001"}
    assert contact_key(ann) == contact_key({**ann, "email": "", "first_name": "ANN "})
    assert contact_key(ann) != contact_key({**ann, "account_crm_id": "002"})
    assert len(contact_key(ann)) == 64


def test_unknown_fields_are_logged_once_and_not_emitted(
    shaper: RecordShaper, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        first = shaper.shape({"email": "a@x", "linkedin_url": "u"}, LINEAGE, _where)
        shaper.shape({"email": "b@x", "linkedin_url": "v"}, LINEAGE, _where)
    assert "linkedin_url" not in first
    assert sum("linkedin_url" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("raw", [{}, {"count": 0}, {"ann@x.example": "Ann", "3": "3"}])
def test_a_row_with_no_schema_field_is_an_error_not_a_record_of_nulls(
    shaper: RecordShaper, raw: dict[str, t.Any]
) -> None:
    with pytest.raises(DataFormatError, match="none of the schema's fields is present"):
        shaper.shape(raw, LINEAGE, _where)
