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
    """asyncpg, imported on first use in a thread."""
    global _asyncpg
    if _asyncpg is None:
        _asyncpg = await asyncio.to_thread(_import_asyncpg)
    return _asyncpg
