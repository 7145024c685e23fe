"""The native server's connection set against the real PostgreSQL: waiting, giving up, and never losing a connection."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from services import pgdriver
from services.mcp_server.database import ConnectionSet
from services.tools.context import DatabaseUnavailable


def _run(database_url: str, scenario: Callable[[ConnectionSet], Awaitable[Any]], **options: Any) -> Any:
    async def main() -> Any:
        db = ConnectionSet(database_url, **options)
        await db.start()
        try:
            return await scenario(db)
        finally:
            await db.close()

    return asyncio.run(main())


def test_calls_beyond_the_pool_size_wait_their_turn_and_all_succeed(database_url: str) -> None:
    async def scenario(db: ConnectionSet) -> list[Any]:
        calls = (db.fetchval("SELECT $1::int FROM pg_sleep(0.01)", i) for i in range(20))
        return list(await asyncio.gather(*calls))

    assert _run(database_url, scenario, size=2) == list(range(20))


def test_a_waiter_gives_up_after_the_acquire_timeout_with_database_unavailable(database_url: str) -> None:
    async def scenario(db: ConnectionSet) -> tuple[str, float]:
        holder = asyncio.ensure_future(db.fetchval("SELECT pg_sleep(1.0)::text"))
        await asyncio.sleep(0.1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(DatabaseUnavailable) as raised:
            await db.fetchval("SELECT 1")
        waited = loop.time() - started
        await holder
        return str(raised.value), waited

    message, waited = _run(database_url, scenario, size=1, acquire_timeout_s=0.3)
    assert message == "no database connection became free in time"
    assert 0.25 <= waited < 0.9


def test_cancelled_waiters_leave_no_trace_and_the_connection_serves_the_next_call(database_url: str) -> None:
    async def scenario(db: ConnectionSet) -> tuple[int, int]:
        holder = asyncio.ensure_future(db.fetchval("SELECT pg_sleep(0.2)::text"))
        await asyncio.sleep(0.05)
        quitters = [asyncio.ensure_future(db.fetchval("SELECT 1")) for _ in range(5)]
        await asyncio.sleep(0.01)
        for task in quitters:
            task.cancel()
        await asyncio.gather(*quitters, return_exceptions=True)
        await holder
        value = await db.fetchval("SELECT 42")
        return int(value), len(db._idle)

    assert _run(database_url, scenario, size=1) == (42, 1)


def test_a_connection_handed_to_a_waiter_that_was_cancelled_at_that_moment_is_passed_on(database_url: str) -> None:
    async def scenario(db: ConnectionSet) -> tuple[int, int]:
        conn = await db._acquire()
        waiter_task = asyncio.ensure_future(db.fetchval("SELECT 7"))
        await asyncio.sleep(0.01)  # the task now waits for a connection
        db._release(conn)  # hands the connection over to the waiter...
        waiter_task.cancel()  # ...which is cancelled before it could run
        with pytest.raises(asyncio.CancelledError):
            await waiter_task
        value = await asyncio.wait_for(db.fetchval("SELECT 8"), 2.0)
        return int(value), len(db._idle)

    assert _run(database_url, scenario, size=1) == (8, 1)


def test_closing_fails_queued_waiters_with_a_clear_error(database_url: str) -> None:
    async def scenario(db: ConnectionSet) -> str:
        conn = await db._acquire()
        waiter_task = asyncio.ensure_future(db.fetchval("SELECT 1"))
        await asyncio.sleep(0.01)
        await db.close()
        conn.terminate()
        with pytest.raises(DatabaseUnavailable) as raised:
            await waiter_task
        return str(raised.value)

    assert _run(database_url, scenario, size=1) == "server is shutting down"


def test_the_driver_imports_with_a_short_gil_switch_interval_and_restores_it_after_concurrent_loads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[float] = []

    def slow_import(name: str) -> object:
        seen.append(sys.getswitchinterval())
        time.sleep(0.02)
        return object()

    monkeypatch.delitem(sys.modules, "asyncpg", raising=False)
    monkeypatch.setattr(pgdriver, "_asyncpg", None)
    monkeypatch.setattr(pgdriver.importlib, "import_module", slow_import)
    before = sys.getswitchinterval()

    async def load_three_at_once() -> None:
        await asyncio.gather(*(pgdriver.driver() for _ in range(3)))

    asyncio.run(load_three_at_once())
    assert seen and all(interval == min(before, 0.0005) for interval in seen)
    assert sys.getswitchinterval() == before
