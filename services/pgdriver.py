"""asyncpg, imported off the event loop: a worker answers its first requests while the driver loads, which keeps cold
start short (the native server's connection set and both servers' cancellation relay load it through here)."""

from __future__ import annotations

import asyncio
import importlib
import sys
import threading
from typing import Any

_asyncpg: Any = None
_IMPORT_LOCK = threading.Lock()
_loading: asyncio.Task[Any] | None = None  # the import under way, on the event loop that started it


def _import_asyncpg() -> Any:
    """Import asyncpg (in a worker thread). The thread holds the GIL for up to the switch interval (5 ms) at a time;
    a shorter interval while it imports lets the event loop answer requests in between. One import at a time, so the
    interval is always restored to what it was."""
    with _IMPORT_LOCK:
        if "asyncpg" in sys.modules:
            return sys.modules["asyncpg"]
        previous = sys.getswitchinterval()
        sys.setswitchinterval(min(previous, 0.0005))
        try:
            return importlib.import_module("asyncpg")
        finally:
            sys.setswitchinterval(previous)


async def driver() -> Any:
    """asyncpg, imported on first use in a thread: one import (one thread) however many callers wait for it at once.

    A worker's connection set and cancellation relay both ask at start; a second thread, blocked on the lock, would
    only cost a thread start on the event loop while the first requests come in."""
    global _asyncpg, _loading
    if _asyncpg is None:
        loop = asyncio.get_running_loop()
        loading = _loading
        if loading is None or loading.get_loop() is not loop:
            loading = _loading = loop.create_task(asyncio.to_thread(_import_asyncpg))
        try:
            module = await asyncio.shield(loading)  # a caller cancelled while waiting leaves the import to the others
        except BaseException:
            if loading.done() and _loading is loading:
                _loading = None  # the import failed: the next caller tries again
            raise
        _asyncpg, _loading = module, None
    return _asyncpg
