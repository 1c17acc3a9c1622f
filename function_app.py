"""calsync's Azure Functions app: binds triggers to handlers and nothing else (logic lives in calsync/)."""

import azure.functions as func

from calsync.functions import http_triggers, maintenance_triggers, mrbs_triggers, queue_triggers, runtime

runtime.start_up()  # settings and telemetry once per worker, before the first webhook

app = func.FunctionApp()
app.register_functions(http_triggers.bp)
app.register_functions(queue_triggers.bp)
app.register_functions(maintenance_triggers.bp)
app.register_functions(mrbs_triggers.bp)
