"""What the dashboards and alarms read about one slot, as metric dimensions (plain strings, not constructs).

Built from names rather than from the target group construct: a metric taken from `ApplicationTargetGroup.metrics`
makes the Monitoring stack import the listener the group is attached to, and that import breaks the Edge stack's
update when a listener changes (HTTPS on). The dimensions themselves never change with a configuration toggle.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch

ALB_NAMESPACE = "AWS/ApplicationELB"
_ONE_MINUTE = Duration.minutes(1)


@dataclass(frozen=True, kw_only=True)
class ColorSignals:
    """One slot: its target group's and load balancer's metric dimensions and its Auto Scaling group name."""

    target_group_full_name: str
    load_balancer_full_name: str
    auto_scaling_group_name: str

    def alb_metric(
        self, name: str, *, statistic: str, label: str | None = None, period: Duration = _ONE_MINUTE
    ) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=ALB_NAMESPACE,
            metric_name=name,
            dimensions_map={"TargetGroup": self.target_group_full_name, "LoadBalancer": self.load_balancer_full_name},
            statistic=statistic,
            label=label,
            period=period,
        )

    def requests(self, *, label: str | None = None, period: Duration = _ONE_MINUTE) -> cloudwatch.Metric:
        return self.alb_metric("RequestCount", statistic="Sum", label=label, period=period)

    def target_5xx(self, *, label: str | None = None, period: Duration = _ONE_MINUTE) -> cloudwatch.Metric:
        return self.alb_metric("HTTPCode_Target_5XX_Count", statistic="Sum", label=label, period=period)

    def response_time(
        self, percentile: str, *, label: str | None = None, period: Duration = _ONE_MINUTE
    ) -> cloudwatch.Metric:
        return self.alb_metric("TargetResponseTime", statistic=percentile, label=label, period=period)

    def healthy_hosts(self, *, label: str | None = None, period: Duration = _ONE_MINUTE) -> cloudwatch.Metric:
        return self.alb_metric("HealthyHostCount", statistic="Minimum", label=label, period=period)

    def unhealthy_hosts(self, *, label: str | None = None, period: Duration = _ONE_MINUTE) -> cloudwatch.Metric:
        return self.alb_metric("UnHealthyHostCount", statistic="Maximum", label=label, period=period)

    def asg_metric(self, namespace: str, name: str, *, statistic: str, label: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=namespace,
            metric_name=name,
            dimensions_map={"AutoScalingGroupName": self.auto_scaling_group_name},
            statistic=statistic,
            label=label,
            period=_ONE_MINUTE,
        )
