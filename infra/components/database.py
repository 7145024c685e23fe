"""RDS PostgreSQL: full version from the supported list, minor upgrades on, encrypted, generated secret, isolated
subnets, snapshot on removal, the PostgreSQL log exported to a log group the stack owns (retention, deleted with it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.components.nag import acknowledge
from infra.components.retention import log_retention
from infra.config import DatabaseConfig


@dataclass(frozen=True, kw_only=True)
class DatabaseSecrets:
    """The master's secret (it only creates the roles) and the two roles' (the instances migrate and serve as them)."""

    master: secretsmanager.ISecret
    migrator: secretsmanager.ISecret
    app: secretsmanager.ISecret

    @property
    def all(self) -> tuple[secretsmanager.ISecret, ...]:
        return (self.master, self.migrator, self.app)


class Database(Construct):
    """Exposes `instance`, `secret` (the master user's), `migrator_secret` and `app_secret` (the roles the instances
    migrate and serve as: infra/bootstrap/db_roles.py), all three as `secrets`, `log_group`, `proxy` (or None),
    `endpoint` that clients should use, and `clients`: the security group a client joins to be admitted (on the
    instance, and on the proxy when there is one)."""

    PORT = 5432
    MIGRATOR_USERNAME = "mcpstack_migrator"
    APP_USERNAME = "mcpstack_app"

    def __init__(
        self, scope: Construct, id_: str, *, vpc: ec2.IVpc, config: DatabaseConfig, identifier: str, **kwargs: Any
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        # RDS writes the export to /aws/rds/instance/<identifier>/postgresql and creates that group itself, without a
        # retention and outside the stack, unless it exists first: hence a fixed identifier and this group, created
        # before the instance. Deleted with the stack: the exported lines are operational logs, not records.
        self.log_group = logs.LogGroup(
            self,
            "PostgresLog",
            log_group_name=f"/aws/rds/instance/{identifier}/postgresql",
            retention=log_retention(config.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.instance = rds.DatabaseInstance(
            self,
            "Instance",
            instance_identifier=identifier,
            engine=rds.DatabaseInstanceEngine.postgres(
                version=rds.PostgresEngineVersion.of(config.postgres_full_version, config.postgres_major_version)
            ),
            instance_type=ec2.InstanceType(config.instance_class),
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            port=self.PORT,
            database_name=config.database_name,
            credentials=rds.Credentials.from_generated_secret(config.username),
            storage_encrypted=True,
            storage_type=rds.StorageType.GP3,
            allocated_storage=config.allocated_storage_gib,
            max_allocated_storage=config.max_allocated_storage_gib,
            multi_az=config.multi_az,
            deletion_protection=config.deletion_protection,
            publicly_accessible=False,
            backup_retention=Duration.days(config.backup_retention_days),
            removal_policy=RemovalPolicy.SNAPSHOT,
            cloudwatch_logs_exports=["postgresql"],
            # Minor versions carry security and data-corruption fixes and RDS retires old ones (an instance left on a
            # retired minor is upgraded anyway, at a time RDS picks): apply them in the maintenance window.
            auto_minor_version_upgrade=True,
            copy_tags_to_snapshot=True,
        )
        self.instance.node.add_dependency(self.log_group)
        secret = self.instance.secret
        if secret is None:  # from_generated_secret always makes one; keeps the type narrow for callers
            raise RuntimeError("RDS instance was created without a generated secret")
        self.secret: secretsmanager.ISecret = secret
        # The master password goes with the stack; the final snapshot keeps the data, and a restore sets a new one.
        secret.apply_removal_policy(RemovalPolicy.DESTROY)
        # One secret per role, in the RDS secret's shape (username, password, and once attached host, port, dbname):
        # the master only creates these roles, the migrator owns the schema, the servers connect as the app.
        self.migrator_secret = self._role_secret("MigratorSecret", self.MIGRATOR_USERNAME, config)
        self.app_secret = self._role_secret("AppSecret", self.APP_USERNAME, config)
        self.secrets = DatabaseSecrets(master=secret, migrator=self.migrator_secret, app=self.app_secret)

        acknowledge(
            self.instance,
            "AwsSolutions-RDS11",
            "The default PostgreSQL port is kept: the instance sits in isolated subnets reachable only from the "
            "fleets' security groups, so a non-standard port adds no protection.",
        )
        acknowledge(
            self.instance,
            "AwsSolutions-SMG4",
            "Rotation needs a rotation Lambda with network access to the database; the servers read the secret "
            "only at boot, so rotation needs a rolling restart of both fleets (see docs/deploy.md).",
        )
        if not config.multi_az:
            acknowledge(
                self.instance,
                "AwsSolutions-RDS3",
                "This stage is configured single-AZ to save cost; the burstable stage runs Multi-AZ.",
            )
        if not config.deletion_protection:
            acknowledge(
                self.instance,
                "AwsSolutions-RDS10",
                "This stage is disposable and torn down with cdk destroy; removal still takes a final snapshot.",
            )

        # Clients join this group instead of being named on the database's own group: the group (and the one export
        # the fleets import) stays the same when the proxy is turned on or off.
        self.clients = ec2.SecurityGroup(
            self,
            "Clients",
            vpc=vpc,
            description="mcpstack database clients: members reach PostgreSQL (instance or proxy)",
            allow_all_outbound=False,
        )
        self.instance.connections.allow_default_port_from(self.clients, "database clients to PostgreSQL")

        self.proxy: rds.DatabaseProxy | None = None
        if config.rds_proxy:
            self.proxy = self.instance.add_proxy(
                "Proxy",
                # The proxy admits only the users whose secrets it holds: the master (role creation) and both roles.
                secrets=[self.secret, self.migrator_secret, self.app_secret],
                vpc=vpc,
                vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
                require_tls=True,
            )
            self.proxy.connections.allow_from(self.clients, ec2.Port.tcp(self.PORT), "database clients to the proxy")
        self.endpoint: str = (
            self.proxy.endpoint if self.proxy is not None else self.instance.db_instance_endpoint_address
        )

    def _role_secret(self, id_: str, username: str, config: DatabaseConfig) -> secretsmanager.ISecret:
        secret = rds.DatabaseSecret(self, id_, username=username, dbname=config.database_name)
        secret.apply_removal_policy(RemovalPolicy.DESTROY)
        acknowledge(
            secret,
            "AwsSolutions-SMG4",
            "Rotation needs a rotation Lambda with network access to the database; the roles' passwords are set by "
            "the instances' bootstrap at boot, so a rotation is a rolling restart of both fleets.",
        )
        return secret.attach(self.instance)
