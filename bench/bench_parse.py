"""Cost of parsing one Graph event: calsync's wire model vs msgraph-sdk's kiota parse (prints, asserts nothing).

    .venv/bin/python bench/bench_parse.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DOC = ROOT / "tests" / "outlook" / "graph_docs" / "create_event_recurring_series_master.json"


def per_call_us(fn, n: int) -> float:
    fn()
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) * 1e6 / n


def main() -> None:
    body = json.dumps(json.loads(DOC.read_text())).encode()
    from calsync.outlook.wire import parse_event

    wire_us = per_call_us(lambda: parse_event(body), 2000)
    from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory
    from msgraph.generated.models.event import Event

    def kiota() -> object:
        return JsonParseNodeFactory().get_root_parse_node("application/json", body).get_object_value(Event)

    kiota_us = per_call_us(kiota, 50)
    print(f"parse one documented series-master event ({len(body)} bytes):")
    print(f"  calsync.outlook.wire.parse_event {wire_us / 1000:8.3f} ms   goal well under 1 ms")
    print(f"  msgraph-sdk (kiota) Event        {kiota_us / 1000:8.3f} ms   (before)")


if __name__ == "__main__":
    main()
