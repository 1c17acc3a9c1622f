"""The Azure Functions bindings: one Blueprint per area, each trigger only decodes and calls one service."""
