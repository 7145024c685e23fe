"""Tool deadlines without a timer per call: one sweep per event loop cancels the calls that ran past theirs.

`asyncio.timeout()` schedules and cancels a timer handle on every call; sampled on a worker serving a database
tool it was about 8 % of the process. Tool timeouts are seconds long, so a sweep every 50 ms is precise enough, and
it only runs while calls are being watched.
"""

from __future__ import annotations

import asyncio
from typing import Any

SWEEP_S = 0.05


class DeadlineKeeper:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._watched: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.TimerHandle | None = None

    def watch(self, task: asyncio.Task[Any], timeout_s: float) -> None:
        self._watched[task] = self._loop.time() + timeout_s
        if self._sweeper is None:
            self._sweeper = self._loop.call_later(SWEEP_S, self._sweep)

    def forget(self, task: asyncio.Task[Any]) -> bool:
        """Stop watching `task`; returns whether its deadline had passed (it was cancelled for that)."""
        self._watched.pop(task, None)
        if task in self._expired:
            self._expired.discard(task)
            return True
        return False

    def _sweep(self) -> None:
        now = self._loop.time()
        for task, deadline in list(self._watched.items()):
            if deadline <= now:
                del self._watched[task]
                self._expired.add(task)
                task.cancel()
        self._sweeper = self._loop.call_later(SWEEP_S, self._sweep) if self._watched else None


_current: tuple[asyncio.AbstractEventLoop, DeadlineKeeper] | None = None


def keeper(loop: asyncio.AbstractEventLoop | None = None) -> DeadlineKeeper:
    """The keeper of the running loop (one per loop; the last one is cached for the hot path). A caller that already
    holds the running loop passes it: looking it up again costs a getpid() system call on CPython 3.11."""
    global _current
    if loop is None:
        loop = asyncio.get_running_loop()
    if _current is None or _current[0] is not loop:
        _current = (loop, DeadlineKeeper(loop))
    return _current[1]
