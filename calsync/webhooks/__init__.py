"""The webhook front door: validate, authenticate, turn notifications into queue messages, answer fast.

These handlers are plain async functions over (query, headers, body) that return a
``WebhookResponse``; function_app.py adapts azure.functions requests to them. They
never import the Graph SDK, never fetch data, and enqueue nothing from a request
that failed validation or authentication.
"""
