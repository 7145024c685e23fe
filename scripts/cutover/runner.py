"""The driver: runs the pure state machine through injected adapters. It reads the clock, sleeps, writes weights
(read first, write only on a difference, re-read to verify, back off on throttling), persists the state write-ahead,
audits every decision, and reconciles stored state with live weights on resume. No boto3 and no sockets here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from scripts.cutover import machine
from scripts.cutover.codec import plan_to_dict
from scripts.cutover.gates import error_run, evaluate
from scripts.cutover.model import (
    TERMINAL_PHASES,
    Analysis,
    AnalysisRun,
    GateResult,
    Outcome,
    Pause,
    Phase,
    Plan,
    ShiftTraffic,
    Slot,
    State,
)
from scripts.cutover.ports import (
    AbortSignal,
    AuditLog,
    Clock,
    CutoverError,
    Lock,
    LockHeldError,
    LockLostError,
    MetricsError,
    MetricsSource,
    RouterError,
    SmokeCheck,
    StateStore,
    SyntheticTraffic,
    ThrottledError,
    TrafficRouter,
    WeightsSink,
)


class ExitCode(IntEnum):
    """One code per outcome, so scripts and CI can branch on it."""

    OK = 0  # promoted (Healthy), or the verb did what was asked
    USAGE = 2  # bad argument or plan file
    PREFLIGHT_FAILED = 3  # nothing was written
    ROLLED_BACK = 4  # a gate failed; traffic is back on the source slot (verified)
    ABORTED = 5
    LOCK_HELD = 6  # another run holds the lock; nothing was done
    ADAPTER_FAILED = 7  # the load balancer, metrics or store failed; state kept for `start` to resume
    PAUSED = 8  # waiting for `promote`
    DIVERGED = 9  # live weights match neither the stored state nor its pending write: a human must look
    NO_CUTOVER = 10  # status/promote/abort with no stored cutover


PHASE_EXIT = {
    Phase.HEALTHY: ExitCode.OK,
    Phase.DEGRADED: ExitCode.ROLLED_BACK,
    Phase.ABORTED: ExitCode.ABORTED,
    Phase.PAUSED: ExitCode.PAUSED,
}


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    verify_reads: int = 5  # weight changes propagate eventually: re-read a few times before writing again
    verify_interval_s: float = 1.0


class Progress(Protocol):
    def update(
        self, state: State, *, live: Mapping[Slot, int] | None, gates: tuple[GateResult, ...], note: str
    ) -> None: ...


class QuietProgress:
    def update(
        self, state: State, *, live: Mapping[Slot, int] | None, gates: tuple[GateResult, ...], note: str
    ) -> None:
        return None


@dataclass(frozen=True)
class Adapters:
    router: TrafficRouter
    metrics: MetricsSource
    store: StateStore
    audit: AuditLog
    lock: Lock
    clock: Clock
    smoke: SmokeCheck | None = None
    weights_sink: WeightsSink | None = None
    synthetic: SyntheticTraffic | None = None
    abort_signal: AbortSignal | None = None
    progress: Progress = dataclasses.field(default_factory=QuietProgress)


@dataclass(frozen=True)
class RunResult:
    code: ExitCode
    message: str
    state: State | None = None


def weights_for(plan: Plan, target_pct: int) -> dict[Slot, int]:
    return {plan.target: target_pct, plan.source: 100 - target_pct}


class Runner:
    def __init__(
        self, adapters: Adapters, *, retry: RetryPolicy | None = None, owner: str = "mcpstack-cutover"
    ) -> None:
        self.a = adapters
        self.retry = retry or RetryPolicy()
        self.owner = owner
        self.writes = 0

    # -- verbs -------------------------------------------------------------------------------------------------

    def start(self, plan: Plan, *, run_id: str) -> RunResult:
        return self._locked(lambda: self._start(plan, run_id))

    def resume(self) -> RunResult:
        return self._locked(self._resume)

    def promote(self, *, full: bool) -> RunResult:
        return self._locked(lambda: self._verb(lambda s, now: machine.promote(s, full=full, now_s=now), "promote"))

    def abort(self, *, wait_s: float = 120.0) -> RunResult:
        """Abort; when another run holds the lock, ask it (abort signal) and wait until it has sent traffic back."""
        result = self._locked(lambda: self._verb(machine.abort, "abort"))
        signal = self.a.abort_signal
        if result.code is not ExitCode.LOCK_HELD or signal is None:
            return result
        signal.request(self.owner)
        self.a.audit.record("abort_requested", {"by": self.owner})
        deadline = self.a.clock.now() + wait_s
        while self.a.clock.now() < deadline:
            state = self.a.store.load()
            if state is not None and state.phase is Phase.ABORTED and state.weight_pct == 0:
                return RunResult(ExitCode.OK, f"the running cutover aborted: {state.message}", state)
            self.a.clock.sleep(1.0)
        return RunResult(
            ExitCode.LOCK_HELD, f"abort requested; the running cutover has not confirmed in {wait_s:.0f} s"
        )

    def rollback(self) -> RunResult:
        return self._locked(lambda: self._verb(machine.rollback, "rollback"))

    def preflight(self, plan: Plan, *, record: bool = True) -> list[str]:
        """Problems that stop a start (empty: go). Reads only; `record=False` (dry-run) skips the audit entry."""
        router, problems = self.a.router, []
        try:
            router.check_exists()
            live = router.read_weights()
        except CutoverError as ex:
            return [f"load balancer: {ex}"]
        expected = weights_for(plan, plan.start_weight_pct)
        if dict(live) != expected:
            problems.append(f"live weights {dict(live)} differ from the plan's start {expected}")
        healthy_polls = 0
        for poll in range(plan.healthy_polls):
            try:
                health = router.target_health(plan.target)
            except CutoverError as ex:
                problems.append(f"target health of {plan.target}: {ex}")
                break
            if health.healthy > 0 and health.unhealthy == 0:
                healthy_polls += 1
            else:
                problems.append(f"{plan.target}: {health.healthy} healthy, {health.unhealthy} unhealthy targets")
                break
            if poll + 1 < plan.healthy_polls:
                self.a.clock.sleep(plan.poll_interval_s)
                self.a.lock.renew()
        try:
            firing = self.a.metrics.firing_alarms(plan.gates.alarm_names)
        except CutoverError as ex:
            problems.append(f"alarms unreadable: {ex}")
        else:
            if firing:
                problems.append(f"gate alarms firing: {', '.join(firing)}")
        if self.a.smoke is not None and not problems:
            result = self.a.smoke.check(plan.target)
            if not result.ok:
                problems.append(f"behaviour check of {plan.target} failed: {result.detail}")
        if record:
            self.a.audit.record("preflight", {"problems": problems, "healthy_polls": healthy_polls})
        return problems

    def dry_run(self, plan: Plan) -> list[str]:
        """The calls a start would make, step by step; reads only (no lock, no state, no audit write)."""
        lines = [f"router: {self.a.router.describe()}"]
        lines += self._step_lines(plan, 0, plan.start_weight_pct)
        lines.append(
            f"on more than {plan.failure_limit} failed analyses: "
            + "; ".join(self.a.router.planned_calls(weights_for(plan, 0)))
        )
        return lines

    def _step_lines(self, plan: Plan, first: int, pct: int) -> list[str]:
        lines: list[str] = []
        for index, step in enumerate(plan.steps[first:], start=first):
            if isinstance(step, ShiftTraffic):
                if step.weight_pct != pct:
                    calls = self.a.router.planned_calls(weights_for(plan, step.weight_pct))
                    lines.extend(f"step {index}: {call}" for call in calls)
                    pct = step.weight_pct
                lines.append(f"step {index}: re-read weights, expect {weights_for(plan, pct)}")
            elif isinstance(step, Analysis):
                lines.append(
                    f"step {index}: bake {step.bake_s:g} s (min {step.min_requests} requests), judge the gates"
                )
            elif isinstance(step, Pause):
                lines.append(
                    f"step {index}: pause {'until promote' if step.duration_s is None else f'{step.duration_s:g} s'}"
                )
        return lines

    def dry_run_verb(self, verb: str, *, full: bool = False) -> RunResult:
        """What `promote [--full]`, `abort` or `rollback` would do, as lines in the result's message: the stored
        state's transition and the exact router calls. Reads only: no lock, no state write, no audit entry."""
        transitions: dict[str, Callable[[State, float], State]] = {
            "promote": lambda s, now: machine.promote(s, full=full, now_s=now),
            "abort": machine.abort,
            "rollback": machine.rollback,
        }
        stored = self.a.store.load()
        if stored is None:
            return RunResult(ExitCode.NO_CUTOVER, "no cutover in the state store: nothing would change")
        live = dict(self.a.router.read_weights())
        state = _reconciled(stored, live, self.a.clock.now())
        if state is None:
            return RunResult(ExitCode.DIVERGED, f"live weights {live} do not match the stored cutover", stored)
        try:
            after = transitions[verb](state, self.a.clock.now())
        except machine.TransitionError as ex:
            return RunResult(ExitCode.USAGE, str(ex), stored)
        plan = after.plan
        lines = [
            f"router: {self.a.router.describe()}",
            f"live weights {live}; stored run {stored.run_id}: {stored.phase}, {stored.weight_pct} % on {plan.target}",
            f"would store: phase {after.phase}, step {after.step_index}: {after.message}",
        ]
        if after.phase in (Phase.DEGRADED, Phase.ABORTED) or (after.full_promotion and after.weight_pct != 100):
            pct = 0 if after.phase in (Phase.DEGRADED, Phase.ABORTED) else 100
            if after.weight_pct != pct:
                lines += self.a.router.planned_calls(weights_for(plan, pct))
            lines.append(f"re-read weights, expect {weights_for(plan, pct)}")
        elif after.phase is not Phase.HEALTHY:
            lines += self._step_lines(plan, after.step_index, after.weight_pct)
        if verb == "abort" and after.phase is Phase.ABORTED:
            lines.append("if a running cutover holds the lock: write the abort request it polls, and wait for it")
        return RunResult(ExitCode.OK, "\n".join(lines), after)

    # -- internals ---------------------------------------------------------------------------------------------

    def _locked(self, body: Callable[[], RunResult]) -> RunResult:
        try:
            self.a.lock.acquire(self.owner)
        except LockHeldError as ex:
            return RunResult(ExitCode.LOCK_HELD, f"another cutover run holds the lock: {ex}")
        try:
            return body()
        except LockLostError as ex:
            with contextlib.suppress(CutoverError):
                self.a.audit.record("lock_lost", {"error": str(ex)})
            return RunResult(ExitCode.LOCK_HELD, f"lock lost: {ex}", None)
        except CutoverError as ex:
            state = None
            with contextlib.suppress(CutoverError):  # the failing adapter may be the store or the audit log itself
                self.a.audit.record("adapter_failed", {"error": f"{type(ex).__name__}: {ex}"})
                state = self.a.store.load()
            return RunResult(ExitCode.ADAPTER_FAILED, f"{type(ex).__name__}: {ex}", state)
        finally:
            self.a.lock.release()

    def _start(self, plan: Plan, run_id: str) -> RunResult:
        stored = self.a.store.load()
        if stored is not None and stored.phase not in TERMINAL_PHASES:
            # An unfinished run is resumed with its own plan: a new plan starts only once it has finished.
            result = self._resume_state(stored)
            if stored.plan != plan:
                return dataclasses.replace(
                    result, message=f"resumed run {stored.run_id} (its stored plan): {result.message}"
                )
            return result
        if stored is not None and stored.phase is Phase.HEALTHY and _same_direction(stored.plan, plan):
            live = self.a.router.read_weights()
            if dict(live) == weights_for(plan, plan.final_weight_pct()):
                self.a.audit.record("noop", {"run_id": stored.run_id, "weights": dict(live)})
                return RunResult(ExitCode.OK, f"already promoted ({stored.run_id}): nothing to do", stored)
        if self.a.abort_signal is not None:
            self.a.abort_signal.clear()  # a request left from an earlier run must not abort this one
        problems = self.preflight(plan)
        if problems:
            return RunResult(ExitCode.PREFLIGHT_FAILED, "pre-flight failed: " + "; ".join(problems))
        state = machine.begin(plan, run_id=run_id, now_s=self.a.clock.now())
        self.a.audit.record("start", {"run_id": run_id, "plan": plan_to_dict(plan)})
        self.a.store.save(state)
        return self._drive(state)

    def _resume(self) -> RunResult:
        stored = self.a.store.load()
        if stored is None:
            return RunResult(ExitCode.NO_CUTOVER, "no cutover to resume")
        return self._resume_state(stored)

    def _reconcile(self, stored: State) -> State | None:
        """The listener is the source of truth: match the stored state to the live weights (None: diverged)."""
        live = self.a.router.read_weights()
        now = self.a.clock.now()
        state = _reconciled(stored, live, now)
        if state is None:
            return None
        # A bake interrupted by the crash starts again with a fresh window.
        state = dataclasses.replace(state, step_started_s=now)
        self.a.audit.record("reconciled", {"run_id": state.run_id, "live": dict(live), "stored_pct": stored.weight_pct})
        return state

    def _resume_state(self, stored: State) -> RunResult:
        state = self._reconcile(stored)
        if state is None:
            live = dict(self.a.router.read_weights())
            self.a.audit.record("diverged", {"run_id": stored.run_id, "live": live})
            return RunResult(
                ExitCode.DIVERGED,
                f"live weights {live} match neither the stored {stored.weight_pct} % nor the pending "
                f"{stored.intended_pct} % on {stored.plan.target}: refusing to continue",
                stored,
            )
        if state != stored:
            self.a.store.save(state)
        return self._drive(state)

    def _verb(self, transition: Callable[[State, float], State], name: str) -> RunResult:
        stored = self.a.store.load()
        if stored is None:
            return RunResult(ExitCode.NO_CUTOVER, "no cutover in the state store")
        state = self._reconcile(stored)
        if state is None:
            return RunResult(ExitCode.DIVERGED, "live weights do not match the stored cutover: refusing", stored)
        try:
            state = transition(state, self.a.clock.now())
        except machine.TransitionError as ex:
            return RunResult(ExitCode.USAGE, str(ex), stored)
        self.a.audit.record(name, {"run_id": state.run_id, "phase": state.phase.value})
        self.a.store.save(state)
        outcome = self._drive(state)
        if name in ("abort", "rollback") and outcome.state is not None and outcome.state.weight_pct == 0:
            return RunResult(ExitCode.OK, outcome.message, outcome.state)
        return outcome

    def _abort_requested(self, state: State) -> State | None:
        signal = self.a.abort_signal
        if signal is None or state.phase not in (Phase.PROGRESSING, Phase.PAUSED):
            return None
        by = signal.requested()
        if by is None:
            return None
        signal.clear()
        state = machine.abort(state, self.a.clock.now())
        self.a.store.save(state)
        self.a.audit.record("abort", {"run_id": state.run_id, "by": by})
        return state

    def _drive(self, state: State) -> RunResult:
        while True:
            self.a.lock.renew()
            state = self._abort_requested(state) or state
            action = machine.decide(state)
            if isinstance(action, machine.Finished):
                self.a.audit.record("finished", {"run_id": state.run_id, "phase": state.phase.value})
                self.a.progress.update(state, live=None, gates=(), note=state.message)
                return RunResult(PHASE_EXIT.get(action.phase, ExitCode.OK), state.message, state)
            if isinstance(action, machine.AwaitPromotion):
                if state.phase is not Phase.PAUSED:
                    state = machine.paused(state, self.a.clock.now())
                    self.a.store.save(state)
                    self.a.audit.record("paused", {"run_id": state.run_id, "weight_pct": state.weight_pct})
                return RunResult(ExitCode.PAUSED, "paused: run `mcpstack cutover promote` to continue", state)
            if isinstance(action, machine.SetWeights):
                state = self._set_weights(state, action.weight_pct)
            elif isinstance(action, machine.WaitUntil):
                aborted = self._wait(state, action.until_s)
                if aborted is not None:
                    state = aborted
                    continue
                state = machine.pause_elapsed(state, self.a.clock.now())
                self.a.store.save(state)
            else:
                state = self._bake(state, action.analysis, action.until_s)

    def _set_weights(self, state: State, pct: int) -> State:
        state = machine.weights_intended(state, pct)
        self.a.store.save(state)  # write-ahead: a crash after this is recognisable on resume
        want = weights_for(state.plan, pct)
        self._write_verified(want, state)
        state = machine.weights_verified(state, pct, self.a.clock.now())
        self.a.store.save(state)
        if self.a.weights_sink is not None:
            self.a.weights_sink.record(want)
        self.a.audit.record("weights_verified", {"run_id": state.run_id, "weights": want, "phase": state.phase.value})
        self.a.progress.update(state, live=want, gates=(), note=state.message)
        return state

    def _write_verified(self, want: dict[Slot, int], state: State) -> None:
        router, clock, retry = self.a.router, self.a.clock, self.retry
        delay = retry.initial_backoff_s
        for attempt in range(1, retry.attempts + 1):
            self.a.lock.renew()  # before every write: never write under a lock another run has taken over
            try:
                live = dict(router.read_weights())
                if live == want:
                    return
                self.a.audit.record("write_weights", {"run_id": state.run_id, "from": live, "to": want})
                router.write_weights(want)
                self.writes += 1
                for _ in range(retry.verify_reads):
                    if dict(router.read_weights()) == want:
                        return
                    clock.sleep(retry.verify_interval_s)
            except ThrottledError as ex:
                self.a.audit.record("throttled", {"run_id": state.run_id, "attempt": attempt, "error": str(ex)})
            clock.sleep(delay)
            delay = min(delay * 2, retry.max_backoff_s)
        raise RouterError(f"weights {want} not verified after {retry.attempts} attempts")

    def _wait(self, state: State, until_s: float) -> State | None:
        """Sleep through a timed pause; the aborted state if an abort was requested meanwhile."""
        clock = self.a.clock
        while (left := until_s - clock.now()) > 0:
            self.a.lock.renew()
            if (aborted := self._abort_requested(state)) is not None:
                return aborted
            self.a.progress.update(state, live=None, gates=(), note=f"pause: {left:.0f} s left")
            clock.sleep(min(left, state.plan.poll_interval_s))
        return None

    def _bake(self, state: State, analysis: Analysis, until_s: float) -> State:
        clock, metrics, plan = self.a.clock, self.a.metrics, state.plan
        run: AnalysisRun | None = None
        try:
            metrics.begin()
        except MetricsError as ex:
            # No baseline, no window: an Error result (never a pass), after a poll interval so retries are paced.
            clock.sleep(plan.poll_interval_s)
            run = error_run(str(ex), step_index=state.step_index, weight_pct=state.weight_pct, at_s=clock.now())
            return self._analysed(state, run)
        started, synthetic_sent = clock.now(), 0
        while True:
            self.a.lock.renew()
            if (aborted := self._abort_requested(state)) is not None:
                return aborted
            now = clock.now()
            done = now >= until_s
            try:
                reading = metrics.read(plan.source, plan.target, plan.gates.alarm_names)
                run = evaluate(
                    plan.gates, analysis, reading, step_index=state.step_index, weight_pct=state.weight_pct, at_s=now
                )
            except MetricsError as ex:
                run = error_run(str(ex), step_index=state.step_index, weight_pct=state.weight_pct, at_s=now)
            self.a.progress.update(
                state,
                live=weights_for(plan, state.weight_pct),
                gates=run.gates,
                note=f"bake: {max(until_s - now, 0):.0f} s left",
            )
            # A gate that already fails on enough traffic ends the bake early: waiting only adds failed requests.
            if done or run.outcome is Outcome.FAILED:
                break
            synthetic_sent += self._top_up(
                state, analysis, run, started, until_s, budget=plan.synthetic_max_requests - synthetic_sent
            )
            clock.sleep(min(plan.poll_interval_s, max(until_s - now, 0.0)))
        return self._analysed(state, run)

    def _top_up(
        self, state: State, analysis: Analysis, run: AnalysisRun, started: float, until_s: float, *, budget: int
    ) -> int:
        """Half-way through a bake with too few requests on the receiving slot, send bounded synthetic calls so the
        gates judge real answers instead of passing (or stalling) on no data. Returns how many were sent."""
        if self.a.synthetic is None or budget <= 0 or state.weight_pct <= 0:
            return 0
        seen = next((g.value for g in run.gates if g.name == "requests"), None) or 0.0
        if seen >= analysis.min_requests or self.a.clock.now() < started + (until_s - started) / 2:
            return 0
        # Through the front door, the receiving slot gets its weight's share of them.
        want = math.ceil((analysis.min_requests - seen) * 100 / state.weight_pct * 1.2)
        count = min(want, budget)
        answered = self.a.synthetic.send(count)
        self.a.audit.record(
            "synthetic_traffic",
            {"run_id": state.run_id, "sent": count, "answered": answered, "weight_pct": state.weight_pct},
        )
        return count

    def _analysed(self, state: State, run: AnalysisRun) -> State:
        clock = self.a.clock
        state = machine.analysis_done(state, run, clock.now())
        self.a.store.save(state)
        self.a.audit.record(
            "analysis",
            {
                "run_id": state.run_id,
                "step_index": run.step_index,
                "weight_pct": run.weight_pct,
                "outcome": run.outcome.value,
                "message": run.message,
                "gates": [
                    {"name": g.name, "outcome": g.outcome.value, "value": g.value, "limit": g.limit} for g in run.gates
                ],
                "phase": state.phase.value,
            },
        )
        return state


def _reconciled(stored: State, live: Mapping[Slot, int], now_s: float) -> State | None:
    """Pure: the stored state matched to the live weights, None when they match neither the stored weight nor the
    pending write."""
    pct = live.get(stored.plan.target)
    if stored.intended_pct is not None and pct == stored.intended_pct:
        return machine.weights_verified(stored, pct, now_s)  # crashed between the write and its verification
    if pct == stored.weight_pct:
        return dataclasses.replace(stored, intended_pct=None)
    return None


def _same_direction(a: Plan, b: Plan) -> bool:
    return a.source == b.source and a.target == b.target
