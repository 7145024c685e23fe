"""The cost model's MCP custom metrics are the metrics the bridge really sends: counted from the contract's names,
equal to the distinct (name, dimension values) the bridge's EMF documents carry when every method, tool and outcome
occurs, and priced per slot on the stage report."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from infra import contract
from infra.bootstrap.metrics_bridge import Period, Sample, documents
from scripts.cost import mcp_metrics, prices, stage, templates, throughput, workload
from scripts.cutover.cloudwatch import CloudWatchMetrics
from services.mcp_server.methods import McpMethods, ServerInfo
from services.mcp_server.metrics import Metrics
from services.tools.context import NO_DATABASE
from services.tools.packs import load_packs
from tests.cost.conftest import RESULTS
from tests.cutover.fakes import FakeClock


def _every_combination(tools: list[str]) -> dict[Sample, float]:
    """One scrape's increases in which every routed method, tool and outcome happened."""
    deltas: dict[Sample, float] = {}
    for method in contract.MCP_METHOD_LABELS:
        if method == "tools/call":
            for tool in tools:
                for label in contract.MCP_PROMETHEUS_OUTCOMES:
                    labels = (("method", method), ("outcome", label), ("tool", tool))
                    deltas[(contract.MCP_PROMETHEUS_REQUESTS, labels)] = 3.0
        else:
            deltas[(contract.MCP_PROMETHEUS_REQUESTS, (("method", method), ("outcome", "ok"), ("tool", "")))] = 1.0
    for le in ("0.005", "0.05", "+Inf"):
        bucket = (f"{contract.MCP_PROMETHEUS_DURATION}_bucket", (("le", le), ("method", "tools/call")))
        deltas[bucket] = 10.0
    return deltas


def _metrics_sent(docs: list[dict[str, object]]) -> dict[str, set[tuple[tuple[str, str], ...]]]:
    """Each CloudWatch custom metric the documents create: metric name -> its distinct dimension-value tuples."""
    sent: dict[str, set[tuple[tuple[str, str], ...]]] = {}
    for doc in docs:
        directive = doc["_aws"]["CloudWatchMetrics"][0]  # type: ignore[index]
        for metric in directive["Metrics"]:
            for dims in directive["Dimensions"]:
                sent.setdefault(metric["Name"], set()).add(tuple((d, str(doc[d])) for d in dims))
    return sent


def test_count_from_the_contract_equals_the_metrics_the_bridge_sends() -> None:
    tools = [tool.name for tool in load_packs(("reference",))]
    period = Period(
        stage="dev", slot="green", timestamp_ms=0, log_group=contract.mcp_metrics_log_group_name("dev", "green")
    )
    sent = _metrics_sent(list(documents(_every_combination(tools), period)))
    counted = mcp_metrics.per_slot(tools=len(tools))
    assert {name: len(values) for name, values in sent.items()} == counted.by_metric
    assert set(counted.by_metric) == {
        contract.MCP_METRIC_REQUESTS,
        contract.MCP_METRIC_TOOL_CALLS,
        contract.MCP_METRIC_TOOL_LATENCY,
    }
    assert counted.total == sum(len(values) for values in sent.values())
    assert mcp_metrics.catalogue_tools() == len(tools)


def test_native_server_labels_only_methods_the_contract_names() -> None:
    served = McpMethods(
        registry=load_packs(("reference", "conformance")), info=ServerInfo("t", "1"), db=NO_DATABASE, metrics=Metrics()
    )
    routed = set(served._routes) | set(served._stateless_routes) | {"unknown"}
    missing = routed - set(contract.MCP_METHOD_LABELS)
    assert not missing, f"add {sorted(missing)} to infra/contract.py MCP_METHOD_LABELS (each is a priced metric)"


def test_stage_report_prices_each_slots_mcp_metrics_at_the_custom_metric_price(assemblies: dict[str, Path]) -> None:
    name = next(iter(assemblies))
    report = stage.price_stage(
        templates.load(assemblies[name], name),
        stage=name,
        workload=workload.preset("saas-200k"),
        run=throughput.load(RESULTS),
        table=prices.EMBEDDED,
    )
    expected = stage.Assumptions().mcp_metrics().total
    for variant, cost in report.variants.items():
        (line,) = [line for line in cost.dedicated if contract.MCP_METRICS_NAMESPACE in line.item]
        assert (line.price_key, line.quantity) == ("cw.metric", Decimal(expected)), variant
        assert line.unit_price == prices.EMBEDDED["cw.metric"].usd == Decimal("0.30"), variant
        assert line.amount == Decimal(expected) * line.unit_price, variant


def _joined(value: Any) -> str:
    """A CloudFormation string: literal, or an Fn::Join whose tokens (refs, attributes) become a placeholder."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_joined(p) for p in parts)
    return "TOKEN"


def _synthesized_mcp_metrics(template: dict[str, Any]) -> set[tuple[str, tuple[str, ...]]]:
    """(metric name, sorted dimension names) of every McpStack/Mcp metric a dashboard widget or an alarm reads."""
    found: set[tuple[str, tuple[str, ...]]] = set()
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::CloudWatch::Dashboard":
            for widget in json.loads(_joined(props["DashboardBody"]))["widgets"]:
                for row in widget.get("properties", {}).get("metrics", []):
                    names = [v for v in row if isinstance(v, str)]
                    if names and names[0] == contract.MCP_METRICS_NAMESPACE:
                        found.add((names[1], tuple(sorted(names[2::2]))))
        elif resource["Type"] == "AWS::CloudWatch::Alarm":
            for query in props.get("Metrics", []):
                metric = query.get("MetricStat", {}).get("Metric", {})
                if metric.get("Namespace") == contract.MCP_METRICS_NAMESPACE:
                    found.add((metric["MetricName"], tuple(sorted(d["Name"] for d in metric["Dimensions"]))))
    return found


def test_bridge_dashboards_alarms_cutover_and_cost_model_share_the_contracts_metrics(
    assemblies: dict[str, Path],
) -> None:
    """One contract, four readers: what the bridge sends is what the cost model counts, and every MCP metric the
    synthesized dashboards and alarms or the cutover's AWS metrics source read is one the bridge sends."""
    tools = [tool.name for tool in load_packs(("reference",))]
    period = Period(
        stage="dev", slot="blue", timestamp_ms=0, log_group=contract.mcp_metrics_log_group_name("dev", "blue")
    )
    docs = list(documents(_every_combination(tools), period))
    sent = {
        (metric["Name"], tuple(sorted(dims)))
        for doc in docs
        for directive in doc["_aws"]["CloudWatchMetrics"]  # type: ignore[index]
        for metric in directive["Metrics"]
        for dims in directive["Dimensions"]
    }
    assert {name for name, _ in sent} == set(mcp_metrics.per_slot(tools=len(tools)).by_metric)
    assert sent == {
        (name, tuple(sorted(dims))) for name, sets in contract.MCP_METRIC_DIMENSIONS.items() for dims in sets
    }
    name = next(iter(assemblies))
    monitoring = json.loads(
        (assemblies[name] / f"{contract.stack_name(name, 'Monitoring')}.template.json").read_text(encoding="utf-8")
    )
    read_by_stacks = _synthesized_mcp_metrics(monitoring)
    assert {m for m, _ in read_by_stacks} == set(contract.MCP_METRIC_DIMENSIONS)  # widgets and alarms read all three
    assert read_by_stacks <= sent
    source = CloudWatchMetrics(
        None, stage=name, load_balancer="app/x/1", target_groups={"blue": "tg/b", "green": "tg/g"},
        alarm_names=(), clock=FakeClock(),
    )  # fmt: skip
    read_by_cutover = {
        (
            q["MetricStat"]["Metric"]["MetricName"],
            tuple(sorted(d["Name"] for d in q["MetricStat"]["Metric"]["Dimensions"])),
        )
        for slot in ("blue", "green")
        for q in source.queries(slot)
        if q["MetricStat"]["Metric"]["Namespace"] == contract.MCP_METRICS_NAMESPACE
    }
    assert read_by_cutover and read_by_cutover <= sent
