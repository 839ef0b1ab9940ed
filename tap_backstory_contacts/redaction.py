"""Secret values (client_secret, bearer tokens) kept out of every log record and error text.

A server or proxy may echo a request in its error text: the form with ``client_secret``, or
the ``Authorization`` header. Every secret the tap holds is registered here when it is read
or fetched. ``redact`` replaces whole occurrences of a registered value (also URL-, JSON- and
repr-escaped); ``install`` makes every log record of the process go through it, whatever its
logger, handler or formatter.

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
# Every token of a long run stays redacted (a token lasts 7200 s and is renewed shortly before
# it expires, so 64 cover about five days); the bound keeps the per-record cost flat in a
# process that runs many syncs (tests).
MAX_REMEMBERED = 64

_lock = threading.Lock()
# value (or escaped variant) -> (label, whole-occurrence pattern); newest last.
_patterns: collections.OrderedDict[str, tuple[str, re.Pattern[str]]] = collections.OrderedDict()
_installed = False


def register(value: object, label: str) -> None:
    """Redact ``value`` (a secret or token) as ``<label>`` from now on."""
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
    with _lock:
        for variant in variants:
            pattern = re.compile(rf"(?<![A-Za-z0-9]){re.escape(variant)}(?![A-Za-z0-9])")
            _patterns.pop(variant, None)
            _patterns[variant] = (f"<{label}>", pattern)
        while len(_patterns) > MAX_REMEMBERED * len(variants):
            _patterns.popitem(last=False)
    install()


def redact(text: str) -> str:
    """``text`` with every whole occurrence of a registered secret replaced by its label."""
    with _lock:
        found = [entry for value, entry in _patterns.items() if value in text]
    for label, pattern in found:
        text = pattern.sub(label, text)
    return text


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
    if not _patterns:
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
