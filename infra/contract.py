"""Names shared between the CDK app and the operator tools (cutover, cost): stacks, outputs, SSM parameters, alarms.

This is the one place those names are defined. It imports nothing from aws_cdk so the CLI can import it cheaply;
the CDK app publishes exactly these names and a test checks they exist in the synthesized templates.
"""

from __future__ import annotations

from typing import Final, Literal

Color = Literal["blue", "green"]
COLORS: Final[tuple[Color, ...]] = ("blue", "green")

# A colour is a release slot, not an implementation: each slot's configuration names the server it runs.
Server = Literal["fastapi", "native"]
SERVERS: Final[tuple[Server, ...]] = ("fastapi", "native")

PROJECT: Final = "mcpstack"
STACK_PREFIX: Final = "McpStack"

# Cost-allocation tags on every resource.
TAG_PROJECT: Final = "Project"
TAG_STAGE: Final = "Stage"
TAG_COLOR: Final = "Color"
COLOR_SHARED: Final = "shared"

# Both fleets listen here; the target groups and the health check use it.
SERVER_PORT: Final = 8080
HEALTH_CHECK_PATH: Final = "/health"

# A request carrying this header reaches green directly (smoke tests before any weight moves).
SMOKE_HEADER_NAME: Final = "X-Mcpstack-Color"
SMOKE_HEADER_VALUE: Final = "green"


def smoke_header_value(color: Color) -> str:
    """`X-Mcpstack-Color: <colour>` reaches that slot directly: either slot can be the idle one being smoke-tested."""
    return color


# ... but only together with this header carrying the stage's smoke token: a value generated per stage into a
# Secrets Manager secret (`infra/components/smoke_token.py`), which the rules resolve at deploy time and the cutover
# reads before its behaviour check. Without it, anyone could reach an idle slot that has no weight yet.
SMOKE_TOKEN_HEADER_NAME: Final = "X-Mcpstack-Smoke-Token"  # noqa: S105 (a header name, not a secret)
SMOKE_TOKEN_SECRET_KEY: Final = "token"  # noqa: S105 (a JSON key, not a secret)


def smoke_token_secret_name(stage: str) -> str:
    return f"{PROJECT}/{stage}/smoke-token"


def request_state_secret_name(stage: str) -> str:
    """The stage's MCP_REQUEST_STATE_KEYS (infra/components/request_state_keys.py), shared by both slots."""
    return f"{PROJECT}/{stage}/request-state-keys"


# The MCP session header of the servers' optional stateful mode; a session id starts with its slot and this dash.
SESSION_HEADER_NAME: Final = "Mcp-Session-Id"


def session_id_prefix(color: Color) -> str:
    return f"{color}-"


# AWS WAF logs only to CloudWatch Logs groups whose name starts with this (the cost report prices such a group).
WAF_LOG_GROUP_PREFIX: Final = "aws-waf-logs-"


def waf_log_group_name(stage: str) -> str:
    return f"{WAF_LOG_GROUP_PREFIX}{PROJECT}-{stage}"


# Cutover gates: one alarm per colour and gate, with names that never change between deploys.
GATES: Final[tuple[str, ...]] = ("5xx-rate", "p95-latency", "unhealthy-hosts")

StackUnit = Literal["Network", "Data", "Edge", "FleetBlue", "FleetGreen", "Monitoring"]
STACK_UNITS: Final[tuple[StackUnit, ...]] = ("Network", "Data", "Edge", "FleetBlue", "FleetGreen", "Monitoring")


def stack_name(stage: str, unit: StackUnit) -> str:
    return f"{STACK_PREFIX}-{stage}-{unit}"


def fleet_unit(color: Color) -> StackUnit:
    return "FleetBlue" if color == "blue" else "FleetGreen"


# --- SSM parameters --------------------------------------------------------------------------------------------


def ssm_prefix(stage: str) -> str:
    return f"/{PROJECT}/{stage}"


def listener_arn_parameter(stage: str) -> str:
    """The listener whose default action is the weighted blue/green forward (HTTPS when a certificate is set)."""
    return f"{ssm_prefix(stage)}/edge/listener-arn"


def smoke_rule_arn_parameter(stage: str) -> str:
    return f"{ssm_prefix(stage)}/edge/green-smoke-rule-arn"


def slot_smoke_rule_arn_parameter(stage: str, color: Color) -> str:
    """The header rule reaching `color` directly (green's is `smoke_rule_arn_parameter`)."""
    return f"{ssm_prefix(stage)}/edge/{color}-smoke-rule-arn"


def load_balancer_arn_parameter(stage: str) -> str:
    return f"{ssm_prefix(stage)}/edge/load-balancer-arn"


def load_balancer_full_name_parameter(stage: str) -> str:
    """`app/<name>/<id>`: the `LoadBalancer` dimension of `AWS/ApplicationELB` metrics."""
    return f"{ssm_prefix(stage)}/edge/load-balancer-full-name"


def load_balancer_dns_parameter(stage: str) -> str:
    return f"{ssm_prefix(stage)}/edge/load-balancer-dns"


def target_group_arn_parameter(stage: str, color: Color) -> str:
    return f"{ssm_prefix(stage)}/edge/target-group/{color}-arn"


def target_group_full_name_parameter(stage: str, color: Color) -> str:
    """`targetgroup/<name>/<id>`: the `TargetGroup` dimension of `AWS/ApplicationELB` metrics."""
    return f"{ssm_prefix(stage)}/edge/target-group/{color}-full-name"


def database_endpoint_parameter(stage: str) -> str:
    """The host the fleets connect to (the RDS Proxy when on, else the instance): read at deploy time by the fleet
    stacks, so turning the proxy on or off never removes an export another stack imports."""
    return f"{ssm_prefix(stage)}/data/endpoint"


def asg_name_parameter(stage: str, color: Color) -> str:
    return f"{ssm_prefix(stage)}/fleet/{color}/asg-name"


def gate_alarm_names_parameter(stage: str) -> str:
    """A StringList of every cutover gate alarm name."""
    return f"{ssm_prefix(stage)}/monitoring/gate-alarm-names"


def alarm_topic_arn_parameter(stage: str) -> str:
    return f"{ssm_prefix(stage)}/monitoring/alarm-topic-arn"


def cutover_state_parameter(stage: str) -> str:
    """Written by the cutover (its state store), never by CloudFormation, so a deploy cannot reset it.

    No caller in the CDK app on purpose: the cutover's AWS state store (`mcpstack cutover`) owns this parameter;
    it is named here so the app and the operator tools can never disagree on where the state lives.
    """
    return f"{ssm_prefix(stage)}/cutover/state"


# --- Live weights ----------------------------------------------------------------------------------------------

# The listener's weights have one owner, the cutover: it writes the weights it verified on the listener into this
# per-stage file (relative to the repository root), and the CDK app only reads it, so a `cdk deploy` sets the listener
# to what is already live and never moves traffic by itself.
LIVE_WEIGHTS_DIR: Final = "infra/live-weights"


def live_weights_file(stage: str) -> str:
    return f"{LIVE_WEIGHTS_DIR}/{stage}.json"


# --- CloudWatch names ------------------------------------------------------------------------------------------


def gate_alarm_name(stage: str, color: Color, gate: str) -> str:
    if gate not in GATES:
        raise ValueError(f"unknown gate {gate!r}; expected one of {', '.join(GATES)}")
    return f"{STACK_PREFIX}-{stage}-{color}-{gate}"


def gate_alarm_names(stage: str) -> tuple[str, ...]:
    return tuple(gate_alarm_name(stage, color, gate) for color in COLORS for gate in GATES)


def operations_dashboard_name(stage: str) -> str:
    return f"{STACK_PREFIX}-{stage}-operations"


def cost_dashboard_name(stage: str) -> str:
    return f"{STACK_PREFIX}-{stage}-cost"


def app_log_group_name(stage: str, color: Color) -> str:
    return f"/{PROJECT}/{stage}/{color}/app"


def mcp_metrics_log_group_name(stage: str, color: Color) -> str:
    """Where the instances' MCP metrics land as Embedded Metric Format documents (CloudWatch extracts the metrics)."""
    return f"/{PROJECT}/{stage}/{color}/mcp-metrics"


# --- CloudFormation outputs -------------------------------------------------------------------------------------

OUTPUT_LISTENER_ARN: Final = "ListenerArn"
OUTPUT_SMOKE_RULE_ARN: Final = "GreenSmokeRuleArn"


def slot_smoke_rule_arn_output(color: Color) -> str:
    return f"{color.capitalize()}SmokeRuleArn"


OUTPUT_LOAD_BALANCER_ARN: Final = "LoadBalancerArn"
OUTPUT_LOAD_BALANCER_FULL_NAME: Final = "LoadBalancerFullName"
OUTPUT_LOAD_BALANCER_DNS: Final = "LoadBalancerDnsName"
OUTPUT_GATE_ALARM_NAMES: Final = "GateAlarmNames"
OUTPUT_ALARM_TOPIC_ARN: Final = "AlarmTopicArn"
OUTPUT_ASG_NAME: Final = "AutoScalingGroupName"
OUTPUT_DATABASE_SECRET_ARN: Final = "DatabaseSecretArn"  # noqa: S105 (an output key, not a secret)
OUTPUT_DATABASE_ENDPOINT: Final = "DatabaseEndpoint"


def target_group_arn_output(color: Color) -> str:
    return f"{color.capitalize()}TargetGroupArn"


def target_group_full_name_output(color: Color) -> str:
    return f"{color.capitalize()}TargetGroupFullName"


def published_parameters(stage: str) -> dict[StackUnit, tuple[str, ...]]:
    """Every SSM parameter the app creates, by the stack that owns it."""
    return {
        "Data": (database_endpoint_parameter(stage),),
        "Edge": (
            listener_arn_parameter(stage),
            smoke_rule_arn_parameter(stage),
            slot_smoke_rule_arn_parameter(stage, "blue"),
            load_balancer_arn_parameter(stage),
            load_balancer_full_name_parameter(stage),
            load_balancer_dns_parameter(stage),
            *(target_group_arn_parameter(stage, c) for c in COLORS),
            *(target_group_full_name_parameter(stage, c) for c in COLORS),
        ),
        "FleetBlue": (asg_name_parameter(stage, "blue"),),
        "FleetGreen": (asg_name_parameter(stage, "green"),),
        "Monitoring": (gate_alarm_names_parameter(stage), alarm_topic_arn_parameter(stage)),
    }


def published_outputs() -> dict[StackUnit, tuple[str, ...]]:
    """Every stack output the tools read, by the stack that owns it (keys are the same for every stage)."""
    return {
        "Data": (OUTPUT_DATABASE_SECRET_ARN, OUTPUT_DATABASE_ENDPOINT),
        "Edge": (
            OUTPUT_LISTENER_ARN,
            OUTPUT_SMOKE_RULE_ARN,
            slot_smoke_rule_arn_output("blue"),
            OUTPUT_LOAD_BALANCER_ARN,
            OUTPUT_LOAD_BALANCER_FULL_NAME,
            OUTPUT_LOAD_BALANCER_DNS,
            *(target_group_arn_output(c) for c in COLORS),
            *(target_group_full_name_output(c) for c in COLORS),
        ),
        "FleetBlue": (OUTPUT_ASG_NAME,),
        "FleetGreen": (OUTPUT_ASG_NAME,),
        "Monitoring": (OUTPUT_GATE_ALARM_NAMES, OUTPUT_ALARM_TOPIC_ARN),
    }


# --- MCP-level metrics (the servers' own outcomes; an ALB sees HTTP 200 for a failed tool call) ------------------
# Defined once here: the CloudWatch agent configuration, the Monitoring stack (widgets, per-slot MCP error-rate
# alarms), the cutover's AWS metrics source and the cost model all use these names.

MCP_METRICS_NAMESPACE: Final = "McpStack/Mcp"

# Counts: every JSON-RPC request, by method (dimensions: stage, slot, method).
MCP_METRIC_REQUESTS: Final = "Requests"
# Counts: every `tools/call`, by tool and outcome (dimensions: stage, slot, tool, outcome).
MCP_METRIC_TOOL_CALLS: Final = "ToolCalls"
# Milliseconds: time to answer a `tools/call` (dimensions: stage, slot, tool).
MCP_METRIC_TOOL_LATENCY: Final = "ToolLatency"
MCP_METRIC_TOOL_LATENCY_UNIT: Final = "Milliseconds"

MCP_DIMENSION_STAGE: Final = "Stage"
MCP_DIMENSION_SLOT: Final = "Slot"  # "blue" or "green" (a release slot, not an implementation)
MCP_DIMENSION_METHOD: Final = "Method"
MCP_DIMENSION_TOOL: Final = "Tool"
MCP_DIMENSION_OUTCOME: Final = "Outcome"

McpOutcome = Literal["ok", "is_error", "jsonrpc_error", "timeout"]
MCP_OUTCOMES: Final[tuple[McpOutcome, ...]] = ("ok", "is_error", "jsonrpc_error", "timeout")
# Outcomes the MCP error-rate gate counts as failures (everything but `ok`).
MCP_ERROR_OUTCOMES: Final[tuple[McpOutcome, ...]] = ("is_error", "jsonrpc_error", "timeout")

# The servers' Prometheus `/metrics` (`mcp_requests_total{method,tool,outcome}`) label their outcomes this way.
MCP_PROMETHEUS_REQUESTS: Final = "mcp_requests_total"
MCP_PROMETHEUS_DURATION: Final = "mcp_request_duration_seconds"
MCP_PROMETHEUS_OUTCOMES: Final[dict[str, McpOutcome]] = {
    "ok": "ok",
    "tool_error": "is_error",
    "rpc_error": "jsonrpc_error",
    "timeout": "timeout",
}

# The per-slot MCP error-rate alarm (a stable name the cutover's gate reads).
MCP_ERROR_RATE_GATE: Final = "mcp-error-rate"


def mcp_error_rate_alarm_name(stage: str, color: Color) -> str:
    return f"{STACK_PREFIX}-{stage}-{color}-{MCP_ERROR_RATE_GATE}"


# Dimension sets the servers publish for each MCP metric: the first is the per-slot rollup that the cutover's gates
# (`scripts/cutover/aws.py`) and the per-slot alarms read; the second breaks it down for the dashboards.
MCP_REQUESTS_DIMENSIONS: Final[tuple[tuple[str, ...], ...]] = (
    (MCP_DIMENSION_STAGE, MCP_DIMENSION_SLOT),
    (MCP_DIMENSION_STAGE, MCP_DIMENSION_SLOT, MCP_DIMENSION_METHOD),
)
MCP_TOOL_CALLS_DIMENSIONS: Final[tuple[tuple[str, ...], ...]] = (
    (MCP_DIMENSION_STAGE, MCP_DIMENSION_SLOT, MCP_DIMENSION_OUTCOME),
    (MCP_DIMENSION_STAGE, MCP_DIMENSION_SLOT, MCP_DIMENSION_TOOL, MCP_DIMENSION_OUTCOME),
)
# Per slot only: the servers' `/metrics` keeps request latency per method, not per tool.
MCP_TOOL_LATENCY_DIMENSIONS: Final[tuple[tuple[str, ...], ...]] = ((MCP_DIMENSION_STAGE, MCP_DIMENSION_SLOT),)

# Every metric with its dimension sets: each distinct (name, dimension values) the bridge sends is one CloudWatch
# custom metric, billed per month (`scripts/cost/mcp_metrics.py` counts them from here).
MCP_METRIC_DIMENSIONS: Final[dict[str, tuple[tuple[str, ...], ...]]] = {
    MCP_METRIC_REQUESTS: MCP_REQUESTS_DIMENSIONS,
    MCP_METRIC_TOOL_CALLS: MCP_TOOL_CALLS_DIMENSIONS,
    MCP_METRIC_TOOL_LATENCY: MCP_TOOL_LATENCY_DIMENSIONS,
}

# The values the `Method` dimension can take: the servers label a request with its method only when they route it
# (any other name becomes "unknown", so a client cannot mint metrics), and they route only these MCP methods. A test
# (tests/cost/test_mcp_metrics.py) checks the native server's routes against this list.
MCP_METHOD_LABELS: Final[tuple[str, ...]] = (
    "initialize",
    "ping",
    "server/discover",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    # Routed since the handshake era's logging and the tasks extension (issue 18).
    "logging/setLevel",
    "tasks/get",
    "tasks/cancel",
    "tasks/update",
    "unknown",
)
