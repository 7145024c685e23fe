"""Both servers refuse the same bad requests alike: the same status and a JSON-RPC error object with the same code
(id null when no id could be read), and a connection that never completes a request is bounded."""

from __future__ import annotations

import socket
import time

import orjson
import pytest

from services.protocol import INVALID_REQUEST, PARSE_ERROR
from tests.reliability.conftest import KEEPALIVE_TIMEOUT_S, REQUEST_TIMEOUT_S
from tests.support import ServerProcess, build_request, read_reply

PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
PING_TEXT = orjson.dumps(PING).decode()

CASES: dict[str, tuple[bytes, int, int]] = {  # name: (request, status, JSON-RPC code)
    "Host not allowed": (build_request(PING, host="evil.example"), 403, INVALID_REQUEST),
    "unknown path (GET)": (build_request(method="GET", path="/nowhere"), 404, INVALID_REQUEST),
    "unknown path (POST)": (build_request(PING, path="/nowhere"), 404, INVALID_REQUEST),
    "malformed request line": (b"GARBAGE\r\n\r\n", 400, INVALID_REQUEST),
    "HTTP/2 preface": (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, INVALID_REQUEST),
    "invalid Content-Length": (
        b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n",
        400,
        INVALID_REQUEST,
    ),
    "Content-Length with chunked": (
        b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        INVALID_REQUEST,
    ),
    "bad chunk size": (
        b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz\r\nabc\r\n0\r\n\r\n",
        400,
        INVALID_REQUEST,
    ),
    "declared body too large": (
        b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n",
        413,
        INVALID_REQUEST,
    ),
    "UTF-16 with a byte order mark": (build_request(PING_TEXT.encode("utf-16")), 400, PARSE_ERROR),
    "UTF-16BE without a byte order mark": (build_request(PING_TEXT.encode("utf-16-be")), 400, PARSE_ERROR),
    "UTF-32 with a byte order mark": (build_request(PING_TEXT.encode("utf-32")), 400, PARSE_ERROR),
    "an encoded lone surrogate": (
        build_request(b'{"jsonrpc":"2.0","id":1,"method":"p\xed\xa0\x80"}'),
        400,
        PARSE_ERROR,
    ),
}


def _exchange(port: int, data: bytes) -> tuple[int, dict[str, object]]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        reply = read_reply(sock, bytearray())
    assert reply.headers["content-type"].startswith("application/json")
    return reply.status, reply.json()


@pytest.mark.parametrize("case", CASES)
def test_a_refusal_is_the_same_json_rpc_error_on_both_servers(
    case: str, hostile_servers: dict[str, ServerProcess]
) -> None:
    data, status, code = CASES[case]
    for kind, server in hostile_servers.items():
        got_status, body = _exchange(server.port, data)
        assert (kind, got_status) == (kind, status)
        assert body["jsonrpc"] == "2.0" and body["id"] is None, (kind, body)
        assert body["error"]["code"] == code, (kind, body)  # type: ignore[index]


def _closed_after(sock: socket.socket, send_blank_lines: bool, limit_s: float) -> tuple[float, bytes]:
    """Seconds until the server closes the connection (sending blank lines every 0.2 s, or nothing), and what it
    wrote first."""
    started = time.monotonic()
    received = b""
    sock.settimeout(0.2)
    while time.monotonic() - started < limit_s:
        if send_blank_lines:
            try:
                sock.sendall(b"\r\n")
            except OSError:
                break
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            break
        if not chunk:
            break
        received += chunk
    return time.monotonic() - started, received


def test_a_connection_sending_only_blank_lines_gets_408_at_the_request_timeout(hostile_server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", hostile_server.port)) as sock:
        held_s, received = _closed_after(sock, send_blank_lines=True, limit_s=REQUEST_TIMEOUT_S + 8)
    assert received.startswith(b"HTTP/1.1 408 "), received[:200]
    body = orjson.loads(received.partition(b"\r\n\r\n")[2])
    assert body["id"] is None and body["error"]["code"] == INVALID_REQUEST
    # The servers check once a second, against a clock that is up to a second coarse.
    assert REQUEST_TIMEOUT_S - 1.1 <= held_s < REQUEST_TIMEOUT_S + 2.5


def test_a_connection_that_sends_nothing_is_closed_at_the_keepalive_timeout(hostile_server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", hostile_server.port)) as sock:
        held_s, received = _closed_after(sock, send_blank_lines=False, limit_s=KEEPALIVE_TIMEOUT_S + 8)
    assert received == b""
    assert KEEPALIVE_TIMEOUT_S - 1.1 <= held_s < KEEPALIVE_TIMEOUT_S + 2.5


def test_pipelined_requests_before_garbage_are_answered_in_order_then_refused(
    hostile_servers: dict[str, ServerProcess],
) -> None:
    """Two requests and garbage in one write: the two are answered, in order, and only then the garbage refused
    (uvicorn wrote its 400 in place of the first answer and closed before the others)."""
    pings = b"".join(build_request({"jsonrpc": "2.0", "id": i, "method": "ping"}) for i in (1, 2))
    for kind, server in hostile_servers.items():
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(pings + b"GARBAGE\r\n\r\n")
            buffer = bytearray()
            replies = [read_reply(sock, buffer) for _ in range(3)]
        assert [r.status for r in replies] == [200, 200, 400], kind
        assert [r.json()["id"] for r in replies] == [1, 2, None], kind
