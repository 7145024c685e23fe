"""The wire layer, in process: a request whose handler must wait runs as one task, which writes its own response as
soon as the handler's answer is known (no done callback a loop pass later); a request cancelled as its connection
closes is settled even when its task had not started yet; and an async tool call looks the running loop up once."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import orjson
import pytest

from services.mcp_server.config import load_config
from services.mcp_server.wire import HttpRequest, Response, WireLimits, WireServer
from services.mcp_server.worker import Worker
from services.tools.registry import ToolRegistry
from tests.mcp_server.fake_transport import REQUEST, FakeTransport


def _server(handler: Any) -> WireServer:
    return WireServer(handler, WireLimits(), overloaded=(503, b"", b""), internal_error=(500, b"", b""))


def test_a_pending_response_is_written_in_the_loop_pass_its_handler_finishes() -> None:
    async def run() -> tuple[list[bytes], int]:
        answer: asyncio.Future[Response] = asyncio.get_running_loop().create_future()

        async def work() -> Response:
            return await answer

        server = _server(lambda request: work())
        conn = server.protocol_factory()
        transport = FakeTransport()
        conn.connection_made(transport)
        conn.data_received(REQUEST)
        await asyncio.sleep(0)  # the task's first step: it waits for `answer`
        assert transport.written == []
        answer.set_result((200, b"", b"done"))
        # One pass: the task resumes and writes. A done callback would only be queued in this pass, behind this
        # coroutine, and write in the next.
        await asyncio.sleep(0)
        return transport.written, server.in_flight

    written, in_flight = asyncio.run(run())
    assert len(written) == 1 and written[0].startswith(b"HTTP/1.1 200 OK\r\n") and written[0].endswith(b"done")
    assert in_flight == 0


def test_a_request_cancelled_by_its_closed_connection_before_its_task_started_is_settled() -> None:
    async def run() -> tuple[str, int, list[bytes]]:
        outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        async def work() -> Response:
            try:
                await asyncio.Event().wait()  # never set: only the cancellation ends it
            except asyncio.CancelledError:
                outcome.set_result("cancelled")
                raise
            return 200, b"", b"never"

        def handler(request: HttpRequest) -> Any:
            request.cancel_on_close = True
            return work()

        server = _server(handler)
        conn = server.protocol_factory()
        transport = FakeTransport()
        conn.connection_made(transport)
        conn.data_received(REQUEST)
        conn.connection_lost(None)  # in the same pass: the request's task has not run a step yet
        result = await asyncio.wait_for(outcome, 5)
        await asyncio.sleep(0)  # the task ends (it re-raises the cancellation after settling)
        return result, server.in_flight, transport.written

    result, in_flight, written = asyncio.run(run())
    assert result == "cancelled"
    assert in_flight == 0  # settled: the worker's count of requests in flight does not leak
    assert written == []  # nothing reaches a closed connection


def _tool_call(name: str, arguments: dict[str, Any]) -> bytes:
    body = orjson.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": arguments}}
    )
    return (
        b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\n"
        b"Accept: application/json, text/event-stream\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    )


def test_an_async_tool_call_looks_the_running_loop_up_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """On CPython 3.11 every `asyncio.get_running_loop()` (and `current_task()` without its loop) is a getpid()
    system call: the wire layer, the transport and the connection set keep their loop, and the tool's deadline watch
    looks it up once per call."""
    registry = ToolRegistry()

    @registry.tool()
    async def wait_once(text: str) -> str:
        """Wait one pass of the event loop, then answer the text."""
        await asyncio.sleep(0)
        return text

    lookups = (asyncio.events.get_running_loop, asyncio.events._get_running_loop)
    calls = 0
    counting = False

    # Two ways in, counted once each. A compiled module (services/compiled.py) calls `asyncio.get_running_loop` from
    # C, which a profile hook never sees, so the public names are wrapped; a pure caller that bound a look-up at
    # import is seen by the profile hook (a c_call from its own frame, not the wrapper's).
    def wrap(lookup: Any) -> Any:
        def counted() -> Any:
            nonlocal calls
            if counting:
                calls += 1
            return lookup()

        return counted

    wrapped = wrap(asyncio.events.get_running_loop)
    for module in (asyncio, asyncio.events):
        monkeypatch.setattr(module, "get_running_loop", wrapped)
    monkeypatch.setattr(asyncio.events, "_get_running_loop", wrap(asyncio.events._get_running_loop))

    def count(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event == "c_call" and frame.f_code.co_name != "counted" and any(arg is lookup for lookup in lookups):
            calls += 1

    async def run() -> list[bytes]:
        nonlocal counting
        worker = Worker(load_config(env={}), registry, metrics_dir=None)
        conn = worker.wire.protocol_factory()
        transport = FakeTransport()
        conn.connection_made(transport)
        for i in range(5):
            if i == 2:  # the first requests may look it up to keep it
                counting = True
                sys.setprofile(count)
            conn.data_received(_tool_call("wait_once", {"text": f"t{i}"}))
            for _ in range(50):
                if len(transport.written) > i:
                    break
                await asyncio.sleep(0)
        sys.setprofile(None)
        counting = False
        return transport.written

    written = asyncio.run(run())
    assert len(written) == 5 and all(w.startswith(b"HTTP/1.1 200 OK\r\n") for w in written)
    assert calls == 3  # three requests counted, one look-up each
