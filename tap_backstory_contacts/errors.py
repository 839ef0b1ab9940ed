"""Exceptions the tap raises; each message says what failed, where, and what to do."""

from __future__ import annotations


class TapBackstoryError(Exception):
    """Base class: an error the tap reports to the user and ends the run with."""


class ApiError(TapBackstoryError):
    """The API answered with an error status that is not worth retrying."""

    def __init__(self, what: str, status: int, server_message: str) -> None:
        self.what = what
        self.status = status
        self.server_message = server_message
        super().__init__(f"{what} failed: HTTP {status}: {server_message}")


class AuthenticationError(TapBackstoryError):
    """The token endpoint refused the credentials."""


class RetriesExhaustedError(TapBackstoryError):
    """A transient failure persisted beyond the configured tries or retry time."""


class ExportJobError(TapBackstoryError):
    """An export job ended badly (Failed, Canceled, timed out or an unknown state)."""


class DataFormatError(TapBackstoryError):
    """A fragment's content could not be parsed or typed as the schema says."""


class IncompleteBodyError(TapBackstoryError):
    """A response body ended before it was complete (dropped connection, truncated data)."""
