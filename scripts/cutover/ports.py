"""What the cutover driver needs from the world: interfaces only. Adapters (`local`, `aws`, tests' fakes) implement
them; the driver never creates a client itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from scripts.cutover.model import Reading, Slot, State


class CutoverError(Exception):
    """Base of the domain errors adapters raise (AWS `ClientError`s are re-raised as these, `from ex`)."""


class ThrottledError(CutoverError):
    """The API asked us to slow down: retried with backoff, never counted as a result."""


class RouterError(CutoverError):
    """The load balancer could not be read or written (missing listener, bad weights, API failure)."""


class MetricsError(CutoverError):
    """A metrics read failed: the analysis is an Error, never a pass."""


class StateStoreError(CutoverError):
    pass


class LockHeldError(CutoverError):
    """Another cutover run holds the lock."""


class LockLostError(LockHeldError):
    """Our lock expired and another run took it over: stop before any further write."""


@dataclass(frozen=True)
class TargetHealth:
    healthy: int
    unhealthy: int


@dataclass(frozen=True)
class SmokeResult:
    ok: bool
    detail: str


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class TrafficRouter(Protocol):
    def describe(self) -> str:
        """One line naming what is routed (listener ARN, HAProxy backend)."""

    def check_exists(self) -> None:
        """Raise RouterError when the listener/backend or either slot's target group/server is missing."""

    def read_weights(self) -> Mapping[Slot, int]:
        """Live weights as percentages per slot (summing to 100)."""

    def write_weights(self, weights: Mapping[Slot, int]) -> None: ...

    def planned_calls(self, weights: Mapping[Slot, int]) -> list[str]:
        """The exact calls `write_weights` would make (for --dry-run)."""

    def target_health(self, slot: Slot) -> TargetHealth: ...


class MetricsSource(Protocol):
    def begin(self) -> None:
        """Start a window (cumulative counters: a baseline; time-series: the start time)."""

    def read(self, source: Slot, target: Slot, alarm_names: tuple[str, ...]) -> Reading:
        """Both slots since `begin`, and which of `alarm_names` fire. Raises MetricsError when it cannot tell."""

    def firing_alarms(self, alarm_names: tuple[str, ...]) -> tuple[str, ...]: ...


class SmokeCheck(Protocol):
    def check(self, slot: Slot) -> SmokeResult:
        """`tools/list` + a read-only `tools/call` on `slot` before it gets traffic, and the golden requests answered
        with the same content by both slots."""


class StateStore(Protocol):
    def load(self) -> State | None: ...

    def save(self, state: State) -> None: ...

    def history(self) -> list[State]: ...


class AuditLog(Protocol):
    def record(self, event: str, fields: Mapping[str, Any]) -> None: ...


class Lock(Protocol):
    def acquire(self, owner: str) -> None:
        """Raise LockHeldError when another run holds it."""

    def renew(self) -> None:
        """Called at every poll of a run: keep the lock from expiring under a live run (a no-op until renewal is
        due, and for locks that cannot expire). Raise LockLostError when another run holds it now."""

    def release(self) -> None: ...


class WeightsSink(Protocol):
    def record(self, weights: Mapping[Slot, int]) -> None:
        """Called after each verified weight change (AWS: the stage's live-weights file the CDK app reads)."""


class SyntheticTraffic(Protocol):
    def send(self, count: int) -> int:
        """Send up to `count` read-only MCP tool calls through the load balancer's front door (bounded in time);
        returns how many were answered. Used only when real traffic is too low to judge a step."""


class AbortSignal(Protocol):
    """How `cutover abort` reaches a run that holds the lock (in another terminal): the run checks it every poll."""

    def request(self, owner: str) -> None: ...

    def requested(self) -> str | None:
        """Who asked, or None."""

    def clear(self) -> None: ...
