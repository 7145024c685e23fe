"""The HTTP wire layer in process, with a fake transport and a hand-driven clock: deterministic, no sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from services.mcp_server.wire import HttpProtocol, HttpRequest, Response, WireLimits, WireServer

OK: Response = (200, b"content-type: application/json\r\n", b"{}")
BUSY: Response = (503, b"", b"busy")
BROKEN: Response = (500, b"", b"broken")


class FakeTransport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False
        self.reading = True

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def statuses(self) -> list[int]:
        return [int(chunk.split(b" ", 2)[1]) for chunk in self.written]


async def _awaiting(gate: asyncio.Future[Response]) -> Response:
    """A handler's answer that waits (handlers return a coroutine when they must wait)."""
    return await gate


async def _settle() -> None:
    """Let the loop run what became ready: a woken handler task, then its done callback."""
    for _ in range(4):
        await asyncio.sleep(0)


def request(path: str = "/x", body: bytes = b"{}", extra: str = "") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: h\r\nContent-Length: {len(body)}\r\n{extra}\r\n").encode() + body


def connect(handler: Any, **limits: Any) -> tuple[WireServer, HttpProtocol, FakeTransport]:
    server = WireServer(handler, WireLimits(**limits), overloaded=BUSY, internal_error=BROKEN)
    conn = server.protocol_factory()
    transport = FakeTransport()
    conn.connection_made(transport)
    return server, conn, transport


def test_pipelined_responses_keep_request_order_when_later_ones_finish_first() -> None:
    async def scenario() -> list[bytes]:
        gates: dict[bytes, asyncio.Future[Response]] = {}

        def handler(req: HttpRequest) -> Response | Coroutine[Any, Any, Response]:
            if req.path == b"/sync":
                return (200, b"", b"sync")
            gate: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
            gates[req.path] = gate
            return _awaiting(gate)

        _, conn, transport = connect(handler)
        conn.data_received(request("/a") + request("/sync") + request("/b"))
        gates[b"/b"].set_result((200, b"", b"b"))
        await _settle()
        assert transport.written == []  # /a is still pending: nothing may overtake it
        gates[b"/a"].set_result((200, b"", b"a"))
        await _settle()
        return [chunk.rsplit(b"\r\n\r\n", 1)[1] for chunk in transport.written]

    assert asyncio.run(scenario()) == [b"a", b"sync", b"b"]


def test_over_the_in_flight_limit_requests_get_the_503_response() -> None:
    async def scenario() -> list[int]:
        pending: list[asyncio.Future[Response]] = []

        def handler(req: HttpRequest) -> Coroutine[Any, Any, Response]:
            pending.append(asyncio.get_running_loop().create_future())
            return _awaiting(pending[-1])

        server, first, t1 = connect(handler, max_in_flight=2)
        first.data_received(request() + request())
        second = server.protocol_factory()
        t2 = FakeTransport()
        second.connection_made(t2)
        second.data_received(request())
        assert t2.statuses() == [503]
        for fut in pending:
            fut.set_result(OK)
        await _settle()
        second.data_received(request())  # capacity is back
        await _settle()
        pending[-1].set_result(OK)
        await _settle()
        return t1.statuses() + t2.statuses()

    assert asyncio.run(scenario()) == [200, 200, 503, 200]


def test_a_crashing_handler_gets_500_and_the_connection_lives_on() -> None:
    def handler(req: HttpRequest) -> Response:
        if req.path == b"/boom":
            raise RuntimeError("secret internals")
        return OK

    _, conn, transport = connect(handler)
    conn.data_received(request("/boom") + request("/fine"))
    assert transport.statuses() == [500, 200]
    assert b"secret" not in b"".join(transport.written)
    assert not transport.closed


def test_deep_pipelines_pause_reading_until_responses_drain() -> None:
    async def scenario() -> tuple[bool, bool]:
        pending: list[asyncio.Future[Response]] = []

        def handler(req: HttpRequest) -> Coroutine[Any, Any, Response]:
            pending.append(asyncio.get_running_loop().create_future())
            return _awaiting(pending[-1])

        _, conn, transport = connect(handler, max_pipelined=4)
        conn.data_received(request() * 4)
        paused = not transport.reading
        for fut in pending:
            fut.set_result(OK)
        await _settle()
        return paused, transport.reading

    assert asyncio.run(scenario()) == (True, True)


def test_write_backpressure_pauses_reading() -> None:
    _, conn, transport = connect(lambda req: OK)
    conn.pause_writing()
    assert not transport.reading
    conn.resume_writing()
    assert transport.reading


def test_idle_keep_alive_connections_close_after_the_timeout() -> None:
    server, conn, transport = connect(lambda req: OK, keepalive_timeout_s=75.0)
    server.tick(50.0)
    conn.data_received(request())  # answered at t=50: idle from then on
    server.tick(124.0)
    assert not transport.closed
    server.tick(126.0)
    assert transport.closed


def test_a_request_that_never_completes_gets_408() -> None:
    server, conn, transport = connect(lambda req: OK, request_timeout_s=30.0)
    server.tick(10.0)
    conn.data_received(b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n{")
    server.tick(39.0)
    assert transport.written == []
    server.tick(41.0)
    assert transport.statuses() == [408]
    assert transport.closed


def test_draining_answers_in_flight_work_with_connection_close_then_closes_idle_connections() -> None:
    async def scenario() -> tuple[list[bytes], bool, bool, bool]:
        gate: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        server, busy, busy_t = connect(lambda req: _awaiting(gate))
        idle = server.protocol_factory()
        idle_t = FakeTransport()
        idle.connection_made(idle_t)
        busy.data_received(request())
        server.start_draining(0.0)
        gate.set_result(OK)
        await _settle()
        server.tick(0.1)
        idle_open_during_grace = not idle_t.closed
        server.tick(1.0)
        return busy_t.written, busy_t.closed, idle_open_during_grace, idle_t.closed and server.drained.is_set()

    written, busy_closed, idle_open_during_grace, all_closed = asyncio.run(scenario())
    assert b"connection: close\r\n" in written[0]
    assert busy_closed and idle_open_during_grace and all_closed


def test_http_1_0_without_keep_alive_is_closed_after_the_response() -> None:
    _, conn, transport = connect(lambda req: OK)
    conn.data_received(b"POST /x HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}")
    assert transport.statuses() == [200]
    assert transport.closed
