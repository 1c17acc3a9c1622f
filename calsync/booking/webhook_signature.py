"""Signing and verifying the booking system's webhooks (HMAC-SHA256 over timestamp and body).

Header format (one header, so secrets can rotate)::

    Booking-Signature: t=<unix seconds>,v1=<hex hmac>[,v1=<hex hmac>]

Each ``v1`` is HMAC-SHA256(secret, f"{t}.".encode() + body) for one active secret.
``verify_webhook`` accepts the body when any ``v1`` matches any of (at most two) active
secrets, compared in constant time, and the timestamp lies within ±tolerance seconds of
``now`` (replay protection). It raises AuthenticationError naming the reason; messages
never contain secrets or signature values.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence

from pydantic import SecretStr
from pydantic import ValidationError as PydanticValidationError

from calsync.booking.api_models import WebhookPayload
from calsync.errors import AuthenticationError, ConfigurationError, ValidationError

SIGNATURE_HEADER = "Booking-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300
MAX_ACTIVE_SECRETS = 2
_MAX_SIGNATURES = 8

WebhookEvent = WebhookPayload
"""A verified webhook: {event, booking_id, room_id, version}."""


def _secret_bytes(secret: str | SecretStr | bytes) -> bytes:
    if isinstance(secret, SecretStr):
        secret = secret.get_secret_value()
    return secret if isinstance(secret, bytes) else secret.encode("utf-8")


def compute_signature(body: bytes, secret: str | SecretStr | bytes, timestamp: int) -> str:
    """Hex HMAC-SHA256 of ``f"{timestamp}." + body`` under ``secret``."""
    return hmac.new(_secret_bytes(secret), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign_webhook(body: bytes, secrets: Sequence[str | SecretStr | bytes], timestamp: int | None = None) -> str:
    """The Booking-Signature header value for ``body``, one ``v1`` per secret."""
    if not secrets:
        raise ConfigurationError("sign_webhook needs at least one secret")
    stamp = int(time.time()) if timestamp is None else int(timestamp)
    return ",".join([f"t={stamp}", *(f"{SCHEME}={compute_signature(body, s, stamp)}" for s in secrets)])


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def parse_signature_header(value: str) -> tuple[int, list[str]]:
    """(timestamp, v1 signatures) of a header value; AuthenticationError when malformed."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in value.split(","):
        key, sep, item = part.strip().partition("=")
        if not sep:
            raise AuthenticationError(f"malformed {SIGNATURE_HEADER} header: element without '='", reason="malformed")
        if key == "t":
            if timestamp is not None or not item.isdigit() or len(item) > 12:
                raise AuthenticationError(f"malformed {SIGNATURE_HEADER} header: bad timestamp", reason="malformed")
            timestamp = int(item)
        elif key == SCHEME:
            if len(item) != 64 or any(c not in "0123456789abcdefABCDEF" for c in item):
                raise AuthenticationError(
                    f"malformed {SIGNATURE_HEADER} header: {SCHEME} is not 64 hex digits", reason="malformed"
                )
            signatures.append(item.lower())
        # other schemes (future versions) are ignored
    if timestamp is None:
        raise AuthenticationError(f"malformed {SIGNATURE_HEADER} header: no timestamp t=", reason="malformed")
    if not signatures:
        raise AuthenticationError(f"malformed {SIGNATURE_HEADER} header: no {SCHEME} signature", reason="malformed")
    if len(signatures) > _MAX_SIGNATURES:
        raise AuthenticationError(
            f"malformed {SIGNATURE_HEADER} header: more than {_MAX_SIGNATURES} signatures", reason="malformed"
        )
    return timestamp, signatures


def _unix(now: float | dt.datetime | None) -> float:
    if now is None:
        return time.time()
    if isinstance(now, dt.datetime):
        return now.timestamp()
    return float(now)


def verify_webhook(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str | SecretStr | bytes],
    *,
    now: float | dt.datetime | None = None,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> WebhookEvent:
    """Verify a webhook's signature and timestamp, then parse its body.

    Raises ConfigurationError without secrets (or with more than two), AuthenticationError
    for a missing or malformed header, a timestamp outside ±``tolerance`` seconds, or no
    signature matching any active secret, and ValidationError for a signed body that is
    not a valid webhook payload.
    """
    if not secrets:
        raise ConfigurationError("no booking webhook secret configured (BOOKING_WEBHOOK_SECRETS)")
    if len(secrets) > MAX_ACTIVE_SECRETS:
        raise ConfigurationError(
            f"BOOKING_WEBHOOK_SECRETS holds {len(secrets)} secrets; at most {MAX_ACTIVE_SECRETS} may be active"
        )
    value = _header(headers, SIGNATURE_HEADER)
    if value is None or not value.strip():
        raise AuthenticationError(f"missing {SIGNATURE_HEADER} header", reason="missing_header")
    timestamp, signatures = parse_signature_header(value)
    age = _unix(now) - timestamp
    if abs(age) > tolerance:
        raise AuthenticationError(
            f"stale webhook: timestamp is {abs(age):.0f} s {'old' if age > 0 else 'in the future'}"
            f" (allowed ±{tolerance} s)",
            reason="stale_timestamp",
        )
    expected = [compute_signature(body, secret, timestamp) for secret in secrets]
    matched = False
    for candidate in signatures:
        for good in expected:
            # evaluate every pair, so timing does not reveal which one matched
            matched |= hmac.compare_digest(candidate.encode("ascii"), good.encode("ascii"))
    if not matched:
        raise AuthenticationError(
            "no webhook signature matches an active secret (wrong secret or tampered body)", reason="no_match"
        )
    try:
        return WebhookPayload.model_validate(json.loads(body))
    except (ValueError, PydanticValidationError) as exc:
        raise ValidationError(f"webhook body is not a valid booking event: {exc}".splitlines()[0]) from None
