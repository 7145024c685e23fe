"""The stack's last hardening, asserted on the synthesized templates of every committed stage: the instances verify
the database's certificate (the pinned RDS CA bundle shipped by cfn-init, `--db-ca-bundle`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra import contract
from infra.rds_ca import BUNDLE_SHA256, INSTANCE_BUNDLE_PATH
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
