"""McpStack-<stage>-FleetBlue / -FleetGreen: one release slot's Auto Scaling group behind its target group."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra import contract
from infra.components.database import Database
from infra.components.fleet import Fleet
from infra.components.load_balancer import LoadBalancer
from infra.components.published import publish_output, publish_parameter
from infra.config import StageConfig
from infra.stacks.base import McpStackBase


class FleetStack(McpStackBase):
    def __init__(
        self,
        scope: Construct,
        *,
        config: StageConfig,
        color: contract.Color,
        release_dir: Path,
        vpc: ec2.IVpc,
        edge: LoadBalancer,
        database: Database,
        request_state_secret: secretsmanager.ISecret,
        **kwargs: Any,
    ) -> None:
        slot = config.fleet(color)
        super().__init__(
            scope,
            config=config,
            unit=contract.fleet_unit(color),
            color=color,
            description=f"mcpstack {color} slot ({slot.server} server)",
            **kwargs,
        )
        self.color = color
        target_group = edge.target_groups[color]
        self.fleet = Fleet(
            self,
            "Fleet",
            stage=config.name,
            color=color,
            config=slot,
            release_dir=release_dir,
            ami_id=config.ami_id(color),
            vpc=vpc,
            target_group=target_group,
            target_group_full_name=target_group.target_group_full_name,
            load_balancer=edge.load_balancer,
            database_clients=database.clients,
            database_secrets=database.secrets,
            auth=config.auth,
            drain_s=config.edge.deregistration_delay_s,
            database_proxy=config.database.rds_proxy,
            request_state_secret=request_state_secret,
            stateful=config.stateful,
        )
        asg_name = self.fleet.auto_scaling_group.auto_scaling_group_name
        description = f"{color} Auto Scaling group name"
        publish_output(self, contract.OUTPUT_ASG_NAME, asg_name, description)
        publish_parameter(self, contract.asg_name_parameter(config.name, color), asg_name, description)
