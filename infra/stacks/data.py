"""McpStack-<stage>-Data: RDS PostgreSQL (and its secret, optionally a proxy)."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from infra import contract
from infra.components.database import Database
from infra.components.db_roles_resource import DatabaseRoles
from infra.components.published import publish_output, publish_parameter
from infra.components.request_state_keys import RequestStateKeys
from infra.config import StageConfig
from infra.stacks.base import McpStackBase


class DataStack(McpStackBase):
    def __init__(self, scope: Construct, *, config: StageConfig, vpc: ec2.IVpc, **kwargs: Any) -> None:
        super().__init__(scope, config=config, unit="Data", description="mcpstack RDS PostgreSQL", **kwargs)
        self.database = Database(
            self, "Database", vpc=vpc, config=config.database, identifier=f"{contract.PROJECT}-{config.name}"
        )
        # The migrator and app roles, made once by a custom resource as the master: no instance reads its secret.
        self.roles = DatabaseRoles(
            self,
            "DatabaseRoles",
            vpc=vpc,
            secrets=self.database.secrets,
            database_clients=self.database.clients,
            log_retention_days=config.database.log_retention_days,
        )
        # MCP_REQUEST_STATE_KEYS, one secret for both slots (beside the database's: both fleets read from here).
        self.request_state_keys = RequestStateKeys(self, "RequestStateKeys", stage=config.name)
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
