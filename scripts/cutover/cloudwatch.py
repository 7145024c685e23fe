"""CloudWatch adapters: the metrics source (`GetMetricData` on the ALB's per-target-group metrics and the servers'
MCP outcomes, names from `infra/contract.py`), the gate alarms, and the audit log in CloudWatch Logs."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from infra import contract
from scripts.cutover.awserrors import AWS_ERRORS, domain_error, error_code
from scripts.cutover.model import Reading, Slot, SlotWindow
from scripts.cutover.ports import Clock, CutoverError, MetricsError


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
        except AWS_ERRORS as ex:
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
        except AWS_ERRORS as ex:
            raise domain_error(ex, "describe_alarms", MetricsError) from ex
        return tuple(sorted(a["AlarmName"] for a in found if a.get("StateValue") == "ALARM"))


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
            except AWS_ERRORS as ex:
                if error_code(ex) != "ResourceAlreadyExistsException":
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
        except AWS_ERRORS as ex:
            raise domain_error(ex, "put_log_events", CutoverError) from ex
