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
from scripts.cutover.alb import AlbRouter, AlbSmoke, WeightError, forward_action
from scripts.cutover.aws import build_aws_adapters, lock_parameter
from scripts.cutover.cloudwatch import CloudWatchMetrics
from scripts.cutover.model import Analysis, Pause, Plan, Reading, ShiftTraffic, Slot
from scripts.cutover.ports import LockHeldError
from scripts.cutover.runner import Adapters, ExitCode, RetryPolicy, Runner
from scripts.cutover.ssm import LOCK_TTL_S, SsmLock
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
SMOKE_TOKEN = "generated0per0stage0token"
IS_ERROR_BEYOND_BUDGET = Reading(target=window(2000, errors=120), source=window(2000))


@dataclasses.dataclass
class Aws:
    elbv2: Any
    ssm: Any
    cloudwatch: Any
    logs: Any
    secrets: Any
    listener_arn: str
    target_groups: dict[Slot, str]
    calls: list[str]
    throttle: dict[str, int]
    root: Path

    def adapters(self, clock: FakeClock) -> Adapters:
        adapters = build_aws_adapters(
            STAGE, elbv2=self.elbv2, cloudwatch=self.cloudwatch, ssm=self.ssm, logs=self.logs,
            secrets=self.secrets, clock=clock, live_weights_root=self.root,
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
        boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name=contract.smoke_token_secret_name(STAGE),
            SecretString=json.dumps({contract.SMOKE_TOKEN_SECRET_KEY: SMOKE_TOKEN}),
        )
        calls: list[str] = []
        throttle: dict[str, int] = {}
        clients = {
            s: boto3.client(s, region_name=REGION) for s in ("elbv2", "ssm", "cloudwatch", "logs", "secretsmanager")
        }
        for client in clients.values():
            _watch(client, calls, throttle)
        yield Aws(
            clients["elbv2"], clients["ssm"], clients["cloudwatch"], clients["logs"], clients["secretsmanager"],
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
        STAGE, elbv2=aws.elbv2, cloudwatch=aws.cloudwatch, ssm=aws.ssm, logs=aws.logs, secrets=aws.secrets,
        clock=FakeClock(),
    )  # fmt: skip
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


# --- the smoke rules: each slot through its own header rule, with the stage's smoke token ---------------------


class RecordingRpc:
    """Stands in for HTTP through the ALB: answers like a healthy MCP server and records each call's headers."""

    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []

    def __call__(self, port: int, method: str, params: Any = None, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        self.headers.append(dict(kwargs["headers"]))
        if method == "tools/list":
            return 200, {"result": {"tools": [{"name": "echo"}]}}
        return 200, {"result": {"structuredContent": {"tool": params["name"]}}}


def _with_real_smoke(aws: Aws, clock: FakeClock) -> tuple[Adapters, RecordingRpc]:
    built = build_aws_adapters(
        STAGE, elbv2=aws.elbv2, cloudwatch=aws.cloudwatch, ssm=aws.ssm, logs=aws.logs, secrets=aws.secrets,
        clock=clock, live_weights_root=aws.root,
    )  # fmt: skip
    recorder = RecordingRpc()
    assert isinstance(built.smoke, AlbSmoke)
    built.smoke.call = recorder
    return dataclasses.replace(built, metrics=FakeMetrics(built.router), synthetic=None), recorder


def test_reverse_cutover_checks_blue_through_its_own_header_rule_with_the_stage_token(aws: Aws) -> None:
    aws.elbv2.modify_listener(
        ListenerArn=aws.listener_arn,
        DefaultActions=[forward_action({aws.target_groups["blue"]: 0, aws.target_groups["green"]: 100})],
    )
    adapters, recorder = _with_real_smoke(aws, FakeClock())
    reverse = dataclasses.replace(PLAN, source="green", target="blue")
    result = _runner(adapters).start(reverse, run_id="r1")
    assert result.code is ExitCode.OK, result.message
    assert aws.live() == {"blue": 100, "green": 0}
    colours = {h[contract.SMOKE_HEADER_NAME] for h in recorder.headers}
    assert colours == {"blue", "green"}  # the receiving slot and, for the golden comparison, the other one
    assert all(h[contract.SMOKE_TOKEN_HEADER_NAME] == SMOKE_TOKEN for h in recorder.headers)
    assert recorder.headers[0][contract.SMOKE_HEADER_NAME] == "blue"  # tools/list on the receiving slot first


def test_missing_smoke_token_fails_preflight_with_one_clear_problem(aws: Aws) -> None:
    aws.secrets.delete_secret(SecretId=contract.smoke_token_secret_name(STAGE), ForceDeleteWithoutRecovery=True)
    adapters, recorder = _with_real_smoke(aws, FakeClock())
    problems = _runner(adapters).preflight(PLAN, record=False)
    assert len(problems) == 1 and contract.smoke_token_secret_name(STAGE) in problems[0]
    assert recorder.headers == [] and aws.writes() == []


# --- --dry-run on every mutating verb ---------------------------------------------------------------------------

PAUSING = dataclasses.replace(PLAN, steps=(ShiftTraffic(5), Pause(None), ShiftTraffic(100)))


@pytest.mark.parametrize(
    ("verb", "full", "expected_weights"),
    [
        ("promote", False, (0, 100)),
        ("promote", True, (0, 100)),
        ("abort", False, (100, 0)),
        ("rollback", False, (100, 0)),
    ],
)
def test_dry_run_of_each_mutating_verb_prints_the_listener_call_and_writes_nothing(
    aws: Aws, verb: str, full: bool, expected_weights: tuple[int, int]
) -> None:
    assert _runner(aws.adapters(FakeClock())).start(PAUSING, run_id="r1").code is ExitCode.PAUSED
    writes, stored = len(aws.writes()), aws.adapters(FakeClock()).store.load()
    result = _runner(aws.adapters(FakeClock())).dry_run_verb(verb, full=full)
    assert result.code is ExitCode.OK, result.message
    blue, green = expected_weights
    call = next(
        line for line in result.message.splitlines() if line.startswith("elbv2.modify_listener") or ": elbv2" in line
    )
    assert f'"TargetGroupArn": "{aws.target_groups["blue"]}", "Weight": {blue}' in call
    assert f'"TargetGroupArn": "{aws.target_groups["green"]}", "Weight": {green}' in call
    assert len(aws.writes()) == writes and aws.live() == {"blue": 95, "green": 5}
    assert aws.adapters(FakeClock()).store.load() == stored


def test_dry_run_of_a_verb_without_a_cutover_says_so_and_writes_nothing(aws: Aws) -> None:
    result = _runner(aws.adapters(FakeClock())).dry_run_verb("rollback")
    assert result.code is ExitCode.NO_CUTOVER and aws.writes() == []


# --- the lock under a long run: renewed, never expiring under a live run; a stale lock taken over safely --------

LONG = dataclasses.replace(
    PLAN, steps=(ShiftTraffic(5), Analysis(3 * LOCK_TTL_S, 100), ShiftTraffic(100)), poll_interval_s=15
)


def _lock_value(aws: Aws) -> dict[str, Any]:
    return dict(json.loads(aws.ssm.get_parameter(Name=lock_parameter(STAGE))["Parameter"]["Value"]))


def test_lock_is_renewed_through_a_run_longer_than_its_ttl(aws: Aws) -> None:
    clock = FakeClock()
    adapters = aws.adapters(clock)
    intruders: list[str] = []
    started = clock.now()

    def reading(pct: int) -> Reading:
        # Twice the TTL into the run: a second run must still find the lock held.
        if pct == 5 and not intruders and clock.now() > started + 2 * LOCK_TTL_S:
            try:
                SsmLock(boto3.client("ssm", region_name=REGION), name=lock_parameter(STAGE), clock=clock).acquire("b")
                intruders.append("acquired")
            except LockHeldError:
                intruders.append("refused")
        return GOOD

    adapters.metrics.script = reading  # type: ignore[attr-defined]
    result = _runner(adapters).start(LONG, run_id="r1")
    assert result.code is ExitCode.OK, result.message
    assert intruders == ["refused"]
    assert clock.now() - started > 3 * LOCK_TTL_S
    renewals = [c for c in aws.calls if c == "PutParameter"]
    assert len(renewals) > 3 * 10 // 2  # about one renewal per tenth of the TTL
    with pytest.raises(Exception, match="ParameterNotFound"):
        aws.ssm.get_parameter(Name=lock_parameter(STAGE))  # released at the end


def test_throttled_lock_renewal_is_retried_at_the_next_poll_not_fatal(aws: Aws) -> None:
    clock = FakeClock()
    lock = SsmLock(aws.ssm, name=lock_parameter(STAGE), clock=clock)
    lock.acquire("r1")
    clock.sleep(lock.renew_every_s)
    aws.throttle["GetParameter"] = 1
    lock.renew()  # throttled: no error, no renewal yet
    assert lock.held and _lock_value(aws)["expires_s"] == 1000.0 + LOCK_TTL_S
    lock.renew()
    assert _lock_value(aws)["expires_s"] == clock.now() + LOCK_TTL_S


def test_run_whose_lock_was_taken_over_stops_before_its_next_write(aws: Aws) -> None:
    clock = FakeClock()
    adapters = aws.adapters(clock)

    def reading(pct: int) -> Reading:
        if pct == 5 and "b" not in str(_lock_value(aws).get("owner")):
            clock.sleep(LOCK_TTL_S + 1)  # this run stalls (a suspended laptop) past its lock's expiry...
            SsmLock(boto3.client("ssm", region_name=REGION), name=lock_parameter(STAGE), clock=clock).acquire("b")
        return GOOD

    adapters.metrics.script = reading  # type: ignore[attr-defined]
    result = _runner(adapters).start(LONG, run_id="r1")
    assert result.code is ExitCode.LOCK_HELD and "lock lost" in result.message
    assert aws.live() == {"blue": 95, "green": 5}  # ...and wrote nothing after the takeover
    assert _lock_value(aws)["owner"] == "b"  # nor deleted the new holder's lock


def test_two_runs_taking_over_one_stale_lock_only_one_gets_it(aws: Aws) -> None:
    clock = FakeClock()
    name = lock_parameter(STAGE)
    SsmLock(aws.ssm, name=name, clock=clock, ttl_s=60).acquire("a run that died")
    clock.sleep(61)
    racing = boto3.client("ssm", region_name=REGION)
    winner = SsmLock(boto3.client("ssm", region_name=REGION), name=name, clock=clock)

    def other_run_takes_over_first(params: Any, **_: Any) -> None:
        # Between the slower run's read of the stale lock and its marker: the faster run completes a takeover.
        if "-takeover-" in params.get("Name", "") and not winner.held:
            winner.acquire("the faster run")

    racing.meta.events.register("before-parameter-build.ssm.PutParameter", other_run_takes_over_first)
    with pytest.raises(LockHeldError):
        SsmLock(racing, name=name, clock=clock).acquire("the slower run")
    assert winner.held and _lock_value(aws)["owner"] == "the faster run"


def test_takeover_in_progress_by_another_run_refuses_a_second_taker(aws: Aws) -> None:
    clock = FakeClock()
    name = lock_parameter(STAGE)
    SsmLock(aws.ssm, name=name, clock=clock, ttl_s=60).acquire("a run that died")
    clock.sleep(61)
    aws.ssm.put_parameter(Name=f"{name}-takeover-{_lock_value(aws)['token']}", Value="another run", Type="String")
    with pytest.raises(LockHeldError, match="taking over"):
        SsmLock(aws.ssm, name=name, clock=clock).acquire("second taker")
    assert _lock_value(aws)["owner"] == "a run that died"
