"""Domain errors users can cause. Each carries the HTTP status and a message key; one web middleware turns
them into a page or JSON body. The domain never imports aiohttp."""
from __future__ import annotations

from typing import Any


class HubError(Exception):
    status = 500
    key = "error"

    def __init__(self, message: str, *, key: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if key:
            self.key = key
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.key, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


class Invalid(HubError):
    """Bad input: a malformed upload, form or API call. Nothing was changed."""
    status = 400
    key = "invalid"


class Unauthorized(HubError):
    status = 401
    key = "unauthorized"


class Forbidden(HubError):
    status = 403
    key = "forbidden"


class NotFound(HubError):
    status = 404
    key = "not_found"


class Conflict(HubError):
    """A stale edit or a duplicate: details carry both versions so the user can choose."""
    status = 409
    key = "conflict"


class PreconditionFailed(Conflict):
    status = 412
    key = "precondition_failed"


class TooManyRequests(HubError):
    status = 429
    key = "too_many_requests"
