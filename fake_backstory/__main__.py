"""Command line: ``python -m fake_backstory --port 8765 ...`` serves until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import tempfile
import threading
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from fake_backstory.config import FakeConfig
from fake_backstory.server import FakeBackstory

#: The command line's parsers by field type (optional fields parse as their inner type).
_PARSERS: dict[Any, Callable[[str], Any]] = {int: int, float: float, str: str}


def _bool(value: str) -> bool:
    """Parse a yes/no style flag value."""
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {value!r}")


def _json_tuple(value: str) -> tuple[Any, ...]:
    """A JSON list as a tuple; its list items (pairs) become tuples too."""
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(parsed, list):
        raise argparse.ArgumentTypeError(f"not a JSON list: {value!r}")
    return tuple(tuple(item) if isinstance(item, list) else item for item in parsed)


def _add_field(parser: argparse.ArgumentParser, spec: dataclasses.Field[Any], kind: Any) -> None:
    """One flag for one FakeConfig field, named, typed and explained by the field."""
    flag = "--" + spec.name.replace("_", "-")
    meta = spec.metadata
    options: dict[str, Any] = {"default": spec.default, "help": meta["help"], "dest": spec.name}
    inner = [arg for arg in typing.get_args(kind) if arg is not type(None)]
    if kind is not bool and len(inner) == 1 and typing.get_origin(kind) is not tuple:
        kind = inner[0]  # X | None
    if meta["cli_words"]:
        words = meta["cli_words"]
        options["type"] = lambda word: words.get(word, word)
        options["choices"] = list(words.values())
        options["metavar"] = "{" + ",".join(words) + "}"
        options["help"] += " (default: %(default)r)"
    elif kind is bool:
        options.update(type=_bool, nargs="?", const=True, metavar="BOOL")
    elif typing.get_origin(kind) is tuple:
        options.update(type=_json_tuple, metavar="JSON")
    else:
        options["type"] = _PARSERS[kind]
        if meta["choices"]:
            options["choices"] = [choice for choice in meta["choices"] if choice is not None]
    parser.add_argument(flag, **options)


def build_parser() -> argparse.ArgumentParser:
    """One flag per FakeConfig field, plus --ready-file."""
    parser = argparse.ArgumentParser(
        prog="python -m fake_backstory",
        description="Serve a fake Backstory Enriched Contacts bulk export API on 127.0.0.1.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    hints = typing.get_type_hints(FakeConfig)
    for spec in dataclasses.fields(FakeConfig):
        _add_field(parser, spec, hints[spec.name])
    parser.add_argument("--ready-file", type=Path, help="write the base URL here once listening")
    return parser


def config_from_args(args: argparse.Namespace) -> FakeConfig:
    """Translate parsed flags into a FakeConfig."""
    return FakeConfig(
        **{spec.name: getattr(args, spec.name) for spec in dataclasses.fields(FakeConfig)}
    )


def _write_ready_file(path: Path, url: str) -> None:
    """Atomically write ``url`` to ``path``."""
    fd, tmp = tempfile.mkstemp(prefix=".ready-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(url + "\n")
    os.replace(tmp, path)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fake until SIGINT or SIGTERM; returns the exit status."""
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    try:
        config.validate()
    except ValueError as exc:
        print(f"fake-backstory: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    api = FakeBackstory(config).start()
    try:
        print(f"fake-backstory listening on {api.url}", flush=True)
        if args.ready_file is not None:
            _write_ready_file(args.ready_file, api.url)
        while not stop.wait(0.2):
            pass
    finally:
        api.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
