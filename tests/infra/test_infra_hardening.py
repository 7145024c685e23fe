"""The stack's last hardening, asserted on the synthesized templates of every committed stage: the instances verify
the database's certificate (the pinned RDS CA bundle shipped by cfn-init, `--db-ca-bundle`); the database roles are
made by a custom resource (a Lambda in the VPC with a vendored driver) and the instances never read the master's
secret.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra import contract
from infra.components.db_roles_resource import RESOURCE_TYPE, RUNTIME, build_asset
from infra.components.nag import WILDCARD_RESOURCE_REASONS
from infra.rds_ca import BUNDLE_FILE_NAME, BUNDLE_SHA256, INSTANCE_BUNDLE_PATH
from infra.synth import STAGE_NAMES, SynthesizedStage

Stages = dict[str, SynthesizedStage]


def asg(template: Template) -> dict[str, Any]:
    found = template.find_resources("AWS::AutoScaling::AutoScalingGroup")
    assert len(found) == 1
    return dict(next(iter(found.values())))


def init(template: Template) -> dict[str, Any]:
    metadata: dict[str, Any] = asg(template)["Metadata"]["AWS::CloudFormation::Init"]
    return metadata


def bootstrap_command(template: Template) -> str:
    """The bootstrap's command line with each CloudFormation token shown as its JSON."""
    parts = init(template)["bootstrap"]["commands"]["10-bootstrap"]["command"]["Fn::Join"][1]
    return "".join(p if isinstance(p, str) else json.dumps(p, sort_keys=True) for p in parts)


@pytest.mark.parametrize("stage", STAGE_NAMES)
@pytest.mark.parametrize("color", contract.COLORS)
def test_instances_get_the_pinned_rds_ca_bundle_and_verify_the_database_against_it(
    synthesized: Stages, stage: str, color: contract.Color
) -> None:
    synth = synthesized[stage]
    template = synth.templates[contract.fleet_unit(color)]
    files = init(template)["app"]["files"]
    bundle = files[INSTANCE_BUNDLE_PATH]
    assert bundle["mode"] == "000444"
    # The file cfn-init fetches is the asset staged from the pinned bundle (its key is the content hash).
    source = json.dumps(bundle["source"])
    staged = [p for p in Path(synth.app.outdir).glob("asset.*.pem") if p.stem.removeprefix("asset.") in source]
    assert len(staged) == 1
    assert hashlib.sha256(staged[0].read_bytes()).hexdigest() == BUNDLE_SHA256
    assert synth.config.database.rds_proxy is False
    assert f"--db-ca-bundle={INSTANCE_BUNDLE_PATH}" in bootstrap_command(template)


def only(template: Template, resource_type: str) -> tuple[str, dict[str, Any]]:
    found = template.find_resources(resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {len(found)}"
    ((logical_id, resource),) = found.items()
    return logical_id, dict(resource)


def master_attachment(data: Template) -> str:
    """The logical id of the master secret's attachment (the secret generated for the configured master user)."""
    secrets = data.find_resources("AWS::SecretsManager::Secret")
    (master,) = [
        logical_id
        for logical_id, secret in secrets.items()
        if json.loads(secret["Properties"]["GenerateSecretString"]["SecretStringTemplate"]).get("username")
        == "mcpstack"
    ]
    attachments = data.find_resources("AWS::SecretsManager::SecretTargetAttachment")
    (attachment,) = [lid for lid, a in attachments.items() if a["Properties"]["SecretId"] == {"Ref": master}]
    return attachment


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_a_custom_resource_creates_the_roles_from_the_three_secrets(synthesized: Stages, stage: str) -> None:
    data = synthesized[stage].templates["Data"]
    _, resource = only(data, RESOURCE_TYPE)
    properties = resource["Properties"]
    attachments = data.find_resources("AWS::SecretsManager::SecretTargetAttachment")
    named = {properties[key]["Ref"] for key in ("MasterSecretArn", "MigratorSecretArn", "AppSecretArn")}
    assert named == set(attachments) and properties["MasterSecretArn"] == {"Ref": master_attachment(data)}
    function_id, _ = only(data, "AWS::Lambda::Function")
    assert properties["ServiceToken"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert len(properties["StatementsSha256"]) == 64


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_roles_lambda_runs_in_the_vpc_as_a_database_client_with_a_retained_log_group(
    synthesized: Stages, stage: str
) -> None:
    data = synthesized[stage].templates["Data"]
    _, function = only(data, "AWS::Lambda::Function")
    props = function["Properties"]
    assert props["Runtime"] == RUNTIME.name
    groups = [g["Fn::GetAtt"][0] for g in props["VpcConfig"]["SecurityGroupIds"]]
    clients = [
        lid
        for lid, sg in data.find_resources("AWS::EC2::SecurityGroup").items()
        if "database clients" in sg["Properties"]["GroupDescription"]
    ]
    assert len(clients) == 1 and clients[0] in groups
    # The "app" subnets (private with egress: Secrets Manager and the response URL through the NAT).
    subnets = [subnet["Fn::ImportValue"] for subnet in props["VpcConfig"]["SubnetIds"]]
    assert len(subnets) == 2 and all(":ExportsOutputRefNetworkVpcappSubnet" in name for name in subnets)
    log_group_id = props["LoggingConfig"]["LogGroup"]["Ref"]
    log_group = data.to_json()["Resources"][log_group_id]
    assert log_group["Properties"]["RetentionInDays"] == synthesized[stage].config.database.log_retention_days
    assert log_group["DeletionPolicy"] == "Delete"


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_roles_lambda_may_read_the_three_secrets_and_write_its_own_log_only(synthesized: Stages, stage: str) -> None:
    data = synthesized[stage].templates["Data"]
    _, function = only(data, "AWS::Lambda::Function")
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = [
        statement
        for policy in data.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    by_sid = {s["Sid"]: s for s in statements}
    assert set(by_sid) == {"OwnLogGroup", "DatabaseSecrets", "LambdaVpcNetworkInterfaces"}
    assert by_sid["DatabaseSecrets"]["Action"] == "secretsmanager:GetSecretValue"
    secrets = {r["Ref"] for r in by_sid["DatabaseSecrets"]["Resource"]}
    assert secrets == set(data.find_resources("AWS::SecretsManager::SecretTargetAttachment"))
    assert by_sid["OwnLogGroup"]["Resource"] == {
        "Fn::GetAtt": [function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"], "Arn"]
    }
    assert by_sid["LambdaVpcNetworkInterfaces"]["Resource"] == "*"
    assert "LambdaVpcNetworkInterfaces" in WILDCARD_RESOURCE_REASONS
    role = data.to_json()["Resources"][role_id]["Properties"]
    assert "ManagedPolicyArns" not in role


@pytest.mark.parametrize("stage", STAGE_NAMES)
@pytest.mark.parametrize("color", contract.COLORS)
def test_instances_never_read_the_master_secret(synthesized: Stages, stage: str, color: contract.Color) -> None:
    data = synthesized[stage].templates["Data"]
    attachment = master_attachment(data)
    exports = [
        output["Export"]["Name"]
        for output in data.to_json()["Outputs"].values()
        if output["Value"] == {"Ref": attachment} and "Export" in output
    ]
    fleet = json.dumps(synthesized[stage].templates[contract.fleet_unit(color)].to_json())
    assert "secretsmanager:GetSecretValue" in fleet  # it does read the roles' secrets
    for name in exports:
        assert name not in fleet


def test_lambda_asset_holds_the_handler_the_pinned_bundle_and_the_driver(tmp_path: Path) -> None:
    asset = build_asset(tmp_path)
    assert hashlib.sha256((asset / BUNDLE_FILE_NAME).read_bytes()).hexdigest() == BUNDLE_SHA256
    for module in ("infra/lambdas/db_roles_handler.py", "infra/bootstrap/db_roles.py", "pg8000/native.py"):
        assert (asset / module).is_file(), module
    assert not list(asset.rglob("__pycache__"))
