"""HTTP triggers: Graph change and lifecycle notifications, booking-system webhooks.

All three are anonymous at the Functions level because Graph cannot send a
function key: clientState (Graph) and the HMAC signature (booking system)
authenticate instead. Each trigger adapts the request and calls one handler in
calsync.webhooks.
"""

from __future__ import annotations

import azure.functions as func

from calsync.functions import runtime
from calsync.webhooks.booking_notifications import handle_booking_webhook
from calsync.webhooks.graph_notifications import handle_change_notifications, handle_lifecycle_notifications
from calsync.webhooks.responses import WebhookResponse

bp = func.Blueprint()


def _http(result: WebhookResponse) -> func.HttpResponse:
    return func.HttpResponse(body=result.body, status_code=result.status, mimetype=result.content_type.split(";")[0],
                             charset="utf-8")  # fmt: skip


@bp.function_name("graph_webhook")
@bp.route(route="graph/notifications", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def graph_webhook(req: func.HttpRequest) -> func.HttpResponse:
    rt = runtime.current()
    return _http(await handle_change_notifications(query=req.params, body=req.get_body(), settings=rt.settings,
                                                   publisher=rt.publisher, subscriptions=rt.subscriptions, rooms=rt.rooms,
                                                   own_versions=rt.own_versions))  # fmt: skip


@bp.function_name("graph_lifecycle")
@bp.route(route="graph/lifecycle", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def graph_lifecycle(req: func.HttpRequest) -> func.HttpResponse:
    rt = runtime.current()
    return _http(await handle_lifecycle_notifications(query=req.params, body=req.get_body(), settings=rt.settings,
                                                      publisher=rt.publisher, subscriptions=rt.subscriptions, rooms=rt.rooms))  # fmt: skip


@bp.function_name("booking_webhook")
@bp.route(route="booking/webhook", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def booking_webhook(req: func.HttpRequest) -> func.HttpResponse:
    rt = runtime.current()
    return _http(await handle_booking_webhook(headers=req.headers, body=req.get_body(), settings=rt.settings,
                                              publisher=rt.publisher, replays=rt.replays, rooms=rt.rooms,
                                              own_versions=rt.own_versions))  # fmt: skip
