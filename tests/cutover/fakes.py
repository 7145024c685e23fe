"""In-memory adapters for the cutover driver: a fake clock that advances only when slept, a router with injectable
throttling and crashes, scripted metrics, and memory store/audit/lock."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from scripts.cutover.model import Reading, Slot, SlotWindow, State
from scripts.cutover.ports import LockHeldError, SmokeResult, TargetHealth, ThrottledError, TrafficRouter


class FakeClock:
    def __init__(self, start_s: float = 1000.0) -> None:
        self.t = start_s

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(seconds, 0.0)


class Crash(BaseException):
    """Stands for the process dying (not a CutoverError: nothing in the driver may catch it)."""


class FakeRouter:
    def __init__(self, weights: Mapping[Slot, int] | None = None) -> None:
        self.weights: dict[Slot, int] = dict(weights or {"blue": 100, "green": 0})
        self.writes: list[dict[Slot, int]] = []
        self.throttle_next = 0
        self.crash_after_write = False
        self.health = {"blue": TargetHealth(2, 0), "green": TargetHealth(2, 0)}

    def describe(self) -> str:
        return "fake backend"

    def check_exists(self) -> None:
        return None

    def read_weights(self) -> Mapping[Slot, int]:
        return dict(self.weights)

    def write_weights(self, weights: Mapping[Slot, int]) -> None:
        if self.throttle_next:
            self.throttle_next -= 1
            raise ThrottledError("Rate exceeded")
        self.weights = dict(weights)
        self.writes.append(dict(weights))
        if self.crash_after_write:
            self.crash_after_write = False
            raise Crash

    def planned_calls(self, weights: Mapping[Slot, int]) -> list[str]:
        return [f"set {dict(weights)}"]

    def target_health(self, slot: Slot) -> TargetHealth:
        return self.health[slot]


def window(requests: int = 1000, *, errors: int = 0, http_5xx: int = 0, p95_ms: float = 20.0) -> SlotWindow:
    return SlotWindow(
        requests=requests,
        http_5xx=http_5xx,
        mcp_requests=requests,
        mcp_errors=errors,
        p95_ms=p95_ms,
        healthy_targets=2,
        unhealthy_targets=0,
    )


GOOD = Reading(target=window(), source=window())


class FakeMetrics:
    """Returns `script(weight_pct_of_target)`; the router tells it where traffic is, like a real load balancer.
    (moto cannot compute percentiles, so the AWS tests use this source too.)"""

    def __init__(self, router: TrafficRouter, script: Callable[[int], Reading | Exception] | None = None) -> None:
        self.router = router
        self.script = script or (lambda _pct: GOOD)
        self.begins = 0
        self.firing: tuple[str, ...] = ()
        self.begin_error: Exception | None = None

    def begin(self) -> None:
        self.begins += 1
        if self.begin_error is not None:
            raise self.begin_error

    def read(self, source: Slot, target: Slot, alarm_names: tuple[str, ...]) -> Reading:
        value = self.script(self.router.read_weights()[target])
        if isinstance(value, Exception):
            raise value
        return value

    def firing_alarms(self, alarm_names: tuple[str, ...]) -> tuple[str, ...]:
        return self.firing


class MemoryStore:
    def __init__(self) -> None:
        self.states: list[State] = []

    def load(self) -> State | None:
        return self.states[-1] if self.states else None

    def save(self, state: State) -> None:
        self.states.append(state)

    def history(self) -> list[State]:
        return list(self.states)


class ListAudit:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def record(self, event: str, fields: Mapping[str, Any]) -> None:
        self.events.append((event, dict(fields)))

    def names(self) -> list[str]:
        return [e for e, _ in self.events]


class MemoryLock:
    def __init__(self) -> None:
        self.owner: str | None = None

    def acquire(self, owner: str) -> None:
        if self.owner is not None:
            raise LockHeldError(f"held by {self.owner}")
        self.owner = owner

    def renew(self) -> None:
        return None

    def release(self) -> None:
        self.owner = None


class FakeSmoke:
    def __init__(self, ok: bool = True) -> None:
        self.ok = ok
        self.checked: list[Slot] = []

    def check(self, slot: Slot) -> SmokeResult:
        self.checked.append(slot)
        return SmokeResult(self.ok, "ok" if self.ok else "tools/call answered isError")


class MemoryAbortSignal:
    def __init__(self) -> None:
        self.by: str | None = None

    def request(self, owner: str) -> None:
        self.by = owner

    def requested(self) -> str | None:
        return self.by

    def clear(self) -> None:
        self.by = None
