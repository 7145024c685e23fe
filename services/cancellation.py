"""`notifications/cancelled` across workers and instances, for both servers, when a database is configured.

A cancellation names a request by its caller and id; without sessions a request id is unique per client only, so the
caller is the request's `Authorization` header (in stateful mode, its session). The notification may reach another
worker than the one running the call (SO_REUSEPORT, gunicorn, the load balancer). Each server first looks for the
call among its own; only when it does not run there, and a database is configured, the worker publishes the
request's `cancel_key` with PostgreSQL `NOTIFY` on one channel, and every worker listening on that database (either
server, any instance) cancels the call it runs under that key.

Off the hot path: a request costs nothing here (no digest, no query); a worker holds one idle listening connection,
and a cancellation that is not found locally costs one `pg_notify` and, on each listening worker, a digest per call
it has in flight. The key is a SHA-256 digest, so neither a token nor a request id travels through the database.
Advisory, like the notification itself: a cancellation that arrives before the call is registered, or while the
listening connection is down (it reconnects every `RECONNECT_S`), is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("mcpstack.cancellation")

CHANNEL = "mcp_cancelled"
RECONNECT_S = 1.0
CONNECT_TIMEOUT_S = 5.0


def cancel_key(scope: bytes | str | None, request_id: Any) -> str:
    """The name of one caller's request, the same on both servers: `scope` is the Authorization header (bytes or
    text, None when absent) or the session id, `request_id` the JSON-RPC id (a string or an integer)."""
    text = scope.decode("latin-1") if isinstance(scope, bytes) else scope
    caller = "-" if text is None else "=" + text
    kind = "s" if isinstance(request_id, str) else "i"
    material = f"{caller}\x00{kind}:{request_id}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(material).hexdigest()


class CancelRelay:
    """One worker's end of the relay: `publish` a key that is not running here; `on_cancel(key)` is called for every
    key any worker publishes (this one's included, which it then does not find)."""

    def __init__(self, database_url: str, on_cancel: Callable[[str], None]) -> None:
        self._url = database_url
        self._on_cancel = on_cancel
        self._conn: Any = None
        self._lock = asyncio.Lock()  # one query at a time on the connection
        self._connecting: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._closed = False

    def start(self) -> None:
        """Connect and listen in the background: a database that is down at boot does not hold up the worker."""
        self._connecting = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        from services.pgdriver import driver  # imported in a thread: the worker serves meanwhile (cold start)

        asyncpg = await driver()
        while not self._closed:
            try:
                conn = await asyncpg.connect(self._url, timeout=CONNECT_TIMEOUT_S)
                await conn.add_listener(CHANNEL, self._notified)
                conn.add_termination_listener(self._lost)
                self._conn = conn
                return
            except Exception as ex:
                log.warning("cancellation relay: cannot listen on the database (retrying): %s", ex)
                await asyncio.sleep(RECONNECT_S)

    def _lost(self, _conn: Any) -> None:
        self._conn = None
        if not self._closed:
            log.warning("cancellation relay: the listening connection closed; reconnecting")
            self._connecting = asyncio.get_running_loop().create_task(self._connect())

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self._on_cancel(payload)

    def publish(self, key: str) -> None:
        """Tell every listening worker to cancel the call under `key` (sent in the background: the notification
        that asked for it is answered 202 at once)."""
        if self._conn is None:
            return  # not listening (yet, or any more): the cancellation is lost, as on a worker without a database
        sending = asyncio.get_running_loop().create_task(self._send(key))
        self._sending.add(sending)
        sending.add_done_callback(self._sending.discard)

    async def _send(self, key: str) -> None:
        try:
            async with self._lock:
                conn = self._conn
                if conn is not None:
                    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, key)
        except Exception as ex:
            log.warning("cancellation relay: cannot publish a cancellation: %s", ex)

    async def close(self) -> None:
        self._closed = True
        if self._connecting is not None:
            self._connecting.cancel()
        for sending in list(self._sending):
            sending.cancel()
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)
