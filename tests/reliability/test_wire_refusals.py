"""The native wire layer's own refusals, in process (fake transport, hand-driven clock): each is a JSON-RPC error
object with id null, and a connection that sends only blank lines holds its slot no longer than a slow request."""

from __future__ import annotations

import orjson
import pytest

from services.protocol import INVALID_REQUEST
from tests.mcp_server.test_wire import OK, FakeTransport, connect, request

HUGE_HEADERS = b"".join(b"X-H%d: %s\r\n" % (i, b"a" * 1000) for i in range(20))
REFUSALS = {
    "malformed request line": (b"GARBAGE\r\n\r\n", 400),
    "invalid content-length": (b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n", 400),
    "content-length and chunked (smuggling)": (
        b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    "bad chunk size": (b"POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400),
    "declared body too large": (b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999\r\n\r\n", 413),
    "headers too large": (b"POST /x HTTP/1.1\r\nHost: h\r\n" + HUGE_HEADERS + b"Content-Length: 0\r\n\r\n", 431),
    "URL too long": (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: h\r\n\r\n", 414),
}


def _answer(transport: FakeTransport) -> tuple[int, dict[str, object]]:
    (chunk,) = transport.written
    head, _, body = chunk.partition(b"\r\n\r\n")
    assert b"content-type: application/json\r\n" in head
    return int(head.split(b" ", 2)[1]), orjson.loads(body)


@pytest.mark.parametrize("name", REFUSALS)
def test_wire_refusal_is_a_json_rpc_error_with_id_null(name: str) -> None:
    data, status = REFUSALS[name]
    _, conn, transport = connect(lambda req: OK)
    conn.data_received(data)
    got_status, body = _answer(transport)
    assert got_status == status
    assert body["jsonrpc"] == "2.0" and body["id"] is None
    assert body["error"]["code"] == INVALID_REQUEST  # type: ignore[index]
    assert transport.closed


def test_blank_lines_only_connection_gets_408_at_the_request_timeout() -> None:
    server, conn, transport = connect(lambda req: OK, request_timeout_s=30.0, keepalive_timeout_s=75.0)
    server.tick(10.0)
    conn.data_received(b"\r\n")
    server.tick(20.0)
    conn.data_received(b"\r\n\r\n")  # more blank lines do not renew the clock
    server.tick(39.0)
    assert transport.written == [] and not transport.closed
    server.tick(41.0)
    status, body = _answer(transport)
    assert status == 408 and body["error"]["code"] == INVALID_REQUEST  # type: ignore[index]
    assert transport.closed


def test_blank_lines_after_a_response_get_408_at_the_request_timeout_not_the_keepalive() -> None:
    server, conn, transport = connect(lambda req: OK, request_timeout_s=30.0, keepalive_timeout_s=75.0)
    conn.data_received(request())
    server.tick(5.0)
    conn.data_received(b"\r\n")
    server.tick(36.0)
    assert transport.statuses() == [200, 408]
    assert transport.closed


def test_a_request_after_blank_lines_is_served_and_the_connection_is_idle_again() -> None:
    server, conn, transport = connect(lambda req: OK, request_timeout_s=30.0, keepalive_timeout_s=75.0)
    conn.data_received(b"\r\n\r\n" + request())
    server.tick(60.0)  # past the request timeout: idle now, so only the keep-alive timeout applies
    open_at_60_s = not transport.closed
    server.tick(76.0)
    assert transport.statuses() == [200]
    assert open_at_60_s and transport.closed


@pytest.mark.parametrize(
    "data",
    [
        b"GET /x HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nGET /y HTTP/1.1\r\n\r\n",
        b"CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n\x16\x03\x01",
    ],
)
def test_an_upgrade_request_is_answered_once_over_http_1_1_then_closed(data: bytes) -> None:
    _, conn, transport = connect(lambda req: OK)
    conn.data_received(data)
    assert transport.statuses() == [200]  # one answer for one request, never a second one for the rest
    assert transport.closed
