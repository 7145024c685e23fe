"""Local adapter parts without processes: the servers' `/metrics` parsed by metric name (from the native server's
real exposition code), and the behaviour check's verdicts."""

from __future__ import annotations

from typing import Any

import pytest

from scripts.cutover.local import HttpSmoke, parse_server_metrics
from scripts.cutover.model import Slot
from services.mcp_server.metrics import Metrics, exposition, merge


def test_native_exposition_parses_into_requests_errors_and_latency_buckets() -> None:
    metrics = Metrics()
    for _ in range(90):
        metrics.record("tools/call", "echo", "ok", 0.002)
    for _ in range(6):
        metrics.record("tools/call", "echo", "tool_error", 0.002)
    for _ in range(4):
        metrics.record("tools/list", "", "rpc_error", 0.0004)
    counters = parse_server_metrics(exposition(merge([metrics.snapshot()])).decode())
    assert (counters.requests, counters.errors) == (100, 10)
    assert counters.bounds[-1] == float("inf") and counters.buckets[-1] == 100


def test_unknown_outcome_label_counts_as_an_error() -> None:
    text = 'mcp_requests_total{method="tools/call",tool="echo",outcome="mystery"} 3.0\n'
    assert parse_server_metrics(text).errors == 3


def _caller(answers: dict[Slot, dict[str, Any]]) -> Any:
    def call(slot: Slot, method: str, params: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
        if method == "tools/list":
            return 200, {"result": {"tools": [{"name": "echo"}]}}
        return 200, {"result": answers[slot]}

    return call


@pytest.mark.parametrize(
    ("green", "ok"),
    [
        ({"structuredContent": {"x": 1}}, True),
        ({"structuredContent": {"x": 2}}, False),
        ({"structuredContent": {"x": 1}, "isError": True}, False),
    ],
)
def test_behaviour_check_needs_same_content_and_no_is_error(green: dict[str, Any], ok: bool) -> None:
    smoke = HttpSmoke(_caller({"green": green, "blue": {"structuredContent": {"x": 1}}}))
    assert smoke.check("green").ok is ok
