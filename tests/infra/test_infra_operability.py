"""Operability on the synthesized templates of every stage: a retention and a stated removal policy on every log
group (the RDS export's included) and on every stateful resource, minor upgrades on the database, the slots' T3
credit option written out."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match

from infra import contract
from infra.components.database import Database
from infra.synth import STAGE_NAMES, SynthesizedStage

Stages = dict[str, SynthesizedStage]

# Resources that hold data or history: each must say what happens to it when the stack goes.
STATEFUL_TYPES = (
    "AWS::RDS::DBInstance",
    "AWS::Logs::LogGroup",
    "AWS::SecretsManager::Secret",
    "AWS::S3::Bucket",
    "AWS::KMS::Key",
)


def resources(stage: SynthesizedStage, resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        f"{unit}/{logical_id}": resource
        for unit, template in stage.templates.items()
        for logical_id, resource in template.find_resources(resource_type).items()
    }


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_every_log_group_has_a_retention_and_is_deleted_with_its_stack(synthesized: Stages, stage: str) -> None:
    groups = resources(synthesized[stage], "AWS::Logs::LogGroup")
    assert len(groups) >= 6  # flow logs, the RDS export, and per slot the server log and the MCP metrics
    without_retention = [name for name, group in groups.items() if "RetentionInDays" not in group["Properties"]]
    assert without_retention == []
    assert {name: group.get("DeletionPolicy") for name, group in groups.items()} == dict.fromkeys(groups, "Delete")


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_every_stateful_resource_states_its_removal_policy(synthesized: Stages, stage: str) -> None:
    unstated = [
        name
        for resource_type in STATEFUL_TYPES
        for name, resource in resources(synthesized[stage], resource_type).items()
        if "DeletionPolicy" not in resource or "UpdateReplacePolicy" not in resource
    ]
    assert unstated == []


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_rds_log_export_lands_in_a_group_the_stack_creates_first(synthesized: Stages, stage: str) -> None:
    config = synthesized[stage].config.database
    template = synthesized[stage].templates["Data"]
    identifier = f"{contract.PROJECT}-{stage}"
    groups = template.find_resources(
        "AWS::Logs::LogGroup",
        {
            "Properties": {
                "LogGroupName": f"/aws/rds/instance/{identifier}/postgresql",
                "RetentionInDays": config.log_retention_days,
            },
            "DeletionPolicy": "Delete",
        },
    )
    assert len(groups) == 1
    (group_id,) = groups
    instances = template.find_resources(
        "AWS::RDS::DBInstance",
        {
            "Properties": Match.object_like(
                {"DBInstanceIdentifier": identifier, "EnableCloudwatchLogsExports": ["postgresql"]}
            ),
            "DependsOn": Match.array_with([group_id]),
        },
    )
    assert len(instances) == 1


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_database_takes_minor_upgrades(synthesized: Stages, stage: str) -> None:
    synthesized[stage].templates["Data"].has_resource_properties(
        "AWS::RDS::DBInstance", {"AutoMinorVersionUpgrade": True}
    )


@pytest.mark.parametrize("stage", STAGE_NAMES)
@pytest.mark.parametrize("color", contract.COLORS)
def test_slot_launch_template_states_its_cpu_credit_option(
    synthesized: Stages, stage: str, color: contract.Color
) -> None:
    fleet = synthesized[stage].config.fleet(color)
    template = synthesized[stage].templates[contract.fleet_unit(color)]
    expected = {"CpuCredits": fleet.cpu_credits} if fleet.burstable else Match.absent()
    template.has_resource_properties(
        "AWS::EC2::LaunchTemplate",
        {"LaunchTemplateData": Match.object_like({"CreditSpecification": expected})},
    )


def test_stages_choose_standard_credits_by_default_and_unlimited_where_priced(synthesized: Stages) -> None:
    chosen = {
        (name, color): synthesized[name].config.fleet(color).cpu_credits
        for name in ("dev", "burstable")
        for color in contract.COLORS
    }
    assert chosen == {
        ("dev", "blue"): "standard",
        ("dev", "green"): "standard",
        ("burstable", "blue"): "unlimited",
        ("burstable", "green"): "unlimited",
    }
    assert not synthesized["bench"].config.blue.burstable


def test_database_has_a_secret_per_role_attached_to_the_instance(synthesized: Stages) -> None:
    template = synthesized["dev"].templates["Data"]
    users = []
    for resource in template.find_resources("AWS::SecretsManager::Secret").values():
        generate = resource["Properties"]["GenerateSecretString"]
        if resource["Properties"].get("Name") == contract.request_state_secret_name("dev"):
            continue  # the request-state keys, beside the database's (tests/infra/test_infra_security.py)
        users.append(json.loads(generate["SecretStringTemplate"])["username"])
        assert generate["GenerateStringKey"] == "password"
        assert resource["DeletionPolicy"] == "Delete"
    assert sorted(users) == sorted(["mcpstack", Database.MIGRATOR_USERNAME, Database.APP_USERNAME])
    attachments = template.find_resources(
        "AWS::SecretsManager::SecretTargetAttachment", {"Properties": {"TargetType": "AWS::RDS::DBInstance"}}
    )
    assert len(attachments) == 3  # host, port and engine added to each secret once the instance exists


@pytest.mark.parametrize("color", contract.COLORS)
def test_slot_boots_with_both_role_secrets_and_never_the_masters(synthesized: Stages, color: contract.Color) -> None:
    template = synthesized["dev"].templates[contract.fleet_unit(color)]
    (asg,) = template.find_resources("AWS::AutoScaling::AutoScalingGroup").values()
    command = asg["Metadata"]["AWS::CloudFormation::Init"]["bootstrap"]["commands"]["10-bootstrap"]["command"]
    parts = command["Fn::Join"][1]
    text = json.dumps(parts)
    for flag in ("--migrator-secret-id=", "--app-secret-id="):
        assert text.count(flag) == 1, flag
    # The roles exist before any instance boots (a custom resource in the Data stack): no master secret here.
    assert "--secret-id=" not in text
    # Each flag is followed by a secret the Data stack exports (imported here), and the instance role reads both.
    imports = [p["Fn::ImportValue"] for p in parts if isinstance(p, dict) and "Fn::ImportValue" in p]
    policies = json.dumps(template.find_resources("AWS::IAM::Policy"))
    for imported in imports:
        if "Secret" in imported:
            assert imported in policies, imported
    roles = [i for i in imports if "SecretAttachment" in i]
    assert len(roles) == 2 and all("MigratorSecret" in i or "AppSecret" in i for i in roles)
