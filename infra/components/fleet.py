"""One release slot's fleet: an Auto Scaling group whose instances install the slot's release and start its server.

The instances' asset is the slot's release artifact (built by `mcpstack release build`), never the working tree, and
the image is a pinned AMI: a deploy that changes one slot's release leaves the other slot's launch template and user
data byte-identical, and a commit that changes nothing released changes neither. The boot path is CloudFormation
Init: OS packages, the release unpacked, then the release's own `bootstrap.py` (install from the wheelhouse with
hashes, migrate, start, wait for /health) and only then the success signal, so a broken install fails the deploy.

The instance role holds only what the instances do, each statement written here (`instance_statements`): Session
Manager's channels, the CloudWatch agent's metrics (one namespace) and logs (this slot's two log groups), the slot's
own release object and the RDS CA bundle, cfn-init's reads and signal on this stack, the database roles' secrets
(never the master's: the roles exist before any instance boots). Statements whose resource is
`*` carry their reason in `WILDCARD_RESOURCE_REASONS`; no grant from a construct can widen the role (the ASG and
cfn-init see it through `without_policy_updates`). With the stage's `auth`, the servers' bearer-token checks are
switched on through the MCP_AUTH_* environment, in a systemd drop-in next to the unit the bootstrap writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Annotations, Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra import contract
from infra.bootstrap.bootstrap import BOOTSTRAP_NAME
from infra.components.database import DatabaseSecrets
from infra.components.nag import WILDCARD_RESOURCE_REASONS, acknowledge, skip_checkov
from infra.components.retention import log_retention
from infra.config import AuthConfig, FleetConfig
from infra.rds_ca import INSTANCE_BUNDLE_PATH, SYSTEM_TRUST_STORE, bundle_path

INSTALL_PREFIX = "/opt/mcpstack"
APP_DIR = f"{INSTALL_PREFIX}/release"
PYTHON = "python3.11"

# The CloudWatch agent's own namespace (memory and disk per instance, `infra/bootstrap/bootstrap.py`); the MCP
# metrics arrive as Embedded Metric Format logs, which CloudWatch Logs turns into metrics without PutMetricData.
AGENT_METRICS_NAMESPACE = "CWAgent"


def systemd_unit_name(color: contract.Color) -> str:
    """The unit the release's bootstrap writes for a slot's server (`mcpstack-<colour>.service`)."""
    return f"mcpstack-{color}.service"


def auth_environment(auth: AuthConfig) -> dict[str, str]:
    """The servers' bearer-token settings (`services/auth.py` reads these names); scopes space-separated."""
    return {
        "MCP_AUTH_ISSUER": auth.issuer,
        "MCP_AUTH_AUDIENCE": auth.audience,
        "MCP_AUTH_JWKS_URL": auth.jwks_url,
        "MCP_AUTH_REQUIRED_SCOPES": " ".join(auth.required_scopes),
        "MCP_AUTH_RESOURCE_URL": auth.resource_url,
    }


def auth_dropin(auth: AuthConfig) -> str:
    """A systemd drop-in adding the auth environment to the server's unit (`%` and quotes escaped for systemd)."""

    def quoted(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")

    lines = [f'Environment="{key}={quoted(value)}"' for key, value in auth_environment(auth).items()]
    return "\n".join(["[Service]", *lines, ""])


class Fleet(Construct):
    """Exposes `auto_scaling_group`, `role` (and its `policy`), `security_group`, `log_group`, `metrics_log_group`,
    `release_asset`, `scaling_policy`."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        stage: str,
        color: contract.Color,
        config: FleetConfig,
        release_dir: Path,
        ami_id: str,
        vpc: ec2.IVpc,
        target_group: elbv2.IApplicationTargetGroup,
        target_group_full_name: str,
        load_balancer: elbv2.ApplicationLoadBalancer,
        database_clients: ec2.ISecurityGroup,
        database_secrets: DatabaseSecrets,
        auth: AuthConfig | None = None,
        drain_s: int = 30,
        database_proxy: bool = False,
        request_state_secret: secretsmanager.ISecret | None = None,
        stateful: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.log_group = self._log_group(stage, color, config)
        # Created here (with a retention) rather than by the agent on first use.
        self.metrics_log_group = logs.LogGroup(
            self,
            "McpMetrics",
            log_group_name=contract.mcp_metrics_log_group_name(stage, color),
            retention=log_retention(config.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.security_group = self._security_group(vpc, color)
        # The slot's release artifact, content-addressed: only a different release gives this slot a new asset.
        self.release_asset = s3_assets.Asset(self, "Release", path=str(release_dir))
        # The RDS CA bundle (pinned, infra/rds_ca.py) the servers verify the database's certificate against; RDS
        # Proxy's certificate comes from Amazon Trust Services instead, which the OS trust store holds.
        self.rds_ca_asset = s3_assets.Asset(self, "RdsCaBundle", path=str(bundle_path()))
        self.database_ca = SYSTEM_TRUST_STORE if database_proxy else INSTANCE_BUNDLE_PATH
        self.role = self._instance_role(stage, color, database_secrets, request_state_secret)
        init = self._boot_sequence(
            stage=stage,
            color=color,
            config=config,
            database_secrets=database_secrets,
            request_state_secret=request_state_secret,
            stateful=stateful,
            auth=auth,
            drain_s=drain_s,
        )
        self.auto_scaling_group = self._auto_scaling_group(vpc, config, ami_id, init)
        self._attach(target_group, load_balancer, database_clients)
        self.scaling_policy = self._scale_on_requests(config, load_balancer, target_group_full_name)
        self._acknowledge_findings()

    def _log_group(self, stage: str, color: contract.Color, config: FleetConfig) -> logs.LogGroup:
        return logs.LogGroup(
            self,
            "AppLogs",
            log_group_name=contract.app_log_group_name(stage, color),
            retention=log_retention(config.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )

    def _instance_role(
        self,
        stage: str,
        color: contract.Color,
        database_secrets: DatabaseSecrets,
        request_state_secret: secretsmanager.ISecret | None,
    ) -> iam.Role:
        role = iam.Role(
            self,
            "InstanceRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description=f"mcpstack {stage} {color} instances",
        )
        self.policy = iam.Policy(self, "InstancePolicy", roles=[role], statements=self.instance_statements())
        # The roles' secrets only: a custom resource in the Data stack created the roles as the master
        # (infra/components/db_roles_resource.py), so the instances never read the master's secret.
        # And the stage's request-state keys (MCP_REQUEST_STATE_KEYS), the one secret both slots share.
        for secret in (database_secrets.migrator, database_secrets.app, request_state_secret):
            if secret is not None:
                secret.grant_read(role)
        return role

    def instance_statements(self) -> list[iam.PolicyStatement]:
        """Everything the instances call AWS for, besides reading the database secret (granted by the secret)."""
        log_groups = [self.log_group.log_group_arn, self.metrics_log_group.log_group_arn]
        return [
            iam.PolicyStatement(
                sid="SessionManagerChannels",
                actions=[
                    "ssm:UpdateInstanceInformation",
                    "ssmmessages:CreateControlChannel",
                    "ssmmessages:CreateDataChannel",
                    "ssmmessages:OpenControlChannel",
                    "ssmmessages:OpenDataChannel",
                ],
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="SsmAgentMessages",
                actions=[
                    "ec2messages:AcknowledgeMessage",
                    "ec2messages:DeleteMessage",
                    "ec2messages:FailMessage",
                    "ec2messages:GetEndpoint",
                    "ec2messages:GetMessages",
                    "ec2messages:SendReply",
                ],
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="CloudWatchAgentMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": AGENT_METRICS_NAMESPACE}},
            ),
            iam.PolicyStatement(sid="CloudWatchAgentTags", actions=["ec2:DescribeTags"], resources=["*"]),
            # This slot's log groups only (the ARNs end in ":*", which covers their streams).
            iam.PolicyStatement(
                sid="SlotLogGroups",
                actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=log_groups,
            ),
            # The slot's release artifact and the RDS CA bundle, nothing else of the CDK asset bucket.
            iam.PolicyStatement(
                sid="ReleaseArtifact",
                actions=["s3:GetObject"],
                resources=[
                    asset.bucket.arn_for_objects(asset.s3_object_key)
                    for asset in (self.release_asset, self.rds_ca_asset)
                ],
            ),
            # cfn-init reads this stack's metadata; cfn-signal reports the boot.
            iam.PolicyStatement(
                sid="CloudFormationInit",
                actions=["cloudformation:DescribeStackResource", "cloudformation:SignalResource"],
                resources=[Aws.STACK_ID],
            ),
        ]

    def _security_group(self, vpc: ec2.IVpc, color: contract.Color) -> ec2.SecurityGroup:
        return ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description=f"mcpstack {color} instances: server port from the ALB only",
            # Instances reach the OS package repositories and AWS APIs through the NAT gateway (never PyPI: they
            # install from the release), the release in S3 through the gateway endpoint, and PostgreSQL.
            allow_all_outbound=True,
        )

    def _boot_sequence(
        self,
        *,
        stage: str,
        color: contract.Color,
        config: FleetConfig,
        database_secrets: DatabaseSecrets,
        request_state_secret: secretsmanager.ISecret | None,
        stateful: bool,
        auth: AuthConfig | None,
        drain_s: int,
    ) -> ec2.CloudFormationInit:
        """CloudFormation Init: OS packages, the release unpacked, then its bootstrap (install, migrate, start)."""
        # A weak reference: the fleet reads the database host from SSM at deploy time instead of importing it, so
        # the Data stack can switch between the instance and the RDS Proxy without breaking an export in use.
        database_host = ssm.StringParameter.value_for_string_parameter(
            self, contract.database_endpoint_parameter(stage)
        )
        bootstrap_args = [
            PYTHON,
            f"{APP_DIR}/{BOOTSTRAP_NAME}",
            f"--stage={stage}",
            f"--color={color}",
            f"--server={config.server}",
            f"--release={config.release}",
            f"--release-dir={APP_DIR}",
            f"--prefix={INSTALL_PREFIX}",
            f"--python={PYTHON}",
            f"--port={contract.SERVER_PORT}",
            f"--region={Stack.of(self).region}",
            f"--migrator-secret-id={database_secrets.migrator.secret_arn}",
            f"--app-secret-id={database_secrets.app.secret_arn}",
            f"--db-host={database_host}",
            f"--db-ca-bundle={self.database_ca}",
            f"--log-group={self.log_group.log_group_name}",
            f"--metrics-log-group={self.metrics_log_group.log_group_name}",
            f"--drain-s={drain_s}",
            # MCP_SLOT=<colour> is always set by the bootstrap (format 4); these two only when the stage asks.
            *([f"--request-state-secret-id={request_state_secret.secret_arn}"] if request_state_secret else []),
            *(["--stateful"] if stateful else []),
        ]
        return ec2.CloudFormationInit.from_config_sets(
            config_sets={"default": ["packages", "app", "bootstrap"]},
            configs={
                "packages": ec2.InitConfig(
                    [
                        ec2.InitPackage.yum(PYTHON),
                        ec2.InitPackage.yum(f"{PYTHON}-pip"),
                        ec2.InitPackage.yum("amazon-cloudwatch-agent"),
                    ]
                ),
                "app": ec2.InitConfig(
                    [
                        ec2.InitSource.from_existing_asset(APP_DIR, self.release_asset),
                        ec2.InitFile.from_existing_asset(INSTANCE_BUNDLE_PATH, self.rds_ca_asset, mode="000444"),
                        *(
                            [
                                ec2.InitFile.from_string(
                                    f"/etc/systemd/system/{systemd_unit_name(color)}.d/auth.conf",
                                    auth_dropin(auth),
                                    mode="000644",
                                )
                            ]
                            if auth is not None
                            else []
                        ),
                    ]
                ),
                "bootstrap": ec2.InitConfig(
                    [ec2.InitCommand.shell_command(" ".join(bootstrap_args), cwd=APP_DIR, key="10-bootstrap")]
                ),
            },
        )

    def _auto_scaling_group(
        self, vpc: ec2.IVpc, config: FleetConfig, ami_id: str, init: ec2.CloudFormationInit
    ) -> autoscaling.AutoScalingGroup:
        return autoscaling.AutoScalingGroup(
            self,
            "Asg",
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            instance_type=ec2.InstanceType(config.instance_type),
            # Pinned, never looked up: a new image is a release of one slot, not a side effect of any deploy.
            machine_image=ec2.MachineImage.generic_linux({Stack.of(self).region: ami_id}),
            # The ASG and cfn-init would add grants of their own (every CDK asset, cfn-init's reads); the role's
            # policy above already holds exactly what the instances need, scoped to this slot.
            role=self.role.without_policy_updates(),
            security_group=self.security_group,
            require_imdsv2=True,
            block_devices=[
                autoscaling.BlockDevice(
                    device_name="/dev/xvda",
                    volume=autoscaling.BlockDeviceVolume.ebs(
                        config.root_volume_gib,
                        encrypted=True,
                        volume_type=autoscaling.EbsDeviceVolumeType.GP3,
                        delete_on_termination=True,
                    ),
                )
            ],
            min_capacity=config.min_capacity,
            max_capacity=config.max_capacity,
            init=init,
            init_options=autoscaling.ApplyCloudFormationInitOptions(config_sets=["default"], print_log=True),
            signals=autoscaling.Signals.wait_for_min_capacity(timeout=Duration.minutes(config.signal_timeout_min)),
            update_policy=autoscaling.UpdatePolicy.rolling_update(
                max_batch_size=1,
                min_instances_in_service=config.min_capacity,
                pause_time=Duration.minutes(config.signal_timeout_min),
            ),
            health_checks=autoscaling.HealthChecks.with_additional_checks(
                additional_types=[autoscaling.AdditionalHealthCheckType.ELB],
                grace_period=Duration.seconds(config.health_check_grace_s),
            ),
            group_metrics=[autoscaling.GroupMetrics.all()],
            default_instance_warmup=Duration.minutes(3),
        )

    def _attach(
        self,
        target_group: elbv2.IApplicationTargetGroup,
        load_balancer: elbv2.ApplicationLoadBalancer,
        database_clients: ec2.ISecurityGroup,
    ) -> None:
        """Registers the group in its target group, opens the server port to the ALB, joins the database clients."""
        asg = self.auto_scaling_group
        # The target group lives in the Edge stack. Attaching through the L2 would add rules to the ALB's security
        # group from that stack and make a dependency cycle, so the ARN is set here and the port is opened below.
        cfn_asg = asg.node.default_child
        if not isinstance(cfn_asg, autoscaling.CfnAutoScalingGroup):
            raise TypeError("expected the ASG's default child to be a CfnAutoScalingGroup")
        cfn_asg.target_group_arns = [target_group.target_group_arn]
        # On the instances' own group only: the group's connections would also open the port on the database
        # clients group, which lives in the Data stack.
        self.security_group.connections.allow_from(
            load_balancer, ec2.Port.tcp(contract.SERVER_PORT), "ALB to the server port"
        )
        # The Data stack admits this group on the database (and on the proxy when there is one); joining it keeps
        # the fleet's only database import the same whatever the Data stack's options are.
        asg.add_security_group(database_clients)

    def _scale_on_requests(
        self, config: FleetConfig, load_balancer: elbv2.ApplicationLoadBalancer, target_group_full_name: str
    ) -> autoscaling.TargetTrackingScalingPolicy:
        return autoscaling.TargetTrackingScalingPolicy(
            self,
            "RequestsPerTarget",
            auto_scaling_group=self.auto_scaling_group,
            predefined_metric=autoscaling.PredefinedMetric.ALB_REQUEST_COUNT_PER_TARGET,
            resource_label=f"{load_balancer.load_balancer_full_name}/{target_group_full_name}",
            target_value=config.requests_per_target_per_min,
        )

    def _acknowledge_findings(self) -> None:
        wildcard_sids = [s.sid for s in self.instance_statements() if s.sid and "*" in s.resources]
        reasons = " ".join(f"{sid}: {WILDCARD_RESOURCE_REASONS[sid]}" for sid in wildcard_sids)
        acknowledge(self.policy, "AwsSolutions-IAM5[Resource::*]", reasons)
        skip_checkov(self.policy, "CKV_AWS_111", reasons)
        Annotations.of(self.security_group).acknowledge_warning(
            "@aws-cdk/aws-ec2:ipv4IgnoreEgressRule",
            "All outbound traffic is allowed (OS packages and AWS APIs at boot), which covers the PostgreSQL port.",
        )
        acknowledge(
            self.auto_scaling_group,
            "AwsSolutions-AS3",
            "Scaling events are read from the ASG activity history and the operations dashboard; the SNS topic "
            "lives in the Monitoring stack, which depends on this one.",
        )
