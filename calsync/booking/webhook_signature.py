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
import re
import time
from collections.abc import Mapping, Sequence

from pydantic import SecretStr
from pydantic import ValidationError as PydanticValidationError

from calsync import json_limits
from calsync.booking.api_models import WebhookPayload
from calsync.errors import AuthenticationError, ConfigurationError, ValidationError

SIGNATURE_HEADER = "Booking-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300
MAX_ACTIVE_SECRETS = 2
_MAX_SIGNATURES = 8
MAX_BODY_DEPTH = 8  # the payload is one flat object; room for extension fields, not for a 5,000-deep nest

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


_MAX_HEADER_CHARS = 1024
_ELEMENT = re.compile(r"[ \t]*([A-Za-z0-9_-]{1,16})=([\x21-\x2b\x2d-\x7e]*)[ \t]*", re.ASCII)
_TIMESTAMP = re.compile(r"[0-9]{1,12}", re.ASCII)
_HEX64 = re.compile(r"[0-9a-fA-F]{64}", re.ASCII)


def _malformed(why: str) -> AuthenticationError:
    return AuthenticationError(f"malformed {SIGNATURE_HEADER} header: {why}", reason="malformed")


def parse_signature_header(value: str) -> tuple[int, list[str]]:
    """(timestamp, v1 signatures) of a header value; AuthenticationError (reason "malformed") otherwise.

    The grammar is strict ASCII: ``element *("," element)``, ``element = key "=" value`` with
    optional spaces around; ``t`` is 1-12 ASCII digits, ``v1`` is 64 ASCII hex digits.
    (``str.isdigit`` accepts "²" and other Unicode digits that ``int`` refuses.)
    """
    if len(value) > _MAX_HEADER_CHARS:
        raise _malformed(f"longer than {_MAX_HEADER_CHARS} characters")
    if not value.isascii():
        raise _malformed("not ASCII")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in value.split(","):
        if "=" not in part:
            raise _malformed("element without '='")
        element = _ELEMENT.fullmatch(part)
        if element is None:
            raise _malformed("element is not key=value")
        key, item = element.groups()
        if key == "t":
            if timestamp is not None or _TIMESTAMP.fullmatch(item) is None:
                raise _malformed("bad timestamp")
            timestamp = int(item)
        elif key == SCHEME:
            if _HEX64.fullmatch(item) is None:
                raise _malformed(f"{SCHEME} is not 64 hex digits")
            signatures.append(item.lower())
            if len(signatures) > _MAX_SIGNATURES:
                raise _malformed(f"more than {_MAX_SIGNATURES} signatures")
        # other schemes (future versions) are ignored
    if timestamp is None:
        raise _malformed("no timestamp t=")
    if not signatures:
        raise _malformed(f"no {SCHEME} signature")
    return timestamp, signatures


def _unix(now: float | dt.datetime | None) -> float:
    if now is None:
        return time.time()
    if isinstance(now, dt.datetime):
        return now.timestamp()
    return float(now)


def verify_signature(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str | SecretStr | bytes],
    *,
    now: float | dt.datetime | None = None,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> tuple[int, str]:
    """Verify a webhook's signature and timestamp; (timestamp, the matching signature) for replay checks.

    Raises ConfigurationError without secrets (or with more than two), AuthenticationError
    for a missing or malformed header, a timestamp outside ±``tolerance`` seconds, or no
    signature matching any active secret.
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
    matched: str | None = None
    for candidate in signatures:
        for good in expected:
            # evaluate every pair, so timing does not reveal which one matched
            if hmac.compare_digest(candidate.encode("ascii"), good.encode("ascii")):
                matched = good
    if matched is None:
        raise AuthenticationError(
            "no webhook signature matches an active secret (wrong secret or tampered body)", reason="no_match"
        )
    return timestamp, matched


def parse_webhook_body(body: bytes) -> WebhookEvent:
    """A signed body as a webhook event, parsed with limits; ValidationError when it is not one."""
    payload = json_limits.loads(body, max_depth=MAX_BODY_DEPTH, what="webhook body")
    try:
        return WebhookPayload.model_validate(payload)
    except PydanticValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise ValidationError(f"webhook body is not a valid booking event: {where}: {first['msg']}") from None


def verify_webhook(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str | SecretStr | bytes],
    *,
    now: float | dt.datetime | None = None,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> WebhookEvent:
    """Verify a webhook's signature and timestamp (``verify_signature``), then parse its body.

    Raises what ``verify_signature`` raises, and ValidationError for a signed body that is
    not a valid webhook payload (not JSON within the limits, or not the contract's shape).
    """
    verify_signature(headers, body, secrets, now=now, tolerance=tolerance)
    return parse_webhook_body(body)
