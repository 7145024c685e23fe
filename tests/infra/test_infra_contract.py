"""The names the cutover and cost tools read (from `infra.contract`) exist in the synthesized templates."""

from __future__ import annotations

import subprocess
import sys

import pytest
from aws_cdk.assertions import Match

from infra import contract
from infra.synth import REPO, STAGE_NAMES, SynthesizedStage

Stages = dict[str, SynthesizedStage]


def test_contract_imports_nothing_from_aws_cdk() -> None:
    code = "import sys, infra.contract; sys.exit(any(m.split('.')[0] in ('aws_cdk', 'jsii') for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO, timeout=60).returncode == 0


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_stacks_are_named_from_the_contract(synthesized: Stages, stage: str) -> None:
    stacks = synthesized[stage].stacks
    assert {unit: stack.stack_name for unit, stack in stacks.items()} == {
        unit: contract.stack_name(stage, unit) for unit in contract.STACK_UNITS
    }


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_published_ssm_parameters_exist(synthesized: Stages, stage: str) -> None:
    templates = synthesized[stage].templates
    for unit, names in contract.published_parameters(stage).items():
        for name in names:
            templates[unit].has_resource_properties("AWS::SSM::Parameter", {"Name": name, "Value": Match.any_value()})


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_published_outputs_exist(synthesized: Stages, stage: str) -> None:
    templates = synthesized[stage].templates
    for unit, keys in contract.published_outputs().items():
        outputs = templates[unit].to_json().get("Outputs", {})
        missing = [key for key in keys if key not in outputs]
        assert not missing, f"{contract.stack_name(stage, unit)} lacks outputs {missing}"


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_gate_alarm_list_names_every_gate_alarm(synthesized: Stages, stage: str) -> None:
    template = synthesized[stage].templates["Monitoring"]
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    names = {resource["Properties"]["AlarmName"] for resource in alarms.values()}
    assert set(contract.gate_alarm_names(stage)) <= names
    parameter = template.find_resources(
        "AWS::SSM::Parameter", {"Properties": {"Name": contract.gate_alarm_names_parameter(stage)}}
    )
    (resource,) = parameter.values()
    assert resource["Properties"]["Type"] == "StringList"
    joined = resource["Properties"]["Value"]["Fn::Join"]
    by_id = {logical_id: r["Properties"]["AlarmName"] for logical_id, r in alarms.items()}
    assert [by_id[ref["Ref"]] for ref in joined[1]] == list(contract.gate_alarm_names(stage))


def test_edge_outputs_reference_the_listener_and_target_groups(synthesized: Stages) -> None:
    outputs = synthesized["dev"].templates["Edge"].to_json()["Outputs"]
    resources = synthesized["dev"].templates["Edge"].to_json()["Resources"]

    def referenced_type(key: str) -> str:
        return str(resources[outputs[key]["Value"]["Ref"]]["Type"])

    assert referenced_type(contract.OUTPUT_LISTENER_ARN) == "AWS::ElasticLoadBalancingV2::Listener"
    for color in contract.COLORS:
        assert referenced_type(contract.target_group_arn_output(color)) == "AWS::ElasticLoadBalancingV2::TargetGroup"


def test_unknown_gate_is_rejected() -> None:
    with pytest.raises(ValueError):
        contract.gate_alarm_name("dev", "green", "cpu")
