"""RecordShaper's fastest path (a row with exactly the schema's fields, in order, exactly typed,
becomes the record itself) gives the records the field-by-field path gives."""

from __future__ import annotations

import datetime
import json
import typing as t
from importlib import resources

from fake_backstory.data import ContactFilter, iter_records
from tap_backstory_contacts import schemas
from tap_backstory_contacts.records import RecordShaper

LINEAGE = {"export_job_id": "j1", "export_start_date": "a", "export_end_date": "b"}


def _shaper() -> RecordShaper:
    schema_file = resources.files(schemas).joinpath("enriched_contacts.json")
    return RecordShaper(json.loads(schema_file.read_text(encoding="utf-8")))


def _rows() -> list[dict[str, t.Any]]:
    day = datetime.date(2026, 1, 1)
    return list(iter_records(day, day, ContactFilter(), contacts_per_day=300, seed=3))


def test_rows_in_schema_order_and_reordered_rows_give_the_same_records() -> None:
    shaper = _shaper()
    in_order = [shaper.shape(dict(row), LINEAGE, str) for row in _rows() * 2]
    reordered = [shaper.shape(dict(reversed(row.items())), LINEAGE, str) for row in _rows() * 2]
    assert in_order == reordered
    assert [list(r) for r in in_order] == [list(r) for r in reordered]
    assert len({r["contact_key"] for r in in_order}) == 300


def test_rows_in_schema_order_still_get_empty_text_as_null_and_types_converted() -> None:
    shaper = _shaper()
    rows = _rows()
    for row in rows:
        shaper.shape(dict(row), LINEAGE, str)  # every type pattern is now known
    odd = {**rows[0], "phone": "", "total_inbound": "12", "from_cc": "yes"}
    record = shaper.shape(odd, LINEAGE, str)
    assert (record["phone"], record["total_inbound"], record["from_cc"]) == (None, 12, True)
