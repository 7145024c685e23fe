"""CloudWatch dashboards: operations (per colour, RDS) and cost (billing, fleet size, requests per colour)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_rds as rds
from constructs import Construct

from infra import contract

_WIDTH = 8
_HEIGHT = 6


@dataclass(frozen=True, kw_only=True)
class ColorSignals:
    """What a dashboard needs to know about one colour."""

    target_group: elbv2.ApplicationTargetGroup
    auto_scaling_group_name: str


def _asg_metric(namespace: str, name: str, asg_name: str, *, statistic: str, label: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=namespace,
        metric_name=name,
        dimensions_map={"AutoScalingGroupName": asg_name},
        statistic=statistic,
        label=label,
        period=Duration.minutes(1),
    )


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
            per_color("Requests", lambda c, s: [s.target_group.metrics.request_count(label=c, statistic="Sum")]),
            per_color(
                "Target 5xx",
                lambda c, s: [
                    s.target_group.metrics.http_code_target(
                        elbv2.HttpCodeTarget.TARGET_5XX_COUNT, label=c, statistic="Sum"
                    )
                ],
            ),
            per_color(
                "Latency p50 / p95 / p99 (s)",
                lambda c, s: [
                    s.target_group.metrics.target_response_time(statistic=p, label=f"{c} {p}")
                    for p in ("p50", "p95", "p99")
                ],
            ),
        )
        self.dashboard.add_widgets(
            per_color(
                "Healthy / unhealthy hosts",
                lambda c, s: [
                    s.target_group.metrics.healthy_host_count(label=f"{c} healthy", statistic="Minimum"),
                    s.target_group.metrics.unhealthy_host_count(label=f"{c} unhealthy", statistic="Maximum"),
                ],
            ),
            per_color(
                "CPU %",
                lambda c, s: [
                    _asg_metric("AWS/EC2", "CPUUtilization", s.auto_scaling_group_name, statistic="Average", label=c)
                ],
            ),
            per_color(
                "Memory % (CloudWatch agent)",
                lambda c, s: [
                    _asg_metric("CWAgent", "mem_used_percent", s.auto_scaling_group_name, statistic="Average", label=c)
                ],
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


class CostDashboard(Construct):
    """Exposes `dashboard`: the inputs of `mcpstack cost` as they happen (fleet size, requests, billing total)."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        stage: str,
        colors: dict[contract.Color, ColorSignals],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=contract.cost_dashboard_name(stage), default_interval=Duration.days(7)
        )
        self.dashboard.add_widgets(
            cloudwatch.TextWidget(
                markdown=(
                    f"## mcpstack {stage}: cost inputs\n"
                    "Every resource carries the `Project`, `Stage` and `Color` tags (activate them as cost-allocation "
                    "tags). `mcpstack cost` prices the synthesized stacks from measured throughput; the billing total "
                    "below exists only in us-east-1 and is a month-to-date figure for the whole account."
                ),
                width=24,
                height=3,
            )
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="In-service instances",
                left=[
                    _asg_metric(
                        "AWS/AutoScaling",
                        "GroupInServiceInstances",
                        sig.auto_scaling_group_name,
                        statistic="Average",
                        label=color,
                    )
                    for color, sig in colors.items()
                ],
                width=_WIDTH,
                height=_HEIGHT,
            ),
            cloudwatch.GraphWidget(
                title="Requests per hour",
                left=[
                    sig.target_group.metrics.request_count(label=color, statistic="Sum", period=Duration.hours(1))
                    for color, sig in colors.items()
                ],
                width=_WIDTH,
                height=_HEIGHT,
            ),
            cloudwatch.SingleValueWidget(
                title="Estimated charges, month to date (USD)",
                metrics=[
                    cloudwatch.Metric(
                        namespace="AWS/Billing",
                        metric_name="EstimatedCharges",
                        dimensions_map={"Currency": "USD"},
                        statistic="Maximum",
                        period=Duration.hours(6),
                        region="us-east-1",
                    )
                ],
                width=_WIDTH,
                height=_HEIGHT,
            ),
        )
