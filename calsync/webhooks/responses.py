"""The answer a webhook handler gives, independent of the Functions host, and the error-to-status rule."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from calsync.errors import AuthenticationError, CalsyncError, ValidationError

log = logging.getLogger("calsync.webhooks")


class PayloadTooLarge(ValidationError):
    """A webhook body over WEBHOOK_MAX_BODY_BYTES."""

    http_status = 413


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


def refuse(handler: str, error: CalsyncError) -> WebhookResponse:
    """Log why ``handler`` refused a request (forgeries as such) and answer with the error's status."""
    if isinstance(error, AuthenticationError):
        log.warning("%s refused a forged or unauthenticated request: %s", handler, error.message)
    else:
        log.log(logging.ERROR if error.http_status >= 500 else logging.WARNING, "%s refused a request: %s",
                handler, error.message)  # fmt: skip
    return WebhookResponse.from_error(error)
