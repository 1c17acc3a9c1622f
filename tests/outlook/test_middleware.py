"""calsync's replacements for SDK middleware that did per-request work calsync's requests never need."""

from __future__ import annotations

import httpx
from kiota_http.kiota_client_factory import KiotaClientFactory

from calsync.outlook.middleware import GraphHostTelemetry, QueryNameDecoding


async def sent_url(handler: object, url: str) -> str:
    """The URL the transport receives after ``handler`` (kiota middleware in front of a mock transport)."""
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={})

    client = KiotaClientFactory.create_with_custom_middleware(
        [handler], client=httpx.AsyncClient(transport=httpx.MockTransport(answer))
    )  # type: ignore[list-item]
    async with client:
        await client.get(url)
    return seen[0]


async def test_query_names_encoded_by_kiota_are_still_decoded() -> None:
    url = "https://graph.microsoft.com/v1.0/users/a/events?%24select=subject&%24top=5"
    assert await sent_url(QueryNameDecoding(), url) == (
        "https://graph.microsoft.com/v1.0/users/a/events?$select=subject&$top=5"
    )


async def test_a_query_with_nothing_to_decode_goes_out_unchanged() -> None:
    url = "https://graph.microsoft.com/v1.0/users/a/events/AA%3D?$select=subject&$filter=id%20eq%20%27x%27"
    assert await sent_url(QueryNameDecoding(), url) == url


def test_graph_hosts_are_recognised_from_the_parsed_url() -> None:
    handler = GraphHostTelemetry()
    assert handler.is_graph_url(httpx.URL("https://graph.microsoft.com/v1.0/users"))
    assert handler.is_graph_url(httpx.URL("https://graph.microsoft.us/v1.0/users"))
    assert not handler.is_graph_url(httpx.URL("http://127.0.0.1:8123/v1.0/users"))
    assert not handler.is_graph_url(httpx.URL("https://graph.microsoft.com.evil.example/v1.0"))
