"""HTTP/1.1 wire layer: an asyncio Protocol on httptools that turns bytes into `HttpRequest`s and `Response`s into
bytes.

It knows nothing of JSON-RPC or MCP. It enforces the transport limits (URL, header and body size, header count,
slow requests), keeps pipelined responses in request order, applies write backpressure, answers over the concurrency
limit with a pre-built 503, closes idle keep-alive connections, and drains on shutdown. Every response carries a
`Date` header (RFC 9110, section 6.6.1: an origin server with a clock must send one), formatted when the second
changes, never per request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import httptools

from services.protocol import INVALID_REQUEST
from services.tools.reply import Pending, Reply, pending

log = logging.getLogger("mcpstack.wire")

# (status, header lines "name: value\r\n" (already encoded), body)
Response = tuple[int, bytes, bytes]
Handler = Callable[["HttpRequest"], Reply[Response]]  # pending (a coroutine) when it must wait

STATUS_LINES: dict[int, bytes] = {s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n".encode("latin-1") for s in HTTPStatus}
_JSON = b"content-type: application/json\r\n"
_CLOSE = b"connection: close\r\n"


_DAYS = (b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun")  # time.gmtime's tm_wday: Monday is 0
_MONTHS = (b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec")


def date_header(epoch_s: float) -> bytes:
    """The `Date` header line for a moment, in RFC 9110's IMF-fixdate form (`Sun, 06 Nov 1994 08:49:37 GMT`).

    Written out by hand: `time.strftime` names days and months in the current locale, and `email.utils` would add
    its imports to the server's start."""
    t = time.gmtime(epoch_s)
    return b"date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n" % (
        _DAYS[t.tm_wday],
        t.tm_mday,
        _MONTHS[t.tm_mon - 1],
        t.tm_year,
        t.tm_hour,
        t.tm_min,
        t.tm_sec,
    )


def error_response(status: int, message: str) -> Response:
    """A refusal the wire layer answers itself (400, 408, 413, 414, 431): a JSON-RPC error object with id null and
    code -32600 (Invalid Request), the body MCP clients parse, as the layers above answer their refusals (403, 404,
    405, 406, 415). `message` is a constant of this module: plain ASCII, nothing to escape."""
    error = b'{"code":%d,"message":"%s"}' % (INVALID_REQUEST, message.encode("ascii"))
    return status, _JSON, b'{"jsonrpc":"2.0","id":null,"error":' + error + b"}"


@dataclass(frozen=True, slots=True)
class WireLimits:
    max_url_bytes: int = 8192
    max_header_bytes: int = 16384
    max_headers: int = 100
    max_body_bytes: int = 1_048_576
    max_pipelined: int = 32
    keepalive_timeout_s: float = 75.0
    # A request must arrive completely within this time from its first byte (slowloris); bytes that are not yet a
    # request (blank lines) count as its start.
    request_timeout_s: float = 30.0
    max_in_flight: int = 1024  # per worker; over it, answer 503
    drain_idle_grace_s: float = 0.5  # while draining, an idle connection may still send one last request


class HttpRequest:
    __slots__ = ("body", "cancel_on_close", "conn", "headers", "keep_alive", "method", "path", "transport")

    def __init__(
        self,
        method: bytes,
        path: bytes,
        headers: dict[bytes, bytes],
        body: bytes,
        keep_alive: bool,
        transport: Any,
        conn: HttpProtocol | None = None,
    ):
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.keep_alive = keep_alive
        self.transport = transport  # the connection's; asked for the peer address only when a rule needs it
        self.conn = conn  # the connection that carries it, for a streamed response (`open_stream`)
        # Whether closing the connection cancels the handling still under way (the layers above decide per request).
        self.cancel_on_close = False

    def open_stream(self, headers: bytes, last: Callable[[bytes], bytes]) -> ResponseStream | None:
        """Answer this request in pieces from now on (200, chunked): `headers` are the response's header lines, and
        `last` turns the body of the Response the handler finally returns into the last piece. None when the
        request cannot be streamed (it is not being handled asynchronously on a live connection)."""
        return None if self.conn is None else self.conn.open_stream(self, headers, last)

    def peer(self) -> str | None:
        """The peer's IP address (the load balancer's, behind one)."""
        peername = self.transport.get_extra_info("peername") if self.transport is not None else None
        return str(peername[0]) if peername else None


class _Exchange:
    """One request on a connection whose response cannot be written yet: earlier ones are still pending, or its own
    is. The connection keeps these in request order; a response known at once with none pending needs no record."""

    __slots__ = ("close", "request", "response", "stream", "task")

    def __init__(self, response: Response | None, close: bool, request: HttpRequest | None = None) -> None:
        self.response = response  # None until known
        self.close = close  # close the connection after this response
        self.request = request  # the request being handled (pending ones only)
        self.stream: ResponseStream | None = None  # when its response is being streamed
        self.task: asyncio.Task[None] | None = None  # the handling, when the request cancels on close


_CHUNKED = b"transfer-encoding: chunked\r\n"
_LAST_CHUNK = b"0\r\n\r\n"


class ResponseStream:
    """A response written in pieces (HTTP/1.1 chunked transfer coding) while its request is still being handled.

    Pieces sent before the exchange reaches the head of its connection's pipeline are held, then written in order;
    pieces sent after the connection closed are dropped. The handler's final Response ends it: `last(body)` is the
    last piece, then the terminating chunk."""

    __slots__ = ("_conn", "_exchange", "_held", "last")

    def __init__(self, conn: HttpProtocol, exchange: _Exchange, head: bytes, last: Callable[[bytes], bytes]) -> None:
        self._conn = conn
        self._exchange = exchange
        self._held: list[bytes] = [head]
        self.last = last

    @property
    def closed(self) -> bool:
        """Whether the connection is gone (nothing sent now reaches the client)."""
        return self._conn.closed

    @property
    def draining(self) -> bool:
        """Whether the worker is shutting down (an open-ended stream should end now)."""
        return self._conn.draining

    def send(self, data: bytes) -> None:
        if data:
            self._emit(b"%x\r\n%s\r\n" % (len(data), data))

    def _emit(self, piece: bytes) -> None:
        conn = self._conn
        if conn.closed:
            return
        if self._held or not conn.at_head(self._exchange):
            self._held.append(piece)
            conn.flush()
        else:
            conn.write_raw(piece)

    def release(self) -> None:
        """Write what was held (the exchange is at the head of the pipeline now)."""
        if self._held:
            held, self._held = self._held, []
            self._conn.write_raw(b"".join(held))

    def end(self, body: bytes) -> bytes:
        """The bytes that finish the response: the last piece, then the terminating chunk."""
        piece = self.last(body)
        return (b"%x\r\n%s\r\n" % (len(piece), piece) if piece else b"") + _LAST_CHUNK


_SHED_PARSER_AFTER_S = 1.0
_NO_HEADERS: dict[bytes, bytes] = {}  # placeholders between requests (replaced at the next message begin)
_NO_BODY: list[bytes] = []


class _Reject(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class WireServer:
    """State shared by all connections of one worker: handler, limits, live connections, in-flight count."""

    def __init__(
        self,
        handler: Handler,
        limits: WireLimits,
        *,
        overloaded: Response,
        internal_error: Response,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.handler = handler
        self.limits = limits
        self.overloaded = overloaded
        self.internal_error = internal_error
        self.connections: set[HttpProtocol] = set()
        self.in_flight = 0
        self.draining = False
        self.now = 0.0  # coarse clock, advanced by the sweeper
        self.drained = asyncio.Event()
        self.loop: asyncio.AbstractEventLoop | None = None  # the loop serving the connections, once a request waits
        self._wall_clock = wall_clock
        self._date_second = int(wall_clock())
        self.date = date_header(self._date_second)  # the `Date` line of every response, renewed by the sweeper

    def protocol_factory(self) -> HttpProtocol:
        return HttpProtocol(self)

    def tick(self, now: float) -> None:
        """Advance the coarse clock, renew the `Date` line when the second changed, and close connections that idled
        or stalled too long. Called about once a second."""
        self.now = now
        second = int(self._wall_clock())
        if second != self._date_second:
            self._date_second = second
            self.date = date_header(second)
        limits = self.limits
        for conn in list(self.connections):
            conn.sweep(now, limits)
        if self.draining and not self.connections:
            self.drained.set()

    def start_draining(self, now: float) -> None:
        self.draining = True
        self.now = now
        for conn in list(self.connections):
            conn.begin_drain(now)
        if not self.connections:
            self.drained.set()

    def close_all(self) -> None:
        """Close every connection now, work in progress or not (the drain time is over)."""
        for conn in list(self.connections):
            conn.close()

    def forget(self, conn: HttpProtocol) -> None:
        self.connections.discard(conn)
        if self.draining and not self.connections:
            self.drained.set()


class HttpProtocol(asyncio.Protocol):
    __slots__ = (
        "_body",
        "_body_size",
        "_close_at",
        "_closed",
        "_header_bytes",
        "_headers",
        "_idle_since",
        "_max_header_bytes",
        "_max_headers",
        "_parser",
        "_pipeline",
        "_read_paused",
        "_request_started",
        "_server",
        "_transport",
        "_url",
        "_write_paused",
    )

    def __init__(self, server: WireServer) -> None:
        self._server = server
        self._max_header_bytes = server.limits.max_header_bytes
        self._max_headers = server.limits.max_headers
        self._transport: Any = None
        self._parser: Any = httptools.HttpRequestParser(self)
        self._url = b""
        self._headers: dict[bytes, bytes] = _NO_HEADERS
        self._header_bytes = 0
        self._body: list[bytes] = _NO_BODY
        self._body_size = 0
        # A list, not a deque: it is short, and an idle connection should cost little memory (a deque allocates a
        # 64-slot block up front).
        self._pipeline: list[_Exchange] = []
        self._request_started: float | None = None
        self._idle_since = server.now
        self._close_at: float | None = None
        self._closed = False
        self._write_paused = False
        self._read_paused = False

    # -- asyncio callbacks ------------------------------------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        self._transport = transport
        self._server.connections.add(self)
        if self._server.draining:
            self.begin_drain(self._server.now)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._server.forget(self)
        loop = self._server.loop
        for exchange in self._pipeline:
            task = exchange.task  # set when the request asked to be cancelled if its client goes away
            if task is not None and loop is not None:
                # Queued, so it comes after the task's first step (queued when the task was created): a task
                # cancelled before it starts would never run `_answer`, which settles the exchange.
                loop.call_soon(task.cancel)

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        if self._request_started is None:
            # The first byte starts the request clock, so bytes that never make a request line (RFC 9112, section
            # 2.2 lets a server ignore empty lines before one) hold the connection no longer than a slow request.
            self._request_started = self._server.now
        parser = self._parser
        if parser is None:  # shed while the connection idled
            parser = self._parser = httptools.HttpRequestParser(self)
        try:
            parser.feed_data(data)
        except _Reject as ex:
            self._reject(ex.status, ex.message)
        except httptools.HttpParserUpgrade:
            # The parser completes an Upgrade (or CONNECT) request at its headers, and it has been dispatched: the
            # upgrade is ignored (RFC 9110, section 7.8), the request answered once, then the connection closed,
            # since whatever the client sends next speaks another protocol.
            self._parser = httptools.HttpRequestParser(self)
            self._request_started = None
            self._read_paused = True
            self._transport.pause_reading()
            if self._pipeline:
                self._pipeline[-1].close = True
            else:
                self.close()
        except httptools.HttpParserError as error:  # not `ex`: mypyc gives a name one type per function
            # httptools wraps exceptions raised in callbacks; a limit we raised keeps its own status.
            cause = error.__context__ or error.__cause__
            if isinstance(cause, _Reject):
                self._reject(cause.status, cause.message)
            else:
                self._reject(400, "malformed HTTP request")

    def pause_writing(self) -> None:
        self._write_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._update_reading()

    def eof_received(self) -> bool | None:
        # The client finished sending; answer what is pending, then close.
        if not self._pipeline:
            self.close()
        else:
            self._pipeline[-1].close = True
        return True

    # -- httptools callbacks ----------------------------------------------------------------------------------------

    # Only the callbacks that carry data are defined: httptools keeps a bound method per callback on every
    # connection, and each one costs a call per request. The URL is the first callback of a request.

    def on_url(self, url: bytes) -> None:
        if self._headers is _NO_HEADERS:  # the request's first URL bytes
            if self._request_started is None:  # pipelined behind a request in the same read
                self._request_started = self._server.now
            self._headers = {}
            self._body = []
            self._header_bytes = 0
            self._body_size = 0
            self._url = url
        else:
            self._url += url
        if len(self._url) > self._server.limits.max_url_bytes:
            raise _Reject(414, "request URL too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4
        headers = self._headers
        if self._header_bytes > self._max_header_bytes or len(headers) >= self._max_headers:
            raise _Reject(431, "request headers too large")
        key = name.lower()
        if key == b"content-length":
            try:
                too_big = int(value) > self._server.limits.max_body_bytes
            except ValueError:
                raise _Reject(400, "invalid content-length") from None
            if too_big:
                raise _Reject(413, "request body too large")
        previous = headers.get(key)
        headers[key] = value if previous is None else previous + b", " + value

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > self._server.limits.max_body_bytes:
            raise _Reject(413, "request body too large")
        self._body.append(body)

    def on_message_complete(self) -> None:
        server = self._server
        self._request_started = None
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        keep_alive = bool(self._parser.should_keep_alive()) and not server.draining
        request = HttpRequest(
            self._parser.get_method(), self._url, self._headers, body, keep_alive, self._transport, self
        )
        self._headers = _NO_HEADERS  # an idle connection keeps nothing of its last request
        self._body = _NO_BODY
        self._url = b""
        close = not keep_alive
        if server.in_flight >= server.limits.max_in_flight:
            self._respond(server.overloaded, close)
            return
        server.in_flight += 1
        try:
            outcome = server.handler(request)
        except Exception:
            log.exception("request handler failed")
            outcome = server.internal_error
        if pending(outcome):
            exchange = _Exchange(None, close, request)
            self._pipeline.append(exchange)
            loop = server.loop
            if loop is None:  # looked up once: on CPython 3.11 every get_running_loop() is a getpid() system call
                loop = server.loop = asyncio.get_running_loop()
            task = loop.create_task(self._answer(exchange, outcome))
            if request.cancel_on_close:
                exchange.task = task
            if len(self._pipeline) >= server.limits.max_pipelined:
                self._update_reading()
        else:
            server.in_flight -= 1
            self._respond(outcome, close)

    # -- responses --------------------------------------------------------------------------------------------------

    async def _answer(self, exchange: _Exchange, outcome: Pending[Response]) -> None:
        """Await a pending handler's response, then write what can be written, within the request's task: a done
        callback would run one pass of the event loop later, a pass (and an `epoll_pwait`) of its own per request."""
        try:
            response = await outcome
        except asyncio.CancelledError:
            self._settle(exchange, self._server.internal_error)
            raise
        except Exception:
            log.exception("request handler failed")
            response = self._server.internal_error
        self._settle(exchange, response)

    def _settle(self, exchange: _Exchange, response: Response) -> None:
        self._server.in_flight -= 1
        exchange.task = None
        exchange.request = None
        exchange.response = response
        self._flush()

    def _respond(self, response: Response, close: bool) -> None:
        """Answer a request whose response is known now: at once, unless earlier ones on this connection still wait."""
        if self._pipeline:
            self._pipeline.append(_Exchange(response, close))
            self._flush()
        elif self._write(response, close):
            self._written()

    def _flush(self) -> None:
        """Write the responses that are known, in request order, up to the first that is still pending (whose
        streamed pieces, if any, are written as far as they go)."""
        pipeline = self._pipeline
        while pipeline:
            head = pipeline[0]
            stream = head.stream
            if stream is not None:
                if self._closed:
                    return
                stream.release()
            response = head.response
            if response is None:
                return
            pipeline.pop(0)
            if stream is not None:
                if not self._end_stream(stream, response, head.close):
                    return
            elif not self._write(response, head.close):
                return
        self._written()

    # -- streamed responses -----------------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def draining(self) -> bool:
        return self._server.draining

    def at_head(self, exchange: _Exchange) -> bool:
        return bool(self._pipeline) and self._pipeline[0] is exchange

    def flush(self) -> None:
        self._flush()

    def write_raw(self, data: bytes) -> None:
        if not self._closed:
            self._transport.write(data)

    def open_stream(
        self, request: HttpRequest, headers: bytes, last: Callable[[bytes], bytes]
    ) -> ResponseStream | None:
        """Start streaming the response of `request` (see `HttpRequest.open_stream`)."""
        if self._closed:
            return None
        for exchange in self._pipeline:
            if exchange.request is request and exchange.response is None:
                break
        else:
            return None
        if exchange.stream is None:
            close = exchange.close or self._server.draining
            exchange.close = close
            head = b"".join(
                (STATUS_LINES[200], headers, self._server.date, _CHUNKED, _CLOSE if close else b"", b"\r\n")
            )
            exchange.stream = ResponseStream(self, exchange, head, last)
            if self.at_head(exchange):
                exchange.stream.release()
        return exchange.stream

    def _end_stream(self, stream: ResponseStream, response: Response, close: bool) -> bool:
        """Finish a streamed response with the handler's final one; False when the connection closes after it."""
        if self._closed:
            return True
        self._transport.write(stream.end(response[2]))
        if close or self._server.draining:
            self.close()
            return False
        return True

    def _written(self) -> None:
        if not self._pipeline:
            self._idle_since = self._server.now
        if self._read_paused:
            self._update_reading()

    def _write(self, response: Response, close: bool) -> bool:
        """Write one response; False when the connection is closed after it (nothing more is written)."""
        if self._closed:
            return True  # the peer is gone: the response is dropped, and so will be those queued after it
        server = self._server
        close = close or server.draining
        status, headers, body = response
        self._transport.write(
            b"".join(
                (
                    STATUS_LINES[status],
                    headers,
                    server.date,
                    b"content-length: %d\r\n" % len(body),
                    _CLOSE if close else b"",
                    b"\r\n",
                    body,
                )
            )
        )
        if close:
            self.close()
            return False
        return True

    def _reject(self, status: int, message: str) -> None:
        """A request we cannot parse or accept: answer it after those before it, then close (the stream is lost)."""
        self._request_started = None
        self._parser = httptools.HttpRequestParser(self)  # stop feeding the broken stream
        self._read_paused = True
        self._transport.pause_reading()
        self._respond(error_response(status, message), True)

    def _update_reading(self) -> None:
        if self._closed:
            return
        should_pause = self._write_paused or len(self._pipeline) >= self._server.limits.max_pipelined
        if should_pause and not self._read_paused:
            self._read_paused = True
            self._transport.pause_reading()
        elif not should_pause and self._read_paused and not (self._pipeline and self._pipeline[-1].close):
            self._read_paused = False
            self._transport.resume_reading()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._transport.close()
            self._server.forget(self)

    # -- timers -----------------------------------------------------------------------------------------------------

    def _idle(self) -> bool:
        return not self._pipeline and self._request_started is None

    def begin_drain(self, now: float) -> None:
        if self._idle():
            self._close_at = now + self._server.limits.drain_idle_grace_s

    def sweep(self, now: float, limits: WireLimits) -> None:
        if self._closed:
            return
        if self._request_started is not None and now - self._request_started > limits.request_timeout_s:
            self._reject(408, "request not received in time")
            return
        if not self._idle():
            return
        if self._parser is not None and now - self._idle_since >= _SHED_PARSER_AFTER_S:
            # An idle keep-alive connection gives back its parser (and the bound callbacks it holds): thousands of
            # idle connections then cost little more than their transports. It comes back with the next byte.
            self._parser = None
        if self._server.draining:
            if self._close_at is None:
                self._close_at = now + limits.drain_idle_grace_s
            if now >= self._close_at:
                self.close()
        elif now - self._idle_since > limits.keepalive_timeout_s:
            self.close()
