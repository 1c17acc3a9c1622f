"""Webhook signatures: valid, wrong secret, rotated secrets, stale or future timestamps, tampered body, bad headers."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from calsync.booking.webhook_signature import (
    SIGNATURE_HEADER,
    compute_signature,
    parse_signature_header,
    sign_webhook,
    verify_webhook,
)
from calsync.errors import AuthenticationError, ConfigurationError, ValidationError

NOW = 1_900_000_000
BODY = json.dumps({"event": "booking.updated", "booking_id": "bk_1", "room_id": "room-1", "version": "2"}).encode()
OLD, NEW = "old-secret-0123456789", "new-secret-9876543210"


def headers(body: bytes = BODY, secrets: list[str] | None = None, timestamp: int = NOW) -> dict[str, str]:
    return {SIGNATURE_HEADER: sign_webhook(body, secrets or [OLD], timestamp)}


def test_valid_signature_yields_the_event() -> None:
    event = verify_webhook(headers(), BODY, [OLD], now=NOW)
    assert (event.event.value, event.booking_id, event.room_id, event.version) == (
        "booking.updated",
        "bk_1",
        "room-1",
        "2",
    )


def test_header_name_is_case_insensitive_and_secretstr_accepted() -> None:
    value = sign_webhook(BODY, [OLD], NOW)
    assert verify_webhook({"booking-signature": value}, BODY, [SecretStr(OLD)], now=NOW).booking_id == "bk_1"


def test_wrong_secret_is_refused() -> None:
    with pytest.raises(AuthenticationError, match="no webhook signature matches") as caught:
        verify_webhook(headers(secrets=["someone-else"]), BODY, [OLD], now=NOW)
    assert caught.value.fields["reason"] == "no_match"
    assert OLD not in str(caught.value) and "someone-else" not in str(caught.value)


@pytest.mark.parametrize("sender", [[OLD], [NEW], [OLD, NEW], [NEW, OLD]])
def test_rotation_accepts_either_active_secret(sender: list[str]) -> None:
    assert verify_webhook(headers(secrets=sender), BODY, [NEW, OLD], now=NOW).version == "2"


def test_after_rotation_the_retired_secret_is_refused() -> None:
    with pytest.raises(AuthenticationError, match="no webhook signature matches"):
        verify_webhook(headers(secrets=[OLD]), BODY, [NEW], now=NOW)


@pytest.mark.parametrize("skew", [301, -301, 86_400])
def test_stale_or_future_timestamp_is_refused(skew: int) -> None:
    with pytest.raises(AuthenticationError, match="stale webhook") as caught:
        verify_webhook(headers(timestamp=NOW - skew), BODY, [OLD], now=NOW)
    assert caught.value.fields["reason"] == "stale_timestamp"


def test_timestamp_at_the_edge_of_the_window_is_accepted() -> None:
    assert verify_webhook(headers(timestamp=NOW - 300), BODY, [OLD], now=NOW).booking_id == "bk_1"


def test_tampered_body_is_refused() -> None:
    tampered = BODY.replace(b"bk_1", b"bk_2")
    with pytest.raises(AuthenticationError, match="tampered"):
        verify_webhook(headers(), tampered, [OLD], now=NOW)


def test_replayed_signature_with_a_new_timestamp_is_refused() -> None:
    signature = compute_signature(BODY, OLD, NOW - 3600)
    forged = {SIGNATURE_HEADER: f"t={NOW},v1={signature}"}
    with pytest.raises(AuthenticationError, match="no webhook signature matches"):
        verify_webhook(forged, BODY, [OLD], now=NOW)


def test_missing_header_is_refused() -> None:
    with pytest.raises(AuthenticationError, match=f"missing {SIGNATURE_HEADER}"):
        verify_webhook({"Content-Type": "application/json"}, BODY, [OLD], now=NOW)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("garbage", "without '='"),
        ("v1=" + "a" * 64, "no timestamp"),
        (f"t={NOW}", "no v1 signature"),
        (f"t=abc,v1={'a' * 64}", "bad timestamp"),
        (f"t={NOW},v1=xyz", "64 hex digits"),
        (f"t={NOW},t={NOW},v1={'a' * 64}", "bad timestamp"),
        (f"t={NOW}," + ",".join(["v1=" + "a" * 64] * 9), "more than 8"),
    ],
)
def test_malformed_header_is_refused_naming_why(value: str, reason: str) -> None:
    with pytest.raises(AuthenticationError, match=reason) as caught:
        verify_webhook({SIGNATURE_HEADER: value}, BODY, [OLD], now=NOW)
    assert caught.value.fields["reason"] == "malformed"


def test_signed_but_invalid_payload_is_a_validation_error() -> None:
    body = b'{"event": "booking.exploded"}'
    with pytest.raises(ValidationError, match="not a valid booking event"):
        verify_webhook(headers(body), body, [OLD], now=NOW)


def test_secrets_must_be_configured_and_at_most_two() -> None:
    with pytest.raises(ConfigurationError, match="BOOKING_WEBHOOK_SECRETS"):
        verify_webhook(headers(), BODY, [], now=NOW)
    with pytest.raises(ConfigurationError, match="at most 2"):
        verify_webhook(headers(), BODY, [OLD, NEW, "third"], now=NOW)


def test_header_format_has_one_signature_per_secret() -> None:
    timestamp, signatures = parse_signature_header(sign_webhook(BODY, [OLD, NEW], NOW))
    assert timestamp == NOW
    assert signatures == [compute_signature(BODY, OLD, NOW), compute_signature(BODY, NEW, NOW)]
