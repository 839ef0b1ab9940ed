"""Turn raw API rows (JSON or CSV) into schema-exact records with lineage and a primary key."""

from __future__ import annotations

import hashlib
import operator
import typing as t

from tap_backstory_contacts import logger
from tap_backstory_contacts.errors import DataFormatError

TAP_FIELDS = ("contact_key", "export_job_id", "export_start_date", "export_end_date")
# Identity of a contact without an email; every part is normalised (trimmed, lower case).
FALLBACK_IDENTITY = (
    "first_name",
    "last_name",
    "account_crm_id",
    "account_domain",
    "phone",
    "job_title",
    "source_peopleai_id",
    "source_email",
)
# Booleans as export files spell them (CSV cells, JSON strings), not as settings are written.
DATA_TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
DATA_FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})

Converter = t.Callable[[t.Any], t.Any]
IntGetter = t.Callable[[list[t.Any]], tuple[int, ...]]
# Bound on remembered exact type signatures (a few dozen occur in practice).
MAX_SIGNATURES = 4096
# Integers a warehouse BIGINT holds: a larger one would fail the load on every rerun.
MIN_INTEGER = -(1 << 63)
MAX_INTEGER = (1 << 63) - 1


def contact_key(record: dict[str, t.Any]) -> str:
    """Stable surrogate key: a digest of the email, else of the other identifying fields."""
    email = record.get("email")
    if email and email.strip():
        basis = "email:" + email.strip().lower()
    else:
        parts = ((record.get(name) or "").strip().lower() for name in FALLBACK_IDENTITY)
        basis = "identity:" + "\x1f".join(parts)
    return hashlib.sha256(basis.encode()).hexdigest()


def to_integer(value: t.Any) -> int:
    """An int within signed 64 bits from an int, a whole float or ASCII decimal text
    (``1_000``, non-ASCII digits and exponents are refused); anything else is an error."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not an integer")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str):
        # int() would also take "1_000" and Arabic-Indic or other Unicode digits.
        if not value.isascii() or "_" in value:
            raise ValueError("not ASCII decimal digits")
        value = int(value.strip())
    if not isinstance(value, int):
        raise TypeError(f"{type(value).__name__} is not an integer")
    if not MIN_INTEGER <= value <= MAX_INTEGER:
        raise ValueError("outside the signed 64-bit range a warehouse BIGINT holds")
    return value


def to_boolean(value: t.Any) -> bool:
    """A bool from a bool, 0/1, or true/false, yes/no, t/f, y/n, 1/0 in any case."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in DATA_TRUE_WORDS:
            return True
        if word in DATA_FALSE_WORDS:
            return False
    raise ValueError("not a boolean")


def to_string(value: t.Any) -> str:
    """Text as is; numbers (e.g. a phone sent as a number) as their decimal text."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not text")


CONVERTERS: dict[str, tuple[type, Converter]] = {
    "integer": (int, to_integer),
    "boolean": (bool, to_boolean),
    "string": (str, to_string),
}


class RecordShaper:
    """Builds records that match the schema exactly, so the SDK need not conform them."""

    def __init__(self, schema: dict[str, t.Any]) -> None:
        self._fields: list[tuple[str, type, Converter]] = []
        for name, spec in schema["properties"].items():
            if name in TAP_FIELDS:
                continue
            kinds = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
            kind = next(k for k in kinds if k != "null")
            exact, convert = CONVERTERS[kind]
            self._fields.append((name, exact, convert))
        self._names = tuple(name for name, _, _ in self._fields)
        self._known = frozenset(self._names)
        # Type signatures (one type per field) already known to need no conversion, each
        # with a getter of its integer values (at least one), whose range is still checked.
        self._exact_signatures: dict[tuple[type, ...], IntGetter] = {}
        self._unknown_logged: set[str] = set()

    def shape(
        self,
        raw: dict[str, t.Any],
        lineage: dict[str, str],
        where: t.Callable[[], str],
    ) -> dict[str, t.Any]:
        """The record for ``raw``: every schema field typed, empty text as null, plus lineage.

        ``where`` describes the position (job, fragment, record) for error messages. ``raw``
        itself may become the record: the caller must not use it afterwards.
        """
        # Fastest path, profiled: a JSON row with exactly the schema's fields in its order,
        # already exactly typed, is the record as it is.
        if tuple(raw) == self._names:
            values = list(raw.values())
            if "" not in values:
                ints = self._exact_signatures.get(tuple(map(type, values)))
                if ints is not None:
                    found = ints(values)
                    if min(found) >= MIN_INTEGER and max(found) <= MAX_INTEGER:
                        raw["contact_key"] = contact_key(raw)
                        raw.update(lineage)
                        return raw
        if raw.keys().isdisjoint(self._known):
            # e.g. a CSV fragment without its header row, or JSON of another shape: better
            # an error than a record of nulls.
            shown = ", ".join(repr(str(key)[:40]) for key in list(raw)[:3])
            raise DataFormatError(
                f"{where()}: none of the schema's fields is present (keys: {shown or 'none'}"
                f"{', …' if len(raw) > 3 else ''}); this is not an Enriched Contacts record"
            )
        values = list(map(raw.get, self._names))
        # CSV cannot tell an empty string from null; JSON "" is read as null too so that
        # both formats give identical records.
        if "" in values:
            values = [None if value == "" else value for value in values]
        # Fast path, profiled: JSON rows usually arrive exactly typed, in a few patterns of
        # nulls; those patterns are checked once, not field by field on every record.
        ints = self._exact_signatures.get(tuple(map(type, values)))
        if ints is None:
            values = self._convert(values, where)
        else:
            found = ints(values)
            if min(found) < MIN_INTEGER or max(found) > MAX_INTEGER:
                values = self._convert(values, where)
        record = dict(zip(self._names, values, strict=True))
        if not raw.keys() <= self._known:
            self._note_unknown(raw.keys() - self._known)
        record["contact_key"] = contact_key(record)
        record.update(lineage)
        return record

    def _convert(self, values: list[t.Any], where: t.Callable[[], str]) -> list[t.Any]:
        """Type every value as the schema says, or fail naming the field."""
        converted = []
        for (name, exact, convert), value in zip(self._fields, values, strict=True):
            if value is None or (type(value) is exact and exact is not int):
                converted.append(value)
                continue
            try:
                converted.append(convert(value))
            except (TypeError, ValueError) as exc:
                raise DataFormatError(
                    f"{where()}, field '{name}': cannot read {value!r} as "
                    f"{_kind_name(exact)} ({exc})"
                ) from exc
        # Converted values are exact by construction: remember their pattern.
        if len(self._exact_signatures) < MAX_SIGNATURES:
            signature = tuple(map(type, converted))
            self._exact_signatures[signature] = _integer_getter(signature)
        return converted

    def _note_unknown(self, names: t.AbstractSet[str]) -> None:
        new = sorted(set(names) - self._unknown_logged)
        if new:
            self._unknown_logged.update(new)
            logger.warning(
                "The API sent fields that are not in the schema; they are not emitted: %s",
                ", ".join(new),
            )


def _integer_getter(signature: tuple[type, ...]) -> IntGetter:
    """A getter of the integer values of rows of ``signature``, always a non-empty tuple."""
    positions = [number for number, kind in enumerate(signature) if kind is int]
    if not positions:
        return lambda _: (0,)
    # Repeating one position makes itemgetter return a tuple even for a single integer.
    return operator.itemgetter(*positions, positions[0])


def _kind_name(exact: type) -> str:
    return {int: "an integer", bool: "a boolean", str: "text"}[exact]
