"""Hypothesis strategies for hostile webhook requests (shared by tests/webhooks/test_fuzz.py and bench/).

Each strategy yields a ``FuzzRequest``: query, headers and raw body bytes. Most
requests are near misses of valid ones (right clientState or signature, one field
made hostile), so the paths after authentication are exercised, not only the parser.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field

from hypothesis import strategies as st

from calsync.booking.webhook_signature import sign_webhook

CLIENT_STATE = "a-very-secret-client-state-0123456789"
WEBHOOK_SECRET = "booking-webhook-secret-1"
SUBSCRIPTIONS = ("7f105c7d-2dc5-4530-97cd-4e7ae6534c07", "0f3c2a90-1d1b-4c55-8f5e-0b1c2d3e4f50",
                 "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")  # fmt: skip
USER_A = "622eaaff-0683-4862-9de4-f2ec83c2bd98"
EVENT_ID = "AAMkAGI2TG93AAA=/+x=="


@dataclass(frozen=True)
class FuzzRequest:
    body: bytes
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, bytes] = field(default_factory=dict)


def mostly(valid: st.SearchStrategy, hostile: st.SearchStrategy) -> st.SearchStrategy:
    """``valid`` about six times in seven: most requests are near misses that pass the earlier checks."""
    return st.integers(0, 6).flatmap(lambda n: hostile if n == 6 else valid)  # one_of would merge repeated branches


surrogate = st.integers(0xD800, 0xDFFF).map(chr)
hostile_text = st.one_of(
    st.text(max_size=40),
    st.lists(st.one_of(st.characters(), surrogate), max_size=20).map("".join),
    st.sampled_from(["", "..", "../../x", "²", "١٢٣", "\u200b", "\x00", 'W/"x"', "%2e%2e", "\r\n", "A" * 2000]),
    st.integers(1, 3).map(lambda n: "x" * (300 * n)),
)
leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    hostile_text,
    st.integers(40, 80).map(lambda n: 10**n),
)  # fmt: skip (4,301 digits: see `crafted`)
json_value = st.recursive(
    leaf, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(hostile_text, inner, max_size=4)),
    max_leaves=6,
)  # fmt: skip


def _dump(value: object, ascii_only: bool) -> bytes:
    text = json.dumps(value, ensure_ascii=ascii_only)
    return text.encode("utf-8", errors="surrogatepass")  # lone surrogates become invalid UTF-8 bytes


crafted = st.one_of(
    st.integers(1, 3000).map(lambda n: b"[" * n),
    st.integers(30, 3000).map(lambda n: b'{"value": ' + b"[" * n + b"]" * n + b"}"),
    st.integers(4290, 5000).map(lambda n: b'{"value": [' + b"7" * n + b"]}"),
    st.sampled_from([b"", b"null", b"{}", b'{"value": NaN}', b"\xef\xbb\xbf{}", b'"\\ud800"', b"\xff\xfe"]),
    st.binary(max_size=200),
)


@st.composite
def graph_notification(draw: st.DrawFn, lifecycle: bool) -> dict:
    item_id = draw(mostly(st.sampled_from([EVENT_ID, "AAMkAGI2TG93AAA=", "AAMk-_x="]), hostile_text))
    user = draw(
        mostly(
            st.sampled_from([USER_A, "room-a@contoso.com"]),
            st.sampled_from(["other@contoso.com", str(uuid.UUID(int=7)), "..", "room-b@contoso.com"]),
        )
    )
    base: dict = {
        "subscriptionId": draw(mostly(st.sampled_from(SUBSCRIPTIONS), st.one_of(st.uuids().map(str), hostile_text))),
        "clientState": draw(mostly(st.just(CLIENT_STATE), hostile_text)),
        "tenantId": "t", "subscriptionExpirationDateTime": "2026-11-26T18:23:45Z",
    }  # fmt: skip
    if lifecycle:
        base["lifecycleEvent"] = draw(mostly(
            st.sampled_from(["missed", "subscriptionRemoved", "reauthorizationRequired", "unknownFutureValue"]),
            hostile_text))  # fmt: skip
    else:
        resource = draw(mostly(st.just(f"Users/{user}/Events/{item_id}"), hostile_text))
        base.update(changeType=draw(mostly(st.sampled_from(["created", "updated", "deleted"]), hostile_text)),
                    resource=resource,
                    resourceData={"id": item_id, "@odata.etag": draw(mostly(st.just('W/"DwAAAB"'), hostile_text)),
                                  "@odata.type": "#Microsoft.Graph.Event"})  # fmt: skip
    for key in draw(st.lists(st.sampled_from(sorted(base)), max_size=1)):
        choice = draw(st.sampled_from(["drop", "replace"]))
        if choice == "drop":
            base.pop(key)
        else:
            base[key] = draw(json_value)
    return base


@st.composite
def graph_requests(draw: st.DrawFn, lifecycle: bool = False) -> FuzzRequest:
    room = draw(st.sampled_from(["room-a", "room-a", "room-a", "room-b", "broom-closet", "", "\u00e9" * 3]))
    kind = draw(st.sampled_from(["near-miss", "near-miss", "near-miss", "json", "crafted"]))
    if kind == "near-miss":
        items = draw(st.lists(graph_notification(lifecycle), min_size=1, max_size=3))
        body = _dump({"value": items}, draw(st.booleans()))
    elif kind == "json":
        body = _dump(draw(st.one_of(json_value, st.builds(lambda v: {"value": v}, json_value))), draw(st.booleans()))
    else:
        body = draw(crafted)
    return FuzzRequest(body=body, query={"room": room} if room else {})


def _header_bytes(value: str) -> bytes:
    raw = value.encode("utf-8", errors="surrogatepass")
    # h11 refuses, client-side, control bytes and leading/trailing whitespace in a header value
    return bytes(b for b in raw if b >= 0x20 and b != 0x7F).strip(b" \t") or b"x"


@st.composite
def booking_requests(draw: st.DrawFn) -> FuzzRequest:
    event = {"event": draw(mostly(st.sampled_from(["booking.created", "booking.updated", "booking.deleted"]),
                                  hostile_text)),
             "booking_id": draw(mostly(st.from_regex(r"\AB-[0-9]{1,6}\Z"), hostile_text)),
             "room_id": draw(st.sampled_from(["R-100", "R-200", "R-999"])),
             "version": draw(mostly(st.one_of(st.none(), st.just("7")), hostile_text))}  # fmt: skip
    for key in draw(st.lists(st.sampled_from(sorted(event)), max_size=1)):
        event[key] = draw(json_value)
    kind = draw(st.sampled_from(["near-miss", "near-miss", "near-miss", "json", "crafted"]))
    if kind == "near-miss":
        body = _dump(event, draw(st.booleans()))
    elif kind == "json":
        body = _dump(draw(json_value), draw(st.booleans()))
    else:
        body = draw(crafted)
    signing = draw(st.sampled_from(["valid", "valid", "valid", "stale", "wrong-secret", "hostile", "missing"]))
    now = int(time.time())
    if signing == "valid":
        header = sign_webhook(body, [WEBHOOK_SECRET], now).encode()
    elif signing == "stale":
        header = sign_webhook(body, [WEBHOOK_SECRET], now - 3600).encode()
    elif signing == "wrong-secret":
        header = sign_webhook(body, ["not-the-secret"], now).encode()
    elif signing == "hostile":
        header = _header_bytes(
            draw(st.one_of(hostile_text, st.builds(lambda t: f"t={t},v1=" + "a" * 64, hostile_text)))
        )
    else:
        return FuzzRequest(body=body)
    return FuzzRequest(body=body, headers={"Booking-Signature": header})
