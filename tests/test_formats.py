"""Streaming readers: JSON array / lines / wrapper, gzip by magic bytes, CSV, and bad data."""

from __future__ import annotations

import gzip
import io
import json
import random
import re
import typing as t
from pathlib import Path

import pytest

from tap_backstory_contacts import formats, jsonscan, limits
from tap_backstory_contacts.errors import DataFormatError, UnreadableDataError
from tap_backstory_contacts.formats import open_binary, read_csv, read_json
from tap_backstory_contacts.limits import LimitExceededError

RECORDS = [
    {"first_name": "José", "email": "a@x.example", "total_inbound": 3, "from_cc": True},
    {"first_name": 'VP, "Sales"', "email": None, "total_inbound": 0, "from_cc": False},
    {
        "first_name": "山田\nTarō",
        "email": "c@x.example",
        "total_inbound": 12345678901,
        "from_cc": None,
    },
]


def _json(raw: bytes) -> list[dict[str, t.Any]]:
    return list(read_json(io.BytesIO(raw), "test"))


def _shapes() -> dict[str, bytes]:
    lines = "\n".join(json.dumps(r, ensure_ascii=False) for r in RECORDS) + "\n"
    return {
        "array": json.dumps(RECORDS, ensure_ascii=False).encode(),
        "array-pretty": json.dumps(RECORDS, indent=2).encode(),
        "lines": lines.encode(),
        "lines-crlf-no-final-newline": lines.replace("\n", "\r\n").rstrip().encode(),
        "wrapper": json.dumps({"count": 3, "data": RECORDS, "next": None}).encode(),
        "wrapper-records-key": json.dumps({"records": RECORDS}, indent=1).encode(),
    }


@pytest.mark.parametrize("shape", list(_shapes()))
def test_every_json_shape_gives_the_same_records(shape: str) -> None:
    assert _json(_shapes()[shape]) == RECORDS


@pytest.mark.parametrize(
    "raw", [b"", b"  \n", b"[]", b"[ ]\n", b'{"data": []}', b'{"data": [], "count": 0}']
)
def test_empty_exports_have_no_records(raw: bytes) -> None:
    assert _json(raw) == []


def test_array_spanning_many_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formats, "CHUNK_BYTES", 7)
    many = [{"i": i, "name": "ä" * (i % 5), "n": 10 ** (i % 20)} for i in range(40)]
    assert _json(json.dumps(many).encode()) == many
    assert _json(json.dumps({"data": many, "count": 40}).encode()) == many


def test_number_split_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formats, "CHUNK_BYTES", 3)
    assert _json(b'{"data": [{"a": 1}], "count": 123456}') == [{"a": 1}]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'[{"a": 1}, {"a": 2', "invalid JSON near character"),
        (b'[{"a": 1} {"a": 2}]', "expected ',' or ']'"),
        (b'[{"a": 1}, 7]', "not an object"),
        (b'{"email": "a"}\n{"email": \n', "JSON line 2"),
        (b'{\n  "total": 3,\n  "rows": [1]\n}', "no records array"),
        (b"<html>oops</html>", "expected JSON"),
        (b'[{"a": 1}] trailing', "unexpected data after the records"),
        (b'{\n  7: [{"a": 1}]\n}', "an object key that is not a string: 7"),
    ],
)
def test_bad_json_is_an_error_naming_the_position(raw: bytes, message: str) -> None:
    with pytest.raises(DataFormatError, match=message) as caught:
        _json(raw)
    assert str(caught.value).startswith("test")


def test_gzip_is_detected_by_magic_bytes(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(gzip.compress(_shapes()["lines"]))
    with open_binary(path) as stream:
        assert list(read_json(stream, "test")) == RECORDS


def test_truncated_gzip_is_a_data_error(tmp_path: Path) -> None:
    data = gzip.compress(json.dumps([{"i": i} for i in range(5000)]).encode())
    path = tmp_path / "f"
    path.write_bytes(data[: len(data) // 2])
    with open_binary(path) as stream, pytest.raises(DataFormatError):
        list(read_json(stream, "test"))


def test_csv_reads_quoted_values_bom_and_crlf() -> None:
    raw = '\ufefffirst_name,email,n\r\n"VP, ""Sales""",a@x.example,3\r\n"two\nlines",,\r\n'.encode()
    rows = list(read_csv(io.BytesIO(raw), "test"))
    assert rows == [
        {"first_name": 'VP, "Sales"', "email": "a@x.example", "n": "3"},
        {"first_name": "two\nlines", "email": "", "n": ""},
    ]


def test_csv_row_with_wrong_width_is_an_error() -> None:
    with pytest.raises(DataFormatError, match="CSV line 3: 1 cells, the header has 2"):
        list(read_csv(io.BytesIO(b"email,phone\n1,2\n3\n"), "test"))


TRICKY = ["}", "},", "}]", '"},{"', "}\n,", "\\", "\u00e9\u5c71", "a,b", "", "]", "{", "} , {"]


@pytest.mark.parametrize("chunk", [5, 64, 4096])
@pytest.mark.parametrize("seed", range(4))
def test_arrays_with_braces_inside_strings_parse_exactly(
    monkeypatch: pytest.MonkeyPatch, chunk: int, seed: int
) -> None:
    """The orjson fast path cuts at '}' and must never be fooled by one inside a string."""
    monkeypatch.setattr(formats, "CHUNK_BYTES", chunk)
    rng = random.Random(seed)
    records = [
        {
            "i": i,
            "s": "".join(rng.choice(TRICKY) for _ in range(rng.randint(0, 6))),
            "n": rng.choice([None, True, 1.5, -7]),
            "nested": {"x": rng.choice(TRICKY)},
        }
        for i in range(300)
    ]
    for indent in (None, 1):
        assert _json(json.dumps(records, indent=indent, ensure_ascii=False).encode()) == records
        wrapped = json.dumps({"data": records, "count": 300}, indent=indent).encode()
        assert _json(wrapped) == records


def test_csv_header_names_are_normalised() -> None:
    raw = b"First Name,EMAIL, total_inbound \nAnn,a@x.example,3\n"
    assert list(read_csv(io.BytesIO(raw), "test")) == [
        {"first_name": "Ann", "email": "a@x.example", "total_inbound": "3"}
    ]


@pytest.mark.parametrize(
    "raw",
    [
        b'\xef\xbb\xbf[{"phone": 1}, {"phone": 2}]',
        b'\n\n{"phone": 1}\n{"phone": 2}\n',
        b'\xef\xbb\xbf{"phone": 1}\n{"phone": 2}',
    ],
)
def test_bom_and_leading_blank_lines_are_accepted(raw: bytes) -> None:
    assert _json(raw) == [{"phone": 1}, {"phone": 2}]


@pytest.mark.parametrize("raw", [b'{"data": null, "count": 0}', b'{"count": 0, "data": null}'])
def test_null_records_under_a_wrapper_key_is_an_empty_export(raw: bytes) -> None:
    assert _json(raw) == []


def test_one_line_object_with_a_nested_list_is_not_taken_for_a_record() -> None:
    with pytest.raises(UnreadableDataError, match="no records array"):
        _json(b'{"contacts_list": [{"a": 1}], "count": 1}')


def test_lone_surrogates_are_refused_with_a_position() -> None:
    with pytest.raises(UnreadableDataError, match="not valid Unicode text"):
        _json(b'[{"a": "ok"}, {"a": "\\ud800"}]')


def test_invalid_json_early_in_a_large_array_fails_without_reading_it_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(limits, "MAX_RECORD_BYTES", 1000)
    monkeypatch.setattr(formats, "CHUNK_BYTES", 100)
    body = b'[{"a": 1}, {"a": tru}, ' + b'{"b": 2}, ' * 10_000 + b'{"b": 3}]'
    with pytest.raises(LimitExceededError, match="does not end within the limit of 1000 bytes"):
        _json(body)


def test_damaged_gzip_is_an_unreadable_data_error(tmp_path: Path) -> None:
    data = bytearray(gzip.compress(json.dumps([{"i": i} for i in range(2000)]).encode()))
    data[len(data) // 2] ^= 0xFF
    path = tmp_path / "f"
    path.write_bytes(bytes(data))
    with open_binary(path) as stream, pytest.raises(UnreadableDataError):
        list(read_json(stream, "test"))


def _with_value(shape: str, value: str) -> bytes:
    """Two records in ``shape``, the second holding ``value`` as raw JSON text."""
    records = [{"email": "a@x.example", "n": 1}, {"email": "b@x.example", "n": "VALUE"}]
    if shape == "lines":
        text = "\n".join(json.dumps(r) for r in records) + "\n"
    elif shape == "lines-first":
        text = "\n".join(json.dumps(r) for r in reversed(records)) + "\n"
    elif shape.startswith("wrapper"):
        text = json.dumps({"data": records, "count": 2}, indent=2 if "pretty" in shape else None)
    else:
        text = json.dumps(records, indent=2 if "pretty" in shape else None)
    return text.replace('"VALUE"', value).encode()


GRAMMAR_SHAPES = ["array", "array-pretty", "wrapper", "wrapper-pretty", "lines", "lines-first"]


@pytest.fixture(params=["fast path", "slow path"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Arrays read by the orjson fast path, or element by element by the stdlib decoder."""
    if request.param == "slow path":
        monkeypatch.setattr(jsonscan.JsonScanner, "_fast_run", lambda self: None)
    return str(request.param)


@pytest.mark.parametrize("shape", GRAMMAR_SHAPES)
@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused_alike_in_every_shape(
    path: str, shape: str, constant: str
) -> None:
    with pytest.raises(UnreadableDataError) as caught:
        _json(_with_value(shape, constant))
    message = str(caught.value)
    assert message.startswith("test")
    assert message.endswith(f"{constant} is not JSON (JSON has no NaN, Infinity or -Infinity)")


@pytest.mark.parametrize("shape", GRAMMAR_SHAPES)
def test_numbers_beyond_a_double_are_refused_alike_in_every_shape(path: str, shape: str) -> None:
    with pytest.raises(UnreadableDataError, match=r"the number 1e400 is too large"):
        _json(_with_value(shape, "1e400"))


@pytest.mark.parametrize("shape", GRAMMAR_SHAPES)
def test_integers_beyond_64_bits_read_alike_in_every_shape(path: str, shape: str) -> None:
    records = _json(_with_value(shape, "184467440737095516160"))
    assert sorted(r["n"] for r in records) == [1, 1.8446744073709552e20]


@pytest.mark.parametrize(
    "first",
    [
        '{"email": "a@x.example", "tags": ["vip", {"since": 2019}]}',
        '{"data": [1, 2], "email": "a@x.example", "items": null}',
        '{"email": "a@x.example", "notes": "' + "x" * 100_000 + '"}',
    ],
)
def test_json_lines_are_recognised_by_a_first_record_with_schema_fields(first: str) -> None:
    raw = f'{first}\n{{"email": "b@x.example"}}\n'.encode()
    assert _json(raw) == [json.loads(first), {"email": "b@x.example"}]


def test_one_line_wrapper_is_read_whole() -> None:
    raw = b'{"count": 2, "data": [{"email": "a"}, {"email": "b"}]}\n\n'
    assert _json(raw) == [{"email": "a"}, {"email": "b"}]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"data": [{"email": "a"}]}\n{"x": 1}\n', "unexpected data after the records on line 1"),
        (b'{"data": [7]}\n', "element 1 under 'data' is not an object"),
        (b'{"rows": [], "count": 0}\n', "none of the schema's fields (keys: 'rows', 'count')"),
    ],
)
def test_bad_one_line_wrappers_are_errors(raw: bytes, message: str) -> None:
    with pytest.raises(UnreadableDataError, match=re.escape(message)):
        _json(raw)


def test_invalid_first_json_line_is_reported_as_a_line() -> None:
    with pytest.raises(UnreadableDataError, match="test, JSON line 1: "):
        _json(b'{"email": "a", "n": tru}\n{"email": "b"}\n')


@pytest.mark.parametrize("shape", ["lines", "lines-first"])
def test_json_line_longer_than_the_limit_is_an_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, shape: str
) -> None:
    monkeypatch.setattr(limits, "MAX_RECORD_BYTES", 1000)
    raw = _with_value(shape, '"' + "x" * 2000 + '"')
    line = 2 if shape == "lines" else 1
    with pytest.raises(
        LimitExceededError, match=f"test, JSON line {line}: longer than the limit of 1000 bytes"
    ):
        _json(raw)


def test_blank_json_lines_longer_than_the_limit_are_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(limits, "MAX_RECORD_BYTES", 1000)
    raw = b'{"email": "a"}\n' + b" " * 5000 + b'\n{"email": "b"}\n' + b"\t" * 3000
    assert _json(raw) == [{"email": "a"}, {"email": "b"}]


@pytest.mark.parametrize("shape", ["array", "array-pretty", "wrapper"])
def test_array_element_longer_than_the_limit_is_an_error(
    monkeypatch: pytest.MonkeyPatch, shape: str
) -> None:
    monkeypatch.setattr(limits, "MAX_RECORD_BYTES", 1000)
    monkeypatch.setattr(formats, "CHUNK_BYTES", 256)
    raw = _with_value(shape, '"' + "x" * 5000 + '"')
    with pytest.raises(LimitExceededError, match="does not end within the limit of 1000 bytes"):
        _json(raw)


@pytest.mark.parametrize("chunk", [7, 4096])
def test_long_whitespace_runs_are_skipped_in_arrays_and_wrappers(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(limits, "MAX_RECORD_BYTES", 1000)
    monkeypatch.setattr(formats, "CHUNK_BYTES", chunk)
    space = b" \n\t\r" * 5000
    raw = b"[" + space + b'{"email": "a"}' + space + b"," + space + b'{"email": "b"}' + space
    assert _json(raw + b"]" + space) == [{"email": "a"}, {"email": "b"}]
    assert _json(b'{"data":' + raw + b"]}") == [{"email": "a"}, {"email": "b"}]


def test_csv_header_with_a_name_twice_is_an_error_naming_the_columns() -> None:
    raw = b"first_name,email,Email ,phone\nAnn,a@x.example,b@x.example,1\n"
    with pytest.raises(DataFormatError) as caught:
        list(read_csv(io.BytesIO(raw), "test"))
    assert str(caught.value) == (
        "test: the CSV header names the column 'email' more than once "
        "(columns 2 'email', 3 'Email '); which one holds the data is unclear"
    )
    assert not isinstance(caught.value, UnreadableDataError)  # not worth a new download


def test_csv_line_longer_than_the_limit_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_RECORD_BYTES", 1000)
    raw = b"first_name,email\nAnn,a@x.example\n" + b"x" * 2000 + b",y\n"
    with pytest.raises(LimitExceededError, match="test, CSV line 3: longer than the limit"):
        list(read_csv(io.BytesIO(raw), "test"))


def test_csv_that_is_not_utf8_is_an_error_naming_the_line() -> None:
    with pytest.raises(UnreadableDataError, match="test, CSV line 2: not UTF-8 text"):
        list(read_csv(io.BytesIO(b"first_name\n\xff\n"), "test"))


@pytest.mark.parametrize("compress", [True, False])
def test_fragment_larger_than_the_limit_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compress: bool
) -> None:
    monkeypatch.setattr(limits, "MAX_FRAGMENT_BYTES", 10_000)
    body = json.dumps([{"email": f"{i}@x.example"} for i in range(1000)]).encode()
    path = tmp_path / "f"
    path.write_bytes(gzip.compress(body) if compress else body)
    with pytest.raises(LimitExceededError, match=r"test: the fragment .*the limit of 10000 bytes"):
        formats.verify_compression(path, "test")
    monkeypatch.setattr(limits, "MAX_FRAGMENT_BYTES", len(body))
    formats.verify_compression(path, "test")
