"""Publishing values for the operator tools: a stack output and an SSM parameter, both named in `infra.contract`."""

from __future__ import annotations

from aws_cdk import CfnOutput, Fn, Stack
from aws_cdk import aws_ssm as ssm
from constructs import Construct


def publish_output(stack: Stack, key: str, value: str, description: str) -> CfnOutput:
    """A stack output whose key is exactly `key` (tools read it with DescribeStacks)."""
    output = CfnOutput(stack, key, value=value, description=description)
    output.override_logical_id(key)
    return output


def publish_parameter(scope: Construct, name: str, value: str, description: str) -> ssm.StringParameter:
    construct_id = "Param" + "".join(part.title() for part in name.replace("-", "/").split("/") if part)
    return ssm.StringParameter(scope, construct_id, parameter_name=name, string_value=value, description=description)


def publish_list_parameter(scope: Construct, name: str, values: list[str], description: str) -> ssm.CfnParameter:
    construct_id = "Param" + "".join(part.title() for part in name.replace("-", "/").split("/") if part)
    return ssm.CfnParameter(
        scope, construct_id, name=name, type="StringList", value=Fn.join(",", values), description=description
    )
