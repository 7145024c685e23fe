"""The CloudWatch operations dashboard (per colour, MCP metrics per slot, RDS); the cost dashboard is
`infra/components/cost_dashboard.py`."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_rds as rds
from constructs import Construct

from infra import contract
from infra.components.mcp_signals import McpSignals
from infra.components.signals import ColorSignals

__all__ = ["ColorSignals", "OperationsDashboard"]

_WIDTH = 8
_HEIGHT = 6


class OperationsDashboard(Construct):
    """Exposes `dashboard`."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        stage: str,
        colors: dict[contract.Color, ColorSignals],
        database: rds.IDatabaseInstance,
        alarms: list[cloudwatch.IAlarm],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=contract.operations_dashboard_name(stage),
            default_interval=Duration.hours(3),
        )

        def per_color(title: str, build: Any) -> cloudwatch.GraphWidget:
            return cloudwatch.GraphWidget(
                title=title,
                left=[m for color, sig in colors.items() for m in build(color, sig)],
                width=_WIDTH,
                height=_HEIGHT,
            )

        self.dashboard.add_widgets(
            per_color("Requests", lambda c, s: [s.requests(label=c)]),
            per_color("Target 5xx", lambda c, s: [s.target_5xx(label=c)]),
            per_color(
                "Latency p50 / p95 / p99 (s)",
                lambda c, s: [s.response_time(p, label=f"{c} {p}") for p in ("p50", "p95", "p99")],
            ),
        )
        self.dashboard.add_widgets(
            per_color(
                "Healthy / unhealthy hosts",
                lambda c, s: [s.healthy_hosts(label=f"{c} healthy"), s.unhealthy_hosts(label=f"{c} unhealthy")],
            ),
            per_color(
                "CPU %",
                lambda c, s: [s.asg_metric("AWS/EC2", "CPUUtilization", statistic="Average", label=c)],
            ),
            per_color(
                "Memory % (CloudWatch agent)",
                lambda c, s: [s.asg_metric("CWAgent", "mem_used_percent", statistic="Average", label=c)],
            ),
        )
        # The servers' own MCP metrics per slot: what the ALB cannot see (a failed tool call is an HTTP 200).
        mcp = {color: McpSignals(stage=stage, color=color) for color in colors}
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="MCP requests",
                left=[m.requests(label=c) for c, m in mcp.items()],
                width=_WIDTH,
                height=_HEIGHT,
            ),
            cloudwatch.GraphWidget(
                title="MCP tool calls failing (%)",
                left=[m.error_rate_pct() for m in mcp.values()],
                right=[m.tool_calls(o, label=f"{c} {o}") for c, m in mcp.items() for o in contract.MCP_ERROR_OUTCOMES],
                width=_WIDTH,
                height=_HEIGHT,
            ),
            cloudwatch.GraphWidget(
                title="MCP tool latency p50 / p95 (ms)",
                left=[m.tool_latency(p, label=f"{c} {p}") for c, m in mcp.items() for p in ("p50", "p95")],
                width=_WIDTH,
                height=_HEIGHT,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="RDS connections",
                left=[database.metric_database_connections(statistic="Maximum")],
                width=_WIDTH,
                height=_HEIGHT,
            ),
            cloudwatch.GraphWidget(
                title="RDS CPU %",
                left=[database.metric_cpu_utilization(statistic="Average")],
                width=_WIDTH,
                height=_HEIGHT,
            ),
            cloudwatch.AlarmStatusWidget(title="Cutover gates", alarms=alarms, width=_WIDTH, height=_HEIGHT),
        )
