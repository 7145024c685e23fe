"""The native server's database handle: a small fixed set of asyncpg connections per worker.

Why not `asyncpg.create_pool`: its release resets each connection with an extra round trip, which costs more CPU than
the queries these tools run. Here a connection goes straight back to the idle list. When the database goes away,
calls fail fast (`DatabaseUnavailable`) instead of queueing, reconnection is attempted at most every
`retry_interval_s`, and service resumes by itself when the database returns.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import deque
from typing import Any

from services.pgdriver import driver
from services.tools.context import DatabaseUnavailable

log = logging.getLogger("mcpstack.db")


class ConnectionSet:
    def __init__(
        self,
        url: str,
        *,
        size: int = 3,
        connect_timeout_s: float = 2.0,
        retry_interval_s: float = 0.5,
        acquire_timeout_s: float = 5.0,
        statement_timeout_ms: int = 5000,
    ) -> None:
        self._statement_timeout_ms = statement_timeout_ms
        self._url = url
        self._size = size
        self._connect_timeout_s = connect_timeout_s
        self._retry_interval_s = retry_interval_s
        self._acquire_timeout_s = acquire_timeout_s
        self._idle: list[Any] = []
        self._waiters: deque[tuple[float, asyncio.Future[Any]]] = deque()  # (give-up time, future), oldest first
        self._expiry: asyncio.TimerHandle | None = None
        # The loop the waiters wait on, looked up once: on CPython 3.11 every get_running_loop() is a getpid() system
        # call, and under load nearly every call waits.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._open = 0  # connections that exist or are being opened
        self._down_until = 0.0
        self._closed = False

    async def start(self) -> None:
        """Open the connections; a database that is down now is not fatal (`/ready` reports it)."""
        try:
            while self._open < self._size and not self._closed:
                self._release(await self._connect())
        except DatabaseUnavailable as ex:
            log.warning("database not reachable at start: %s", ex)

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            self._open -= 1
            try:
                await asyncio.wait_for(conn.close(), 2.0)
            except Exception:
                conn.terminate()
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        while (waiter := self._next_waiter()) is not None:
            waiter.set_exception(DatabaseUnavailable("server is shutting down"))

    @property
    def healthy(self) -> bool:
        return time.monotonic() >= self._down_until

    async def _connect(self) -> Any:
        now = time.monotonic()
        if now < self._down_until:
            raise DatabaseUnavailable("database unavailable (recent connection attempt failed)")
        pg = await driver()
        self._open += 1
        try:
            conn = await pg.connect(
                self._url,
                timeout=self._connect_timeout_s,
                # PostgreSQL itself stops a runaway statement: no client-side timer per query.
                server_settings={"statement_timeout": str(self._statement_timeout_ms)},
            )
        except (OSError, pg.PostgresError, pg.InterfaceError, TimeoutError) as ex:
            self._open -= 1
            self._down_until = time.monotonic() + self._retry_interval_s
            raise DatabaseUnavailable(f"cannot connect: {type(ex).__name__}") from ex
        except BaseException:
            self._open -= 1
            raise
        self._down_until = 0.0
        return conn

    def _take(self) -> Any:
        """An idle connection, at once, or None: then `_acquire` opens one or waits. The common case (a connection
        is free) thus creates and runs no coroutine of its own. After `close` there is none: `_acquire` refuses."""
        idle = self._idle
        while idle:
            conn = idle.pop()
            if not conn.is_closed():
                return conn
            self._open -= 1
        return None

    async def _acquire(self) -> Any:
        if self._closed:
            raise DatabaseUnavailable("server is shutting down")
        conn = self._take()
        if conn is not None:
            return conn
        if self._open < self._size:
            return await self._connect()
        if not self.healthy:
            raise DatabaseUnavailable("database unavailable")
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()
        # Waiters queue in arrival order with one common timeout, so the queue is also in deadline order: one timer
        # for the oldest waiter serves them all (no timer and no wait_for per request). A waiter that gives up stays
        # queued, done, and is skipped when its turn comes.
        self._waiters.append((loop.time() + self._acquire_timeout_s, waiter))
        if self._expiry is None:
            self._expiry = loop.call_at(self._waiters[0][0], self._expire)
        try:
            return await waiter
        except BaseException:
            if not waiter.done():
                waiter.cancel()
            elif not waiter.cancelled() and waiter.exception() is None:
                self._release(waiter.result())  # handed over just as this call gave up: pass it on
            raise

    def _expire(self) -> None:
        """Fail the waiters whose acquire timeout passed; re-arm for the next one."""
        self._expiry = None
        waiters = self._waiters
        if not waiters:
            return
        loop = self._loop  # the loop that armed this timer
        assert loop is not None
        now = loop.time()
        while waiters and waiters[0][0] <= now:
            waiter = waiters.popleft()[1]
            if not waiter.done():
                waiter.set_exception(DatabaseUnavailable("no database connection became free in time"))
        if waiters:
            self._expiry = loop.call_at(waiters[0][0], self._expire)

    def _next_waiter(self) -> asyncio.Future[Any] | None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()[1]
            if not waiter.done():
                return waiter
        return None

    def _release(self, conn: Any) -> None:
        if conn.is_closed() or self._closed:
            self._open -= 1
            if not conn.is_closed():
                conn.terminate()
            self._wake_for_reconnect()
            return
        waiter = self._next_waiter()
        if waiter is not None:
            waiter.set_result(conn)
        else:
            self._idle.append(conn)

    def _wake_for_reconnect(self) -> None:
        # A slot freed up: the oldest waiter opens a new connection itself.
        waiter = self._next_waiter()
        if waiter is not None:
            task = asyncio.ensure_future(self._connect())
            task.add_done_callback(functools.partial(self._settle, waiter))

    def _settle(self, waiter: asyncio.Future[Any], task: asyncio.Future[Any]) -> None:
        error = None if task.cancelled() else task.exception()
        if waiter.done():
            if not task.cancelled() and error is None:
                self._release(task.result())  # the waiter gave up: keep the new connection for others
            return
        if task.cancelled():
            waiter.cancel()
        elif error is not None:
            waiter.set_exception(error)
        else:
            waiter.set_result(task.result())

    async def fetch(self, query: str, *args: Any, timeout: float | None = None) -> list[Any]:
        conn = self._take()
        if conn is None:
            conn = await self._acquire()
        try:
            return list(await conn.fetch(query, *args, timeout=timeout))
        finally:
            self._release(conn)

    async def fetchrow(self, query: str, *args: Any, timeout: float | None = None) -> Any:
        conn = self._take()
        if conn is None:
            conn = await self._acquire()
        try:
            return await conn.fetchrow(query, *args, timeout=timeout)
        finally:
            self._release(conn)

    async def fetchval(self, query: str, *args: Any, timeout: float | None = None) -> Any:
        conn = self._take()
        if conn is None:
            conn = await self._acquire()
        try:
            return await conn.fetchval(query, *args, timeout=timeout)
        finally:
            self._release(conn)

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:
        conn = self._take()
        if conn is None:
            conn = await self._acquire()
        try:
            return str(await conn.execute(query, *args, timeout=timeout))
        finally:
            self._release(conn)

    async def ping(self, timeout_s: float = 1.0) -> bool:
        try:
            return bool(await self.fetchval("SELECT 1", timeout=timeout_s) == 1)
        except Exception:
            return False
