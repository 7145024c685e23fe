"""cdk-nag AwsSolutions: no finding left unacknowledged, and every acknowledgment carries a real reason."""

from __future__ import annotations

import pytest
from aws_cdk import Validations
from cdk_nag import AwsSolutionsChecks

from infra.components.nag import MIN_REASON_CHARS, acknowledge
from infra.synth import STAGE_NAMES, SynthesizedStage

Stages = dict[str, SynthesizedStage]


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_aws_solutions_checks_leave_no_unacknowledged_finding(synthesized: Stages, stage: str) -> None:
    report = AwsSolutionsChecks().validate_scope(synthesized[stage].app)
    findings = [
        (v.rule_name, [r.construct_path or r.resource_logical_id for r in v.violating_resources])
        for v in report.violations
    ]
    assert findings == []
    assert report.success


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_every_acknowledgment_has_a_real_reason(synthesized: Stages, stage: str) -> None:
    key = Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    acknowledgments = [
        (node.node.path, rule, reason)
        for node in synthesized[stage].app.node.find_all()
        for entry in node.node.metadata
        if entry.type == key
        for rule, reason in dict(entry.data).items()
    ]
    ours = [a for a in acknowledgments if a[1].startswith(("AwsSolutions", "Annotation"))]
    assert ours, "expected the app's own acknowledgments in the construct tree"
    short = [a for a in acknowledgments if len(str(a[2]).strip()) < MIN_REASON_CHARS]
    assert short == []


def test_acknowledging_with_a_short_reason_fails(synthesized: Stages) -> None:
    stack = synthesized["dev"].stacks["Network"]
    with pytest.raises(ValueError):
        acknowledge(stack, "AwsSolutions-VPC7", "because")


def test_checks_do_report_an_unacknowledged_finding() -> None:
    from aws_cdk import App, Stack
    from aws_cdk import aws_sns as sns

    app = App()
    sns.Topic(Stack(app, "Probe"), "Plain")
    report = AwsSolutionsChecks().validate_scope(app)
    assert "AwsSolutions-SNS3" in {v.rule_name for v in report.violations}
