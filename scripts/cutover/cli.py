"""`mcpstack cutover plan | start | status | promote [--full] | abort | rollback`, on `--target local` (HAProxy) or
`--target aws` (the ALB listener). Builds the adapters for the target, runs the driver, shows live progress, and
exits with one code per outcome (`runner.ExitCode`)."""

from __future__ import annotations

import contextlib
import json
import signal
import time
import uuid
from collections.abc import Callable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from scripts.cutover.codec import PlanError, plan_from_dict, plan_to_dict
from scripts.cutover.model import GateResult, Outcome, Plan, Slot, State, default_plan, other_slot
from scripts.cutover.ports import CutoverError
from scripts.cutover.runner import Adapters, ExitCode, Runner, RunResult

app = typer.Typer(help="Blue-green cutover with MCP-level gates and automatic rollback.", no_args_is_help=True)
console = Console(stderr=True)


class Target(StrEnum):
    LOCAL = "local"
    AWS = "aws"


TargetOpt = Annotated[Target, typer.Option("--target", help="local (HAProxy) or aws (the ALB listener).")]
StageOpt = Annotated[str | None, typer.Option(help="Stage name (aws: the CDK stage; local: default `local`).")]
PlanOpt = Annotated[Path | None, typer.Option("--plan", help="A JSON plan file (steps, gates, limits).")]
ToOpt = Annotated[str, typer.Option("--to", help="The receiving slot: green or blue.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the calls it would make; write nothing.")]


def _fail(code: ExitCode, message: str) -> typer.Exit:
    console.print(f"[red]error:[/] {message}", soft_wrap=True)  # one line, whatever the terminal's width
    return typer.Exit(int(code))


def _stage(target: Target, stage: str | None) -> str:
    if stage:
        if target is Target.AWS:  # a deployed stage is one the CDK app knows: a typo stops here, before any call
            from infra.config import UnknownStageError, get_stage

            try:
                get_stage(stage)
            except UnknownStageError as ex:
                raise _fail(ExitCode.USAGE, str(ex)) from None
        return stage
    if target is Target.LOCAL:
        return "local"
    raise _fail(ExitCode.USAGE, "--stage is required with --target aws")


def load_plan(path: Path | None, *, target: Target, to: str) -> Plan:
    if to not in ("blue", "green"):
        raise _fail(ExitCode.USAGE, f"--to must be blue or green, got {to!r}")
    receiving: Slot = "green" if to == "green" else "blue"
    if path is None:
        if target is Target.LOCAL:
            return default_plan(source=other_slot(receiving), target=receiving, metric_period_s=10, min_requests=50)
        return default_plan(source=other_slot(receiving), target=receiving)
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as ex:
        raise _fail(ExitCode.USAGE, f"cannot read plan {path}: {ex}") from None
    if isinstance(raw, dict):
        raw.setdefault("target", receiving)
        raw.setdefault("source", other_slot(raw["target"]) if raw["target"] in ("blue", "green") else "blue")
    try:
        return plan_from_dict(raw)
    except PlanError as ex:
        raise _fail(ExitCode.USAGE, f"{path}: {ex}") from None


class LiveProgress:
    """Step, weights and each gate's value against its limit, redrawn in place."""

    def __init__(self, live: Live) -> None:
        self.live = live

    def update(
        self, state: State, *, live: Mapping[Slot, int] | None, gates: tuple[GateResult, ...], note: str
    ) -> None:
        self.live.update(render(state, live, gates, note))


def render(state: State, live: Mapping[Slot, int] | None, gates: tuple[GateResult, ...], note: str) -> Group:
    plan = state.plan
    weights = live or {plan.target: state.weight_pct, plan.source: 100 - state.weight_pct}
    head = (
        f"[bold]{state.phase}[/] step {min(state.step_index + 1, len(plan.steps))}/{len(plan.steps)}  "
        f"{plan.source} {weights[plan.source]} % → {plan.target} {weights[plan.target]} %  "
        f"failures {state.failures}/{plan.failure_limit}  inconclusive {state.inconclusives}/{plan.inconclusive_limit}"
    )
    table = Table(show_header=True, header_style="bold", box=None)
    for column in ("gate", "value", "limit", "result"):
        table.add_column(column)
    colours = {Outcome.SUCCESSFUL: "green", Outcome.FAILED: "red", Outcome.INCONCLUSIVE: "yellow", Outcome.ERROR: "red"}
    for gate in gates:
        value = "n/a" if gate.value is None else f"{gate.value:.4g}"
        table.add_row(
            gate.name, value, f"{gate.limit:.4g}", f"[{colours[gate.outcome]}]{gate.outcome}[/] {gate.detail}"
        )
    return Group(head, table, note)


def _adapters(target: Target, stage: str, progress: LiveProgress | None) -> Adapters:
    try:
        if target is Target.LOCAL:
            from scripts.cutover.wiring import local_adapters

            adapters = local_adapters(stage)
        else:
            from scripts.cutover.wiring import aws_adapters

            adapters = aws_adapters(stage)
    except (CutoverError, RuntimeError, OSError) as ex:
        raise _fail(ExitCode.ADAPTER_FAILED, str(ex)) from None
    if progress is not None:
        return Adapters(**{**adapters.__dict__, "progress": progress})
    return adapters


def _finish(result: RunResult) -> None:
    colour = "green" if result.code in (ExitCode.OK, ExitCode.PAUSED) else "red"
    console.print(
        f"[{colour}]{result.code.name.lower().replace('_', ' ')}[/] (exit {int(result.code)}): {result.message}"
    )
    raise typer.Exit(int(result.code))


class Terminated(BaseException):
    """SIGTERM during a run: unwinds like Ctrl-C, so the lock is released and the state stays as last verified."""


EXIT_TERMINATED = 128 + signal.SIGTERM


def _terminated(_signum: int, _frame: object) -> None:
    raise Terminated


def _run(target: Target, stage: str, verb: str, body: Callable[[Runner], RunResult]) -> None:
    # A run stopped by SIGTERM (a CI job cancelled, `kill`) stops where it is, as on Ctrl-C, instead of dying without
    # a word: the write-ahead state and the verified weights let `start` resume it and `abort` end it.
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        with Live(console=console, refresh_per_second=4, transient=False) as live:
            runner = Runner(_adapters(target, stage, LiveProgress(live)), owner=f"{verb} {uuid.uuid4().hex[:8]}")
            try:
                result = body(runner)
            except (KeyboardInterrupt, Terminated) as ex:
                how = "SIGTERM" if isinstance(ex, Terminated) else "Ctrl-C"
                with contextlib.suppress(CutoverError, OSError):
                    runner.a.audit.record("interrupted", {"signal": how, "verb": verb})
                if isinstance(ex, KeyboardInterrupt):
                    raise
                interrupted = True
            else:
                interrupted = False
    finally:
        signal.signal(signal.SIGTERM, previous)
    console.line()  # the live view's last frame may end without a newline
    if interrupted:
        console.print(
            "[red]terminated[/] (SIGTERM): the cutover stopped where it was, weights as last verified; "
            "`mcpstack cutover start` resumes it, `mcpstack cutover abort` ends it",
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_TERMINATED)
    _finish(result)


@app.command()
def plan(
    target: TargetOpt = Target.LOCAL,
    stage: StageOpt = None,
    plan_file: PlanOpt = None,
    to: ToOpt = "green",
) -> None:
    """Print the plan (steps, gates, limits) and the exact calls its steps make. Reads only."""
    chosen = load_plan(plan_file, target=target, to=to)
    name = _stage(target, stage)
    typer.echo(json.dumps(plan_to_dict(chosen), indent=2))
    try:
        runner = Runner(_adapters(target, name, None))
        for line in runner.dry_run(chosen):
            typer.echo(line)
    except (typer.Exit, CutoverError) as ex:
        console.print(f"[yellow]calls not shown:[/] the {target} load balancer is not readable ({ex})")


@app.command()
def start(
    target: TargetOpt = Target.LOCAL,
    stage: StageOpt = None,
    plan_file: PlanOpt = None,
    to: ToOpt = "green",
    dry_run: DryRunOpt = False,
) -> None:
    """Pre-flight, then shift traffic step by step, judging the gates after each bake; roll back by itself.
    Resumes a cutover that was interrupted (reconciling the stored state with the live weights)."""
    chosen = load_plan(plan_file, target=target, to=to)
    name = _stage(target, stage)
    if dry_run:
        runner = Runner(_adapters(target, name, None))
        problems = runner.preflight(chosen, record=False)
        for line in runner.dry_run(chosen):
            typer.echo(line)
        for problem in problems:
            console.print(f"[yellow]pre-flight:[/] {problem}")
        raise typer.Exit(int(ExitCode.PREFLIGHT_FAILED if problems else ExitCode.OK))
    run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
    _run(target, name, "start", lambda r: r.start(chosen, run_id=run_id))


@app.command()
def status(target: TargetOpt = Target.LOCAL, stage: StageOpt = None) -> None:
    """The stored cutover, the live weights and the last analysis."""
    name = _stage(target, stage)
    adapters = _adapters(target, name, None)
    try:
        state = adapters.store.load()
        live = dict(adapters.router.read_weights())
    except CutoverError as ex:
        raise _fail(ExitCode.ADAPTER_FAILED, str(ex)) from None
    if state is None:
        console.print(f"no cutover on {target}/{name}; live weights {live}")
        raise typer.Exit(int(ExitCode.NO_CUTOVER))
    gates = state.analyses[-1].gates if state.analyses else ()
    console.print(render(state, live, gates, f"run {state.run_id}: {state.message}"))
    if state.phase == "Healthy" and state.finished_s is not None:
        # Weight changes reach the load balancer's nodes eventually, and in-flight requests finish on the old slot.
        after = state.finished_s + state.plan.deregistration_delay_s
        when = time.strftime("%H:%M:%S UTC", time.gmtime(after))
        wait = "now" if time.time() >= after else f"after {when}"
        console.print(f"{state.plan.source} carries no traffic; it may be scaled down {wait} (deregistration delay)")
    stored = {state.plan.target: state.weight_pct, state.plan.source: 100 - state.weight_pct}
    if stored != live:
        console.print(f"[yellow]live weights {live} differ from the stored {stored}[/]")


def _dry_run_verb(target: Target, stage: str, verb: str, *, full: bool = False) -> None:
    """Print what the verb would change (state transition, router calls); take no lock and write nothing."""
    runner = Runner(_adapters(target, stage, None))
    try:
        result = runner.dry_run_verb(verb, full=full)
    except CutoverError as ex:
        raise _fail(ExitCode.ADAPTER_FAILED, str(ex)) from None
    if result.code is not ExitCode.OK:
        raise _fail(result.code, result.message)
    for line in result.message.splitlines():
        typer.echo(line)
    raise typer.Exit(int(ExitCode.OK))


@app.command()
def promote(
    target: TargetOpt = Target.LOCAL,
    stage: StageOpt = None,
    full: Annotated[bool, typer.Option("--full", help="Skip the remaining steps: 100 % now (verified).")] = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Continue a paused cutover (or skip the current bake); `--full` sends everything to the receiving slot."""
    if dry_run:
        _dry_run_verb(target, _stage(target, stage), "promote", full=full)
    _run(target, _stage(target, stage), "promote", lambda r: r.promote(full=full))


@app.command()
def abort(target: TargetOpt = Target.LOCAL, stage: StageOpt = None, dry_run: DryRunOpt = False) -> None:
    """Stop a cutover in progress: all traffic back to the source slot (verified)."""
    if dry_run:
        _dry_run_verb(target, _stage(target, stage), "abort")
    _run(target, _stage(target, stage), "abort", lambda r: r.abort())


@app.command()
def rollback(target: TargetOpt = Target.LOCAL, stage: StageOpt = None, dry_run: DryRunOpt = False) -> None:
    """Send all traffic back to the source slot, also after promotion (verified)."""
    if dry_run:
        _dry_run_verb(target, _stage(target, stage), "rollback")
    _run(target, _stage(target, stage), "rollback", lambda r: r.rollback())
