"""The CloudWatch cost dashboard: estimated cost per slot from the running instance counts and the price table
(metric math), requests and cost per million calls, and the account's EstimatedCharges (us-east-1 only).

Prices come from the same embedded table `mcpstack cost` uses (`scripts/cost/prices.py`), so the dashboard and the
report agree; the figures are estimates of on-demand list prices, not the bill. Built from metric names (plain
strings), so no construct of another stack is referenced.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from infra import contract
from infra.config import StageConfig
from scripts.cost.prices import EMBEDDED, HOURS_PER_MONTH, PriceTable

_HOUR: Final = Duration.hours(1)
_WIDTH: Final = 8
_HEIGHT: Final = 6
BILLING_REGION: Final = "us-east-1"


def instance_hourly_usd(config: StageConfig, color: contract.Color, table: PriceTable = EMBEDDED) -> Decimal:
    """One instance of the slot for an hour: its instance-hour plus its root volume's GB-month spread over 730 h."""
    fleet = config.fleet(color)
    volume = table["ebs.gp3"].usd * fleet.root_volume_gib / HOURS_PER_MONTH
    return table[f"ec2.{fleet.instance_type}"].usd + volume


def shared_hourly_usd(config: StageConfig, table: PriceTable = EMBEDDED) -> Decimal:
    """The resources both slots share, per hour: ALB and its public IPv4s, NAT gateways and their Elastic IPs, the
    database instance and its storage. Usage-driven lines (LCUs, logs, data) are left to `mcpstack cost report`."""
    ipv4 = table["vpc.public-ipv4"].usd
    db = config.database
    deployment = "multi-az" if db.multi_az else "single-az"
    db_class = db.instance_class if db.instance_class.startswith("db.") else f"db.{db.instance_class}"
    storage = table[f"rds.storage.{deployment}"].usd * db.allocated_storage_gib / HOURS_PER_MONTH
    return (
        table["elb.alb.hour"].usd
        + ipv4 * config.network.max_azs
        + (table["vpc.nat.hour"].usd + ipv4) * config.network.nat_gateways
        + table[f"rds.{db_class}.{deployment}"].usd
        + storage
    )


def _number(value: Decimal) -> str:
    return f"{value.normalize():f}"


class CostDashboard(Construct):
    """Exposes `dashboard`."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: StageConfig,
        auto_scaling_group_names: dict[contract.Color, str],
        target_group_full_names: dict[contract.Color, str],
        load_balancer_full_name: str,
        table: PriceTable = EMBEDDED,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        stage = config.name
        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=contract.cost_dashboard_name(stage), default_interval=Duration.days(7)
        )
        instances = {
            color: cloudwatch.Metric(
                namespace="AWS/AutoScaling",
                metric_name="GroupInServiceInstances",
                dimensions_map={"AutoScalingGroupName": auto_scaling_group_names[color]},
                statistic="Average",
                period=_HOUR,
                label=f"{color} instances",
            )
            for color in contract.COLORS
        }
        requests = {
            color: cloudwatch.Metric(
                namespace="AWS/ApplicationELB",
                metric_name="RequestCount",
                dimensions_map={
                    "TargetGroup": target_group_full_names[color],
                    "LoadBalancer": load_balancer_full_name,
                },
                statistic="Sum",
                period=_HOUR,
                label=f"{color} requests per hour",
            )
            for color in contract.COLORS
        }
        hourly = {color: _number(instance_hourly_usd(config, color, table)) for color in contract.COLORS}
        shared = _number(shared_hourly_usd(config, table))
        using = {f"i{c[0]}": instances[c] for c in contract.COLORS} | {f"r{c[0]}": requests[c] for c in contract.COLORS}

        def expression(text: str, label: str) -> cloudwatch.MathExpression:
            return cloudwatch.MathExpression(expression=text, using_metrics=using, label=label, period=_HOUR)

        slot_hourly = {c: f"i{c[0]} * {hourly[c]}" for c in contract.COLORS}
        total_hourly = f"{' + '.join(slot_hourly.values())} + {shared}"
        all_requests = " + ".join(f"r{c[0]}" for c in contract.COLORS)
        prices_as_of = table.oldest.isoformat()
        self.dashboard.add_widgets(
            cloudwatch.TextWidget(
                markdown=(
                    f"## mcpstack {stage}: estimated cost\n"
                    f"On-demand list prices, us-east-1, embedded as of {prices_as_of} (the table `mcpstack cost "
                    f"prices` shows). Per slot: in-service instances x {hourly['blue']} (blue) / {hourly['green']} "
                    f"(green) USD per instance-hour, root volume included; shared: {shared} USD per hour (ALB and its "
                    "public IPv4s, NAT gateways and their Elastic IPs, the database and its storage). LCUs, logs and "
                    "data are usage lines: `mcpstack cost report` prices them for a workload. EstimatedCharges is "
                    "the whole account's month-to-date bill and exists only in us-east-1."
                ),
                width=24,
                height=3,
            )
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Estimated cost per hour (USD)",
                left=[
                    *(expression(slot_hourly[c], f"{c} fleet") for c in contract.COLORS),
                    expression(total_hourly, "total (both fleets and shared)"),
                ],
                width=_WIDTH,
                height=_HEIGHT,
            ),
            cloudwatch.SingleValueWidget(
                title="Estimated monthly cost at the current size (USD, 730 h)",
                metrics=[
                    *(expression(f"({slot_hourly[c]}) * 730", f"{c} fleet") for c in contract.COLORS),
                    expression(f"({total_hourly}) * 730", "total"),
                ],
                width=_WIDTH,
                height=_HEIGHT,
            ),
            cloudwatch.GraphWidget(
                title="In-service instances",
                left=list(instances.values()),
                width=_WIDTH,
                height=_HEIGHT,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Requests per hour",
                left=list(requests.values()),
                width=_WIDTH,
                height=_HEIGHT,
            ),
            cloudwatch.GraphWidget(
                title="Estimated cost per million calls (USD, hourly)",
                left=[expression(f"IF(({all_requests}) > 0, ({total_hourly}) / ({all_requests}) * 1000000)", "all")],
                width=_WIDTH,
                height=_HEIGHT,
            ),
            cloudwatch.SingleValueWidget(
                title="EstimatedCharges, month to date (USD, us-east-1 only)",
                metrics=[
                    cloudwatch.Metric(
                        namespace="AWS/Billing",
                        metric_name="EstimatedCharges",
                        dimensions_map={"Currency": "USD"},
                        statistic="Maximum",
                        period=Duration.hours(6),
                        region=BILLING_REGION,
                    )
                ],
                width=_WIDTH,
                height=_HEIGHT,
            ),
        )
