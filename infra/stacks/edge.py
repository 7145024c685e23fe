"""McpStack-<stage>-Edge: the ALB with the weighted blue/green listener, in production behind an AWS WAF web ACL;
publishes what the cutover drives."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from infra import contract
from infra.components.load_balancer import LoadBalancer
from infra.components.published import publish_output, publish_parameter
from infra.components.smoke_token import SmokeToken
from infra.components.waf import WebAcl
from infra.config import StageConfig
from infra.live_weights import LiveWeights
from infra.stacks.base import McpStackBase


class EdgeStack(McpStackBase):
    def __init__(
        self, scope: Construct, *, config: StageConfig, vpc: ec2.IVpc, weights: LiveWeights, **kwargs: Any
    ) -> None:
        super().__init__(
            scope, config=config, unit="Edge", description="mcpstack ALB and blue/green target groups", **kwargs
        )
        self.smoke_token = SmokeToken(self, "SmokeToken", stage=config.name)
        self.edge = LoadBalancer(
            self,
            "LoadBalancer",
            vpc=vpc,
            config=config.edge,
            weights=weights,
            smoke_token=self.smoke_token.value,
            stateful=config.stateful,
        )
        self.waf: WebAcl | None = None
        if config.edge.exposure == "production":
            self.waf = WebAcl(
                self,
                "Waf",
                stage=config.name,
                load_balancer=self.edge.load_balancer,
                requests_per_ip_per_5min=config.edge.waf_requests_per_ip_per_5min,
                log_retention_days=config.edge.waf_log_retention_days,
            )
        stage = config.name
        alb = self.edge.load_balancer
        published: list[tuple[str, str, str, str]] = [
            (
                contract.OUTPUT_LISTENER_ARN,
                contract.listener_arn_parameter(stage),
                self.edge.listener.listener_arn,
                "Listener whose default action is the weighted blue/green forward",
            ),
            (
                contract.OUTPUT_SMOKE_RULE_ARN,
                contract.smoke_rule_arn_parameter(stage),
                self.edge.smoke_rule.listener_rule_arn,
                f"Rule sending requests with {contract.SMOKE_HEADER_NAME}: {contract.SMOKE_HEADER_VALUE} to green",
            ),
            (
                contract.OUTPUT_LOAD_BALANCER_ARN,
                contract.load_balancer_arn_parameter(stage),
                alb.load_balancer_arn,
                "Application Load Balancer ARN",
            ),
            (
                contract.OUTPUT_LOAD_BALANCER_FULL_NAME,
                contract.load_balancer_full_name_parameter(stage),
                alb.load_balancer_full_name,
                "LoadBalancer dimension of AWS/ApplicationELB metrics",
            ),
            (
                contract.OUTPUT_LOAD_BALANCER_DNS,
                contract.load_balancer_dns_parameter(stage),
                alb.load_balancer_dns_name,
                "Public DNS name of the ALB",
            ),
        ]
        published.append(
            (
                contract.slot_smoke_rule_arn_output("blue"),
                contract.slot_smoke_rule_arn_parameter(stage, "blue"),
                self.edge.smoke_rules["blue"].listener_rule_arn,
                f"Rule sending requests with {contract.SMOKE_HEADER_NAME}: blue to blue",
            )
        )
        for color in contract.COLORS:
            group = self.edge.target_groups[color]
            published.append(
                (
                    contract.target_group_arn_output(color),
                    contract.target_group_arn_parameter(stage, color),
                    group.target_group_arn,
                    f"{color} target group ARN",
                )
            )
            published.append(
                (
                    contract.target_group_full_name_output(color),
                    contract.target_group_full_name_parameter(stage, color),
                    group.target_group_full_name,
                    f"TargetGroup dimension of the {color} target group's metrics",
                )
            )
        for key, parameter, value, description in published:
            publish_output(self, key, value, description)
            publish_parameter(self, parameter, value, description)
