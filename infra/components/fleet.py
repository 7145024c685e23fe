"""One colour's fleet: an Auto Scaling group whose instances install the repo from a CDK asset and start one server.

The boot path is CloudFormation Init: packages, the repo as an asset, then `infra/bootstrap/bootstrap.py`, with
signals, so a broken install fails the deploy instead of leaving unhealthy instances behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Annotations, DefaultStackSynthesizer, Duration, RemovalPolicy, Stack
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra import contract
from infra.components.nag import acknowledge
from infra.components.retention import log_retention
from infra.config import FleetConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_PREFIX = "/opt/mcpstack"
APP_DIR = f"{INSTALL_PREFIX}/app"
PYTHON = "python3.11"
# Everything in the repo except local state, caches and tool installs.
ASSET_EXCLUDE = [
    ".git",
    ".venv",
    ".venv-*",
    "node_modules",
    "cdk.out",
    "cdk.out.*",
    ".state",
    "**/__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "*.egg-info",
]


class Fleet(Construct):
    """Exposes `auto_scaling_group`, `role`, `security_group`, `log_group`, `app_asset`, `scaling_policy`."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        stage: str,
        color: contract.Color,
        config: FleetConfig,
        vpc: ec2.IVpc,
        target_group: elbv2.IApplicationTargetGroup,
        target_group_full_name: str,
        load_balancer: elbv2.ApplicationLoadBalancer,
        database: ec2.IConnectable,
        database_port: int,
        database_secret: secretsmanager.ISecret,
        database_host: str | None = None,
        drain_s: int = 30,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.log_group = self._log_group(stage, color, config)
        self.role = self._instance_role(stage, color, database_secret)
        self.security_group = self._security_group(vpc, color)
        # The repo itself is the application: cfn-init unpacks it on the instance and the bootstrap installs it.
        self.app_asset = s3_assets.Asset(self, "App", path=str(REPO_ROOT), exclude=ASSET_EXCLUDE)
        init = self._boot_sequence(
            stage=stage,
            color=color,
            database_secret=database_secret,
            database_host=database_host,
            drain_s=drain_s,
        )
        self.auto_scaling_group = self._auto_scaling_group(vpc, config, init)
        self._attach(target_group, load_balancer, database, database_port)
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

    def _instance_role(self, stage: str, color: contract.Color, database_secret: secretsmanager.ISecret) -> iam.Role:
        role = iam.Role(
            self,
            "InstanceRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description=f"mcpstack {stage} {color} instances",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("CloudWatchAgentServerPolicy")],
        )
        database_secret.grant_read(role)
        return role

    def _security_group(self, vpc: ec2.IVpc, color: contract.Color) -> ec2.SecurityGroup:
        return ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description=f"mcpstack {color} instances: server port from the ALB only",
            # Instances reach PyPI (install at boot) and AWS APIs through the NAT gateway.
            allow_all_outbound=True,
        )

    def _boot_sequence(
        self,
        *,
        stage: str,
        color: contract.Color,
        database_secret: secretsmanager.ISecret,
        database_host: str | None,
        drain_s: int,
    ) -> ec2.CloudFormationInit:
        """CloudFormation Init: OS packages, the application asset, then the bootstrap (install, migrate, start)."""
        bootstrap_args = [
            PYTHON,
            "-m",
            "infra.bootstrap.bootstrap",
            f"--stage={stage}",
            f"--color={color}",
            f"--prefix={INSTALL_PREFIX}",
            f"--repo={APP_DIR}",
            f"--python={PYTHON}",
            f"--port={contract.SERVER_PORT}",
            f"--region={Stack.of(self).region}",
            f"--secret-id={database_secret.secret_arn}",
            f"--log-group={self.log_group.log_group_name}",
            f"--drain-s={drain_s}",
        ]
        if database_host is not None:
            bootstrap_args.append(f"--db-host={database_host}")
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
                "app": ec2.InitConfig([ec2.InitSource.from_existing_asset(APP_DIR, self.app_asset)]),
                "bootstrap": ec2.InitConfig(
                    [ec2.InitCommand.shell_command(" ".join(bootstrap_args), cwd=APP_DIR, key="10-bootstrap")]
                ),
            },
        )

    def _auto_scaling_group(
        self, vpc: ec2.IVpc, config: FleetConfig, init: ec2.CloudFormationInit
    ) -> autoscaling.AutoScalingGroup:
        return autoscaling.AutoScalingGroup(
            self,
            "Asg",
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            instance_type=ec2.InstanceType(config.instance_type),
            machine_image=ec2.MachineImage.latest_amazon_linux2023(),
            role=self.role,
            security_group=self.security_group,
            require_imdsv2=True,
            ssm_session_permissions=True,
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
                grace_period=Duration.minutes(config.signal_timeout_min),
            ),
            group_metrics=[autoscaling.GroupMetrics.all()],
            default_instance_warmup=Duration.minutes(3),
        )

    def _attach(
        self,
        target_group: elbv2.IApplicationTargetGroup,
        load_balancer: elbv2.ApplicationLoadBalancer,
        database: ec2.IConnectable,
        database_port: int,
    ) -> None:
        """Registers the group in its target group and opens the server port to the ALB and the database to us."""
        asg = self.auto_scaling_group
        # The target group lives in the Edge stack. Attaching through the L2 would add rules to the ALB's security
        # group from that stack and make a dependency cycle, so the ARN is set here and the port is opened below.
        cfn_asg = asg.node.default_child
        if not isinstance(cfn_asg, autoscaling.CfnAutoScalingGroup):
            raise TypeError("expected the ASG's default child to be a CfnAutoScalingGroup")
        cfn_asg.target_group_arns = [target_group.target_group_arn]
        asg.connections.allow_from(load_balancer, ec2.Port.tcp(contract.SERVER_PORT), "ALB to the server port")
        asg.connections.allow_to(database, ec2.Port.tcp(database_port), "fleet to PostgreSQL")

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
        acknowledge(
            self.role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/CloudWatchAgentServerPolicy]",
            "The AWS-maintained CloudWatch agent policy is the documented minimum for shipping memory metrics and "
            "server logs; a copy would drift from the agent's needs.",
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]",
            "Session Manager replaces SSH; AmazonSSMManagedInstanceCore is the AWS-maintained policy it requires.",
        )
        asset_bucket = (
            f"cdk-{DefaultStackSynthesizer.DEFAULT_QUALIFIER}-assets-<AWS::AccountId>-{Stack.of(self).region}"
        )
        for finding in ("Action::s3:GetBucket*", "Action::s3:GetObject*", "Action::s3:List*"):
            acknowledge(
                self.role,
                f"AwsSolutions-IAM5[{finding}]",
                "Read-only access generated by grant_read on the CDK asset holding the application, so cfn-init can "
                "download it; limited to the bootstrap asset bucket.",
            )
        acknowledge(
            self.role,
            f"AwsSolutions-IAM5[Resource::arn:aws:s3:::{asset_bucket}/*]",
            "Objects of the CDK bootstrap asset bucket: the asset key is content-hashed, so the grant covers the "
            "bucket.",
        )
        Annotations.of(self.security_group).acknowledge_warning(
            "@aws-cdk/aws-ec2:ipv4IgnoreEgressRule",
            "All outbound traffic is allowed (PyPI and AWS APIs at boot), which already covers the PostgreSQL port.",
        )
        acknowledge(
            self.auto_scaling_group,
            "AwsSolutions-AS3",
            "Scaling events are read from the ASG activity history and the operations dashboard; the SNS topic "
            "lives in the Monitoring stack, which depends on this one.",
        )
