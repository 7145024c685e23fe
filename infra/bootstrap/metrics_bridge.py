"""The servers' MCP metrics into CloudWatch: scrape the local `/metrics` once a period, send Embedded Metric Format
documents to the CloudWatch agent on the instance, under the names `infra.contract` defines.

Off the request path: one HTTP GET of `/metrics` per period (60 s), no AWS API call anywhere; the agent ships the
documents to CloudWatch Logs, which turns them into metrics. Why a bridge and not the agent's own Prometheus input:
that input drops histograms (no tool latency) and drops metrics whose name is relabelled (no contract names); see
amazon-cloudwatch-agent issues #190 and #399. Runs on the instance from the slot's venv as
`python -m infra.bootstrap.metrics_bridge`, started by the bootstrap as its own systemd unit. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from infra import contract

# The CloudWatch agent's EMF listener (`logs.metrics_collected.emf` in its configuration).
AGENT_EMF_ADDRESS = ("127.0.0.1", 25888)
_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
TOOLS_CALL = "tools/call"

Sample = tuple[str, tuple[tuple[str, str], ...]]


def parse_exposition(text: str) -> dict[Sample, float]:
    """Prometheus text exposition -> {(metric name, sorted labels): value}; comments and junk lines are skipped."""
    samples: dict[Sample, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match is None or line.startswith("#"):
            continue
        try:
            value = float(match["value"])
        except ValueError:
            continue
        labels = tuple(sorted(_LABEL.findall(match["labels"] or "")))
        samples[(match["name"], labels)] = value
    return samples


@dataclass
class Deltas:
    """Counter increases between two scrapes (a server restart resets its counters: the new value is the increase)."""

    previous: dict[Sample, float] = field(default_factory=dict)

    def step(self, current: Mapping[Sample, float]) -> dict[Sample, float]:
        deltas = {}
        for key, value in current.items():
            before = self.previous.get(key, 0.0)
            deltas[key] = value - before if value >= before else value
        self.previous = dict(current)
        return deltas


@dataclass(frozen=True, kw_only=True)
class Period:
    """What every document of one scrape shares."""

    stage: str
    slot: str
    timestamp_ms: int
    log_group: str


def _emf(
    period: Period,
    *,
    metric: str,
    unit: str,
    dimensions: Sequence[Sequence[str]],
    values: Mapping[str, str],
    value: object,
) -> dict[str, object]:
    return {
        "_aws": {
            "Timestamp": period.timestamp_ms,
            "LogGroupName": period.log_group,
            "CloudWatchMetrics": [
                {
                    "Namespace": contract.MCP_METRICS_NAMESPACE,
                    "Dimensions": [list(d) for d in dimensions],
                    "Metrics": [{"Name": metric, "Unit": unit}],
                }
            ],
        },
        contract.MCP_DIMENSION_STAGE: period.stage,
        contract.MCP_DIMENSION_SLOT: period.slot,
        **values,
        metric: value,
    }


def documents(deltas: Mapping[Sample, float], period: Period) -> Iterator[dict[str, object]]:
    """EMF documents for one period: Requests by method, ToolCalls by tool and outcome, ToolLatency of tools/call."""
    requests: dict[str, float] = {}
    latency: dict[float, float] = {}
    for (name, labels), delta in deltas.items():
        label = dict(labels)
        if name == contract.MCP_PROMETHEUS_REQUESTS:
            method = label.get("method", "")
            requests[method] = requests.get(method, 0.0) + delta
            outcome = contract.MCP_PROMETHEUS_OUTCOMES.get(label.get("outcome", ""))
            if method == TOOLS_CALL and label.get("tool") and outcome is not None and delta > 0:
                yield _emf(
                    period,
                    metric=contract.MCP_METRIC_TOOL_CALLS,
                    unit="Count",
                    dimensions=contract.MCP_TOOL_CALLS_DIMENSIONS,
                    values={contract.MCP_DIMENSION_TOOL: label["tool"], contract.MCP_DIMENSION_OUTCOME: outcome},
                    value=delta,
                )
        elif name == f"{contract.MCP_PROMETHEUS_DURATION}_bucket" and label.get("method") == TOOLS_CALL:
            latency[float(label["le"])] = delta
    for method, count in sorted(requests.items()):
        if method and count > 0:
            yield _emf(
                period,
                metric=contract.MCP_METRIC_REQUESTS,
                unit="Count",
                dimensions=contract.MCP_REQUESTS_DIMENSIONS,
                values={contract.MCP_DIMENSION_METHOD: method},
                value=count,
            )
    values, counts = latency_distribution(latency)
    if counts:
        # Only the per-slot set: `/metrics` has tool-call latency per method, not per tool.
        yield _emf(
            period,
            metric=contract.MCP_METRIC_TOOL_LATENCY,
            unit=contract.MCP_METRIC_TOOL_LATENCY_UNIT,
            dimensions=contract.MCP_TOOL_LATENCY_DIMENSIONS[:1],
            values={},
            value={"Values": values, "Counts": counts},
        )


def latency_distribution(cumulative_buckets: Mapping[float, float]) -> tuple[list[float], list[float]]:
    """Cumulative `le` bucket increases -> (milliseconds, counts) per bucket, each bucket at its upper bound (the
    open-ended last bucket at the largest finite bound), for EMF's value/count arrays."""
    values: list[float] = []
    counts: list[float] = []
    below = 0.0
    finite = sorted(b for b in cumulative_buckets if b != float("inf"))
    for bound in [*finite, float("inf")]:
        total = cumulative_buckets.get(bound, below)
        in_bucket = total - below
        below = total
        if in_bucket > 0:
            upper = bound if bound != float("inf") else (finite[-1] if finite else 0.0)
            values.append(round(upper * 1000.0, 3))
            counts.append(in_bucket)
    return values, counts


def scrape(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (a fixed http://127.0.0.1 URL)
            return bytes(response.read()).decode("utf-8", "replace")
    except (urllib.error.URLError, OSError):
        return None


def send_to_agent(docs: Sequence[dict[str, object]], address: tuple[str, int] = AGENT_EMF_ADDRESS) -> bool:
    if not docs:
        return True
    payload = "".join(json.dumps(doc, separators=(",", ":")) + "\n" for doc in docs).encode()
    try:
        with socket.create_connection(address, timeout=5) as connection:
            connection.sendall(payload)
    except OSError:
        return False
    return True


def run(
    *,
    stage: str,
    slot: str,
    port: int,
    log_group: str,
    interval_s: float,
    fetch: Callable[[str], str | None] = scrape,
    send: Callable[[Sequence[dict[str, object]]], bool] = send_to_agent,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    periods: int | None = None,
) -> None:
    """Scrape, diff, send; forever (or `periods` times). The first scrape only sets the baseline."""
    url = f"http://127.0.0.1:{port}/metrics"
    deltas = Deltas()
    first = True
    done = 0
    while periods is None or done < periods:
        text = fetch(url)
        if text is not None:
            changes = deltas.step(parse_exposition(text))
            if not first:
                period = Period(stage=stage, slot=slot, timestamp_ms=int(clock() * 1000), log_group=log_group)
                docs = list(documents(changes, period))
                if not send(docs):
                    print(f"metrics bridge: the CloudWatch agent did not take {len(docs)} documents", file=sys.stderr)
            first = False
        done += 1
        sleep(interval_s)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="metrics_bridge", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--slot", required=True, choices=contract.COLORS)
    parser.add_argument("--port", type=int, default=contract.SERVER_PORT)
    parser.add_argument("--log-group", required=True)
    parser.add_argument("--interval-s", type=float, default=60.0)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    run(stage=args.stage, slot=args.slot, port=args.port, log_group=args.log_group, interval_s=args.interval_s)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
