"""The gunicorn worker class: uvicorn's `UvicornWorker` with a drain fix and the connection gauges.

Drain: stock uvicorn closes every idle keep-alive connection the moment shutdown starts. A request the client has
already written on such a connection is then lost (the close turns into a reset). Here an idle connection gets a
short grace in which such a request is still answered, with `Connection: close`; in-flight requests finish as before.

Gauges: once a second, on uvicorn's own tick, the worker samples its open connections and in-flight requests into
the metrics (`metrics.sample_gauges`), as the native server's workers do; nothing is counted per request.

Slots: uvicorn arms its keep-alive timer only after a response and cancels it at the next byte, so a connection
that never sends a byte, or sends only blank lines (which RFC 9112, section 2.2 lets a server ignore) or a request a
byte at a time, would hold its slot for ever. Here, as on the native server, a new connection gets the keep-alive
timer at once, and a request must arrive completely within `MCP_REQUEST_TIMEOUT_S` (30 s) of its first byte (blank
lines included), else 408; the tick checks it once a second. A declared body over the limit is refused at its
headers (413), and every refusal of the protocol layer (400, 408, 413) carries a JSON-RPC error object with id null,
as the application's refusals do.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from gunicorn.arbiter import Arbiter
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import Server
from uvicorn.workers import UvicornWorker

from services.fastapi_baseline.metrics import sample_gauges
from services.fastapi_baseline.settings import Settings
from services.protocol import INVALID_REQUEST

DRAIN_IDLE_GRACE_S = 0.5
REQUEST_TIMEOUT_S = float(os.environ.get("MCP_REQUEST_TIMEOUT_S") or 30.0)
MAX_BODY_BYTES = Settings.from_env().max_body_bytes
MALFORMED = (400, "malformed HTTP request")
_STATUS_LINES = {400: b"HTTP/1.1 400 Bad Request\r\n", 408: b"HTTP/1.1 408 Request Timeout\r\n"}
_STATUS_LINES[413] = b"HTTP/1.1 413 Request Entity Too Large\r\n"


class _Refused(Exception):
    """Raised in a parser callback: httptools wraps it, and uvicorn answers through `send_400_response`."""


class DrainingHttpToolsProtocol(HttpToolsProtocol):
    _draining = False
    _request_started: float | None = None  # loop time of the first byte of a request not yet complete
    _refusal = MALFORMED
    _deferred: tuple[int, str] | None = None  # a refusal waiting for the pipelined responses before it

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def data_received(self, data: bytes) -> None:
        if self._request_started is None:
            self._request_started = self.loop.time()
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._request_started is None:  # pipelined behind a request in the same read
            self._request_started = self.loop.time()

    def on_message_complete(self) -> None:
        self._request_started = None
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        if self._deferred is not None:
            return  # already refused; the refusal waits for the responses before it
        status, message = self._refusal
        self._refusal = MALFORMED
        cycle = self.cycle
        if (cycle is not None and not cycle.response_complete and not cycle.more_body) or self.pipeline:
            # Requests before the bad one are still being answered (pipelining): uvicorn would write its 400 now, in
            # the place of their responses, and close before they are written. Answer them first, then refuse. (A
            # request whose own body is broken can never be answered: it is refused at once.)
            self._deferred = (status, message)
            self.transport.pause_reading()
            return
        self._write_refusal(status, message)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        deferred = self._deferred
        if deferred is not None and not self.pipeline and (self.cycle is None or self.cycle.response_complete):
            self._write_refusal(*deferred)

    def _write_refusal(self, status: int, message: str) -> None:
        body = b'{"jsonrpc":"2.0","id":null,"error":{"code":%d,"message":"%s"}}' % (INVALID_REQUEST, message.encode())
        content = [_STATUS_LINES[status]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.append(b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body))
        content.append(body)
        self.transport.write(b"".join(content))
        self.transport.close()

    def sweep(self, now: float) -> None:
        """Once a second: answer 408 to a request that has not arrived within the request timeout."""
        started = self._request_started
        if started is None or now - started <= REQUEST_TIMEOUT_S or self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete and not cycle.more_body:
            cycle.keep_alive = False  # an earlier request's response is on its way: close after it
            return
        self._write_refusal(408, "request not received in time")

    def shutdown(self) -> None:
        self._draining = True
        if self.cycle is None or self.cycle.response_complete:
            self.loop.call_later(DRAIN_IDLE_GRACE_S, self._close_when_idle)
        else:
            self.cycle.keep_alive = False

    def _close_when_idle(self) -> None:
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()
        else:
            self.cycle.keep_alive = False

    def on_headers_complete(self) -> None:
        for name, value in self.headers:
            if name == b"content-length" and value.isdigit() and int(value) > MAX_BODY_BYTES:
                self._refusal = (413, "request body too large")
                raise _Refused
        super().on_headers_complete()
        if self._draining and self.cycle is not None:
            self.cycle.keep_alive = False


class SamplingServer(Server):
    """uvicorn's server, publishing the connection gauges on the tick where it refreshes its `Date` header."""

    async def on_tick(self, counter: int) -> bool:
        if counter % 10 == 0:
            state = self.server_state
            sample_gauges(open_connections=len(state.connections), in_flight=len(state.tasks))
            now = asyncio.get_running_loop().time()
            for connection in list(state.connections):
                if isinstance(connection, DrainingHttpToolsProtocol):
                    connection.sweep(now)
        return await super().on_tick(counter)


class DrainingUvicornWorker(UvicornWorker):
    CONFIG_KWARGS: dict[str, Any] = {"loop": "auto", "http": DrainingHttpToolsProtocol}  # noqa: RUF012 - as in uvicorn

    async def _serve(self) -> None:
        # UvicornWorker._serve with the sampling server in place of uvicorn's.
        self.config.app = self.wsgi
        server = SamplingServer(config=self.config)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
