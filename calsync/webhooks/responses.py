"""The answer a webhook handler gives, independent of the Functions host, and the error-to-status rule."""

from __future__ import annotations

import json
from dataclasses import dataclass

from calsync.errors import CalsyncError


@dataclass(frozen=True)
class WebhookResponse:
    status: int
    body: str = ""
    content_type: str = "text/plain; charset=utf-8"
    enqueued: int = 0

    @classmethod
    def accepted(cls, enqueued: int) -> WebhookResponse:
        return cls(202, "", enqueued=enqueued)

    @classmethod
    def problem(cls, status: int, title: str, detail: str) -> WebhookResponse:
        """An RFC 9457 problem+json answer that tells the caller what was wrong."""
        body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail})
        return cls(status, body, "application/problem+json")

    @classmethod
    def from_error(cls, error: CalsyncError) -> WebhookResponse:
        return cls.problem(error.http_status, type(error).__name__, error.message)
