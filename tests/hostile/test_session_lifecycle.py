"""A stateful handshake-era tool waiting for its client's answer, on both servers and both session stores, and the
limit on opening sessions: a session that is DELETEd ends the wait at once (the call answers, on its stream, that the
session ended); a client that closes the request's connection frees the request's slot promptly (the wait ends; the
session lives on); `initialize` counts against the per-client rate limit like `tools/call`."""

from __future__ import annotations

import http.client
import re
import socket
import time
from collections.abc import Callable, Iterator

import orjson
import pytest

from services.ratelimit import RATE_LIMITED, RATE_LIMITED_MESSAGE
from services.sessions import ENDED_BEFORE_ANSWER
from tests.hostile.client import HANDSHAKE, Client
from tests.hostile.conftest import KINDS, STATEFUL_ENV
from tests.support import ServerProcess, server_process

READ_S = 5.0  # below the conformance tool's own 10 s deadline: a wait that is not ended fails the test
FREED_WITHIN_S = 7.0


def _ask(port: int, session: str) -> tuple[socket.socket, bytes]:
    """POST a tools/call of the elicitation fixture on a raw connection, read until its question arrives; the
    connection (mid-stream) and what was read."""
    body = orjson.dumps(
        {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "test_elicitation", "arguments": {}}}
    )
    body = body.replace(b"{}}}", b'{"message":"name?"}}}')
    head = (
        f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: {HANDSHAKE}\r\n"
        f"Mcp-Session-Id: {session}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=READ_S)
    sock.sendall(head + body)
    seen = b""
    while b"elicitation/create" not in seen:
        chunk = sock.recv(65536)
        assert chunk, f"the stream ended before the question: {seen!r}"
        seen += chunk
    return sock, seen


def test_deleting_a_session_ends_its_waiting_question_at_once(stateful: ServerProcess) -> None:
    client = Client(stateful.port)
    sock: socket.socket | None = None
    try:
        session = client.initialize(capabilities={"elicitation": {}})
        sock, seen = _ask(stateful.port, session)
        assert client.send(None, method="DELETE").status == 200
        while b"0\r\n\r\n" not in seen:  # the response's last chunk (read times out after READ_S: a hung wait)
            chunk = sock.recv(65536)
            if not chunk:
                break
            seen += chunk
        final = [orjson.loads(line[6:]) for line in seen.split(b"\n") if line.startswith(b"data: {")][-1]
        assert final["id"] == 5
        assert final["result"]["isError"] is True
        assert final["result"]["content"][0]["text"] == ENDED_BEFORE_ANSWER.format("elicitation/create")
    finally:
        if sock is not None:
            sock.close()
        client.close()


def test_a_client_that_leaves_its_question_frees_the_request_slot_and_keeps_its_session(
    stateful: ServerProcess,
) -> None:
    client = Client(stateful.port)
    try:
        client.initialize(capabilities={"elicitation": {}})
        idle = min(_metric(stateful.port) for _ in range(3))  # the native server counts the /metrics request itself
        sock, _seen = _ask(stateful.port, client.session or "")
        _until(lambda: _metric(stateful.port) > idle, within_s=READ_S, what="the waiting call is counted")
        sock.close()  # the client leaves: no resumable stream could carry the call's response any more
        _until(lambda: _metric(stateful.port) <= idle, within_s=FREED_WITHIN_S, what="the call frees its slot")
        assert client.request("ping").json()["result"] == {}  # a closed connection is no end of the session
    finally:
        client.close()


def _until(condition: Callable[[], bool], *, within_s: float, what: str) -> None:
    """Poll a gauge (FastAPI's are sampled about once a second) until `condition` holds, or fail after `within_s`."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < within_s, f"not within {within_s} s: {what}"
        time.sleep(0.2)


def _metric(port: int) -> float:
    """The worker's in-flight requests as its /metrics last sampled them (about once a second)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=READ_S)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    match = re.search(r"^mcp_in_flight_requests(?:\{[^}]*\})? ([0-9.e+-]+)$", text, re.MULTILINE)
    assert match is not None, text
    return float(match.group(1))


@pytest.fixture(scope="module", params=KINDS)
def rate_limited(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A stateful server (memory store) that lets a client make two counted requests, then one every 1,000 s."""
    env = {**STATEFUL_ENV, "MCP_RATE_LIMIT_PER_S": "0.001", "MCP_RATE_LIMIT_BURST": "2"}
    kind = request.param
    with server_process(kind, tmp_path_factory.mktemp(f"limited-{kind}"), database_url=None, env=env) as server:
        yield server


def test_initialize_counts_against_the_per_client_rate_limit(rate_limited: ServerProcess) -> None:
    client = Client(rate_limited.port)
    try:
        client.initialize()
        client.initialize()
        refused = client.request(
            "initialize",
            {"protocolVersion": HANDSHAKE, "capabilities": {}, "clientInfo": {"name": "flood", "version": "1"}},
        )
        assert refused.status == 429
        assert "mcp-session-id" not in refused.headers
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"] == {"code": RATE_LIMITED, "message": RATE_LIMITED_MESSAGE}
        assert client.request("tools/list").status == 200  # other methods are not counted
    finally:
        client.close()
