"""The answer a webhook handler gives, independent of the Functions host, and the error-to-status rule."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

from calsync.errors import AuthenticationError, CalsyncError, ValidationError

log = logging.getLogger("calsync.webhooks")

MAX_MESSAGE_CHARS = 500
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def shown(value: object, limit: int = 64) -> str:
    """An untrusted value as it may appear in a log line or a problem body: quoted, escaped, truncated.

    A forged subscriptionId of 500 KB must not become a 500 KB log line or answer,
    and control characters, line breaks and lone surrogates must not reach a log
    handler or a client verbatim.
    """
    text = value if isinstance(value, str) else repr(value)
    escaped = text[:limit].encode("unicode_escape", errors="backslashreplace").decode("ascii")
    more = f"...(+{len(text) - limit} characters)" if len(text) > limit else ""
    return f"'{escaped}'{more}"


def _safe(message: str) -> str:
    """Our own message, with any untrusted fragment that slipped in made harmless, at most 500 characters."""
    clipped = message if len(message) <= MAX_MESSAGE_CHARS else message[:MAX_MESSAGE_CHARS] + "...(truncated)"
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", clipped)


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
        return cls.problem(error.http_status, type(error).__name__, _safe(error.message))


def refuse(handler: str, error: CalsyncError) -> WebhookResponse:
    """Log why ``handler`` refused a request (forgeries as such) and answer with the error's status."""
    message = _safe(error.message)
    if isinstance(error, AuthenticationError):
        log.warning("%s refused a forged or unauthenticated request: %s", handler, message)
    else:
        log.log(logging.ERROR if error.http_status >= 500 else logging.WARNING, "%s refused a request: %s",
                handler, message)  # fmt: skip
    return WebhookResponse.from_error(error)
