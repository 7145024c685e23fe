"""The real local cutover: PostgreSQL, blue and green servers and HAProxy brought up by `mcpstack stack up`, a
constant-rate mixed MCP load through HAProxy for the whole run, and `mcpstack cutover start --target local` with the
short test plan (tests/cutover/short_plan.json). 127.0.0.1 only; every run bounded in time and requests.

Every response the load gets is checked (HTTP status, JSON-RPC envelope, MCP `isError`); the audit log gives the
time of each step, and of the rollback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scripts.cutover import load
from scripts.cutover.haproxy import HaproxyRouter, RuntimeApi
from scripts.cutover.model import Slot
from scripts.cutover.runner import ExitCode
from scripts.pgcluster import Cluster, free_port
from tests.support import REPO

pytestmark = pytest.mark.slow

PLAN = Path(__file__).with_name("short_plan.json")
RATE_PER_S = 220.0
FAULT_RATE = 0.5


@dataclass
class Stack:
    env: dict[str, str]
    state: Path
    port: int

    def mcpstack(self, *args: str, timeout_s: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "scripts.cli", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "scripts.cli", *args],
            cwd=REPO,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def audit(self, stage: str = "local") -> list[dict[str, Any]]:
        path = self.state / "cutover" / stage / "audit.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line]

    def weights(self) -> dict[Slot, int]:
        return HaproxyRouter(RuntimeApi(self.state / "stack" / "haproxy.sock")).read_weights()


@contextlib.contextmanager
def local_stack(database_url: str, *, blue: str, green: str) -> Iterator[Stack]:
    state = Path(tempfile.mkdtemp(prefix="mcpstack-cutover-", dir="/tmp"))
    state.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MCP_", "PROMETHEUS_", "WEB_CONCURRENCY"))}
    env.update(MCPSTACK_STATE_DIR=str(state), DATABASE_URL=database_url)
    stack = Stack(env, state, free_port())
    up = stack.mcpstack(
        "stack", "up", "--port", str(stack.port), "--stats-port", str(free_port()),
        "--blue-port", str(free_port()), "--green-port", str(free_port()),
        "--blue", blue, "--green", green, "--workers", "2",
    )  # fmt: skip
    try:
        assert up.returncode == 0, up.stderr
        yield stack
    finally:
        down = stack.mcpstack("stack", "down")
        assert down.returncode == 0, down.stderr
        import shutil

        shutil.rmtree(state, ignore_errors=True)


@contextlib.contextmanager
def constant_load(port: int) -> Iterator[load.LoadStats]:
    """The load for the whole block: started and warm before the body runs, stopped (and joined) after it."""
    stop, warmed = threading.Event(), threading.Event()
    stats = load.LoadStats()
    error: list[BaseException] = []

    def drive() -> None:
        try:
            result = asyncio.run(load.run(port, rate_per_s=RATE_PER_S, duration_s=150, stop=stop, warmed=warmed))
            stats.__dict__.update(result.__dict__)
        except BaseException as ex:  # surfaced in the test thread
            error.append(ex)

    thread = threading.Thread(target=drive, daemon=True)
    thread.start()
    assert warmed.wait(20), "load never reached one second of successful requests"
    try:
        yield stats
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive() and not error, error


def step_durations(events: list[dict[str, Any]]) -> list[tuple[int, float]]:
    """(weight %, seconds from its verified write to the end of its analysis) per step of the last run."""
    out, verified_at = [], None
    weight = 0
    for event in events:
        if event["event"] == "weights_verified":
            verified_at = event["ts"]
        elif event["event"] == "analysis" and verified_at is not None:
            weight = event["weight_pct"]
            out.append((weight, round(event["ts"] - verified_at, 2)))
    return out


@pytest.fixture(scope="module")
def cluster_url(pg_cluster: Cluster) -> str:
    return pg_cluster.url


def test_full_cutover_under_load_completes_with_zero_failed_requests(cluster_url: str) -> None:
    with local_stack(cluster_url, blue="fastapi", green="native") as stack:
        started = time.monotonic()
        with constant_load(stack.port) as stats:
            result = stack.mcpstack("cutover", "start", "--target", "local", "--plan", str(PLAN))
        elapsed = time.monotonic() - started
        assert result.returncode == ExitCode.OK, result.stderr
        assert stack.weights() == {"blue": 0, "green": 100}
        assert stats.sent > 0 and stats.failed == 0, (dict(stats.failures), stats.samples)
        assert stats.ok == stats.sent
        assert stats.rate >= 200, f"{stats.rate:.0f} req/s"
        steps = step_durations(stack.audit())
        assert [w for w, _ in steps] == [10, 50, 100]
        print(
            f"\ncutover: {stats.sent} requests, {stats.failed} failed, {stats.rate:.0f} req/s, {elapsed:.1f} s; "
            f"steps (weight %, s) {steps}"
        )
        second = stack.mcpstack("cutover", "start", "--target", "local", "--plan", str(PLAN))
        assert second.returncode == ExitCode.OK and stack.audit()[-1]["event"] == "noop"


def test_faulty_green_rolls_back_by_itself_within_the_gate_budget(cluster_url: str) -> None:
    with local_stack(cluster_url, blue="fastapi", green="native") as stack:
        plan = json.loads(PLAN.read_text())
        with constant_load(stack.port) as stats:
            proc = stack.popen("cutover", "start", "--target", "local", "--plan", str(PLAN))
            deadline = time.monotonic() + 60
            while not any(e["event"] == "start" for e in stack.audit()) and time.monotonic() < deadline:
                assert proc.poll() is None, proc.communicate()[0]
                time.sleep(0.05)
            # After pre-flight passed: green becomes a bad release.
            faults = stack.mcpstack("stack", "faults", "green", "--tool-error-rate", str(FAULT_RATE))
            assert faults.returncode == 0, faults.stderr
            output, _ = proc.communicate(timeout=120)
        assert proc.returncode == ExitCode.ROLLED_BACK, output
        assert stack.weights() == {"blue": 100, "green": 0}
        events = stack.audit()
        failed = [e for e in events if e["event"] == "analysis" and e["outcome"] == "Failed"]
        assert len(failed) == plan["failure_limit"] + 1
        back = next(e for e in events if e["event"] == "weights_verified" and e["weights"] == {"blue": 100, "green": 0})
        rollback_s = back["ts"] - failed[-1]["ts"]
        assert 0 <= rollback_s < 2.0
        # The load saw only MCP-level failures (tool calls answered isError), none after blue was back at 100 %.
        assert set(stats.failures) == {"is_error"}, dict(stats.failures)
        assert max(stats.failure_times) <= back["ts"] + 1.0
        # Budget: green's share at the failing step, for at most (failure_limit + 1) bakes plus 2 s of reaction.
        share = failed[-1]["weight_pct"] / 100
        bake_s = next(s["bake_s"] for s in plan["steps"] if s["kind"] == "analysis")
        budget = RATE_PER_S * share * ((plan["failure_limit"] + 1) * bake_s + 2.0) * FAULT_RATE
        assert 0 < stats.failed <= budget, f"{stats.failed} failures, budget {budget:.0f}"
        print(f"\nrollback: {stats.sent} requests, {stats.failed} failed (budget {budget:.0f}); "
              f"failing analysis -> blue 100 verified in {rollback_s * 1000:.0f} ms")  # fmt: skip


def test_green_stopping_mid_cutover_rolls_back_by_itself_without_failed_requests(cluster_url: str) -> None:
    with local_stack(cluster_url, blue="fastapi", green="native") as stack:
        with constant_load(stack.port) as stats:
            proc = stack.popen("cutover", "start", "--target", "local", "--plan", str(PLAN))
            deadline = time.monotonic() + 60
            while not any(e["event"] == "weights_verified" for e in stack.audit()) and time.monotonic() < deadline:
                assert proc.poll() is None, proc.communicate()[0]
                time.sleep(0.05)
            # Green (10 %) goes away: it drains on SIGTERM, HAProxy's checks mark it down, the gate sees it.
            pid = int((stack.state / "stack" / "green.pid").read_text())
            os.killpg(pid, signal.SIGTERM)
            stopped_at = time.time()
            output, _ = proc.communicate(timeout=120)
        assert proc.returncode == ExitCode.ROLLED_BACK, output
        assert stack.weights() == {"blue": 100, "green": 0}
        events = stack.audit()
        failed = next(e for e in events if e["event"] == "analysis" and e["outcome"] == "Failed")
        assert {g["name"]: g["outcome"] for g in failed["gates"]}["unhealthy-targets"] == "Failed"
        back = next(e for e in events if e["event"] == "weights_verified" and e["weights"] == {"blue": 100, "green": 0})
        # Refused connections are redispatched to blue by HAProxy: the load sees no failure at all.
        assert stats.failed == 0, (dict(stats.failures), stats.samples)
        print(
            f"\ngreen stopped: {stats.sent} requests, {stats.failed} failed; stop -> failed analysis "
            f"{failed['ts'] - stopped_at:.2f} s -> blue 100 verified {back['ts'] - failed['ts']:.3f} s"
        )


def test_without_real_traffic_synthetic_calls_let_the_cutover_judge_and_complete(
    cluster_url: str, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({**json.loads(PLAN.read_text()), "synthetic_max_requests": 2000}))
    with local_stack(cluster_url, blue="fastapi", green="native") as stack:
        result = stack.mcpstack("cutover", "start", "--target", "local", "--plan", str(plan))
        assert result.returncode == ExitCode.OK, result.stderr
        events = stack.audit()
        synthetic = [e for e in events if e["event"] == "synthetic_traffic"]
        assert synthetic and all(e["sent"] <= 2000 and e["answered"] == e["sent"] for e in synthetic)
        analyses = [e for e in events if e["event"] == "analysis"]
        assert all(e["outcome"] == "Successful" for e in analyses) and len(analyses) == 3
        assert stack.weights() == {"blue": 0, "green": 100}


def test_reverse_cutover_with_native_in_both_slots_completes(cluster_url: str) -> None:
    with local_stack(cluster_url, blue="native", green="native") as stack:
        with constant_load(stack.port) as stats:
            forward = stack.mcpstack("cutover", "start", "--target", "local", "--plan", str(PLAN), "--to", "green")
            assert forward.returncode == ExitCode.OK, forward.stderr
            # The next release went into the idle slot (blue): the same cutover moves traffic back to it.
            reverse = stack.mcpstack("cutover", "start", "--target", "local", "--plan", str(PLAN), "--to", "blue")
        assert reverse.returncode == ExitCode.OK, reverse.stderr
        assert stack.weights() == {"blue": 100, "green": 0}
        assert stats.failed == 0 and stats.rate >= 200, (dict(stats.failures), stats.rate)
        print(f"\nreverse (native/native, to green then to blue): {stats.sent} requests, {stats.failed} failed")
