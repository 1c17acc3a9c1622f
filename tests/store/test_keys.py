"""Key encoding: every id, however hostile, becomes a legal key and comes back unchanged."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calsync.errors import ValidationError
from calsync.store.keys import decode_key, encode_key

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
def test_any_text_round_trips(value: str) -> None:
    key = encode_key(value)
    assert not FORBIDDEN.search(key)
    assert decode_key(key) == value


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
