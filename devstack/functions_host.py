"""A loopback stand-in for the Functions host: serves function_app's HTTP functions, feeds its queue functions.

Functions Core Tools cannot be installed here, so the local run and the end-to-end
tests use this: a uvicorn server on 127.0.0.1, running on the caller's event loop
(the in-process queue belongs to that loop), that turns each request into an
``azure.functions.HttpRequest`` for the function whose route matches and returns
its ``HttpResponse`` (405 for a method the function does not declare); and ``bind_queues`` subscribes every Service Bus-triggered
function to the in-process queue of the same name (binding expressions such as
``%CHANGES_QUEUE%`` are resolved from Settings, as the host resolves app settings),
with the settlement its binding asks for (autoCompleteMessages).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

import azure.functions as func
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from calsync.functions.indexing import raw_bindings, user_functions
from calsync.settings import Settings, env_name
from devstack.azurite import free_port
from devstack.inprocess_queue import InProcessQueue

ROUTE_PREFIX = "/api/"


def resolve(expression: str, settings: Settings) -> str:
    """Resolve ``%SETTING%`` binding expressions from Settings, as the host does from app settings."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        for field_name in Settings.model_fields:
            if env_name(field_name).lower() == name.lower():
                return str(getattr(settings, field_name))
        raise KeyError(f"binding expression %{name}% names no setting")

    return re.sub(r"%([^%]+)%", value, expression)


class LoopbackFunctionsHost:
    def __init__(self, settings: Settings, *, port: int | None = None) -> None:
        self.settings = settings
        self.port = port or free_port()
        self._functions = user_functions()
        self._routes: dict[str, str] = {}
        self._methods: dict[str, frozenset[str]] = {}
        for name, bindings in raw_bindings().items():
            for binding in bindings:
                if binding["type"] == "httpTrigger":
                    self._routes[binding["route"]] = name
                    # the host answers only the methods a function declares (405 otherwise); none declared = all
                    self._methods[name] = frozenset(m.upper() for m in binding.get("methods") or ())
        every = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]  # checked per function below
        app = Starlette(routes=[Route(ROUTE_PREFIX + "{route:path}", self._dispatch, methods=every)])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off",
                                access_log=False)  # fmt: skip
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{ROUTE_PREFIX.rstrip('/')}"

    def url(self, route: str) -> str:
        return f"{self.base_url}/{route}"

    async def start(self) -> LoopbackFunctionsHost:
        self._task = asyncio.create_task(self._server.serve())
        for _ in range(500):
            if self._server.started:
                return self
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        raise RuntimeError(f"the loopback functions host did not start on port {self.port}")

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, timeout=5)

    def wrap_functions(self, wrapper: Any) -> None:
        """Replace every function by ``wrapper(function)`` for the HTTP routes (benchmarks time the handlers)."""
        self._functions = {name: wrapper(function) for name, function in self._functions.items()}

    def bind_queues(self, queue: InProcessQueue) -> list[str]:
        """Subscribe each queue-triggered function to its queue; returns the queue names bound."""
        bound = []
        for name, bindings in raw_bindings().items():
            for binding in bindings:
                if binding["type"] == "serviceBusTrigger":
                    queue_name = resolve(binding["queueName"], self.settings)
                    # autoCompleteMessages off: the function settles each message through its actions
                    queue.subscribe(queue_name, self._functions[name],
                                    auto_complete=binding.get("autoCompleteMessages", True))  # fmt: skip
                    bound.append(queue_name)
        return bound

    async def _dispatch(self, request: Request) -> Response:
        name = self._routes.get(request.path_params["route"])
        if name is None:
            return Response(status_code=404)
        allowed = self._methods[name]
        if allowed and request.method.upper() not in allowed:
            return Response(status_code=405, headers={"Allow": ", ".join(sorted(allowed))})
        body = await request.body()
        http_request = func.HttpRequest(
            method=request.method, url=str(request.url), headers=dict(request.headers),
            params=dict(request.query_params), body=body,
        )  # fmt: skip
        response: Any = await self._functions[name](http_request)
        headers = {key: value for key, value in response.headers.items() if key.lower() != "content-type"}
        return Response(content=response.get_body(), status_code=response.status_code, headers=headers,
                        media_type=response.mimetype)  # fmt: skip
