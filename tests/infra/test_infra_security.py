"""The security half of a production-ready stack, asserted on the synthesized templates: alarms that can be delivered
(the topic's key and policy), the production profile (HTTPS only, WAF on the ALB, bearer-token auth on the
instances), `/metrics` never routed through the ALB, and instance roles scoped to what the instances do.

Every committed stage comes from the session fixture; the production profile is one extra synth in this module.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks

from infra import contract
from infra.components.fleet import AGENT_METRICS_NAMESPACE, auth_dropin, systemd_unit_name
from infra.components.load_balancer import METRICS_PATH, SESSION_RULE_PRIORITIES, SMOKE_RULE_PRIORITIES
from infra.components.nag import MIN_REASON_CHARS, WILDCARD_RESOURCE_REASONS
from infra.components.waf import MANAGED_RULE_GROUPS
from infra.config import STAGES, AuthConfig, EdgeConfig, StageConfig, StageConfigError
from infra.live_weights import LiveWeights
from infra.offline import offline_env
from infra.synth import REPO, STAGE_NAMES, SynthesizedStage, synthesize

Stages = dict[str, SynthesizedStage]

CERTIFICATE_ARN = "arn:aws:acm:us-east-1:111122223333:certificate/00000000-0000-0000-0000-000000000000"
AUTH = AuthConfig(
    issuer="https://login.example.com/",
    audience="https://mcp.example.com/mcp",
    jwks_url="https://login.example.com/.well-known/jwks.json",
    resource_url="https://mcp.example.com/mcp",
    required_scopes=("mcp:tools", "mcp:read"),
)
RATE_LIMIT = 1234


def production_config() -> StageConfig:
    dev = STAGES["dev"]
    return dataclasses.replace(
        dev,
        name="prod",
        edge=EdgeConfig(
            exposure="production", certificate_arn=CERTIFICATE_ARN, waf_requests_per_ip_per_5min=RATE_LIMIT
        ),
        auth=AUTH,
        monitoring=dataclasses.replace(dev.monitoring, alarm_emails=("ops@example.com", "oncall@example.com")),
        # The optional stateful mode on too (session rules), so one extra synth checks both.
        stateful=True,
    )


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory, synth_releases: Path) -> SynthesizedStage:
    return synthesize(
        production_config(),
        tmp_path_factory.mktemp("app-prod"),
        releases_dir=synth_releases,
        weights=LiveWeights(blue=100, green=0),
    )


def every_stage(synthesized: Stages, production: SynthesizedStage) -> list[SynthesizedStage]:
    return [*synthesized.values(), production]


def only(template: Template, resource_type: str, props: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    found = template.find_resources(resource_type, {"Properties": Match.object_like(props)} if props else None)
    assert len(found) == 1, f"expected one {resource_type}, found {len(found)}"
    ((logical_id, resource),) = found.items()
    return logical_id, dict(resource)


# --- alarms that arrive ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_alarm_topic_is_encrypted_with_a_rotating_key_cloudwatch_may_use(synthesized: Stages, stage: str) -> None:
    template = synthesized[stage].templates["Monitoring"]
    key_id, key = only(template, "AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    _, topic = only(template, "AWS::SNS::Topic")
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    (cloudwatch,) = [s for s in statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert cloudwatch["Effect"] == "Allow"
    assert sorted(cloudwatch["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert_scoped_to_the_stages_alarms(cloudwatch, stage)


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_alarm_topic_policy_lets_cloudwatch_publish_and_still_denies_plain_http(
    synthesized: Stages, stage: str
) -> None:
    template = synthesized[stage].templates["Monitoring"]
    topic_id, _ = only(template, "AWS::SNS::Topic")
    _, policy = only(template, "AWS::SNS::TopicPolicy")
    assert policy["Properties"]["Topics"] == [{"Ref": topic_id}]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    (publish,) = [s for s in statements if s["Effect"] == "Allow"]
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert publish["Action"] == "sns:Publish"
    assert publish["Resource"] == {"Ref": topic_id}
    assert_scoped_to_the_stages_alarms(publish, stage)


def assert_scoped_to_the_stages_alarms(statement: dict[str, Any], stage: str) -> None:
    conditions = statement["Condition"]
    assert conditions["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    source_arn = json.dumps(conditions["ArnLike"]["aws:SourceArn"])
    assert f":alarm:{contract.STACK_PREFIX}-{stage}-*" in source_arn


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_every_alarm_name_falls_under_the_topics_source_arn_pattern(synthesized: Stages, stage: str) -> None:
    alarms = synthesized[stage].templates["Monitoring"].find_resources("AWS::CloudWatch::Alarm")
    names = [alarm["Properties"]["AlarmName"] for alarm in alarms.values()]
    assert names and all(name.startswith(f"{contract.STACK_PREFIX}-{stage}-") for name in names), names


def test_alarm_emails_subscribe_every_address_and_none_subscribes_nobody(
    synthesized: Stages, production: SynthesizedStage
) -> None:
    subscriptions = production.templates["Monitoring"].find_resources("AWS::SNS::Subscription")
    assert sorted((s["Properties"]["Protocol"], s["Properties"]["Endpoint"]) for s in subscriptions.values()) == [
        ("email", "oncall@example.com"),
        ("email", "ops@example.com"),
    ]
    assert STAGES["dev"].monitoring.alarm_emails == ()
    synthesized["dev"].templates["Monitoring"].resource_count_is("AWS::SNS::Subscription", 0)


# --- production profile ----------------------------------------------------------------------------------------


def test_production_listens_https_only_and_port_80_only_redirects(production: SynthesizedStage) -> None:
    template = production.templates["Edge"]
    listeners = template.find_resources("AWS::ElasticLoadBalancingV2::Listener")
    by_port = {listener["Properties"]["Port"]: (k, listener["Properties"]) for k, listener in listeners.items()}
    assert sorted(by_port) == [80, 443]
    https_id, https = by_port[443]
    assert https["Protocol"] == "HTTPS"
    assert https["Certificates"] == [{"CertificateArn": CERTIFICATE_ARN}]
    assert https["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    http_id, http = by_port[80]
    assert http["DefaultActions"] == [
        {
            "Type": "redirect",
            "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
        }
    ]
    rules = template.find_resources("AWS::ElasticLoadBalancingV2::ListenerRule")
    assert rules and all(rule["Properties"]["ListenerArn"] == {"Ref": https_id} for rule in rules.values())
    assert http_id != https_id


def test_production_web_acl_is_associated_with_the_alb(production: SynthesizedStage) -> None:
    template = production.templates["Edge"]
    acl_id, acl = only(template, "AWS::WAFv2::WebACL")
    alb_id, _ = only(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    _, association = only(template, "AWS::WAFv2::WebACLAssociation")
    assert association["Properties"] == {"ResourceArn": {"Ref": alb_id}, "WebACLArn": {"Fn::GetAtt": [acl_id, "Arn"]}}
    assert acl["Properties"]["Scope"] == "REGIONAL"
    assert acl["Properties"]["DefaultAction"] == {"Allow": {}}


def test_production_web_acl_runs_the_managed_groups_and_the_configured_rate_limit(
    production: SynthesizedStage,
) -> None:
    _, acl = only(production.templates["Edge"], "AWS::WAFv2::WebACL")
    rules = {rule["Name"]: rule for rule in acl["Properties"]["Rules"]}
    for group in MANAGED_RULE_GROUPS:
        statement = rules[group]["Statement"]["ManagedRuleGroupStatement"]
        assert (statement["VendorName"], statement["Name"]) == ("AWS", group)
        # Enforced, not merely counted, and no rule of the group excluded.
        assert rules[group]["OverrideAction"] == {"None": {}}
        assert "RuleActionOverrides" not in statement and "ExcludedRules" not in statement
    assert {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} <= set(rules)
    rate = rules["RateLimitPerIp"]
    assert rate["Action"] == {"Block": {}}
    assert rate["Statement"]["RateBasedStatement"] == {
        "AggregateKeyType": "IP",
        "Limit": RATE_LIMIT,
        "EvaluationWindowSec": 300,
    }
    priorities = [rule["Priority"] for rule in acl["Properties"]["Rules"]]
    assert len(set(priorities)) == len(priorities)
    assert rate["Priority"] == min(priorities)  # a flood is cut before any other rule inspects it


def test_production_web_acl_refuses_metrics_however_it_is_spelled(production: SynthesizedStage) -> None:
    _, acl = only(production.templates["Edge"], "AWS::WAFv2::WebACL")
    (rule,) = [r for r in acl["Properties"]["Rules"] if r["Name"] == "BlockMetrics"]
    assert rule["Action"] == {"Block": {}}
    match = rule["Statement"]["ByteMatchStatement"]
    assert (match["FieldToMatch"], match["PositionalConstraint"], match["SearchString"]) == (
        {"UriPath": {}},
        "STARTS_WITH",
        METRICS_PATH,
    )
    transforms = [t["Type"] for t in sorted(match["TextTransformations"], key=lambda t: t["Priority"])]
    assert transforms[:2] == ["URL_DECODE", "NORMALIZE_PATH"]


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_committed_stages_are_dev_open_without_a_web_acl(synthesized: Stages, stage: str) -> None:
    assert STAGES[stage].edge.exposure == "dev-open"
    synthesized[stage].templates["Edge"].resource_count_is("AWS::WAFv2::WebACL", 0)
    synthesized[stage].templates["Edge"].resource_count_is("AWS::WAFv2::WebACLAssociation", 0)


@pytest.mark.parametrize("missing", ["certificate_arn", "auth"])
def test_production_without_certificate_or_auth_stops_the_synth_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], missing: str
) -> None:
    import infra.app

    config = production_config()
    if missing == "auth":
        config = dataclasses.replace(config, auth=None)
    else:
        config = dataclasses.replace(config, edge=dataclasses.replace(config.edge, certificate_arn=None))
    with pytest.raises(StageConfigError):
        config.check_exposure()
    monkeypatch.setattr(infra.app, "get_stage", lambda name: config)
    monkeypatch.setattr(infra.app, "read_live_weights", lambda name: LiveWeights(blue=100, green=0))
    with pytest.raises(SystemExit) as exited:
        infra.app.main()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "production" in err, err


def test_auth_config_refuses_plain_http_urls() -> None:
    with pytest.raises(StageConfigError):
        dataclasses.replace(AUTH, jwks_url="http://login.example.com/jwks.json")


@pytest.mark.parametrize("color", contract.COLORS)
def test_production_instances_switch_bearer_token_auth_on_through_the_environment(
    production: SynthesizedStage, color: contract.Color
) -> None:
    _, asg = only(production.templates[contract.fleet_unit(color)], "AWS::AutoScaling::AutoScalingGroup")
    files = asg["Metadata"]["AWS::CloudFormation::Init"]["app"]["files"]
    dropin = files[f"/etc/systemd/system/{systemd_unit_name(color)}.d/auth.conf"]
    lines = dropin["content"].splitlines()
    assert lines[0] == "[Service]"
    assert sorted(lines[1:]) == sorted(
        [
            f'Environment="MCP_AUTH_ISSUER={AUTH.issuer}"',
            f'Environment="MCP_AUTH_AUDIENCE={AUTH.audience}"',
            f'Environment="MCP_AUTH_JWKS_URL={AUTH.jwks_url}"',
            'Environment="MCP_AUTH_REQUIRED_SCOPES=mcp:tools mcp:read"',
            f'Environment="MCP_AUTH_RESOURCE_URL={AUTH.resource_url}"',
        ]
    )


def test_dev_instances_get_no_auth_environment(synthesized: Stages) -> None:
    _, asg = only(synthesized["dev"].templates["FleetGreen"], "AWS::AutoScaling::AutoScalingGroup")
    assert "MCP_AUTH_" not in json.dumps(asg)


def test_auth_dropin_escapes_what_systemd_would_expand() -> None:
    text = auth_dropin(dataclasses.replace(AUTH, issuer='https://login.example.com/%2F"x\\'))
    assert 'Environment="MCP_AUTH_ISSUER=https://login.example.com/%%2F\\"x\\\\"' in text.splitlines()


# --- /metrics off the ALB --------------------------------------------------------------------------------------


def test_metrics_is_answered_404_by_the_alb_before_any_other_rule(
    synthesized: Stages, production: SynthesizedStage
) -> None:
    for stage in every_stage(synthesized, production):
        template = stage.templates["Edge"]
        rules = template.find_resources("AWS::ElasticLoadBalancingV2::ListenerRule")
        metrics = [
            rule["Properties"]
            for rule in rules.values()
            if any(c.get("Field") == "path-pattern" for c in rule["Properties"]["Conditions"])
        ]
        assert len(metrics) == 1, stage.config.name
        (rule,) = metrics
        (condition,) = rule["Conditions"]
        assert condition["PathPatternConfig"]["Values"] == [METRICS_PATH, f"{METRICS_PATH}/*"]
        assert rule["Actions"] == [
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain", "MessageBody": "Not Found"},
            }
        ]
        # On the listener carrying the weights, ahead of every rule that forwards (the smoke rules).
        others = [r["Properties"] for r in rules.values() if r["Properties"] is not rule]
        forwarding = [r for r in others if r["Actions"][0]["Type"] == "forward"]
        assert forwarding and all(r["ListenerArn"] == rule["ListenerArn"] for r in forwarding)
        assert all(rule["Priority"] < r["Priority"] for r in forwarding)


# --- least privilege -------------------------------------------------------------------------------------------


def identity_statements(stage: SynthesizedStage) -> list[tuple[str, dict[str, Any]]]:
    """Every Allow statement of every IAM identity policy (inline policies, managed policies, role policies).

    Key and topic policies are resource policies: there `*` names the key or topic itself, and their statements
    are asserted above."""
    found: list[tuple[str, dict[str, Any]]] = []
    for unit, template in stage.templates.items():
        for logical_id, resource in template.to_json()["Resources"].items():
            properties = resource.get("Properties", {})
            documents = []
            if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                documents.append(properties["PolicyDocument"])
            if resource["Type"] == "AWS::IAM::Role":
                documents.extend(policy["PolicyDocument"] for policy in properties.get("Policies", []))
            for document in documents:
                for statement in document["Statement"]:
                    if statement["Effect"] == "Allow":
                        found.append((f"{stage.config.name}/{unit}/{logical_id}", statement))
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_wildcard_action_on_a_wildcard_resource_and_every_wildcard_resource_has_a_reason(
    synthesized: Stages, production: SynthesizedStage
) -> None:
    checked = 0
    for stage in every_stage(synthesized, production):
        for where, statement in identity_statements(stage):
            checked += 1
            if "*" not in as_list(statement.get("Resource", [])):
                continue
            actions = as_list(statement["Action"])
            assert not any("*" in action for action in actions), (where, actions)
            sid = statement.get("Sid")
            assert sid in WILDCARD_RESOURCE_REASONS, f"{where}: {actions} on * without a written reason"
            assert len(WILDCARD_RESOURCE_REASONS[sid]) >= MIN_REASON_CHARS
    assert checked > 0


@pytest.mark.parametrize("color", contract.COLORS)
def test_instance_role_has_no_aws_managed_policy(synthesized: Stages, color: contract.Color) -> None:
    template = synthesized["burstable"].templates[contract.fleet_unit(color)]
    _, role = only(template, "AWS::IAM::Role", {"Description": Match.string_like_regexp("instances")})
    assert "ManagedPolicyArns" not in role["Properties"]
    body = json.dumps(template.to_json())
    for policy in ("AmazonSSMManagedInstanceCore", "CloudWatchAgentServerPolicy"):
        assert policy not in body


def fleet_statements(stage: SynthesizedStage, color: contract.Color) -> list[dict[str, Any]]:
    unit = contract.fleet_unit(color)
    return [s for where, s in identity_statements(stage) if where.split("/")[1] == unit]


@pytest.mark.parametrize("color", contract.COLORS)
def test_session_manager_gets_its_channels_and_nothing_of_ssm_beyond(
    synthesized: Stages, color: contract.Color
) -> None:
    actions = {a for s in fleet_statements(synthesized["dev"], color) for a in as_list(s["Action"])}
    assert {
        "ssm:UpdateInstanceInformation",
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
    } <= actions
    assert sorted(a for a in actions if a.startswith("ssm:")) == ["ssm:UpdateInstanceInformation"]


@pytest.mark.parametrize("color", contract.COLORS)
def test_instance_role_reads_only_its_slots_release_object_and_the_rds_ca_bundle(
    synthesized: Stages, color: contract.Color
) -> None:
    stage = synthesized["dev"]
    s3 = [s for s in fleet_statements(stage, color) if any(a.startswith("s3:") for a in as_list(s["Action"]))]
    assert [s["Action"] for s in s3] == ["s3:GetObject"]
    (statement,) = s3
    object_keys = sorted(resource["Fn::Join"][1][-1] for resource in as_list(statement["Resource"]))
    assert sorted(key.rsplit(".", 1)[-1] for key in object_keys) == ["pem", "zip"]
    asg_json = json.dumps(only(stage.templates[contract.fleet_unit(color)], "AWS::AutoScaling::AutoScalingGroup")[1])
    for object_key in object_keys:
        assert object_key.startswith("/") and "*" not in object_key
        # Each key is the content hash of an asset cfn-init fetches: this slot's release, the pinned bundle.
        assert object_key.removeprefix("/") in asg_json


@pytest.mark.parametrize("color", contract.COLORS)
def test_logs_actions_name_only_the_slots_own_log_groups(synthesized: Stages, color: contract.Color) -> None:
    stage = synthesized["dev"]
    template = stage.templates[contract.fleet_unit(color)].to_json()["Resources"]
    logs = [s for s in fleet_statements(stage, color) if any(a.startswith("logs:") for a in as_list(s["Action"]))]
    assert logs
    named = set()
    for statement in logs:
        for resource in as_list(statement["Resource"]):
            logical_id, attribute = resource["Fn::GetAtt"]
            assert (template[logical_id]["Type"], attribute) == ("AWS::Logs::LogGroup", "Arn")
            named.add(template[logical_id]["Properties"]["LogGroupName"])
    assert named == {contract.app_log_group_name("dev", color), contract.mcp_metrics_log_group_name("dev", color)}


def test_put_metric_data_is_limited_to_the_agents_namespace(synthesized: Stages) -> None:
    for color in contract.COLORS:
        statements = [s for s in fleet_statements(synthesized["dev"], color) if "cloudwatch:PutMetricData" in str(s)]
        assert [s["Condition"] for s in statements] == [
            {"StringEquals": {"cloudwatch:namespace": AGENT_METRICS_NAMESPACE}}
        ]


# --- the production profile passes the same gates as the committed stages ---------------------------------------


def test_cost_report_prices_the_web_acl_and_the_topic_key(production: SynthesizedStage) -> None:
    from scripts.cost import prices, stage, templates, throughput, workload

    load = workload.preset("saas-200k")
    report = stage.price_stage(
        templates.load(Path(production.app.outdir), "prod"),
        stage="prod",
        workload=load,
        run=throughput.load(REPO / "docs" / "benchmarks" / "results.json"),
        table=prices.EMBEDDED,
    )
    assert not report.unpriced
    shared = {line.price_key: line.quantity for line in report.shared}
    _, acl = only(production.templates["Edge"], "AWS::WAFv2::WebACL")
    assert shared["waf.web-acl"] == 1 and shared["kms.key"] == 1
    assert shared["waf.rule"] == len(acl["Properties"]["Rules"])
    assert shared["waf.requests"] == load.millions_per_month


def test_production_passes_aws_solutions_checks(production: SynthesizedStage) -> None:
    report = AwsSolutionsChecks().validate_scope(production.app)
    assert [v.rule_name for v in report.violations] == []


@pytest.mark.slow
@pytest.mark.timeout(900)  # the first run creates .venv-checkov
def test_production_passes_checkov_and_cfn_lint(production: SynthesizedStage) -> None:
    out = Path(production.app.outdir)
    checkov = subprocess.run(
        [str(REPO / "infra" / "tools" / "checkov.sh"), str(out), "--output", "json"],
        env=offline_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert checkov.returncode == 0, checkov.stdout[-4000:] + checkov.stderr[-2000:]
    reports = json.loads(checkov.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    assert sum(r["summary"]["passed"] for r in reports) > 0
    assert sum(r["summary"]["failed"] for r in reports) == 0
    templates = sorted(str(p) for p in out.glob("*.template.json"))
    lint = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--config-file",
            str(REPO / "infra/tools/cfn-lint.yaml"),
            *templates,
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


@pytest.mark.parametrize("color", contract.COLORS)
def test_auth_dropin_names_the_unit_the_release_bootstrap_writes(color: contract.Color) -> None:
    from infra.bootstrap.bootstrap import Settings

    settings = Settings(
        stage="prod",
        color=color,
        server="native",
        release="0.1.0-0000000",
        release_dir=Path("/opt/mcpstack/release"),
        prefix=Path("/opt/mcpstack"),
        secret_id="arn:aws:secretsmanager:us-east-1:111122223333:secret:db",
        region="us-east-1",
        log_group="app",
        metrics_log_group="metrics",
    )
    assert systemd_unit_name(color) == settings.unit_name


# --- WAF logging (production) ------------------------------------------------------------------------------------


def test_production_web_acl_logs_to_a_retained_waf_log_group_with_credentials_redacted(
    production: SynthesizedStage,
) -> None:
    template = production.templates["Edge"]
    acl_id, _ = only(template, "AWS::WAFv2::WebACL")
    _, logging = only(template, "AWS::WAFv2::LoggingConfiguration")
    props = logging["Properties"]
    assert props["ResourceArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    log_groups = {
        lid: group
        for lid, group in template.find_resources("AWS::Logs::LogGroup").items()
        if group["Properties"].get("LogGroupName") == contract.waf_log_group_name("prod")
    }
    assert len(log_groups) == 1 and contract.waf_log_group_name("prod").startswith("aws-waf-logs-")
    ((group_id, group),) = log_groups.items()
    assert group["Properties"]["RetentionInDays"] == production.config.edge.waf_log_retention_days
    assert group["DeletionPolicy"] == "Delete"
    # The destination is the group's ARN without the ":*" CloudWatch Logs appends (WAF refuses that form).
    (destination,) = props["LogDestinationConfigs"]
    text = json.dumps(destination)
    assert "log-group:" in text and group_id in text and ":*" not in text
    assert group_id in json.dumps(logging.get("DependsOn", []))
    redacted = sorted(field["SingleHeader"]["Name"] for field in props["RedactedFields"])
    assert redacted == sorted(["authorization", contract.SMOKE_TOKEN_HEADER_NAME.lower()])


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_committed_stages_have_no_waf_logging(synthesized: Stages, stage: str) -> None:
    synthesized[stage].templates["Edge"].resource_count_is("AWS::WAFv2::LoggingConfiguration", 0)


def test_cost_report_prices_the_waf_log_by_calls(production: SynthesizedStage) -> None:
    from scripts.cost import model, prices, stage, templates, throughput, workload

    load = workload.preset("saas-200k")
    report = stage.price_stage(
        templates.load(Path(production.app.outdir), "prod"),
        stage="prod",
        workload=load,
        run=throughput.load(REPO / "docs" / "benchmarks" / "results.json"),
        table=prices.EMBEDDED,
    )
    waf_logs = [line for line in report.shared if line.item.startswith("WAF logs (all calls)")]
    ingest = [line for line in waf_logs if line.price_key == "cw.logs.ingest"]
    assert len(ingest) == 1 and ingest[0].quantity > 0
    expected = load.calls_per_month * stage.Assumptions().waf_log_bytes_per_call / model.GB
    assert abs(float(ingest[0].quantity) - float(expected)) / float(expected) < 0.01


# --- the pieces the servers need on AWS: request-state keys, slot, stateful routing ------------------------------


def test_one_request_state_secret_per_stage_of_base64url_keys(synthesized: Stages) -> None:
    from services.request_state import parse_keys

    data = synthesized["dev"].templates["Data"]
    secrets = {
        lid: secret
        for lid, secret in data.find_resources("AWS::SecretsManager::Secret").items()
        if secret["Properties"].get("Name") == contract.request_state_secret_name("dev")
    }
    assert len(secrets) == 1
    ((_, secret),) = secrets.items()
    generate = secret["Properties"]["GenerateSecretString"]
    assert generate["ExcludePunctuation"] is True and generate["IncludeSpace"] is False
    length = generate["PasswordLength"]
    assert generate["GenerateStringKey"] == "keys" and length % 4 == 0
    # Any value Secrets Manager may generate (letters and digits only) is a key the servers accept.
    for alphabet in ("A", "z", "9", "aZ09"):
        (key,) = parse_keys((alphabet * length)[:length].replace(alphabet[0], "Q", 1))
        assert len(key) >= 32


@pytest.mark.parametrize("color", contract.COLORS)
def test_both_slots_read_the_same_request_state_secret_and_only_it_besides_the_roles(
    synthesized: Stages, color: contract.Color
) -> None:
    template = synthesized["dev"].templates[contract.fleet_unit(color)]
    (asg,) = template.find_resources("AWS::AutoScaling::AutoScalingGroup").values()
    parts = asg["Metadata"]["AWS::CloudFormation::Init"]["bootstrap"]["commands"]["10-bootstrap"]["command"]
    parts = parts["Fn::Join"][1]
    index = next(i for i, p in enumerate(parts) if isinstance(p, str) and p.endswith("--request-state-secret-id="))
    imported = parts[index + 1]["Fn::ImportValue"]
    assert "RequestStateKeys" in imported
    reads = [
        s
        for s in fleet_statements(synthesized["dev"], color)
        if "secretsmanager:GetSecretValue" in as_list(s["Action"])
    ]
    resources = [r["Fn::ImportValue"] for s in reads for r in as_list(s["Resource"])]
    assert imported in resources and len(resources) == 3  # the migrator's, the app's, the request-state keys
    other = contract.fleet_unit("green" if color == "blue" else "blue")
    assert imported in json.dumps(synthesized["dev"].templates[other].to_json())


@pytest.mark.parametrize("color", contract.COLORS)
def test_stateful_flag_reaches_the_bootstrap_only_when_the_stage_sets_it(
    synthesized: Stages, production: SynthesizedStage, color: contract.Color
) -> None:
    def command(stage: SynthesizedStage) -> str:
        (asg,) = (
            stage.templates[contract.fleet_unit(color)].find_resources("AWS::AutoScaling::AutoScalingGroup").values()
        )
        return json.dumps(asg["Metadata"]["AWS::CloudFormation::Init"]["bootstrap"]["commands"])

    assert " --stateful" in command(production)
    assert all(" --stateful" not in command(stage) for stage in synthesized.values())


def test_stateful_stage_keeps_a_session_on_the_slot_its_id_names(production: SynthesizedStage) -> None:
    template = production.templates["Edge"]
    groups = {
        next(t["Value"] for t in group["Properties"]["Tags"] if t["Key"] == contract.TAG_COLOR): lid
        for lid, group in template.find_resources("AWS::ElasticLoadBalancingV2::TargetGroup").items()
    }
    rules = [r["Properties"] for r in template.find_resources("AWS::ElasticLoadBalancingV2::ListenerRule").values()]
    session = {
        json.dumps(r["Conditions"]): r
        for r in rules
        if any(
            c.get("HttpHeaderConfig", {}).get("HttpHeaderName") == contract.SESSION_HEADER_NAME for c in r["Conditions"]
        )
    }
    assert len(session) == 2
    for color in contract.COLORS:
        (rule,) = [r for r in session.values() if f'"{color}-*"' in json.dumps(r["Conditions"])]
        (condition,) = rule["Conditions"]
        assert condition["HttpHeaderConfig"]["Values"] == [f"{contract.session_id_prefix(color)}*"]
        assert rule["Actions"][0]["TargetGroupArn"] == {"Ref": groups[color]}
        assert rule["Priority"] == SESSION_RULE_PRIORITIES[color]
    # After the /metrics rule and the smoke rules, so neither a session id nor a smoke header can reach /metrics.
    assert min(SESSION_RULE_PRIORITIES.values()) > max(SMOKE_RULE_PRIORITIES.values())


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_stateless_stages_have_no_session_rules(synthesized: Stages, stage: str) -> None:
    rules = synthesized[stage].templates["Edge"].find_resources("AWS::ElasticLoadBalancingV2::ListenerRule")
    assert contract.SESSION_HEADER_NAME not in json.dumps(rules)
    assert STAGES[stage].stateful is False
