"""A session's GET streams under abuse, on both servers and both session stores: a session that opens its GET
stream again gets the new one, and the older one ends (it would otherwise stay open and receive nothing, also
after the newer one closed)."""

from __future__ import annotations

import socket

from tests.hostile.client import Client
from tests.support import ServerProcess

END_OF_CHUNKED_BODY = b"\r\n0\r\n\r\n"


def open_get_stream(port: int, session: str) -> tuple[socket.socket, bytes]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    request = f"GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nMcp-Session-Id: {session}\r\n\r\n"
    sock.sendall(request.encode())
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        assert chunk, f"closed before the stream's headers: {received!r}"
        received += chunk
    return sock, received


def read_to_end(sock: socket.socket, received: bytes) -> bytes:
    """Everything until the chunked body's last chunk (socket.timeout when the stream stays open)."""
    while END_OF_CHUNKED_BODY not in received:
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    return received


def test_a_second_get_stream_of_a_session_ends_the_first(stateful: ServerProcess) -> None:
    client = Client(stateful.port)
    session = client.initialize()
    first, first_received = open_get_stream(stateful.port, session)
    second, second_received = open_get_stream(stateful.port, session)
    try:
        assert first_received.startswith(b"HTTP/1.1 200") and second_received.startswith(b"HTTP/1.1 200")
        assert END_OF_CHUNKED_BODY in read_to_end(first, first_received)  # within the socket's 5 s
        assert END_OF_CHUNKED_BODY not in second_received
        assert client.request("ping").json()["result"] == {}
    finally:
        first.close()
        second.close()
