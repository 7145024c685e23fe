"""The metrics bridge (`infra/bootstrap/metrics_bridge.py`): the servers' Prometheus text in, EMF documents with the
contract's names out. The boot-path test runs it against real booted servers; these pin the arithmetic."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from infra import contract
from infra.bootstrap.metrics_bridge import Deltas, Period, documents, latency_distribution, parse_exposition, run
from services.mcp_server.metrics import Metrics, exposition, merge

PERIOD = Period(stage="dev", slot="green", timestamp_ms=1_700_000_000_000, log_group="/mcpstack/dev/green/mcp-metrics")


def server_text(calls: Sequence[tuple[str, str, str, float]]) -> str:
    """`/metrics` as the native server renders it after `calls` (method, tool, outcome, seconds)."""
    metrics = Metrics()
    for call in calls:
        metrics.record(*call)
    return exposition(merge([metrics.snapshot()])).decode()


def by_name(docs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        (metric,) = directive["Metrics"]
        out.setdefault(metric["Name"], []).append(doc)
    return out


def test_exposition_is_parsed_into_samples_by_name_and_labels() -> None:
    samples = parse_exposition(server_text([("tools/call", "echo", "ok", 0.002)]))
    key = (contract.MCP_PROMETHEUS_REQUESTS, (("method", "tools/call"), ("outcome", "ok"), ("tool", "echo")))
    assert samples[key] == 1.0


def test_counter_reset_counts_the_new_value_as_the_increase() -> None:
    deltas = Deltas()
    key = ("mcp_requests_total", ())
    assert deltas.step({key: 5.0}) == {key: 5.0}
    assert deltas.step({key: 8.0}) == {key: 3.0}
    assert deltas.step({key: 2.0}) == {key: 2.0}  # the server restarted


def test_documents_use_the_contracts_names_and_outcomes() -> None:
    calls = [("tools/call", "echo", "ok", 0.002)] * 3 + [("tools/call", "echo", "tool_error", 0.02)]
    calls += [("tools/list", "", "ok", 0.0001)]
    docs = by_name(list(documents(Deltas().step(parse_exposition(server_text(calls))), PERIOD)))
    assert set(docs) == {
        contract.MCP_METRIC_REQUESTS,
        contract.MCP_METRIC_TOOL_CALLS,
        contract.MCP_METRIC_TOOL_LATENCY,
    }
    tool_calls = {(d["Tool"], d["Outcome"]): d[contract.MCP_METRIC_TOOL_CALLS] for d in docs["ToolCalls"]}
    assert tool_calls == {("echo", "ok"): 3.0, ("echo", "is_error"): 1.0}  # tool_error is published as is_error
    requests = {d["Method"]: d[contract.MCP_METRIC_REQUESTS] for d in docs["Requests"]}
    assert requests == {"tools/call": 4.0, "tools/list": 1.0}
    for doc in (d for group in docs.values() for d in group):
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == contract.MCP_METRICS_NAMESPACE
        assert (doc[contract.MCP_DIMENSION_STAGE], doc[contract.MCP_DIMENSION_SLOT]) == ("dev", "green")
        for dimension_set in directive["Dimensions"]:
            assert all(name in doc for name in dimension_set)  # every declared dimension has a value
    (latency,) = docs[contract.MCP_METRIC_TOOL_LATENCY]
    assert latency["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] == contract.MCP_METRIC_TOOL_LATENCY_UNIT
    assert sum(latency[contract.MCP_METRIC_TOOL_LATENCY]["Counts"]) == 4  # tools/call only


def test_latency_buckets_become_milliseconds_and_counts() -> None:
    cumulative = {0.001: 1.0, 0.005: 1.0, 0.01: 4.0, float("inf"): 5.0}
    assert latency_distribution(cumulative) == ([1.0, 10.0, 10.0], [1.0, 3.0, 1.0])


def test_a_quiet_period_sends_nothing() -> None:
    text = server_text([("tools/call", "echo", "ok", 0.002)])
    deltas = Deltas()
    deltas.step(parse_exposition(text))
    assert list(documents(deltas.step(parse_exposition(text)), PERIOD)) == []


def test_first_scrape_is_the_baseline_and_failures_never_stop_the_bridge() -> None:
    texts = iter(
        [
            server_text([("tools/call", "echo", "ok", 0.002)]),
            None,  # the server was restarting
            server_text([("tools/call", "echo", "ok", 0.002)] * 3),
        ]
    )
    batches: list[list[dict[str, Any]]] = []

    def send(docs: Sequence[dict[str, Any]]) -> bool:
        batches.append(list(docs))
        return False  # the agent is down: logged, not raised

    run(
        stage="dev",
        slot="green",
        port=1,
        log_group=PERIOD.log_group,
        interval_s=60,
        fetch=lambda url: next(texts),
        send=send,
        clock=lambda: 1_700_000_000.0,
        sleep=lambda s: None,
        periods=3,
    )
    assert len(batches) == 1
    calls = [d[contract.MCP_METRIC_TOOL_CALLS] for d in batches[0] if contract.MCP_METRIC_TOOL_CALLS in d]
    assert calls == [2.0]
