"""function_app.py's functions as the Functions host indexes them, indexed once per process.

azure-functions refuses to index an app twice (it sees every name again as a
duplicate), so tests, the loopback host and the local run share this one index.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any


@functools.cache
def indexed_functions() -> tuple[Any, ...]:
    import function_app

    return tuple(function_app.app.get_functions())


def user_functions() -> dict[str, Callable[..., Any]]:
    """Every function by name, ready to call as the host would."""
    return {fn.get_function_name(): fn.get_user_function() for fn in indexed_functions()}


def raw_bindings() -> dict[str, list[dict[str, Any]]]:
    """Each function's bindings as the JSON the worker hands to the host."""
    return {fn.get_function_name(): [json.loads(raw) for raw in fn.get_raw_bindings()] for fn in indexed_functions()}
