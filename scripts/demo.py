"""`mcpstack demo`: the whole migration rehearsed on one machine, and priced.

It brings the local stack up at blue 100 (`scripts/stack.py`: PostgreSQL, FastAPI under gunicorn as blue, the native
server as green, HAProxy in front), drives a constant-rate mixed MCP load through HAProxy (`scripts/cutover/load.py`)
while a live view shows what the AWS dashboard would (`scripts/demo_view.py`), runs the gated cutover to green 100
(`scripts/cutover/runner.py`, the same adapters as `mcpstack cutover --target local`), rehearses a bad release that
rolls back by itself, measures both servers side by side (`scripts/bench/run.py`), prices the cost post's workload
from that measurement (`mcpstack cost report`) and writes a run report (`scripts/demo_report.py`).

It stops everything it started on success, on failure and on Ctrl-C. Every failure is one line and a non-zero exit.
127.0.0.1 only; the load is bounded in rate, count and time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live

from scripts import demo_report, stack
from scripts.cutover import load
from scripts.cutover.haproxy import HaproxyError, HaproxyRouter, haproxy_binary
from scripts.cutover.model import Analysis, GateResult, Gates, Plan, ShiftTraffic, Slot, State, Step
from scripts.cutover.ports import CutoverError
from scripts.cutover.runner import Adapters, ExitCode, Runner
from scripts.demo_report import Counts, DemoSummary, StepTime
from scripts.demo_view import LiveView
from scripts.pgcluster import ClusterError
from scripts.state import REPO_ROOT, state_dir

console = Console(stderr=True, soft_wrap=True)  # one failure, one line (never wrapped)

STAGE = "demo"  # the local stage the demo's cutovers are kept under (never the user's `local` one)
COST_STAGE = "burstable"  # the CDK stage modelled on the cost post's shapes
COST_WORKLOAD = "saas-200k"  # the cost post's 200,000 calls a day with a 3x peak
FAULTS = {"tool_error_rate": 0.5, "added_latency_ms": 0}
MIX_TEXT = "3 get_customer, 2 search_documents, 1 hash_chain, 1 send_notification, 1 echo in every 8 calls"


class DemoError(RuntimeError):
    """A step of the demo failed; the message is the one line the user sees."""


def mix(run_tag: str) -> load.Messages:
    """The cost post's traffic: database queries, document search, CPU work, notifications (fresh keys: each one a
    real write), and a payload-sized echo."""

    def message(n: int) -> dict[str, Any]:
        kind = n % 8
        args: dict[str, Any]
        if kind < 3:
            name, args = "get_customer", {"customer_id": 1 + (n * 7919) % 10000, "recent_orders": 3}
        elif kind < 5:
            name, args = "search_documents", {"query": f"sku{1 + (n * 131) % 4000}", "limit": 5}
        elif kind == 5:
            name, args = "hash_chain", {"text": f"demo{n}", "rounds": 200}
        elif kind == 6:
            name, args = (
                "send_notification",
                {
                    "customer_id": 1 + n % 10000,
                    "channel": "email",
                    "message": "Your order shipped",
                    "idempotency_key": f"demo-{run_tag}-{n}",
                },
            )
        else:
            name, args = "echo", {"message": "demo", "payload_bytes": 1024}
        return {"method": "tools/call", "params": {"name": name, "arguments": args}}

    return message


@dataclass(frozen=True)
class DemoConfig:
    port: int
    stats_port: int
    blue_port: int
    green_port: int
    workers: int
    rate_per_s: float
    steps_pct: tuple[int, ...]
    bake_s: float
    warmup_s: float
    measure_s: float
    rollback_rehearsal: bool
    out_dir: Path
    cdk_out: Path | None

    def cutover_plan(self) -> Plan:
        steps: list[Step] = []
        for pct in self.steps_pct:
            # About 60 % of what the step's share of the load brings in a bake, at least 10: a bake that falls short
            # is topped up with synthetic calls, but those too reach green only by its weight.
            expected = self.rate_per_s * pct / 100 * self.bake_s
            steps += [ShiftTraffic(pct), Analysis(bake_s=self.bake_s, min_requests=max(10, int(0.6 * expected)))]
        # The product's default gates and limits; bakes and polls scaled to a demo (synthetic calls top up the 1 %).
        return Plan(
            source="blue",
            target="green",
            steps=tuple(steps),
            gates=Gates(),
            poll_interval_s=1.0,
            healthy_polls=2,
            deregistration_delay_s=2.0,
            synthetic_max_requests=400,
        )

    def rehearsal_plan(self) -> Plan:
        # One failed analysis is enough to roll back: a bad release should cost as few calls as possible.
        steps: tuple[Step, ...] = (
            ShiftTraffic(25),
            Analysis(bake_s=max(self.bake_s, 4.0), min_requests=20),
            ShiftTraffic(100),
            Analysis(bake_s=max(self.bake_s, 4.0), min_requests=20),
        )
        return Plan(
            source="blue",
            target="green",
            steps=steps,
            # This release fails at the MCP level (HTTP 200, isError); a p95 of a few dozen requests on a shared
            # machine must not be what stops it first, so the latency gate is loose here and only here.
            gates=Gates(max_p95_ratio=10.0),
            failure_limit=0,
            poll_interval_s=0.5,
            healthy_polls=2,
            deregistration_delay_s=2.0,
        )


class FaultOnFirstShift:
    """Progress adapter for the rehearsal: the moment the first weight change to green is verified (pre-flight has
    passed), green becomes a bad release. Then passes every update on to the live view."""

    def __init__(self, inner: LiveView) -> None:
        self.inner = inner
        self.injected_at: float | None = None

    def update(
        self, state: State, *, live: Mapping[Slot, int] | None, gates: tuple[GateResult, ...], note: str
    ) -> None:
        if self.injected_at is None and state.weight_pct > 0 and state.intended_pct is None:
            stack.set_faults("green", FAULTS)
            self.injected_at = time.time()
        self.inner.update(state, live=live, gates=gates, note=note)


# --- steps -------------------------------------------------------------------------------------------------------


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        # As the servers and HAProxy bind: connections of an earlier run in TIME_WAIT do not make a port busy.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def preflight(cfg: DemoConfig) -> None:
    """What must hold before anything starts: tools installed, ports distinct and free, no stack already up."""
    try:
        haproxy_binary()
    except HaproxyError as ex:
        raise DemoError(str(ex)) from None
    if shutil.which("wrk") is None:
        raise DemoError("wrk is not installed (run `make system`, which runs scripts/ensure-system.sh)")
    if stack.files().haproxy().running():
        raise DemoError("a local stack is already up (run `mcpstack stack down` first)")
    ports = {
        "--port": cfg.port,
        "--stats-port": cfg.stats_port,
        "--blue-port": cfg.blue_port,
        "--green-port": cfg.green_port,
    }
    if len(set(ports.values())) != len(ports):
        raise DemoError("the four ports must be distinct")
    for flag, port in ports.items():
        if not _port_free(port):
            raise DemoError(f"port {port} ({flag}) is in use on 127.0.0.1: free it or pick another with {flag}")


def _audit(run_id: str) -> list[dict[str, Any]]:
    path = stack.cutover_dir(STAGE) / "audit.jsonl"
    events = [json.loads(line) for line in path.read_text().splitlines() if line] if path.exists() else []
    return [e for e in events if e.get("run_id") == run_id]


def step_times(events: list[dict[str, Any]]) -> list[StepTime]:
    """(green %, seconds from its verified write to the end of its analysis, outcome) per analysis of one run."""
    out, verified_at = [], None
    for event in events:
        if event["event"] == "weights_verified":
            verified_at = event["ts"]
        elif event["event"] == "analysis" and verified_at is not None:
            out.append(StepTime(event["weight_pct"], round(event["ts"] - verified_at, 2), event["outcome"]))
    return out


@contextlib.contextmanager
def running_load(port: int, rate_per_s: float, duration_s: float, run_tag: str) -> Iterator[load.LoadStats]:
    """The constant-rate load in a thread of its own for the block, warm before the body runs; stopped after."""
    stop, warmed = threading.Event(), threading.Event()
    stats = load.LoadStats()
    error: list[BaseException] = []

    def drive() -> None:
        try:
            asyncio.run(
                load.run(
                    port,
                    rate_per_s=rate_per_s,
                    duration_s=duration_s,
                    connections=max(8, min(96, int(rate_per_s / 2))),
                    stop=stop,
                    warmed=warmed,
                    messages=mix(run_tag),
                    stats=stats,
                )
            )
        except BaseException as ex:
            error.append(ex)

    thread = threading.Thread(target=drive, name="demo-load", daemon=True)
    thread.start()
    try:
        if not warmed.wait(30):
            raise DemoError(f"the load never got one second of good answers through HAProxy: {stats.samples[:1]}")
        yield stats
    finally:
        stop.set()
        thread.join(35)
    if error:
        raise DemoError(f"the load generator failed: {type(error[0]).__name__}: {error[0]}")


def _runner(view: LiveView | FaultOnFirstShift, run: str) -> Runner:
    from scripts.cutover.wiring import local_adapters

    adapters = local_adapters(STAGE)
    return Runner(Adapters(**{**adapters.__dict__, "progress": view}), owner=f"demo {run}")


def measure(database_url: str, measure_s: float, out_dir: Path) -> tuple[Path, dict[str, Any]]:
    """Both servers alone, side by side, saturated by wrk on the benchmark's mix (`mcpstack bench`'s own harness,
    whole-box scope, two interleaved repetitions): a results file in `scripts/bench/results.schema.json`'s shape."""
    from scripts.bench.run import Bench
    from scripts.bench.run import Plan as BenchPlan

    plan = BenchPlan("quick", measure_s, 1.0, 2, 64, (), ("mix",), 0.0, (), (), 0, 0)
    workdir = Path(tempfile.mkdtemp(prefix="mcpstack-demo-bench-"))
    try:
        bench = Bench(plan, workdir)
        bench.database_url = database_url
        bench.box_throughput()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    results = bench.results
    path = out_dir / "throughput.json"
    path.write_text(json.dumps(results, indent=2))
    return path, results


def price(results: Path, cdk_out: Path | None, out_dir: Path) -> tuple[dict[str, Any], Path]:
    """`mcpstack cost report` for the cost post's workload on the burstable stage, from the measured results:
    JSON (the summary's figures) and the HTML dashboard."""
    from scripts.cost import assembly
    from scripts.cost import cli as cost_cli

    context = assembly.pricing_context(COST_STAGE, state_dir() / "cost" / "pricing-releases")
    json_path, html_path = out_dir / "cost.json", out_dir / "cost-dashboard.html"
    for fmt, path in (("json", json_path), ("html", html_path)):
        try:
            cost_cli.report(
                stage=COST_STAGE,
                workload=COST_WORKLOAD,
                results=results,
                cdk_out=cdk_out,
                fmt=fmt,
                output=path,
                strict=False,
                target_utilisation="0.6",
                floor=None,
                labour_rate=None,
                labour_hours_fastapi="0",
                labour_hours_native="0",
                into=None,
                context=context,
            )
        except typer.Exit as ex:
            raise DemoError(
                f"pricing failed: `mcpstack cost report` exited {ex.exit_code} (its reason is above)"
            ) from None
    return json.loads(json_path.read_text()), html_path


# --- the run -----------------------------------------------------------------------------------------------------


def _git_sha() -> str:
    result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    return result.stdout.strip() or "unknown"


class Timer:
    def __init__(self, summary: DemoSummary) -> None:
        self.summary = summary

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.summary.phases_s[name] = round(time.monotonic() - started, 1)


def run_demo(cfg: DemoConfig) -> DemoSummary:
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    summary = DemoSummary(
        run_id=run_id,
        git_sha=_git_sha(),
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        output_dir=str(cfg.out_dir),
        rate_per_s=cfg.rate_per_s,
        mix=MIX_TEXT,
    )
    timer = Timer(summary)
    preflight(cfg)
    shutil.rmtree(stack.cutover_dir(STAGE), ignore_errors=True)  # the demo's own stage: every run starts at blue 100
    own_db = not os.environ.get("DATABASE_URL")
    from scripts.pgcluster import local_cluster

    keep_db = not own_db or local_cluster().running()  # a cluster the user started stays up
    spec = stack.StackSpec(
        cfg.port, cfg.stats_port, cfg.blue_port, cfg.green_port, "fastapi", "native", cfg.workers, STAGE
    )
    try:
        with (
            timer.phase("stack up"),
            console.status(
                "starting PostgreSQL (first run: creates and seeds it), blue "
                "(FastAPI, gunicorn), green (native) and HAProxy…"
            ),
        ):
            database_url = stack.database_url()
            stack.up(spec)
        console.print(
            f"stack up: http://127.0.0.1:{cfg.port}/mcp → HAProxy → blue FastAPI :{cfg.blue_port} (100 %), green "
            f"native :{cfg.green_port} (0 %); stats http://127.0.0.1:{cfg.stats_port}/stats"
        )
        _rehearse(cfg, summary, timer, run_id)
        stack.set_faults("green", None)
        with timer.phase("stack down (servers)"):
            stack.down(keep_db=True)
        with (
            timer.phase("side-by-side measurement"),
            console.status(f"measuring both servers side by side on the mix (wrk, 2 × {cfg.measure_s:g} s each)…"),
        ):
            results_path, results = measure(database_url, cfg.measure_s, cfg.out_dir)
        for row in results["throughput"]:
            summary.measured[row["server"]] = {
                "rps": row["median_rps"],
                "cpu_us_per_request": row["median_cpu_us_per_request"] or 0.0,
            }
        summary.results_file = str(results_path)
        summary.benchmark_run = (
            f"{results['mode']} run of {results['generated_at']}, git {results['environment']['git_sha'][:12]}"
        )
        with (
            timer.phase("pricing"),
            console.status(
                f"pricing {COST_WORKLOAD} on the {COST_STAGE} stage (cdk synth on the first run, about a minute)…"
            ),
        ):
            report, html = price(results_path, cfg.cdk_out, cfg.out_dir)
        summary.cost = demo_report.cost_summary(report)
        summary.files = {
            "run report": str(cfg.out_dir / "report.md"),
            "summary (JSON)": str(cfg.out_dir / "summary.json"),
            "cost dashboard (HTML)": str(html),
            "cost report (JSON)": str(cfg.out_dir / "cost.json"),
            "measured throughput": str(results_path),
        }
        demo_report.write(summary, cfg.out_dir)
        return summary
    finally:
        stack.set_faults("green", None)
        with contextlib.suppress(Exception):
            stack.down(keep_db=keep_db)


def _rehearse(cfg: DemoConfig, summary: DemoSummary, timer: Timer, run_id: str) -> None:
    """The load, the live view, the cutover and the bad release; raises DemoError when the story does not hold."""
    from scripts.cutover.local import LocalMetrics

    f = stack.files()
    router = HaproxyRouter(f.api())
    steps_s = len(cfg.steps_pct) * (cfg.bake_s + 4) + 60
    with running_load(cfg.port, cfg.rate_per_s, cfg.warmup_s + steps_s + 120, run_id[-6:]) as stats:
        view = LiveView(LocalMetrics(f.api(), spec_ports(cfg)), router, stats, {"blue": "FastAPI", "green": "native"})
        view.start()
        try:
            with Live(get_renderable=view.render, console=console, refresh_per_second=2, transient=False):
                view.phase = f"blue 100 %: the load through HAProxy ({cfg.rate_per_s:g} requests/s)"
                with timer.phase("load at blue 100 %"):
                    time.sleep(cfg.warmup_s)
                view.phase = "cutover to green (native): shift, bake, judge the gates"
                stats.phase = "cutover"
                with timer.phase("cutover"):
                    result = _runner(view, "cutover").start(cfg.cutover_plan(), run_id=f"{run_id}-cutover")
                stats.phase = "after cutover"
                # Provisional (answers still in flight are counted when the load has stopped, below); kept if the
                # cutover fails and the demo stops here.
                summary.cutover = demo_report.phase_counts(stats, "cutover")
                summary.cutover_exit = f"{result.code.name} (exit {int(result.code)}): {result.message}"
                summary.cutover_steps = step_times(_audit(f"{run_id}-cutover"))
                summary.weights_after_cutover = {str(k): v for k, v in router.read_weights().items()}
                if result.code is not ExitCode.OK:
                    raise DemoError(f"the cutover did not complete: {result.message} (exit {int(result.code)})")
                if cfg.rollback_rehearsal:
                    view.phase = "a bad release: back to blue, green made faulty, a second cutover"
                    stats.phase = "rehearsal"
                    with timer.phase("bad release rolls back"):
                        _bad_release(cfg, summary, view, run_id)
                    stats.phase = "after rehearsal"
                    summary.rehearsal = demo_report.phase_counts(stats, "rehearsal")
                view.phase = "done: load stopping"
        finally:
            view.stop()
            console.line()  # the live view's last frame may end without a newline
    # The load has stopped, so every request sent in a phase has its answer (or its failure) counted under it.
    summary.cutover = demo_report.phase_counts(stats, "cutover")
    if cfg.rollback_rehearsal:
        summary.rehearsal = demo_report.phase_counts(stats, "rehearsal")
    # From the load's first request to its last answer.
    summary.whole_run = Counts.between({"sent": 0, "ok": 0, "failures": {}}, demo_report.mark(stats))
    latencies = sorted(stats.latencies_ms)
    if latencies:
        q = statistics.quantiles(latencies, n=100, method="inclusive")
        summary.latency_ms = {"p50": q[49], "p95": q[94], "p99": q[98]}
    if summary.cutover is not None and (summary.cutover.lost or summary.cutover.failed_answers):
        raise DemoError(f"the cutover lost requests: {summary.cutover.failures}")


def _bad_release(cfg: DemoConfig, summary: DemoSummary, view: LiveView, run_id: str) -> None:
    back = _runner(view, "rollback").rollback()
    if back.code is not ExitCode.OK:
        raise DemoError(f"rollback to blue before the rehearsal failed: {back.message}")
    faulty = FaultOnFirstShift(view)
    rid = f"{run_id}-bad-release"
    result = _runner(faulty, "bad-release").start(cfg.rehearsal_plan(), run_id=rid)
    stack.set_faults("green", None)
    summary.rehearsal_exit = f"{result.code.name} (exit {int(result.code)}): {result.message}"
    summary.weights_after_rehearsal = {str(k): v for k, v in router_weights().items()}
    events = _audit(rid)
    failed = [e for e in events if e["event"] == "analysis" and e["outcome"] == "Failed"]
    summary.rehearsal_failed_gates = sorted({g["name"] for e in failed for g in e["gates"] if g["outcome"] == "Failed"})
    back_at = [
        e["ts"] for e in events if e["event"] == "weights_verified" and e["weights"] == {"blue": 100, "green": 0}
    ]
    if failed and back_at:
        summary.rollback_s = round(back_at[-1] - failed[-1]["ts"], 3)
    if faulty.injected_at is None:
        raise DemoError(f"the rehearsal never shifted traffic to green: {result.message}")
    if result.code is not ExitCode.ROLLED_BACK or summary.weights_after_rehearsal != {"blue": 100, "green": 0}:
        raise DemoError(
            f"the faulty green was not rolled back by itself: {result.code.name}, {result.message} (does the native "
            "server read MCP_FAULTS?)"
        )


def spec_ports(cfg: DemoConfig) -> dict[Slot, int]:
    return {"blue": cfg.blue_port, "green": cfg.green_port}


# --- CLI ---------------------------------------------------------------------------------------------------------


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def demo(
    port: Annotated[int, typer.Option(help="HAProxy's MCP port (the load goes here).")] = 8000,
    stats_port: Annotated[int, typer.Option(help="HAProxy's stats page.")] = 8404,
    blue_port: Annotated[int, typer.Option(help="Blue's (FastAPI's) direct port.")] = 8081,
    green_port: Annotated[int, typer.Option(help="Green's (native's) direct port.")] = 8082,
    rate: Annotated[float, typer.Option(help="Requests per second of the mixed load (1-1000).")] = 150.0,
    steps: Annotated[str, typer.Option(help="Cutover steps, green's share in %, the last 100.")] = "1,5,25,50,100",
    bake_s: Annotated[float, typer.Option(help="Bake per cutover step, seconds.")] = 8.0,
    warmup_s: Annotated[float, typer.Option(help="Load at blue 100 % before the cutover, seconds.")] = 5.0,
    measure_s: Annotated[float, typer.Option(help="Each wrk run of the side-by-side measurement, seconds.")] = 3.0,
    rollback_rehearsal: Annotated[
        bool, typer.Option(help="After the cutover, rehearse a bad release that rolls back by itself (3-5 s measured).")
    ] = True,
    out: Annotated[Path | None, typer.Option(help="Output folder (default .state/demo/<run>).")] = None,
    cdk_out: Annotated[
        Path | None, typer.Option(help="A synthesized assembly of the burstable stage to price (default: synth).")
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes per server in the stack.")] = 2,
) -> None:
    """Rehearse the whole migration on this machine and price it: the local stack at blue 100 (FastAPI/gunicorn blue,
    native green, HAProxy), a constant mixed MCP load with a live per-slot view, the gated cutover to green 100, a bad
    release that rolls back by itself, a side-by-side measurement of both servers, and the cost post's workload
    (200,000 calls a day, 3x peak) priced on the burstable stage from it. Writes a run report, the cost dashboard
    (HTML) and the measurement into one folder. Measured on a 2-core machine: about 3 minutes on a fresh clone
    (PostgreSQL's seed and a cdk synth included), 2 minutes after that; the bad-release rehearsal takes 3-5 s of it
    (on by default). Everything it starts is stopped on exit, on failure and on Ctrl-C."""
    try:
        pcts = tuple(int(p) for p in steps.split(","))
    except ValueError:
        pcts = ()
    if not pcts or pcts[-1] != 100 or any(not 0 < p <= 100 for p in pcts) or list(pcts) != sorted(set(pcts)):
        console.print("[red]error:[/] --steps must be rising percentages in 1-100 ending with 100, e.g. 1,5,25,50,100")
        raise typer.Exit(2)
    if not 1 <= rate <= 1000 or bake_s <= 0 or warmup_s < 0 or measure_s <= 0 or workers < 1:
        console.print(
            "[red]error:[/] need --rate 1-1000, --bake-s > 0, --warmup-s >= 0, --measure-s > 0, --workers >= 1"
        )
        raise typer.Exit(2)
    if any(not 1 <= p <= 65535 for p in (port, stats_port, blue_port, green_port)):
        console.print("[red]error:[/] ports must be within 1-65535")
        raise typer.Exit(2)
    out_dir = out or state_dir() / "demo" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    cfg = DemoConfig(
        port, stats_port, blue_port, green_port, workers, rate, pcts, bake_s, warmup_s, measure_s,
        rollback_rehearsal, out_dir.resolve(), cdk_out,
    )  # fmt: skip
    previous = signal.signal(signal.SIGTERM, _interrupt)  # a SIGTERM cleans up like Ctrl-C
    started = time.monotonic()
    try:
        summary = run_demo(cfg)
    except KeyboardInterrupt:
        console.print("\n[yellow]interrupted:[/] everything the demo started is stopped")
        raise typer.Exit(130) from None
    except DemoError as ex:
        console.print(f"[red]error:[/] {ex}")
        raise typer.Exit(1) from None
    except (stack.StackError, CutoverError, ClusterError, OSError) as ex:
        console.print(f"[red]error:[/] {type(ex).__name__}: {ex}")
        raise typer.Exit(1) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    demo_report.print_summary(summary, console)
    console.print(f"done in {time.monotonic() - started:.0f} s; nothing left running; output folder: {cfg.out_dir}")


def router_weights() -> dict[Slot, int]:
    return HaproxyRouter(stack.files().api()).read_weights()
