"""AWS adapters for the cutover: the ALB listener's weighted forward (elbv2), target health, CloudWatch
`GetMetricData` and the gate alarms, the SSM-parameter state store (with history) and lock, and the CloudWatch Logs
audit log. Clients are injected; every `ClientError` is re-raised as a domain error `from ex` (throttling as
`ThrottledError`, which the driver retries with backoff). Names come from `infra/contract.py`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from infra import contract
from scripts.cutover.codec import PlanError, state_from_dict, state_to_dict
from scripts.cutover.local import HttpSmoke, HttpSynthetic, rpc
from scripts.cutover.model import SLOTS, Reading, Slot, SlotWindow, State
from scripts.cutover.ports import (
    Clock,
    CutoverError,
    LockHeldError,
    MetricsError,
    RouterError,
    SmokeResult,
    StateStoreError,
    TargetHealth,
    ThrottledError,
)
from scripts.cutover.runner import Adapters

# The ALB's limits for a weighted forward (the API accepts more in moto; our code enforces them).
MAX_ALB_WEIGHT = 999
MAX_FORWARD_TARGET_GROUPS = 5
THROTTLING_CODES = frozenset(
    {"Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded", "TooManyRequestsException"}
)
# SSM parameter values: 4 KB in the standard tier, 8 KB in the advanced tier.
STANDARD_PARAMETER_BYTES = 4096
KEPT_ANALYSES = 6  # older analyses stay in the audit log, not in the parameter


class WeightError(RouterError):
    """A weighted forward the ALB would refuse: a weight outside 0-999 or more than five target groups."""


def domain_error(ex: ClientError, what: str, kind: type[CutoverError] = RouterError) -> CutoverError:
    code = ex.response.get("Error", {}).get("Code", "")
    message = ex.response.get("Error", {}).get("Message", "")
    if code in THROTTLING_CODES:
        return ThrottledError(f"{what}: {code}")
    return kind(f"{what}: {code}: {message}")


def forward_action(weights: Mapping[str, int]) -> dict[str, Any]:
    """The listener's default action for `{target group ARN: weight}`, validated against the ALB's limits."""
    if not 1 <= len(weights) <= MAX_FORWARD_TARGET_GROUPS:
        raise WeightError(f"a weighted forward takes 1-{MAX_FORWARD_TARGET_GROUPS} target groups, got {len(weights)}")
    for arn, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= MAX_ALB_WEIGHT:
            raise WeightError(f"weight {weight!r} for {arn} outside 0-{MAX_ALB_WEIGHT}")
    if sum(weights.values()) == 0:
        raise WeightError("at least one target group needs a positive weight")
    return {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": arn, "Weight": w} for arn, w in weights.items()],
            "TargetGroupStickinessConfig": {"Enabled": False},
        },
    }


class AlbRouter:
    """Percentages are written as ALB weights 0-100 (a share is weight / sum, and 100 is within 0-999)."""

    def __init__(self, elbv2: Any, *, listener_arn: str, target_groups: Mapping[Slot, str]) -> None:
        self.elbv2 = elbv2
        self.listener_arn = listener_arn
        self.target_groups = dict(target_groups)

    def describe(self) -> str:
        return f"ALB listener {self.listener_arn}"

    def _listener(self) -> dict[str, Any]:
        try:
            listeners = self.elbv2.describe_listeners(ListenerArns=[self.listener_arn])["Listeners"]
        except ClientError as ex:
            raise domain_error(ex, "describe_listeners") from ex
        if not listeners:
            raise RouterError(f"listener {self.listener_arn} not found")
        return dict(listeners[0])

    def check_exists(self) -> None:
        self._listener()
        try:
            found = self.elbv2.describe_target_groups(TargetGroupArns=list(self.target_groups.values()))
        except ClientError as ex:
            raise domain_error(ex, "describe_target_groups") from ex
        arns = {tg["TargetGroupArn"] for tg in found["TargetGroups"]}
        missing = [slot for slot, arn in self.target_groups.items() if arn not in arns]
        if missing:
            raise RouterError(f"target group(s) of {', '.join(missing)} not found")

    def read_weights(self) -> dict[Slot, int]:
        actions = self._listener().get("DefaultActions", [])
        forward = next((a for a in actions if a.get("Type") == "forward"), None)
        if forward is None:
            raise RouterError(f"listener {self.listener_arn} has no forward default action")
        groups = forward.get("ForwardConfig", {}).get("TargetGroups")
        if not groups:  # a plain forward to one target group
            groups = [{"TargetGroupArn": forward.get("TargetGroupArn"), "Weight": 1}]
        by_arn = {g["TargetGroupArn"]: int(g.get("Weight", 1)) for g in groups}
        unknown = set(by_arn) - set(self.target_groups.values())
        if unknown:
            raise RouterError(f"listener forwards to target groups outside the slots: {', '.join(sorted(unknown))}")
        raw = {slot: by_arn.get(arn, 0) for slot, arn in self.target_groups.items()}
        total = sum(raw.values())
        if total == 0:
            raise RouterError("every target group of the listener has weight 0")
        green = round(raw["green"] * 100 / total)
        return {"blue": 100 - green, "green": green}

    def _action(self, weights: Mapping[Slot, int]) -> dict[str, Any]:
        if sorted(weights) != sorted(SLOTS) or sum(weights.values()) != 100:
            raise WeightError(f"weights must give both slots shares summing to 100 %, got {dict(weights)}")
        return forward_action({self.target_groups[slot]: weights[slot] for slot in SLOTS})

    def planned_calls(self, weights: Mapping[Slot, int]) -> list[str]:
        action = self._action(weights)
        return [f"elbv2.modify_listener(ListenerArn={self.listener_arn!r}, DefaultActions=[{json.dumps(action)}])"]

    def write_weights(self, weights: Mapping[Slot, int]) -> None:
        action = self._action(weights)
        try:
            self.elbv2.modify_listener(ListenerArn=self.listener_arn, DefaultActions=[action])
        except ClientError as ex:
            raise domain_error(ex, "modify_listener") from ex

    def target_health(self, slot: Slot) -> TargetHealth:
        try:
            found = self.elbv2.describe_target_health(TargetGroupArn=self.target_groups[slot])
        except ClientError as ex:
            raise domain_error(ex, "describe_target_health") from ex
        states = [d.get("TargetHealth", {}).get("State") for d in found["TargetHealthDescriptions"]]
        # `initial` (still registering) is not healthy yet; `draining`/`unused` carry no traffic either way.
        return TargetHealth(states.count("healthy"), sum(s in ("unhealthy", "initial", "unavailable") for s in states))


class CloudWatchMetrics:
    """Both slots' windows from `GetMetricData`: the ALB's counts and p95 per target group, and the servers' own
    MCP outcomes (namespace and names from `infra/contract.py`). Missing series are None (Inconclusive)."""

    def __init__(
        self,
        cloudwatch: Any,
        *,
        stage: str,
        load_balancer: str,
        target_groups: Mapping[Slot, str],
        alarm_names: tuple[str, ...],
        clock: Clock,
        period_s: int = 60,
    ) -> None:
        self.cw = cloudwatch
        self.stage = stage
        self.load_balancer = load_balancer
        self.target_groups = dict(target_groups)
        self.alarm_names = alarm_names
        self.clock = clock
        self.period_s = period_s
        self.start_s: float | None = None

    def begin(self) -> None:
        self.start_s = self.clock.now()

    def queries(self, slot: Slot) -> list[dict[str, Any]]:
        alb = [
            {"Name": "LoadBalancer", "Value": self.load_balancer},
            {"Name": "TargetGroup", "Value": self.target_groups[slot]},
        ]
        tg = [{"Name": "TargetGroup", "Value": self.target_groups[slot]}, alb[0]]

        def stat(qid: str, namespace: str, name: str, dims: list[dict[str, str]], statistic: str) -> dict[str, Any]:
            metric = {"Namespace": namespace, "MetricName": name, "Dimensions": dims}
            return {"Id": f"{slot}_{qid}", "MetricStat": {"Metric": metric, "Period": self.period_s, "Stat": statistic}}

        alb_ns = "AWS/ApplicationELB"
        out = [
            stat("requests", alb_ns, "RequestCount", alb, "Sum"),
            stat("http5xx", alb_ns, "HTTPCode_Target_5XX_Count", alb, "Sum"),
            stat("p95", alb_ns, "TargetResponseTime", alb, "p95"),
            stat("healthy", alb_ns, "HealthyHostCount", tg, "Minimum"),
            stat("unhealthy", alb_ns, "UnHealthyHostCount", tg, "Maximum"),
        ]
        rollup = contract.MCP_TOOL_CALLS_DIMENSIONS[0]  # per slot and outcome, summed over tools
        for outcome in contract.MCP_OUTCOMES:
            known = {
                contract.MCP_DIMENSION_STAGE: self.stage,
                contract.MCP_DIMENSION_SLOT: slot,
                contract.MCP_DIMENSION_OUTCOME: outcome,
            }
            dims = [{"Name": name, "Value": known[name]} for name in rollup]
            out.append(
                stat(f"mcp_{outcome}", contract.MCP_METRICS_NAMESPACE, contract.MCP_METRIC_TOOL_CALLS, dims, "Sum")
            )
        return out

    def read(self, source: Slot, target: Slot, alarm_names: tuple[str, ...]) -> Reading:
        if self.start_s is None:
            raise MetricsError("read before begin")
        queries = self.queries(source) + self.queries(target)
        now = self.clock.now()
        values: dict[str, list[float]] = {}
        token = None
        try:
            while True:
                kwargs: dict[str, Any] = {
                    "MetricDataQueries": queries,
                    "StartTime": datetime.fromtimestamp(self.start_s, UTC),
                    "EndTime": datetime.fromtimestamp(max(now, self.start_s + 1), UTC),
                }
                if token:
                    kwargs["NextToken"] = token
                answer = self.cw.get_metric_data(**kwargs)
                for result in answer["MetricDataResults"]:
                    if result.get("StatusCode") not in (None, "Complete", "PartialData"):
                        raise MetricsError(f"{result['Id']}: {result.get('StatusCode')}")
                    values.setdefault(result["Id"], []).extend(result.get("Values", []))
                token = answer.get("NextToken")
                if not token:
                    break
        except ClientError as ex:
            raise domain_error(ex, "get_metric_data", MetricsError) from ex
        return Reading(
            target=self._window(target, values),
            source=self._window(source, values),
            firing_alarms=self.firing_alarms(self.slot_alarms(target, alarm_names or self.alarm_names)),
        )

    def slot_alarms(self, slot: Slot, names: tuple[str, ...]) -> tuple[str, ...]:
        """Without the source slot's own gate alarms: the analysis judges the receiving slot (pre-flight checks all)."""
        other: Slot = "green" if slot == "blue" else "blue"
        theirs = {contract.gate_alarm_name(self.stage, other, g) for g in contract.GATES}
        theirs.add(contract.mcp_error_rate_alarm_name(self.stage, other))
        return tuple(n for n in names if n not in theirs)

    @staticmethod
    def _window(slot: Slot, values: Mapping[str, list[float]]) -> SlotWindow:
        def total(name: str) -> int | None:
            series = values.get(f"{slot}_{name}")
            return int(sum(series)) if series else None

        def worst(name: str, pick: Any) -> float | None:
            series = values.get(f"{slot}_{name}")
            return float(pick(series)) if series else None

        outcomes = {o: total(f"mcp_{o}") for o in contract.MCP_OUTCOMES}
        known = [n for n in outcomes.values() if n is not None]
        errors = [outcomes[o] or 0 for o in contract.MCP_ERROR_OUTCOMES]
        p95_s = worst("p95", max)
        healthy, unhealthy = worst("healthy", min), worst("unhealthy", max)
        return SlotWindow(
            requests=total("requests"),
            http_5xx=total("http5xx") if total("requests") is not None else None,
            mcp_requests=sum(known) if known else None,
            mcp_errors=sum(errors) if known else None,
            p95_ms=None if p95_s is None else p95_s * 1000.0,
            healthy_targets=None if healthy is None else int(healthy),
            unhealthy_targets=None if unhealthy is None else int(unhealthy),
        )

    def firing_alarms(self, alarm_names: tuple[str, ...]) -> tuple[str, ...]:
        names = alarm_names or self.alarm_names
        if not names:
            return ()
        try:
            found = self.cw.describe_alarms(AlarmNames=list(names))["MetricAlarms"]
        except ClientError as ex:
            raise domain_error(ex, "describe_alarms", MetricsError) from ex
        return tuple(sorted(a["AlarmName"] for a in found if a.get("StateValue") == "ALARM"))


class SsmStateStore:
    """The state in one SSM parameter (its history is the parameter's version history). Written by the cutover
    only, never by CloudFormation, so a deploy cannot reset it."""

    def __init__(self, ssm: Any, *, name: str) -> None:
        self.ssm = ssm
        self.name = name

    def load(self) -> State | None:
        try:
            value = self.ssm.get_parameter(Name=self.name)["Parameter"]["Value"]
        except ClientError as ex:
            if ex.response.get("Error", {}).get("Code") == "ParameterNotFound":
                return None
            raise domain_error(ex, "get_parameter", StateStoreError) from ex
        return self._decode(value)

    def _decode(self, value: str) -> State:
        try:
            return state_from_dict(json.loads(value))
        except (ValueError, PlanError) as ex:
            raise StateStoreError(f"{self.name}: {ex}") from ex

    def save(self, state: State) -> None:
        data = state_to_dict(state)
        data["analyses"] = data["analyses"][-KEPT_ANALYSES:]
        value = json.dumps(data, separators=(",", ":"), sort_keys=True)
        tier = "Standard" if len(value.encode()) <= STANDARD_PARAMETER_BYTES else "Advanced"
        try:
            self.ssm.put_parameter(Name=self.name, Value=value, Type="String", Overwrite=True, Tier=tier)
        except ClientError as ex:
            raise domain_error(ex, "put_parameter", StateStoreError) from ex

    def history(self) -> list[State]:
        states, token = [], None
        try:
            while True:
                kwargs: dict[str, Any] = {"Name": self.name}
                if token:
                    kwargs["NextToken"] = token
                page = self.ssm.get_parameter_history(**kwargs)
                states += [self._decode(p["Value"]) for p in page["Parameters"]]
                token = page.get("NextToken")
                if not token:
                    return states
        except ClientError as ex:
            if ex.response.get("Error", {}).get("Code") == "ParameterNotFound":
                return []
            raise domain_error(ex, "get_parameter_history", StateStoreError) from ex


class SsmLock:
    """A parameter created with `Overwrite=False`: the create is atomic, so only one run gets it. A lock older than
    `ttl_s` (a run that died without releasing) may be taken over."""

    def __init__(self, ssm: Any, *, name: str, clock: Clock, ttl_s: float = 3600.0) -> None:
        self.ssm = ssm
        self.name = name
        self.clock = clock
        self.ttl_s = ttl_s
        self.held = False

    def acquire(self, owner: str) -> None:
        value = json.dumps({"owner": owner, "expires_s": self.clock.now() + self.ttl_s})
        try:
            self.ssm.put_parameter(Name=self.name, Value=value, Type="String", Overwrite=False)
        except ClientError as ex:
            if ex.response.get("Error", {}).get("Code") != "ParameterAlreadyExists":
                raise domain_error(ex, "put_parameter (lock)", StateStoreError) from ex
            holder = json.loads(self.ssm.get_parameter(Name=self.name)["Parameter"]["Value"])
            if float(holder.get("expires_s", 0)) > self.clock.now():
                raise LockHeldError(f"{self.name} held by {holder.get('owner')}") from ex
            self.ssm.put_parameter(Name=self.name, Value=value, Type="String", Overwrite=True)
        self.held = True

    def release(self) -> None:
        if not self.held:
            return
        try:
            self.ssm.delete_parameter(Name=self.name)
        except ClientError as ex:
            raise domain_error(ex, "delete_parameter (lock)", StateStoreError) from ex
        self.held = False


class CloudWatchLogsAudit:
    """One log stream per process run in the stage's cutover log group; created on the first event (a dry run
    creates nothing)."""

    def __init__(self, logs: Any, *, group: str, stream: str) -> None:
        self.logs = logs
        self.group = group
        self.stream = stream
        self.ready = False

    def _prepare(self) -> None:
        for call, kwargs in (
            (self.logs.create_log_group, {"logGroupName": self.group}),
            (self.logs.create_log_stream, {"logGroupName": self.group, "logStreamName": self.stream}),
        ):
            try:
                call(**kwargs)
            except ClientError as ex:
                if ex.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
                    raise domain_error(ex, "create log group/stream", CutoverError) from ex
        self.ready = True

    def record(self, event: str, fields: Mapping[str, Any]) -> None:
        if not self.ready:
            self._prepare()
        message = json.dumps({"event": event, **fields}, sort_keys=True, default=str)
        try:
            self.logs.put_log_events(
                logGroupName=self.group,
                logStreamName=self.stream,
                logEvents=[{"timestamp": int(time.time() * 1000), "message": message}],
            )
        except ClientError as ex:
            raise domain_error(ex, "put_log_events", CutoverError) from ex


class LiveWeightsFile:
    """Writes each verified weight change into the stage's live-weights file (`infra/live_weights.py`), which the
    CDK app reads so that a `cdk deploy` re-applies the live weights instead of resetting them."""

    def __init__(self, stage: str, *, root: Path | None = None) -> None:
        self.stage = stage
        self.root = root

    def record(self, weights: Mapping[Slot, int]) -> None:
        from infra.live_weights import LiveWeights, write_live_weights

        value = LiveWeights(blue=weights["blue"], green=weights["green"])
        if self.root is None:
            write_live_weights(self.stage, value)
        else:
            write_live_weights(self.stage, value, root=self.root)


def audit_log_group(stage: str) -> str:
    return f"/{contract.PROJECT}/{stage}/cutover"


def lock_parameter(stage: str) -> str:
    return f"{contract.cutover_state_parameter(stage)}-lock"


def resolve(ssm: Any, names: Mapping[str, str]) -> dict[str, str]:
    """Read the parameters the app publishes (names from the contract); one clear error names what is missing."""
    out = {}
    for key, name in names.items():
        try:
            out[key] = ssm.get_parameter(Name=name)["Parameter"]["Value"]
        except ClientError as ex:
            raise domain_error(ex, f"SSM parameter {name} (is the stage deployed?)", RouterError) from ex
    return out


def build_aws_adapters(
    stage: str,
    *,
    elbv2: Any,
    cloudwatch: Any,
    ssm: Any,
    logs: Any,
    clock: Clock,
    run_name: str | None = None,
    with_smoke: bool = True,
    live_weights_root: Path | None = None,
) -> Adapters:
    values = resolve(
        ssm,
        {
            "listener": contract.listener_arn_parameter(stage),
            "lb": contract.load_balancer_full_name_parameter(stage),
            "dns": contract.load_balancer_dns_parameter(stage),
            **{f"tg_{c}": contract.target_group_arn_parameter(stage, c) for c in SLOTS},
            **{f"tgname_{c}": contract.target_group_full_name_parameter(stage, c) for c in SLOTS},
        },
    )
    try:
        alarms = tuple(
            ssm.get_parameter(Name=contract.gate_alarm_names_parameter(stage))["Parameter"]["Value"].split(",")
        )
    except ClientError:
        alarms = (*contract.gate_alarm_names(stage), *(contract.mcp_error_rate_alarm_name(stage, c) for c in SLOTS))
    alarms = tuple(a for a in alarms if a)
    router = AlbRouter(elbv2, listener_arn=values["listener"], target_groups={c: values[f"tg_{c}"] for c in SLOTS})
    return Adapters(
        router=router,
        metrics=CloudWatchMetrics(
            cloudwatch,
            stage=stage,
            load_balancer=values["lb"],
            target_groups={c: values[f"tgname_{c}"] for c in SLOTS},
            alarm_names=alarms,
            clock=clock,
        ),
        store=SsmStateStore(ssm, name=contract.cutover_state_parameter(stage)),
        audit=CloudWatchLogsAudit(
            logs, group=audit_log_group(stage), stream=run_name or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        ),
        lock=SsmLock(ssm, name=lock_parameter(stage), clock=clock),
        clock=clock,
        smoke=AlbSmoke(router, dns_name=values["dns"]) if with_smoke else None,
        weights_sink=LiveWeightsFile(stage, root=live_weights_root),
        synthetic=AlbSynthetic(router, dns_name=values["dns"]) if with_smoke else None,
    )


class AlbSmoke:
    """The behaviour check through the ALB: green via the smoke header rule (whatever the weights), the source slot
    via the default action (it holds 100 % before the first shift). The app has a header rule to green only."""

    def __init__(self, router: AlbRouter, *, dns_name: str) -> None:
        self.router = router
        self.dns_name = dns_name

    def check(self, slot: Slot) -> SmokeResult:
        if slot != "green":
            return SmokeResult(False, f"the ALB's smoke rule reaches green only; no direct path to {slot}")
        try:
            tls = self.router._listener().get("Protocol") == "HTTPS"
        except CutoverError as ex:
            return SmokeResult(False, str(ex))
        port = 443 if tls else 80
        header = {contract.SMOKE_HEADER_NAME: contract.SMOKE_HEADER_VALUE}

        def call(to: Slot, method: str, params: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
            return rpc(port, method, params, host=self.dns_name, headers=header if to == "green" else None, tls=tls)

        return HttpSmoke(call).check(slot)


class AlbSynthetic:
    """Synthetic read-only calls through the ALB's default action (the weighted forward), HTTP or HTTPS as the
    listener is."""

    def __init__(self, router: AlbRouter, *, dns_name: str) -> None:
        self.router = router
        self.dns_name = dns_name

    def send(self, count: int) -> int:
        tls = self.router._listener().get("Protocol") == "HTTPS"
        return HttpSynthetic(443 if tls else 80, host=self.dns_name, tls=tls).send(count)
