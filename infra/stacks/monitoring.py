"""McpStack-<stage>-Monitoring: cutover gate alarms, the SNS topic, operations and cost dashboards."""

from __future__ import annotations

from typing import Any

from aws_cdk import Fn
from aws_cdk import aws_rds as rds
from constructs import Construct

from infra import contract
from infra.components.alarms import CutoverAlarms
from infra.components.cost_dashboard import CostDashboard
from infra.components.dashboards import ColorSignals, OperationsDashboard
from infra.components.load_balancer import LoadBalancer
from infra.components.published import publish_list_parameter, publish_output, publish_parameter
from infra.config import StageConfig
from infra.stacks.base import McpStackBase


class MonitoringStack(McpStackBase):
    def __init__(
        self,
        scope: Construct,
        *,
        config: StageConfig,
        edge: LoadBalancer,
        auto_scaling_group_names: dict[contract.Color, str],
        database: rds.IDatabaseInstance,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope, config=config, unit="Monitoring", description="mcpstack alarms and dashboards", **kwargs
        )
        stage = config.name
        colors = {
            color: ColorSignals(
                target_group_full_name=edge.target_groups[color].target_group_full_name,
                load_balancer_full_name=edge.load_balancer.load_balancer_full_name,
                auto_scaling_group_name=auto_scaling_group_names[color],
            )
            for color in contract.COLORS
        }
        self.alarms = CutoverAlarms(self, "CutoverAlarms", stage=stage, config=config.monitoring, colors=colors)
        self.operations = OperationsDashboard(
            self,
            "Operations",
            stage=stage,
            colors=colors,
            database=database,
            alarms=[*self.alarms.alarms.values(), *self.alarms.mcp_error_rate.values()],
        )
        self.cost = CostDashboard(
            self,
            "Cost",
            config=config,
            auto_scaling_group_names=auto_scaling_group_names,
            target_group_full_names={c: edge.target_groups[c].target_group_full_name for c in contract.COLORS},
            load_balancer_full_name=edge.load_balancer.load_balancer_full_name,
        )

        # Refs, in the contract's order, so the published list cannot name an alarm that was not created.
        names = [self.alarms.alarms[(color, gate)].alarm_name for color in contract.COLORS for gate in contract.GATES]
        publish_output(self, contract.OUTPUT_GATE_ALARM_NAMES, Fn.join(",", names), "Cutover gate alarm names")
        publish_list_parameter(self, contract.gate_alarm_names_parameter(stage), names, "Cutover gate alarm names")
        topic_arn = self.alarms.topic.topic_arn
        publish_output(self, contract.OUTPUT_ALARM_TOPIC_ARN, topic_arn, "SNS topic the alarms notify")
        publish_parameter(self, contract.alarm_topic_arn_parameter(stage), topic_arn, "SNS topic the alarms notify")
