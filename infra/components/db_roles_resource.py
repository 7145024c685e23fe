"""The database roles, created once per stage by a custom resource: a Lambda in the VPC connects as the RDS master
(TLS verified against the pinned RDS CA bundle) and runs `infra/bootstrap/db_roles.py`'s statements, so the instances
never read the master's secret (they migrate as the migrator and serve as the app role).

The Lambda's asset is built at synth from this repository and this venv only, never downloaded: the handler
(`infra/lambdas/db_roles_handler.py`) and the package files it imports, the pinned CA bundle, and pg8000 with its
pure-Python dependencies, copied from their installed distributions (pinned in pyproject.toml and requirements.lock).
The resource re-runs when the statements or the handler change (their hash is a property) and on any change of the
secrets it names; every run is idempotent.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import shutil
import tempfile
from pathlib import Path
from typing import Any

from aws_cdk import CustomResource, Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.components.database import DatabaseSecrets
from infra.components.nag import WILDCARD_RESOURCE_REASONS, acknowledge, skip_checkov
from infra.components.retention import log_retention
from infra.rds_ca import BUNDLE_FILE_NAME, bundle_path

INFRA = Path(__file__).resolve().parents[1]
# The repository files the handler imports, as paths inside the asset (the same package layout as here).
HANDLER_FILES = (
    "infra/__init__.py",
    "infra/bootstrap/__init__.py",
    "infra/bootstrap/db_roles.py",
    "infra/lambdas/__init__.py",
    "infra/lambdas/db_roles_handler.py",
)
# pg8000 and what it imports, all pure Python (the Lambda runtime brings boto3).
DRIVER_DISTRIBUTIONS = ("pg8000", "scramp", "asn1crypto", "python-dateutil", "six")
HANDLER = "infra.lambdas.db_roles_handler.handler"
RUNTIME = lambda_.Runtime.PYTHON_3_14
TIMEOUT_S = 120
RESOURCE_TYPE = "Custom::DatabaseRoles"


def statements_digest() -> str:
    """Changes when the statements or the handler do, so CloudFormation runs the resource again."""
    digest = hashlib.sha256()
    for relative in HANDLER_FILES:
        digest.update((INFRA.parent / relative).read_bytes())
    return digest.hexdigest()


def asset_dir() -> Path:
    """The built asset, shared by every synth of this tree and venv (named by what goes into it), built once."""
    digest = hashlib.sha256(statements_digest().encode())
    digest.update(Path(__file__).read_bytes())  # how the asset is built
    digest.update(bundle_path().read_bytes())
    for name in DRIVER_DISTRIBUTIONS:
        digest.update(f"{name}=={importlib.metadata.version(name)}".encode())
    final = Path(tempfile.gettempdir()) / f"mcpstack-db-roles-{digest.hexdigest()[:16]}"
    if not final.is_dir():
        staging = Path(tempfile.mkdtemp(prefix=f"{final.name}.", dir=final.parent))
        build_asset(staging)
        try:
            staging.rename(final)
        except OSError:  # another synth built it meanwhile: the same content
            shutil.rmtree(staging, ignore_errors=True)
    return final


def build_asset(dest: Path) -> Path:
    """The Lambda's code directory: the handler's files, the CA bundle, and the driver's installed files."""
    for relative in HANDLER_FILES:
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(INFRA.parent / relative, target)
    shutil.copyfile(bundle_path(), dest / BUNDLE_FILE_NAME)
    for name in DRIVER_DISTRIBUTIONS:
        distribution = importlib.metadata.distribution(name)
        for file in distribution.files or ():
            if "__pycache__" in file.parts or file.suffix == ".pyc" or file.parts[0].startswith(".."):
                continue
            source = Path(str(distribution.locate_file(file)))
            target = dest / Path(*file.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    return dest


class DatabaseRoles(Construct):
    """Exposes `function`, `log_group`, `role`, `resource`."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        vpc: ec2.IVpc,
        secrets: DatabaseSecrets,
        database_clients: ec2.ISecurityGroup,
        log_retention_days: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=log_retention(log_retention_days),
            # Only this resource's runs (one line each); nothing to keep once the stack is gone.
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="mcpstack database-roles custom resource",
        )
        self.policy = iam.Policy(
            self,
            "Policy",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    sid="OwnLogGroup",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.log_group.log_group_arn],
                ),
                iam.PolicyStatement(
                    sid="DatabaseSecrets",
                    actions=["secretsmanager:GetSecretValue"],
                    resources=[secret.secret_arn for secret in secrets.all],
                ),
                iam.PolicyStatement(
                    sid="LambdaVpcNetworkInterfaces",
                    actions=[
                        "ec2:CreateNetworkInterface",
                        "ec2:DescribeNetworkInterfaces",
                        "ec2:DeleteNetworkInterface",
                        "ec2:AssignPrivateIpAddresses",
                        "ec2:UnassignPrivateIpAddresses",
                    ],
                    resources=["*"],
                ),
            ],
        )
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="mcpstack database-roles Lambda: Secrets Manager and CloudFormation over HTTPS",
            allow_all_outbound=False,
        )
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "Secrets Manager and the CloudFormation response URL"
        )
        code_dir = asset_dir()
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(code_dir)),
            timeout=Duration.seconds(TIMEOUT_S),
            memory_size=256,
            # The policy above is the whole of its rights; no construct may add to it.
            role=self.role.without_policy_updates(),
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            # The clients group admits it on PostgreSQL; its own group lets it reach the AWS APIs.
            security_groups=[self.security_group, database_clients],
            log_group=self.log_group,
            description="Creates the mcpstack migrator and app roles as the RDS master (one-time, idempotent)",
        )
        self.function.node.add_dependency(self.policy)
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=self.function.function_arn,
            resource_type=RESOURCE_TYPE,
            properties={
                "MasterSecretArn": secrets.master.secret_arn,
                "MigratorSecretArn": secrets.migrator.secret_arn,
                "AppSecretArn": secrets.app.secret_arn,
                "StatementsSha256": statements_digest(),
            },
        )
        self._acknowledge_findings()

    def _acknowledge_findings(self) -> None:
        reason = f"LambdaVpcNetworkInterfaces: {WILDCARD_RESOURCE_REASONS['LambdaVpcNetworkInterfaces']}"
        acknowledge(self.policy, "AwsSolutions-IAM5[Resource::*]", reason)
        skip_checkov(self.policy, "CKV_AWS_111", reason)
        skip_checkov(
            self.function,
            "CKV_AWS_116",
            "A custom resource handler: CloudFormation invokes it with each event and the handler reports every "
            "outcome, failures included, to the stack itself (the stack shows the reason); if even that report "
            "cannot be sent, Lambda's retries run the idempotent handler again. No one would read a dead-letter "
            "queue: the stack's events are where a failed run is seen.",
        )
        skip_checkov(
            self.function,
            "CKV_AWS_115",
            "Invoked by CloudFormation only, when the resource is created, updated or deleted; reserving "
            "concurrency would take capacity from the account's pool for nothing.",
        )
