"""The wire layer, in process: a request that asks for it (the 2026-07-28 era) is cancelled when its connection
closes; any other request (the handshake era) runs to its end, its answer dropped."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.mcp_server.wire import HttpRequest, Response, WireLimits, WireServer
from tests.mcp_server.fake_transport import REQUEST, FakeTransport


@pytest.mark.parametrize("cancel_on_close", [True, False])
def test_closing_the_connection_cancels_only_a_request_that_asked(cancel_on_close: bool) -> None:
    async def run() -> str:
        outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        release = asyncio.Event()

        async def work() -> Response:
            try:
                await release.wait()
            except asyncio.CancelledError:
                outcome.set_result("cancelled")
                raise
            outcome.set_result("finished")
            return 200, b"", b"done"

        def handler(request: HttpRequest) -> Any:
            request.cancel_on_close = cancel_on_close
            return work()

        server = WireServer(handler, WireLimits(), overloaded=(503, b"", b""), internal_error=(500, b"", b""))
        conn = server.protocol_factory()
        transport = FakeTransport()
        conn.connection_made(transport)
        conn.data_received(REQUEST)
        await asyncio.sleep(0)  # the handling starts
        conn.connection_lost(None)
        await asyncio.sleep(0)
        release.set()
        result = await asyncio.wait_for(outcome, 5)
        assert transport.written == []  # nothing reaches a closed connection
        return result

    assert asyncio.run(run()) == ("cancelled" if cancel_on_close else "finished")
