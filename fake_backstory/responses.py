"""HTTP response values and the API's JSON error envelope."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from fake_backstory.render import Chunk

ERROR_NAMES = {
    400: "BadRequestException",
    401: "UnauthorizedException",
    404: "NotFoundException",
    409: "ConflictException",
    410: "GoneException",
    429: "TooManyRequestsException",
    500: "InternalServerErrorException",
    502: "BadGatewayException",
    503: "ServiceUnavailableException",
    504: "GatewayTimeoutException",
}
DEFAULT_MESSAGES = {
    404: "HTTP 404 Not Found",
    410: "Job results have expired",
    429: "Too many requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}


@dataclass
class Response:
    """A response ready to be written: status, headers and body chunks."""

    status: int
    body: list[Chunk]
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def length(self) -> int:
        """Body length in bytes."""
        return sum(len(chunk) for chunk in self.body)


class ApiError(Exception):
    """An error the API answers with ``{"error": ..., "message": ...}``."""

    def __init__(
        self, status: int, message: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        """Remember status, message (default per status) and extra headers."""
        self.status = status
        self.message = message or DEFAULT_MESSAGES.get(status, "Error")
        self.headers = headers or {}
        super().__init__(f"{status} {self.message}")

    def response(self) -> Response:
        """The JSON error response."""
        return error_response(self.status, self.message, self.headers)


def json_response(payload: Any, status: int = 200) -> Response:
    """A JSON response."""
    return Response(status, [orjson.dumps(payload)])


def error_response(
    status: int, message: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    """A JSON error response with the documented envelope."""
    payload = {
        "error": ERROR_NAMES.get(status, "HttpException"),
        "message": message or DEFAULT_MESSAGES.get(status, "Error"),
    }
    return Response(status, [orjson.dumps(payload)], headers=dict(headers or {}))
