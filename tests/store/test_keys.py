"""Key encoding: every id, however hostile, becomes a legal key and comes back unchanged."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calsync.errors import ValidationError
from calsync.store.keys import MAX_ID_BYTES, MAX_KEY_CHARS, KeyTooLong, decode_key, encode_key, prefixed

FORBIDDEN = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")

HOSTILE_IDS = [
    "AAMkAGI2TG93AAA=/+x==",
    "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0AmP3S/7+nAzRFpCRCsh5oAAAAAAENAAA=",
    "booking#42?x=1\\y",
    "tab\tnew\nline\x00nul",
    "ünïcødé-会议室-🙂",
    "'quoted' and \"double\"",
    "%2F already encoded %",
]


@pytest.mark.parametrize("value", HOSTILE_IDS)
def test_hostile_ids_round_trip_and_are_legal(value: str) -> None:
    key = encode_key(value)
    assert not FORBIDDEN.search(key)
    assert decode_key(key) == value


@given(st.text(min_size=1, max_size=300))
def test_any_text_round_trips_or_is_refused_as_too_long(value: str) -> None:
    if len(value.encode("utf-8")) > MAX_ID_BYTES:
        with pytest.raises(KeyTooLong):
            encode_key(value)
        return
    key = encode_key(value)
    assert not FORBIDDEN.search(key)
    assert decode_key(key) == value
    assert len(prefixed("m", value).encode("utf-16-le")) <= 1024


@pytest.mark.parametrize("value", ["x" * MAX_ID_BYTES, "🙂" * (MAX_ID_BYTES // 4), "é" * (MAX_ID_BYTES // 2)])
def test_the_longest_ids_that_fit_give_keys_within_1_kib(value: str) -> None:
    key = prefixed("o", value)
    assert len(key) <= MAX_KEY_CHARS and len(key.encode("utf-16-le")) <= 1024
    assert decode_key(key[2:]) == value


@pytest.mark.parametrize("value", ["x" * (MAX_ID_BYTES + 1), "🙂" * 100, "会" * 200])
def test_ids_that_encode_longer_than_1_kib_raise_a_non_retryable_validation_error(value: str) -> None:
    with pytest.raises(KeyTooLong, match="too long for a table key") as raised:
        encode_key(value)
    assert isinstance(raised.value, ValidationError) and not raised.value.retryable


@pytest.mark.parametrize("value", ["\ud800", "abc\udfff", "\udc00\ud800"])
def test_ids_with_lone_surrogates_raise_a_non_retryable_validation_error(value: str) -> None:
    with pytest.raises(ValidationError, match="lone surrogate") as raised:
        encode_key(value)
    assert not raised.value.retryable


def test_distinct_ids_give_distinct_keys() -> None:
    assert encode_key("Abc") != encode_key("abc")
    assert encode_key("a/b") != encode_key("a+b")


def test_empty_and_oversized_ids_are_refused_with_a_reason() -> None:
    with pytest.raises(ValidationError, match="must not be empty"):
        encode_key("")
    with pytest.raises(ValidationError, match="too long"):
        encode_key("x" * 2000)


def test_garbage_key_is_reported() -> None:
    with pytest.raises(ValidationError, match="not an encoded calsync id"):
        decode_key("@@@")
