"""Cutover gate alarms with stable names (from `infra.contract`) and the SNS topic they notify.

The topic is encrypted with a customer-managed KMS key whose policy lets CloudWatch use it, and its policy lets
CloudWatch alarms of this account publish: with the AWS-managed `alias/aws/sns` key (which CloudWatch cannot use) or
a topic policy holding only a Deny, no alarm notification would ever be delivered.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra import contract
from infra.components.mcp_signals import McpSignals
from infra.components.signals import ColorSignals
from infra.config import MonitoringConfig

CLOUDWATCH = "cloudwatch.amazonaws.com"


def alarm_arn_pattern(stage: str) -> str:
    """Every alarm of this stage (their names start with the stack prefix and stage, `infra.contract`)."""
    return f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:{contract.STACK_PREFIX}-{stage}-*"


class CutoverAlarms(Construct):
    """Exposes `topic`, `topic_key`, `alarms` keyed by (colour, gate), and `mcp_error_rate` keyed by colour."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        stage: str,
        config: MonitoringConfig,
        colors: dict[contract.Color, ColorSignals],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.topic_key = self._topic_key(stage)
        self.topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"mcpstack {stage} alarms",
            master_key=self.topic_key,
            enforce_ssl=True,
        )
        # Besides the Deny of non-TLS publishing (enforce_ssl): CloudWatch publishes for this account's alarms of
        # this stage only, so no other account's alarm can use the topic (confused deputy).
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal(CLOUDWATCH)],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {"aws:SourceArn": alarm_arn_pattern(stage)},
                },
            )
        )
        for address in config.alarm_emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(address))
        period = Duration.seconds(config.period_s)
        self.alarms: dict[tuple[contract.Color, str], cloudwatch.Alarm] = {}
        for color, signals in colors.items():
            error_rate = cloudwatch.MathExpression(
                expression="IF(requests > 0, 100 * errors / requests, 0)",
                using_metrics={
                    "errors": signals.target_5xx(period=period),
                    "requests": signals.requests(period=period),
                },
                label=f"{color} 5xx %",
                period=period,
            )
            self._alarm(
                stage,
                color,
                "5xx-rate",
                error_rate,
                threshold=config.max_5xx_rate_pct,
                config=config,
                description=f"{color}: target 5xx responses above {config.max_5xx_rate_pct} % of requests",
            )
            self._alarm(
                stage,
                color,
                "p95-latency",
                signals.response_time("p95", period=period),
                threshold=config.max_p95_latency_s,
                config=config,
                description=f"{color}: p95 target response time above {config.max_p95_latency_s} s",
            )
            self._alarm(
                stage,
                color,
                "unhealthy-hosts",
                signals.unhealthy_hosts(period=period),
                threshold=0,
                config=config,
                description=f"{color}: at least one registered target failing its /health check",
            )
        # The MCP-level gate: an ALB counts a failed tool call as a 200, the servers' own metrics do not.
        self.mcp_error_rate: dict[contract.Color, cloudwatch.Alarm] = {}
        for color in colors:
            alarm = cloudwatch.Alarm(
                self,
                f"{color.capitalize()}McpErrorRate",
                alarm_name=contract.mcp_error_rate_alarm_name(stage, color),
                alarm_description=(
                    f"{color}: MCP tool calls failing (isError, JSON-RPC error, timeout) above "
                    f"{config.max_mcp_error_rate_pct} % of tool calls"
                ),
                metric=McpSignals(stage=stage, color=color).error_rate_pct(period=period),
                threshold=config.max_mcp_error_rate_pct,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=config.evaluation_periods,
                datapoints_to_alarm=config.evaluation_periods,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
            alarm.add_ok_action(cw_actions.SnsAction(self.topic))
            self.mcp_error_rate[color] = alarm

    def _topic_key(self, stage: str) -> kms.Key:
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description=f"mcpstack {stage}: encrypts the alarm topic; CloudWatch may use it to publish alarms",
            enable_key_rotation=True,
            # The key only protects notifications in flight: nothing encrypted with it outlives the stage.
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        # In a key policy "*" is this key. CloudWatch encrypts the message it publishes to the topic, so it needs
        # a data key and Decrypt; only for this account's alarms of this stage.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsUseKey",
                principals=[iam.ServicePrincipal(CLOUDWATCH)],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {"aws:SourceArn": alarm_arn_pattern(stage)},
                },
            )
        )
        return key

    def _alarm(
        self,
        stage: str,
        color: contract.Color,
        gate: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        config: MonitoringConfig,
        description: str,
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            f"{color.capitalize()}{gate.title().replace('-', '')}",
            alarm_name=contract.gate_alarm_name(stage, color, gate),
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=config.evaluation_periods,
            datapoints_to_alarm=config.evaluation_periods,
            # No traffic on a colour (green before the cutover) is not a failure; the cutover treats missing data as
            # Inconclusive on its own.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
        alarm.add_ok_action(cw_actions.SnsAction(self.topic))
        self.alarms[(color, gate)] = alarm
