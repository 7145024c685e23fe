"""Design-bearing properties of each stack, per stage, asserted on the synthesized templates (never on logical ids)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Capture, Match, Template
from cdk_nag import AwsSolutionsChecks

from infra import contract
from infra.config import STAGES, EdgeConfig
from infra.live_weights import LiveWeights
from infra.synth import STAGE_NAMES, SynthesizedStage, synthesize

Stages = dict[str, SynthesizedStage]


def only(template: Template, resource_type: str) -> dict[str, Any]:
    resources = template.find_resources(resource_type)
    assert len(resources) == 1, f"expected one {resource_type}, found {len(resources)}"
    (resource,) = resources.values()
    return dict(resource)


# --- Network -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_network_spans_two_azs_with_three_subnet_tiers(synthesized: Stages, stage: str) -> None:
    template = synthesized[stage].templates["Network"]
    template.resource_count_is("AWS::EC2::Subnet", 6)
    template.resource_count_is("AWS::EC2::NatGateway", STAGES[stage].network.nat_gateways)
    template.has_resource_properties("AWS::EC2::Subnet", {"MapPublicIpOnLaunch": True})


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_network_logs_all_vpc_traffic(synthesized: Stages, stage: str) -> None:
    template = synthesized[stage].templates["Network"]
    template.has_resource_properties("AWS::EC2::FlowLog", {"ResourceType": "VPC", "TrafficType": "ALL"})


def test_network_routes_s3_through_a_gateway_endpoint(synthesized: Stages) -> None:
    template = synthesized["dev"].templates["Network"]
    template.has_resource_properties("AWS::EC2::VPCEndpoint", {"VpcEndpointType": "Gateway"})


# --- Data --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_database_is_encrypted_private_pinned_postgres(synthesized: Stages, stage: str) -> None:
    config = STAGES[stage].database
    template = synthesized[stage].templates["Data"]
    template.has_resource(
        "AWS::RDS::DBInstance",
        {
            "Properties": Match.object_like(
                {
                    "Engine": "postgres",
                    "EngineVersion": config.postgres_full_version,
                    "DBInstanceClass": f"db.{config.instance_class}",
                    "StorageEncrypted": True,
                    "PubliclyAccessible": False,
                    "MultiAZ": config.multi_az,
                    "DeletionProtection": config.deletion_protection,
                }
            ),
            "DeletionPolicy": "Snapshot",
            "UpdateReplacePolicy": "Snapshot",
        },
    )


def test_database_password_is_generated_in_secrets_manager(synthesized: Stages) -> None:
    template = synthesized["dev"].templates["Data"]
    template.has_resource_properties(
        "AWS::SecretsManager::Secret",
        {"GenerateSecretString": Match.object_like({"GenerateStringKey": "password"})},
    )


def test_burstable_database_is_multi_az_with_deletion_protection(synthesized: Stages) -> None:
    synthesized["burstable"].templates["Data"].has_resource_properties(
        "AWS::RDS::DBInstance", {"MultiAZ": True, "DeletionProtection": True}
    )


# --- Edge --------------------------------------------------------------------------------------------------------


def color_tag(template: Template, logical_id: str) -> str:
    tags = template.to_json()["Resources"][logical_id]["Properties"]["Tags"]
    return str(next(tag["Value"] for tag in tags if tag["Key"] == contract.TAG_COLOR))


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_listener_forwards_blue_100_green_0_by_default(synthesized: Stages, stage: str) -> None:
    template = synthesized[stage].templates["Edge"]
    groups = Capture()
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {"Port": 80, "DefaultActions": [{"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}]},
    )
    weights = {color_tag(template, entry["TargetGroupArn"]["Ref"]): entry["Weight"] for entry in groups.as_array()}
    assert [weights["blue"], weights["green"]] == [100, 0]


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_target_groups_check_health_and_drain(synthesized: Stages, stage: str) -> None:
    config = STAGES[stage].edge
    template = synthesized[stage].templates["Edge"]
    groups = template.find_resources(
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        {
            "Properties": Match.object_like(
                {
                    "HealthCheckPath": "/health",
                    "Port": contract.SERVER_PORT,
                    "TargetType": "instance",
                    "TargetGroupAttributes": Match.array_with(
                        [{"Key": "deregistration_delay.timeout_seconds", "Value": str(config.deregistration_delay_s)}]
                    ),
                }
            )
        },
    )
    colors = sorted(
        tag["Value"] for group in groups.values() for tag in group["Properties"]["Tags"] if tag["Key"] == "Color"
    )
    assert colors == ["blue", "green"]


def _smoke_rules(template: Template) -> list[dict[str, Any]]:
    """The listener rules matching on the smoke colour header (other rules, e.g. path rules, left out)."""
    return [
        rule["Properties"]
        for rule in template.find_resources("AWS::ElasticLoadBalancingV2::ListenerRule").values()
        if any(
            c.get("HttpHeaderConfig", {}).get("HttpHeaderName") == contract.SMOKE_HEADER_NAME
            for c in rule["Properties"]["Conditions"]
        )
    ]


def test_each_slot_has_a_smoke_header_rule_reaching_it_directly(synthesized: Stages) -> None:
    template = synthesized["dev"].templates["Edge"]
    reached = {}
    for rule in _smoke_rules(template):
        headers = {c["HttpHeaderConfig"]["HttpHeaderName"]: c["HttpHeaderConfig"]["Values"] for c in rule["Conditions"]}
        assert set(headers) == {contract.SMOKE_HEADER_NAME, contract.SMOKE_TOKEN_HEADER_NAME}
        (value,) = headers[contract.SMOKE_HEADER_NAME]
        (action,) = rule["Actions"]
        reached[value] = color_tag(template, action["TargetGroupArn"]["Ref"])
    assert reached == {contract.smoke_header_value(c): c for c in contract.COLORS}


def test_smoke_rules_require_the_stage_secret_token_resolved_at_deploy(synthesized: Stages) -> None:
    template = synthesized["dev"].templates["Edge"]
    (secret_id,) = template.find_resources(
        "AWS::SecretsManager::Secret", {"Properties": {"Name": contract.smoke_token_secret_name("dev")}}
    )
    generated = template.to_json()["Resources"][secret_id]["Properties"]["GenerateSecretString"]
    assert generated["GenerateStringKey"] == contract.SMOKE_TOKEN_SECRET_KEY and generated["ExcludePunctuation"]
    for rule in _smoke_rules(template):
        (token,) = next(
            c["HttpHeaderConfig"]["Values"]
            for c in rule["Conditions"]
            if c["HttpHeaderConfig"]["HttpHeaderName"] == contract.SMOKE_TOKEN_HEADER_NAME
        )
        # Never a literal in the template: a Secrets Manager dynamic reference to this stage's secret and key.
        text = json.dumps(token)
        assert "{{resolve:secretsmanager:" in text and secret_id in text
        assert f":SecretString:{contract.SMOKE_TOKEN_SECRET_KEY}:" in text


def test_load_balancer_is_internet_facing_with_access_logs(synthesized: Stages) -> None:
    template = synthesized["dev"].templates["Edge"]
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        {
            "Scheme": "internet-facing",
            "LoadBalancerAttributes": Match.array_with([{"Key": "access_logs.s3.enabled", "Value": "true"}]),
        },
    )
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        {
            "LoadBalancerAttributes": Match.array_with(
                [{"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"}]
            )
        },
    )


def test_access_log_bucket_is_encrypted_and_not_public(synthesized: Stages) -> None:
    template = synthesized["dev"].templates["Edge"]
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
        },
    )


def test_without_certificate_there_is_only_an_http_listener(synthesized: Stages) -> None:
    template = synthesized["dev"].templates["Edge"]
    template.resource_count_is("AWS::ElasticLoadBalancingV2::Listener", 1)
    template.has_resource_properties("AWS::ElasticLoadBalancingV2::Listener", {"Protocol": "HTTP", "Port": 80})


CERTIFICATE_ARN = "arn:aws:acm:us-east-1:111122223333:certificate/00000000-0000-0000-0000-000000000000"


LIVE = LiveWeights(blue=25, green=75)


@pytest.fixture(scope="module")
def optional_features(tmp_path_factory: pytest.TempPathFactory, synth_releases: Path) -> SynthesizedStage:
    """A stage with every optional feature on (HTTPS, RDS Proxy, interface endpoints, alarm e-mail) and live
    weights in the middle of a cutover."""
    dev = STAGES["dev"]
    config = dataclasses.replace(
        dev,
        name="options",
        edge=EdgeConfig(certificate_arn=CERTIFICATE_ARN),
        database=dataclasses.replace(dev.database, rds_proxy=True),
        network=dataclasses.replace(dev.network, interface_endpoints=True),
        monitoring=dataclasses.replace(dev.monitoring, alarm_emails=("ops@example.com",)),
    )
    return synthesize(config, tmp_path_factory.mktemp("app-options"), releases_dir=synth_releases, weights=LIVE)


def test_certificate_moves_the_weights_to_https_and_redirects_http(optional_features: SynthesizedStage) -> None:
    template = optional_features.templates["Edge"]
    groups = Capture()
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {
            "Protocol": "HTTPS",
            "Port": 443,
            "Certificates": [{"CertificateArn": CERTIFICATE_ARN}],
            "DefaultActions": [{"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}],
        },
    )
    weights = {color_tag(template, entry["TargetGroupArn"]["Ref"]): entry["Weight"] for entry in groups.as_array()}
    assert weights == {"blue": LIVE.blue, "green": LIVE.green}  # the live weights, not a default
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {"Protocol": "HTTP", "Port": 80, "DefaultActions": [Match.object_like({"Type": "redirect"})]},
    )


def test_rds_proxy_requires_tls_and_the_fleets_connect_through_it(optional_features: SynthesizedStage) -> None:
    data = optional_features.templates["Data"]
    data.has_resource_properties("AWS::RDS::DBProxy", {"EngineFamily": "POSTGRESQL", "RequireTLS": True})
    endpoint = only(data, "AWS::RDS::DBProxy")
    proxy_id = next(k for k, v in data.to_json()["Resources"].items() if v == endpoint)
    data.has_resource_properties(
        "AWS::SSM::Parameter",
        {
            "Name": contract.database_endpoint_parameter("options"),
            "Value": {"Fn::GetAtt": [proxy_id, "Endpoint"]},
        },
    )
    # The fleets read that parameter at deploy time (a weak reference, not an import of the proxy's endpoint).
    fleet = optional_features.templates["FleetGreen"]
    parameters = fleet.find_parameters(
        "*",
        {"Type": "AWS::SSM::Parameter::Value<String>", "Default": contract.database_endpoint_parameter("options")},
    )
    assert len(parameters) == 1
    asg = only(fleet, "AWS::AutoScaling::AutoScalingGroup")
    command = asg["Metadata"]["AWS::CloudFormation::Init"]["bootstrap"]["commands"]["10-bootstrap"]["command"]
    assert {"Ref": next(iter(parameters))} in command["Fn::Join"][1]


def test_interface_endpoints_and_alarm_email_are_optional_extras(optional_features: SynthesizedStage) -> None:
    endpoints = optional_features.templates["Network"].find_resources(
        "AWS::EC2::VPCEndpoint", {"Properties": {"VpcEndpointType": "Interface"}}
    )
    assert len(endpoints) == 6
    optional_features.templates["Monitoring"].has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
    )


def test_optional_features_pass_aws_solutions_checks(optional_features: SynthesizedStage) -> None:
    report = AwsSolutionsChecks().validate_scope(optional_features.app)
    assert [v.rule_name for v in report.violations] == []


def test_optional_features_pass_cfn_lint(optional_features: SynthesizedStage) -> None:
    templates = sorted(str(p) for p in Path(optional_features.app.outdir).glob("*.template.json"))
    assert len(templates) == len(contract.STACK_UNITS)
    config = Path(__file__).resolve().parents[2] / "infra" / "tools" / "cfn-lint.yaml"
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run(
        [str(cfn_lint), "--config-file", str(config), *templates], capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_without_optional_features_there_is_no_proxy_endpoint_or_subscription(synthesized: Stages) -> None:
    templates = synthesized["dev"].templates
    templates["Data"].resource_count_is("AWS::RDS::DBProxy", 0)
    templates["Network"].resource_count_is("AWS::EC2::VPCEndpoint", 1)
    templates["Monitoring"].resource_count_is("AWS::SNS::Subscription", 0)


# --- Fleets ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGE_NAMES)
@pytest.mark.parametrize("color", contract.COLORS)
def test_fleet_launch_template_requires_imdsv2_encrypted_gp3_and_stage_type(
    synthesized: Stages, stage: str, color: contract.Color
) -> None:
    config = STAGES[stage].fleet(color)
    template = synthesized[stage].templates[contract.fleet_unit(color)]
    template.has_resource_properties(
        "AWS::EC2::LaunchTemplate",
        {
            "LaunchTemplateData": Match.object_like(
                {
                    "InstanceType": config.instance_type,
                    "MetadataOptions": {"HttpTokens": "required"},
                    "BlockDeviceMappings": [
                        {
                            "DeviceName": "/dev/xvda",
                            "Ebs": Match.object_like(
                                {"Encrypted": True, "VolumeType": "gp3", "VolumeSize": config.root_volume_gib}
                            ),
                        }
                    ],
                    # Session Manager instead of SSH: no key pair on the instances.
                    "KeyName": Match.absent(),
                    # The slot's pinned AMI, written into the template: no SSM lookup, no re-resolution per deploy.
                    "ImageId": STAGES[stage].ami_id(color),
                }
            )
        },
    )


@pytest.mark.parametrize("stage", STAGE_NAMES)
@pytest.mark.parametrize("color", contract.COLORS)
def test_fleet_waits_for_signals_and_rolls_one_at_a_time(
    synthesized: Stages, stage: str, color: contract.Color
) -> None:
    config = STAGES[stage].fleet(color)
    template = synthesized[stage].templates[contract.fleet_unit(color)]
    template.has_resource(
        "AWS::AutoScaling::AutoScalingGroup",
        {
            "Properties": Match.object_like(
                {
                    "MinSize": str(config.min_capacity),
                    "MaxSize": str(config.max_capacity),
                    "HealthCheckType": "ELB",
                    "HealthCheckGracePeriod": config.health_check_grace_s,
                    "TargetGroupARNs": [Match.any_value()],
                }
            ),
            "CreationPolicy": {"ResourceSignal": {"Count": config.min_capacity, "Timeout": Match.any_value()}},
            "UpdatePolicy": Match.object_like(
                {
                    "AutoScalingRollingUpdate": Match.object_like(
                        {"MaxBatchSize": 1, "MinInstancesInService": config.min_capacity, "WaitOnResourceSignals": True}
                    )
                }
            ),
        },
    )


@pytest.mark.parametrize("color", contract.COLORS)
def test_fleet_boots_through_cfn_init_running_the_releases_bootstrap(
    synthesized: Stages, color: contract.Color
) -> None:
    slot = STAGES["dev"].fleet(color)
    template = synthesized["dev"].templates[contract.fleet_unit(color)]
    asg = only(template, "AWS::AutoScaling::AutoScalingGroup")
    init = asg["Metadata"]["AWS::CloudFormation::Init"]
    assert init["configSets"]["default"] == ["packages", "app", "bootstrap"]
    assert "/opt/mcpstack/release" in init["app"]["sources"]
    command = init["bootstrap"]["commands"]["10-bootstrap"]
    parts = command["command"]["Fn::Join"][1]
    assert parts[0].startswith("python3.11 /opt/mcpstack/release/bootstrap.py ")
    for flag in (f"--color={color}", f"--server={slot.server}", f"--release={slot.release}"):
        assert flag in parts[0]
    assert command["cwd"] == "/opt/mcpstack/release"
    # The MCP metrics' EMF documents land in a log group the stack owns (with a retention).
    assert "--metrics-log-group=" in json.dumps(parts)
    template.has_resource_properties(
        "AWS::Logs::LogGroup",
        {"LogGroupName": contract.mcp_metrics_log_group_name("dev", color), "RetentionInDays": Match.any_value()},
    )
    user_data = template.to_json()["Resources"]
    assert "cfn-signal" in str(user_data)


@pytest.mark.parametrize("color", contract.COLORS)
def test_fleet_scales_on_requests_per_target(synthesized: Stages, color: contract.Color) -> None:
    config = STAGES["dev"].fleet(color)
    template = synthesized["dev"].templates[contract.fleet_unit(color)]
    template.has_resource_properties(
        "AWS::AutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingConfiguration": {
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "ALBRequestCountPerTarget",
                    "ResourceLabel": Match.any_value(),
                },
                "TargetValue": config.requests_per_target_per_min,
            },
        },
    )


def test_fleet_accepts_the_server_port_only_from_the_load_balancer(synthesized: Stages) -> None:
    template = synthesized["dev"].templates["FleetGreen"]
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {
            "FromPort": contract.SERVER_PORT,
            "ToPort": contract.SERVER_PORT,
            "SourceSecurityGroupId": {"Fn::ImportValue": Match.string_like_regexp("Edge")},
        },
    )
    ingress = only(template, "AWS::EC2::SecurityGroup")["Properties"].get("SecurityGroupIngress")
    assert ingress is None  # nothing opened on the group itself, in particular no 0.0.0.0/0


@pytest.mark.parametrize("color", contract.COLORS)
def test_fleet_resources_carry_cost_allocation_tags(synthesized: Stages, color: contract.Color) -> None:
    template = synthesized["burstable"].templates[contract.fleet_unit(color)]
    expected = [
        {"Key": "Color", "PropagateAtLaunch": True, "Value": color},
        {"Key": "Project", "PropagateAtLaunch": True, "Value": "mcpstack"},
        {"Key": "Stage", "PropagateAtLaunch": True, "Value": "burstable"},
    ]
    template.has_resource_properties("AWS::AutoScaling::AutoScalingGroup", {"Tags": Match.array_with(expected)})


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_every_taggable_resource_has_project_stage_and_color(synthesized: Stages, stage: str) -> None:
    for unit, template in synthesized[stage].templates.items():
        for logical_id, resource in template.to_json()["Resources"].items():
            tags = resource.get("Properties", {}).get("Tags")
            if not isinstance(tags, list):
                continue
            keys = {tag["Key"] for tag in tags}
            assert {"Project", "Stage", "Color"} <= keys, f"{unit}/{logical_id} lacks cost tags"


# --- Monitoring --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_gate_alarms_have_stable_names_and_notify_the_topic(synthesized: Stages, stage: str) -> None:
    template = synthesized[stage].templates["Monitoring"]
    for name in contract.gate_alarm_names(stage):
        template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {"AlarmName": name, "AlarmActions": [{"Ref": Match.any_value()}], "TreatMissingData": "notBreaching"},
        )


def test_p95_gate_uses_the_configured_latency_limit(synthesized: Stages) -> None:
    template = synthesized["dev"].templates["Monitoring"]
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": contract.gate_alarm_name("dev", "green", "p95-latency"),
            "ExtendedStatistic": "p95",
            "MetricName": "TargetResponseTime",
            "Threshold": STAGES["dev"].monitoring.max_p95_latency_s,
        },
    )


def test_alarm_topic_is_encrypted(synthesized: Stages) -> None:
    template = synthesized["dev"].templates["Monitoring"]
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})


def test_operations_and_cost_dashboards_exist(synthesized: Stages) -> None:
    template = synthesized["dev"].templates["Monitoring"]
    for name in (contract.operations_dashboard_name("dev"), contract.cost_dashboard_name("dev")):
        template.has_resource_properties("AWS::CloudWatch::Dashboard", {"DashboardName": name})
    body = str(template.to_json())
    for metric in ("RequestCount", "HTTPCode_Target_5XX_Count", "mem_used_percent", "DatabaseConnections"):
        assert metric in body


@pytest.mark.parametrize("color", contract.COLORS)
def test_mcp_error_rate_alarm_per_slot_reads_the_contracts_tool_call_outcomes(
    synthesized: Stages, color: contract.Color
) -> None:
    template = synthesized["dev"].templates["Monitoring"]
    alarms = template.find_resources(
        "AWS::CloudWatch::Alarm",
        {"Properties": Match.object_like({"AlarmName": contract.mcp_error_rate_alarm_name("dev", color)})},
    )
    assert len(alarms) == 1
    (alarm,) = alarms.values()
    properties = alarm["Properties"]
    assert properties["Threshold"] == STAGES["dev"].monitoring.max_mcp_error_rate_pct
    assert properties["AlarmActions"] and properties["TreatMissingData"] == "notBreaching"
    stats = {q["Id"]: q["MetricStat"]["Metric"] for q in properties["Metrics"] if "MetricStat" in q}
    assert sorted(stats) == sorted(f"{color}_{outcome}" for outcome in contract.MCP_OUTCOMES)
    rollup = (contract.MCP_DIMENSION_STAGE, contract.MCP_DIMENSION_SLOT, contract.MCP_DIMENSION_OUTCOME)
    assert rollup in contract.MCP_TOOL_CALLS_DIMENSIONS
    for metric_id, metric in stats.items():
        outcome = metric_id.removeprefix(f"{color}_")
        assert metric["Namespace"] == contract.MCP_METRICS_NAMESPACE
        assert metric["MetricName"] == contract.MCP_METRIC_TOOL_CALLS
        assert {d["Name"]: d["Value"] for d in metric["Dimensions"]} == dict(
            zip(rollup, ("dev", color, outcome), strict=True)
        )
    (expression,) = [q["Expression"] for q in properties["Metrics"] if "Expression" in q]
    for outcome in contract.MCP_ERROR_OUTCOMES:
        assert f"{color}_{outcome}" in expression.split("/")[0]  # every failure outcome counts in the numerator


def test_operations_dashboard_shows_mcp_metrics_per_slot(synthesized: Stages) -> None:
    template = synthesized["dev"].templates["Monitoring"]
    (dashboard,) = template.find_resources(
        "AWS::CloudWatch::Dashboard",
        {"Properties": Match.object_like({"DashboardName": contract.operations_dashboard_name("dev")})},
    ).values()
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    # Tokens (imports, refs) sit inside JSON strings; a placeholder keeps the body parseable.
    body = json.loads("".join(part if isinstance(part, str) else "token" for part in parts))
    shown = set()
    for widget in body["widgets"]:
        for row in widget["properties"].get("metrics", []):
            fields = [f for f in row if isinstance(f, str)]
            if fields[:1] == [contract.MCP_METRICS_NAMESPACE]:
                dims = dict(zip(fields[2::2], fields[3::2], strict=False))
                shown.add((fields[1], dims.get(contract.MCP_DIMENSION_STAGE), dims.get(contract.MCP_DIMENSION_SLOT)))
    for name in (contract.MCP_METRIC_REQUESTS, contract.MCP_METRIC_TOOL_CALLS, contract.MCP_METRIC_TOOL_LATENCY):
        for color in contract.COLORS:
            assert (name, "dev", color) in shown, (name, color)
