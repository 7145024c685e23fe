"""McpStack-<stage>-Data: RDS PostgreSQL (and its secret, optionally a proxy)."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from infra import contract
from infra.components.database import Database
from infra.components.published import publish_output, publish_parameter
from infra.config import StageConfig
from infra.stacks.base import McpStackBase


class DataStack(McpStackBase):
    def __init__(self, scope: Construct, *, config: StageConfig, vpc: ec2.IVpc, **kwargs: Any) -> None:
        super().__init__(scope, config=config, unit="Data", description="mcpstack RDS PostgreSQL", **kwargs)
        self.database = Database(
            self, "Database", vpc=vpc, config=config.database, identifier=f"{contract.PROJECT}-{config.name}"
        )
        publish_output(
            self,
            contract.OUTPUT_DATABASE_SECRET_ARN,
            self.database.secret.secret_arn,
            "Secrets Manager secret with host, port, username, password and dbname",
        )
        publish_output(
            self, contract.OUTPUT_DATABASE_ENDPOINT, self.database.endpoint, "Endpoint the fleets connect to"
        )
        # The fleets read this at deploy time (a weak reference), so switching the proxy on or off breaks no import.
        publish_parameter(
            self,
            contract.database_endpoint_parameter(config.name),
            self.database.endpoint,
            "Host the fleets connect to (RDS Proxy when on, else the instance)",
        )
