"""The same tap with the SDK's defaults: simplejson writer and full type conformance.

Usage: ``python -m benchmarks.default_sdk_tap --config CONFIG_JSON``.
"""

from __future__ import annotations

from singer_sdk import Stream
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.io_base import SingerWriter
from typing_extensions import override

from tap_backstory_contacts.streams import EnrichedContactsStream
from tap_backstory_contacts.tap import TapBackstoryContacts


class DefaultConformanceStream(EnrichedContactsStream):
    """Records take the SDK's own path: selection walk, recursive type conformance."""

    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.RECURSIVE
    _generate_record_messages = Stream._generate_record_messages
    generate_child_contexts = Stream.generate_child_contexts


class DefaultSdkTap(TapBackstoryContacts):
    """The tap with the SDK's default message writer."""

    message_writer_class = SingerWriter  # type: ignore[assignment]  # the SDK default, on purpose

    @override
    def discover_streams(self) -> list[EnrichedContactsStream]:  # type: ignore[override]
        """The stream with default conformance."""
        return [DefaultConformanceStream(self, shutdown=self.shutdown, flush=self.flush_output)]


if __name__ == "__main__":
    DefaultSdkTap.cli()
