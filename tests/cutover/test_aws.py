"""The AWS adapters in process against moto: the ALB listener's weighted forward, target health, the SSM state
store and lock, CloudWatch Logs audit, CloudWatch metrics. moto cannot compute percentiles, so the driver's metrics
come from a fake source (tests/cutover/fakes.py); the CloudWatch source's counts are checked on their own."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from moto import mock_aws

from infra import contract
from scripts.cutover.alb import AlbRouter, WeightError, forward_action
from scripts.cutover.aws import build_aws_adapters, lock_parameter
from scripts.cutover.cloudwatch import CloudWatchMetrics
from scripts.cutover.model import Analysis, Plan, Reading, ShiftTraffic, Slot
from scripts.cutover.runner import Adapters, ExitCode, RetryPolicy, Runner
from scripts.cutover.ssm import SsmLock
from tests.cutover.fakes import GOOD, Crash, FakeClock, FakeMetrics, FakeSmoke, window

STAGE = "dev"
REGION = "us-east-1"
WRITES = ("ModifyListener", "ModifyRule", "PutParameter", "DeleteParameter", "CreateLogGroup", "CreateLogStream")
PLAN = Plan(
    source="blue",
    target="green",
    steps=(ShiftTraffic(5), Analysis(180, 100), ShiftTraffic(50), Analysis(180, 100), ShiftTraffic(100)),
    failure_limit=1,
    healthy_polls=3,
    poll_interval_s=15,
)
IS_ERROR_BEYOND_BUDGET = Reading(target=window(2000, errors=120), source=window(2000))


@dataclasses.dataclass
class Aws:
    elbv2: Any
    ssm: Any
    cloudwatch: Any
    logs: Any
    listener_arn: str
    target_groups: dict[Slot, str]
    calls: list[str]
    throttle: dict[str, int]
    root: Path

    def adapters(self, clock: FakeClock) -> Adapters:
        adapters = build_aws_adapters(
            STAGE, elbv2=self.elbv2, cloudwatch=self.cloudwatch, ssm=self.ssm, logs=self.logs, clock=clock,
            live_weights_root=self.root,
        )  # fmt: skip
        # moto computes no p95: the gates read a fake source that follows the listener's live weights.
        return dataclasses.replace(adapters, metrics=FakeMetrics(adapters.router), smoke=FakeSmoke(), synthetic=None)

    def writes(self) -> list[str]:
        return [c for c in self.calls if c in WRITES]

    def live(self) -> dict[Slot, int]:
        return AlbRouter(self.elbv2, listener_arn=self.listener_arn, target_groups=self.target_groups).read_weights()


def _watch(client: Any, calls: list[str], throttle: dict[str, int]) -> None:
    def before_call(model: Any, **_: Any) -> Any:
        calls.append(model.name)
        if throttle.get(model.name, 0) > 0:
            throttle[model.name] -= 1
            error = {"Error": {"Code": "Throttling", "Message": "Rate exceeded"}, "ResponseMetadata": {}}
            return SimpleNamespace(status_code=400, headers={}, content=b""), error
        return None

    client.meta.events.register("before-call", before_call)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Aws]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        ec2, elbv2, ssm = (boto3.client(s, region_name=REGION) for s in ("ec2", "elbv2", "ssm"))
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"][
                "SubnetId"
            ]
            for i, az in enumerate("ab")
        ]
        lb = elbv2.create_load_balancer(Name="mcpstack-dev", Subnets=subnets, Type="application")["LoadBalancers"][0]
        groups: dict[Slot, str] = {}
        for color in contract.COLORS:
            tg = elbv2.create_target_group(
                Name=f"mcpstack-dev-{color}", Protocol="HTTP", Port=contract.SERVER_PORT, VpcId=vpc,
                HealthCheckPath=contract.HEALTH_CHECK_PATH, TargetType="instance",
            )["TargetGroups"][0]  # fmt: skip
            groups[color] = tg["TargetGroupArn"]
            image = "ami-12c6146b"  # one of moto's built-in images
            instances = ec2.run_instances(ImageId=image, MinCount=2, MaxCount=2, SubnetId=subnets[0])["Instances"]
            elbv2.register_targets(
                TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": i["InstanceId"]} for i in instances]
            )
            ssm.put_parameter(
                Name=contract.target_group_arn_parameter(STAGE, color), Value=tg["TargetGroupArn"], Type="String"
            )
            ssm.put_parameter(
                Name=contract.target_group_full_name_parameter(STAGE, color),
                Value=tg["TargetGroupArn"].split(":")[-1],
                Type="String",
            )
        listener = elbv2.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
            DefaultActions=[forward_action({groups["blue"]: 100, groups["green"]: 0})],
        )["Listeners"][0]  # fmt: skip
        for name, value in (
            (contract.listener_arn_parameter(STAGE), listener["ListenerArn"]),
            (contract.load_balancer_full_name_parameter(STAGE), lb["LoadBalancerArn"].split(":loadbalancer/")[-1]),
            (contract.load_balancer_dns_parameter(STAGE), lb["DNSName"]),
            (contract.gate_alarm_names_parameter(STAGE), ",".join(contract.gate_alarm_names(STAGE))),
        ):
            ssm.put_parameter(Name=name, Value=value, Type="String")
        calls: list[str] = []
        throttle: dict[str, int] = {}
        clients = {s: boto3.client(s, region_name=REGION) for s in ("elbv2", "ssm", "cloudwatch", "logs")}
        for client in clients.values():
            _watch(client, calls, throttle)
        yield Aws(
            clients["elbv2"], clients["ssm"], clients["cloudwatch"], clients["logs"],
            listener["ListenerArn"], groups, calls, throttle, tmp_path,
        )  # fmt: skip


def _runner(adapters: Adapters) -> Runner:
    return Runner(adapters, retry=RetryPolicy(attempts=5, initial_backoff_s=1, verify_interval_s=1))


def test_happy_path_reaches_green_100_on_the_listener(aws: Aws) -> None:
    result = _runner(aws.adapters(FakeClock())).start(PLAN, run_id="r1")
    assert result.code is ExitCode.OK, result.message
    assert aws.live() == {"blue": 0, "green": 100}
    assert aws.writes().count("ModifyListener") == 3
    assert json.loads((aws.root / contract.live_weights_file(STAGE)).read_text()) == {"blue": 0, "green": 100}
    history = aws.adapters(FakeClock()).store.history()
    assert history[-1].phase == "Healthy" and len(history) > 3
    log = aws.logs.get_log_events(
        logGroupName=f"/mcpstack/{STAGE}/cutover",
        logStreamName=aws.logs.describe_log_streams(logGroupName=f"/mcpstack/{STAGE}/cutover")["logStreams"][0][
            "logStreamName"
        ],
    )
    assert any('"event": "finished"' in e["message"] for e in log["events"])


def test_failing_gate_rolls_back_to_blue_100(aws: Aws) -> None:
    adapters = aws.adapters(FakeClock())
    adapters.metrics.script = lambda pct: IS_ERROR_BEYOND_BUDGET if pct >= 50 else GOOD  # type: ignore[attr-defined]
    result = _runner(adapters).start(PLAN, run_id="r1")
    assert result.code is ExitCode.ROLLED_BACK
    assert aws.live() == {"blue": 100, "green": 0}
    assert json.loads((aws.root / contract.live_weights_file(STAGE)).read_text()) == {"blue": 100, "green": 0}


def test_green_answering_200_with_is_error_beyond_budget_fails_the_analysis(aws: Aws) -> None:
    adapters = aws.adapters(FakeClock())
    adapters.metrics.script = lambda pct: IS_ERROR_BEYOND_BUDGET if pct > 0 else GOOD  # type: ignore[attr-defined]
    result = _runner(adapters).start(PLAN, run_id="r1")
    assert result.code is ExitCode.ROLLED_BACK
    assert result.state is not None
    failing = [a for a in result.state.analyses if a.outcome == "Failed"]
    assert failing and all(any(g.name == "mcp-error-rate" and g.outcome == "Failed" for g in a.gates) for a in failing)
    assert aws.live() == {"blue": 100, "green": 0}


def test_crash_between_write_and_verify_resumes_from_the_listener(aws: Aws) -> None:
    adapters = aws.adapters(FakeClock())
    router = adapters.router
    original = router.write_weights

    def write_then_die(weights: Any) -> None:
        original(weights)
        raise Crash

    router.write_weights = write_then_die  # type: ignore[method-assign]
    with pytest.raises(Crash):
        _runner(adapters).start(PLAN, run_id="r1")
    # The dying run released its lock on the way out; a SIGKILLed run's lock expires (test_expired_lock_is_taken_over).
    stored = aws.adapters(FakeClock()).store.load()
    assert stored is not None and stored.intended_pct == 5 and aws.live() == {"blue": 95, "green": 5}
    before = aws.writes().count("ModifyListener")
    result = _runner(aws.adapters(FakeClock())).start(PLAN, run_id="r2")
    assert result.code is ExitCode.OK and result.state is not None and result.state.run_id == "r1"
    assert aws.writes().count("ModifyListener") - before == 2  # 50 and 100: the 5 % write was not repeated


def test_second_run_is_a_no_op(aws: Aws) -> None:
    _runner(aws.adapters(FakeClock())).start(PLAN, run_id="r1")
    before = aws.calls.count("ModifyListener")
    result = _runner(aws.adapters(FakeClock())).start(PLAN, run_id="r2")
    assert result.code is ExitCode.OK
    assert aws.calls.count("ModifyListener") == before


def test_dry_run_makes_zero_writes(aws: Aws) -> None:
    runner = _runner(aws.adapters(FakeClock()))
    problems = runner.preflight(PLAN, record=False)
    lines = runner.dry_run(PLAN)
    assert problems == []
    assert any("modify_listener" in line for line in lines)
    assert aws.writes() == []
    assert aws.live() == {"blue": 100, "green": 0}


def test_held_lock_stops_a_second_run(aws: Aws) -> None:
    clock = FakeClock()
    SsmLock(aws.ssm, name=lock_parameter(STAGE), clock=clock).acquire("another operator")
    result = _runner(aws.adapters(clock)).start(PLAN, run_id="r1")
    assert result.code is ExitCode.LOCK_HELD
    assert "ModifyListener" not in aws.calls


def test_expired_lock_is_taken_over(aws: Aws) -> None:
    clock = FakeClock()
    SsmLock(aws.ssm, name=lock_parameter(STAGE), clock=clock, ttl_s=60).acquire("a run that died")
    clock.sleep(61)
    assert _runner(aws.adapters(clock)).start(PLAN, run_id="r1").code is ExitCode.OK


@pytest.mark.parametrize("weights", [{"a": 1000, "b": 0}, {"a": -1, "b": 100}, {f"tg{i}": 10 for i in range(6)}])
def test_forward_outside_alb_limits_is_rejected_by_our_code(weights: dict[str, int]) -> None:
    with pytest.raises(WeightError):
        forward_action(weights)


def test_throttled_listener_writes_are_retried(aws: Aws) -> None:
    aws.throttle["ModifyListener"] = 2
    adapters = aws.adapters(FakeClock())
    result = _runner(adapters).start(PLAN, run_id="r1")
    assert result.code is ExitCode.OK
    assert aws.live() == {"blue": 0, "green": 100}
    assert aws.calls.count("ModifyListener") == 3 + 2


def test_preflight_sees_healthy_targets_and_matching_weights(aws: Aws) -> None:
    assert _runner(aws.adapters(FakeClock())).preflight(PLAN, record=False) == []


def test_cloudwatch_source_sums_alb_and_mcp_counts_and_reports_missing_p95_as_none(aws: Aws) -> None:
    clock = FakeClock(datetime.now(UTC).timestamp() - 120)
    source = CloudWatchMetrics(
        aws.cloudwatch,
        stage=STAGE,
        load_balancer="app/mcpstack-dev/1",
        target_groups={"blue": "tg/b", "green": "tg/g"},
        alarm_names=(),
        clock=clock,
    )
    source.begin()
    at = datetime.fromtimestamp(clock.now() + 30, UTC)
    for slot, tg in (("blue", "tg/b"), ("green", "tg/g")):
        dims = [{"Name": "LoadBalancer", "Value": "app/mcpstack-dev/1"}, {"Name": "TargetGroup", "Value": tg}]
        aws.cloudwatch.put_metric_data(
            Namespace="AWS/ApplicationELB",
            MetricData=[{"MetricName": "RequestCount", "Dimensions": dims, "Value": 500, "Timestamp": at}],
        )
        for outcome, n in (("ok", 480), ("is_error", 20 if slot == "green" else 0)):
            mcp = [
                {"Name": contract.MCP_DIMENSION_STAGE, "Value": STAGE},
                {"Name": contract.MCP_DIMENSION_SLOT, "Value": slot},
                {"Name": contract.MCP_DIMENSION_OUTCOME, "Value": outcome},
            ]
            aws.cloudwatch.put_metric_data(
                Namespace=contract.MCP_METRICS_NAMESPACE,
                MetricData=[
                    {"MetricName": contract.MCP_METRIC_TOOL_CALLS, "Dimensions": mcp, "Value": n, "Timestamp": at}
                ],
            )
    clock.sleep(120)
    reading = source.read("blue", "green", ())
    assert reading.target.requests == 500
    assert (reading.target.mcp_requests, reading.target.mcp_errors) == (500, 20)
    assert reading.source.mcp_errors == 0
    assert reading.target.p95_ms is None  # no data is never a number


def test_alarm_in_alarm_state_is_reported_firing(aws: Aws) -> None:
    name = contract.gate_alarm_name(STAGE, "green", "5xx-rate")
    aws.cloudwatch.put_metric_alarm(
        AlarmName=name, MetricName="HTTPCode_Target_5XX_Count", Namespace="AWS/ApplicationELB", Statistic="Sum",
        Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip
    aws.cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="test")
    adapters = build_aws_adapters(
        STAGE, elbv2=aws.elbv2, cloudwatch=aws.cloudwatch, ssm=aws.ssm, logs=aws.logs, clock=FakeClock()
    )
    assert adapters.metrics.firing_alarms(()) == (name,)
    runner = _runner(dataclasses.replace(adapters, smoke=FakeSmoke()))
    assert runner.start(PLAN, run_id="r1").code is ExitCode.PREFLIGHT_FAILED
    assert "ModifyListener" not in aws.calls


def test_metrics_source_reads_the_contract_names_per_slot() -> None:
    source = CloudWatchMetrics(
        None, stage=STAGE, load_balancer="app/x/1", target_groups={"blue": "tg/b", "green": "tg/g"},
        alarm_names=(), clock=FakeClock(),
    )  # fmt: skip
    mcp = [q["MetricStat"]["Metric"] for q in source.queries("green") if q["Id"].startswith("green_mcp_")]
    assert {m["Namespace"] for m in mcp} == {contract.MCP_METRICS_NAMESPACE}
    assert {m["MetricName"] for m in mcp} == {contract.MCP_METRIC_TOOL_CALLS}
    assert {tuple(d["Name"] for d in m["Dimensions"]) for m in mcp} == {contract.MCP_TOOL_CALLS_DIMENSIONS[0]}
    assert sorted(d["Value"] for m in mcp for d in m["Dimensions"] if d["Name"] == "Outcome") == sorted(
        contract.MCP_OUTCOMES
    )
    assert all({"Name": contract.MCP_DIMENSION_SLOT, "Value": "green"} in m["Dimensions"] for m in mcp)


def test_analysis_judges_the_receiving_slots_alarms_only() -> None:
    source = CloudWatchMetrics(
        None, stage=STAGE, load_balancer="app/x/1", target_groups={"blue": "tg/b", "green": "tg/g"},
        alarm_names=(), clock=FakeClock(),
    )  # fmt: skip
    every = (
        *contract.gate_alarm_names(STAGE),
        *(contract.mcp_error_rate_alarm_name(STAGE, c) for c in ("blue", "green")),
    )
    kept = source.slot_alarms("green", every)
    assert contract.mcp_error_rate_alarm_name(STAGE, "green") in kept
    assert all("-blue-" not in name for name in kept) and len(kept) == len(contract.GATES) + 1


def test_abort_request_parameter_round_trips(aws: Aws) -> None:
    from scripts.cutover.aws import abort_parameter
    from scripts.cutover.ssm import SsmAbortSignal

    signal = SsmAbortSignal(aws.ssm, name=abort_parameter(STAGE))
    assert signal.requested() is None
    signal.request("operator")
    assert signal.requested() == "operator"
    signal.clear()
    signal.clear()  # idempotent
    assert signal.requested() is None
