"""GraphSender: what kiota's request adapter did for calsync's raw requests, without it.

The Graph emulator does not issue continuous-access-evaluation challenges, so that
case runs against an httpx.MockTransport answering as Graph documents it.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from kiota_abstractions.authentication import AuthenticationProvider
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation

from calsync.errors import PermissionDenied
from calsync.outlook.graph_client import translate
from calsync.outlook.sender import GraphErrorResponse, GraphSender, odata_error


class ClaimsAwareProvider(AuthenticationProvider):
    """Issues a token that names the claims it was asked for, as azure-identity would issue a fresh one."""

    async def authenticate_request(self, request: RequestInformation,
                                   additional_authentication_context: dict[str, Any] | None = None) -> None:  # fmt: skip
        claims = (additional_authentication_context or {}).get("claims")
        request.headers.add("Authorization", f"Bearer token-for-{claims or 'no-claims'}")


CHALLENGE = 'Bearer authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnt9fQ=="'


async def test_a_claims_challenge_is_answered_once_with_a_token_for_those_claims() -> None:
    seen: list[str] = []

    def graph(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        if request.headers["Authorization"].endswith("no-claims"):
            return httpx.Response(
                401, headers={"WWW-Authenticate": CHALLENGE}, json={"error": {"code": "InvalidAuthenticationToken"}}
            )
        return httpx.Response(200, json={"id": "AAMk1"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(graph)) as client:
        body = await GraphSender(client, ClaimsAwareProvider()).send(
            Method.GET, "https://graph.microsoft.com/v1.0/users/r/events/AAMk1"
        )
    assert body is not None and json.loads(body) == {"id": "AAMk1"}
    assert seen == ["Bearer token-for-no-claims", "Bearer token-for-eyJhY2Nlc3NfdG9rZW4iOnt9fQ=="]


async def test_a_second_refusal_after_the_claims_challenge_is_permission_denied_not_a_loop() -> None:
    calls = 0

    def graph(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(
            401,
            headers={"WWW-Authenticate": CHALLENGE},
            json={"error": {"code": "InvalidAuthenticationToken", "message": "no"}},
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(graph)) as client:
        with pytest.raises(GraphErrorResponse) as raised:
            await GraphSender(client, ClaimsAwareProvider()).send(
                Method.GET, "https://graph.microsoft.com/v1.0/users/r/events/x"
            )
    assert calls == 2
    error = translate(raised.value, "get event")
    assert isinstance(error, PermissionDenied) and not error.retryable
    assert error.fields["code"] == "InvalidAuthenticationToken"


@given(
    st.binary(max_size=200)
    | st.recursive(
        st.none() | st.text() | st.integers(), lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner)
    ).map(lambda v: json.dumps({"error": v}).encode())
)
def test_any_error_body_gives_a_code_and_message_or_none_never_an_exception(body: bytes) -> None:
    code, message = odata_error(body)
    assert code is None or isinstance(code, str)
    assert message is None or isinstance(message, str)
