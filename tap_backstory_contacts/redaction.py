"""Secret values (client_secret, bearer tokens) kept out of every log record and error text.

A server or proxy may echo a request in its error text: the form with ``client_secret``, or
the ``Authorization`` header. Every secret the tap holds is registered here when it is read
or fetched. ``redact`` replaces whole occurrences of a registered value (also URL-, JSON- and
repr-escaped); ``install`` makes every log record of the process go through it, whatever its
logger, handler or formatter. A configured secret is redacted for the life of the process;
a token while it is among the newest ``MAX_REMEMBERED_TOKENS``, which covers every token a
request in flight can carry.

Values shorter than ``MIN_SECRET_LENGTH`` are not redacted: hiding a two-letter value would
mangle ordinary words and, by the gaps it leaves, give the value away all the same. Only
whole occurrences are replaced (not inside a longer run of letters and digits), so a secret
``abc`` never turns ``abcde`` into ``<client_secret>de``.
"""

from __future__ import annotations

import collections
import json
import logging
import re
import threading
import traceback
import typing as t
import urllib.parse

MIN_SECRET_LENGTH = 6
# Tokens remembered: the current one and those before it. A token can appear only in the
# echo of a request that carried it, and a request in flight carries one of the last few;
# 64 is days of hourly tokens. The bound keeps the per-record cost flat in a long process.
MAX_REMEMBERED_TOKENS = 64


class _Variant(t.NamedTuple):
    text: str
    label: str


_lock = threading.Lock()
# Configured secrets (client_secret), never forgotten: value -> its variants.
_pinned: dict[str, list[_Variant]] = {}
# Bearer tokens, newest last: value -> its variants.
_tokens: collections.OrderedDict[str, list[_Variant]] = collections.OrderedDict()
# Every variant of both, longest first: a value that contains another is replaced whole.
_ordered: list[_Variant] = []
_installed = False


def register(value: object, label: str) -> None:
    """Redact ``value`` (a configured secret) as ``<label>`` for the life of the process."""
    _remember(value, label, token=False)


def register_token(value: object, label: str = "bearer token") -> None:
    """Redact ``value`` (a token) as ``<label>`` while it is one of the newest
    ``MAX_REMEMBERED_TOKENS`` tokens."""
    _remember(value, label, token=True)


def _remember(value: object, label: str, *, token: bool) -> None:
    global _ordered  # replaced whole, never changed in place: redact() reads it unlocked
    text = value if isinstance(value, str) else str(value)
    if len(text) < MIN_SECRET_LENGTH:
        return
    variants = {
        text,
        urllib.parse.quote_plus(text),
        urllib.parse.quote(text, safe=""),
        json.dumps(text)[1:-1],
        repr(text)[1:-1],
    }
    entries = [_Variant(variant, f"<{label}>") for variant in sorted(variants)]
    with _lock:
        if not token:
            _pinned[text] = entries
        elif text not in _pinned:
            _tokens.pop(text, None)
            _tokens[text] = entries
            while len(_tokens) > MAX_REMEMBERED_TOKENS:
                _tokens.popitem(last=False)
        everything = [v for vs in (*_pinned.values(), *_tokens.values()) for v in vs]
        _ordered = sorted(everything, key=lambda variant: -len(variant.text))
    install()


def forget() -> None:
    """Forget every registered value (a test suite starts each case clean with it)."""
    global _ordered
    with _lock:
        _pinned.clear()
        _tokens.clear()
        _ordered = []


def redact(text: str) -> str:
    """``text`` with every whole occurrence of a registered secret replaced by its label.

    One pass over ``text`` with every value found in it, longest first: a value inside
    another is never cut out of it first, and a label put in is never redacted again.
    """
    found = [variant for variant in _ordered if variant.text in text]
    if not found:
        return text
    labels = {variant.text: variant.label for variant in found}
    either = "|".join(re.escape(variant.text) for variant in found)
    pattern = re.compile(rf"(?<![A-Za-z0-9])(?:{either})(?![A-Za-z0-9])")
    return pattern.sub(lambda match: labels[match.group()], text)


def install() -> None:
    """Make every log record of this process redact registered secrets (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    make_record = logging.getLogRecordFactory()

    def redacting_record(*args: t.Any, **kwargs: t.Any) -> logging.LogRecord:
        return _redacted(make_record(*args, **kwargs))

    logging.setLogRecordFactory(redacting_record)


def _redacted(record: logging.LogRecord) -> logging.LogRecord:
    """The record, rewritten only if its message, traceback or stack holds a secret.

    A traceback holding one is folded into the message as redacted text (formatters would
    otherwise print the exception's own, unredacted text); records without secrets are left
    alone, so structured formatters keep their fields.
    """
    if not _ordered:
        return record
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # a bad format string: logging reports it later
        return record
    parts = [message]
    if record.exc_info and record.exc_info[1] is not None:
        parts.append("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
    if record.stack_info:
        parts.append(record.stack_info)
    redacted = [redact(part) for part in parts]
    if redacted == parts:
        return record
    record.msg = "\n".join(redacted)
    record.args = ()
    record.exc_info = None
    record.exc_text = None
    record.stack_info = None
    return record
