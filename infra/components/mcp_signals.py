"""The servers' own MCP metrics in CloudWatch, per slot: names and dimension sets from `infra.contract`, nothing else.

An ALB sees HTTP 200 for a failed tool call (`isError`) and for a JSON-RPC error, so the MCP-level error rate comes
from the servers' metrics. These read the per-slot rollups (`Stage`, `Slot` [, `Outcome`]) the contract says the
instances publish.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch

from infra import contract

_ONE_MINUTE = Duration.minutes(1)


@dataclass(frozen=True, kw_only=True)
class McpSignals:
    stage: str
    color: contract.Color

    def _metric(
        self, name: str, dimensions: dict[str, str], *, statistic: str, label: str | None, period: Duration
    ) -> cloudwatch.Metric:
        rollup = {contract.MCP_DIMENSION_STAGE: self.stage, contract.MCP_DIMENSION_SLOT: self.color}
        return cloudwatch.Metric(
            namespace=contract.MCP_METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={**rollup, **dimensions},
            statistic=statistic,
            label=label,
            period=period,
        )

    def requests(self, *, label: str | None = None, period: Duration = _ONE_MINUTE) -> cloudwatch.Metric:
        return self._metric(contract.MCP_METRIC_REQUESTS, {}, statistic="Sum", label=label, period=period)

    def tool_calls(
        self, outcome: contract.McpOutcome, *, label: str | None = None, period: Duration = _ONE_MINUTE
    ) -> cloudwatch.Metric:
        return self._metric(
            contract.MCP_METRIC_TOOL_CALLS,
            {contract.MCP_DIMENSION_OUTCOME: outcome},
            statistic="Sum",
            label=label,
            period=period,
        )

    def tool_latency(
        self, statistic: str, *, label: str | None = None, period: Duration = _ONE_MINUTE
    ) -> cloudwatch.Metric:
        return self._metric(contract.MCP_METRIC_TOOL_LATENCY, {}, statistic=statistic, label=label, period=period)

    def error_rate_pct(self, *, period: Duration = _ONE_MINUTE) -> cloudwatch.MathExpression:
        """Failed tool calls (`isError`, JSON-RPC errors, timeouts) as a percentage of all tool calls."""
        # Ids carry the slot: a graph showing both slots' rates would otherwise hold two metrics with one id.
        calls: dict[str, cloudwatch.IMetric] = {
            f"{self.color}_{outcome}": self.tool_calls(outcome, period=period) for outcome in contract.MCP_OUTCOMES
        }
        # An outcome that did not happen has no datapoint at all; FILL makes it 0 instead of voiding the sum.
        errors = " + ".join(f"FILL({self.color}_{outcome}, 0)" for outcome in contract.MCP_ERROR_OUTCOMES)
        total = " + ".join(f"FILL({self.color}_{outcome}, 0)" for outcome in contract.MCP_OUTCOMES)
        return cloudwatch.MathExpression(
            expression=f"IF(({total}) > 0, 100 * ({errors}) / ({total}), 0)",
            using_metrics=calls,
            label=f"{self.color} MCP error %",
            period=period,
        )
