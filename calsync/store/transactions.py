"""Entity group transactions (the mapping writes) without azure-core's multipart machinery.

azure-data-tables sends a transaction as one ``$batch`` request whose body is a
multipart/mixed changeset of HTTP requests. azure-core writes and reads that body with
the stdlib ``email`` package (and compiles a regular expression for each random
boundary): a transaction of three rows cost 2.1 ms of CPU here, five times a single
table request (issue #16, bench/bench_tables.py). ``BatchTableClient`` keeps everything
else of azure-data-tables' transactions (``submit_transaction``, its operation tuples,
the sub-requests its own builders make, the pipeline: auth, retries) and only writes
the multipart body as text and reads the answer's parts with a few splits, following
https://learn.microsoft.com/rest/api/storageservices/performing-entity-group-transactions.

Failures keep azure-data-tables' own errors: an answer other than 202 is decoded as it
decodes it; a changeset that failed (one part not 2xx: a transaction is all or nothing,
so nothing was written) is sent once more through azure-data-tables' own path, which
raises its ``TableTransactionError`` (or succeeds, if the table changed in between,
as a retry would). A 202 whose parts cannot be read raises ``HttpResponseError``
(calsync's StoreError: the hint is retried and re-reads the mapping, as after a lost answer).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest
from azure.data.tables._error import RequestTooLargeError, _decode_error, _validate_tablename_error
from azure.data.tables.aio import TableClient

CRLF = "\r\n"


def encode_changeset(requests: tuple[HttpRequest, ...]) -> tuple[str, bytes]:
    """The $batch body holding ``requests`` as one changeset, and its boundary."""
    batch, changeset = f"batch_{uuid.uuid4()}", f"changeset_{uuid.uuid4()}"
    out = [f"--{batch}", f"Content-Type: multipart/mixed; boundary={changeset}", ""]
    for index, request in enumerate(requests):
        out += [f"--{changeset}", "Content-Type: application/http", "Content-Transfer-Encoding: binary",
                f"Content-ID: {index}", "", f"{request.method} {request.url} HTTP/1.1"]  # fmt: skip
        out += [f"{name}: {value}" for name, value in request.headers.items()]
        content = request.content
        body = content.decode() if isinstance(content, bytes) else (content or "")
        out += ["", body]
    out += [f"--{changeset}--", f"--{batch}--", ""]
    return batch, CRLF.join(out).encode()


def _boundary(content_type: str) -> str:
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.strip().partition("=")
        if name.lower() == "boundary":
            return value.strip('"')
    raise ValueError("multipart answer without a boundary")


def _parts(body: str, boundary: str) -> list[str]:
    """The parts between ``--boundary`` lines (the preamble and the closing ``--boundary--`` dropped)."""
    chunks = body.split(f"--{boundary}")
    if len(chunks) < 3 or not chunks[-1].startswith("--"):
        raise ValueError("multipart answer cut short")
    return [chunk.strip("\r\n") for chunk in chunks[1:-1]]


def _head_and_body(text: str) -> tuple[list[str], str]:
    head, separator, body = text.replace("\r\n", "\n").partition("\n\n")
    if not separator and not head:
        raise ValueError("empty multipart part")
    return head.split("\n"), body


def _headers(lines: list[str]) -> dict[str, str]:
    headers = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return headers


def decode_changeset_answer(content_type: str, body: str) -> list[tuple[int, dict[str, str]]]:
    """(status, headers) of each answer in a $batch answer's changeset, in request order."""
    (batch_part,) = _parts(body, _boundary(content_type))
    lines, inner = _head_and_body(batch_part)
    answers = []
    for part in _parts(inner, _boundary(_headers(lines).get("content-type", ""))):
        _, http = _head_and_body(part)  # the part's own headers: application/http, binary
        status_and_headers, _ = _head_and_body(http)
        version, status, *_ = status_and_headers[0].split(" ", 2)
        if not version.startswith("HTTP/"):
            raise ValueError("a changeset answer without a status line")
        answers.append((int(status), _headers(status_and_headers[1:])))
    return answers


class BatchTableClient(TableClient):
    """azure-data-tables' TableClient whose transactions are written and read by this module."""

    async def _batch_send(self, table_name: str, *reqs: HttpRequest, **kwargs: Any) -> list[Mapping[str, Any]]:
        boundary, body = encode_changeset(reqs)
        request = HttpRequest("POST", f"{self.scheme}://{self._primary_hostname}/$batch", content=body, headers={
            "x-ms-version": self.api_version, "DataServiceVersion": "3.0", "MaxDataServiceVersion": "3.0;NetFx",
            "Content-Type": f"multipart/mixed; boundary={boundary}", "Accept": "application/json"})  # fmt: skip
        response = await self._client.send_request(request, stream=True, **kwargs)
        await response.read()
        if response.status_code == 413:
            raise _decode_error(response, error_message="The transaction request was too large",
                                error_type=RequestTooLargeError)  # fmt: skip
        if response.status_code != 202:
            decoded = _decode_error(response)
            _validate_tablename_error(decoded, table_name)
            raise decoded
        try:
            answers = decode_changeset_answer(response.headers.get("Content-Type", ""), response.text())
        except (ValueError, UnicodeError) as exc:
            raise HttpResponseError(f"unreadable answer to a table transaction ({exc})", response=response) from None
        if any(not 200 <= status < 300 for status, _ in answers):
            # the changeset failed as a whole (nothing written): azure-data-tables' own path raises its error
            return await super()._batch_send(table_name, *reqs, **kwargs)
        if len(answers) != len(reqs):
            raise HttpResponseError(
                f"a table transaction of {len(reqs)} answered {len(answers)} times", response=response
            )
        return [{"etag": headers["etag"]} if "etag" in headers else {} for _, headers in answers]
