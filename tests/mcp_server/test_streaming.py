"""The native server's handshake-era SSE responses and its optional stateful mode, over real sockets, with the official
Python client and raw HTTP: a tool that talks to its client answers text/event-stream (priming event, its messages, the
response, the end), one that does not answers plain JSON; sessions are shared by two workers and a second instance
through PostgreSQL, so the client's answer to a sampling request reaches the waiting call wherever it lands."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from mcp import Client, types

from services.mcp_server.stateful import MALFORMED_ANSWER, NOT_AN_ANSWER, SESSION_REQUIRED, SESSION_UNKNOWN
from services.mcp_server.streams import REQUEST_CANCELLED
from services.protocol import INVALID_REQUEST, META_CLIENT_CAPABILITIES, META_LOG_LEVEL, META_PROTOCOL_VERSION
from services.sessions import PostgresSessionStore
from tests.support import ServerProcess, build_request, read_reply, server_process

PACKS = {"MCP_TOOL_PACKS": "reference,conformance"}
INIT = {
    "protocolVersion": "2025-11-25",
    "capabilities": {"sampling": {}},
    "clientInfo": {"name": "streaming-test", "version": "1"},
}
SSE_ACCEPT = "application/json, text/event-stream"


@pytest.fixture(scope="module")
def stateless(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with server_process("native", tmp_path_factory.mktemp("sse"), database_url=None, env=PACKS) as server:
        yield server


@pytest.fixture(scope="module")
def stateful_pair(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, ...]]:
    """Two instances in stateful mode sharing one database: A with two workers, B with one."""
    env = {**PACKS, "MCP_STATEFUL": "1", "MCP_SLOT": "green"}
    root = tmp_path_factory.mktemp("stateful")
    with (
        server_process("native", root, database_url=database_url, workers=2, env=env) as a,
        server_process("native", root, database_url=database_url, workers=1, env=env) as b,
    ):
        yield a, b


# -- raw HTTP helpers ---------------------------------------------------------------------------------------------


def _post(body: Any, *, session: str | None = None, accept: str = SSE_ACCEPT, version: str = "2025-11-25") -> bytes:
    headers = {"Accept": accept, "MCP-Protocol-Version": version}
    if session is not None:
        headers["Mcp-Session-Id"] = session
    return build_request(body=orjson.dumps(body), headers=headers)


class SseReader:
    """Reads one chunked text/event-stream response from a socket: its head, then events as they arrive."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.raw = bytearray()  # every byte after the head, as received (chunk framing included)
        self._body = bytearray()  # the de-chunked body
        self._pending = bytearray()
        self.ended = False
        sock.settimeout(10)
        head = bytearray()
        while b"\r\n\r\n" not in head:
            head += self._recv()
        self.head, _, rest = bytes(head).partition(b"\r\n\r\n")
        self._feed(rest)

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("connection closed inside the stream")
        return data

    def _feed(self, data: bytes) -> None:
        self.raw += data
        self._pending += data
        while not self.ended:
            size_line, sep, rest = bytes(self._pending).partition(b"\r\n")
            if not sep:
                return
            size = int(size_line, 16)
            if len(rest) < size + 2:
                return
            if size == 0:
                self.ended = True
            self._body += rest[:size]
            self._pending = bytearray(rest[size + 2 :])

    def event(self) -> dict[str, str]:
        """The next event's fields (`id`, `data`)."""
        while b"\n\n" not in self._body:
            if self.ended:
                raise EOFError("the stream ended")
            self._feed(self._recv())
        block, _, rest = bytes(self._body).partition(b"\n\n")
        self._body = bytearray(rest)
        fields = {}
        for line in block.decode().split("\n"):
            name, _, value = line.partition(": ")
            fields[name] = value
        return fields

    def message(self) -> Any:
        return orjson.loads(self.event()["data"])

    def finish(self) -> None:
        while not self.ended:
            self._feed(self._recv())


def _open(port: int, request: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(request)
    return sock


def _exchange(port: int, request: bytes) -> Any:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        return read_reply(sock, bytearray())


def _initialize(port: int, capabilities: dict[str, Any] | None = None) -> str:
    params = dict(INIT) if capabilities is None else {**INIT, "capabilities": capabilities}
    reply = _exchange(port, _post({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}))
    assert reply.status == 200, reply.body
    assert reply.json()["result"]["capabilities"]["resources"]["subscribe"] is True
    return str(reply.headers["mcp-session-id"])


def _call(id_: Any, name: str, arguments: dict[str, Any], meta: dict[str, Any] | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"name": name, "arguments": arguments}
    if meta is not None:
        params["_meta"] = meta
    return {"jsonrpc": "2.0", "id": id_, "method": "tools/call", "params": params}


# -- stateless: SSE responses -------------------------------------------------------------------------------------


def test_official_client_receives_progress_and_log_notifications(stateless: ServerProcess) -> None:
    progress: list[tuple[float, float | None]] = []
    logs: list[Any] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total))

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append((params.level, params.data))

    async def run() -> tuple[Any, Any]:
        async with Client(stateless.url, mode="legacy", logging_callback=on_log) as client:
            await client.set_logging_level("debug")
            with_progress = await client.call_tool("test_tool_with_progress", {}, progress_callback=on_progress)
            with_logging = await client.call_tool("test_tool_with_logging", {})
            return with_progress, with_logging

    with_progress, with_logging = asyncio.run(run())
    assert not with_progress.is_error and not with_logging.is_error
    assert progress == [(0, 100), (50, 100), (100, 100)]
    assert logs == [
        ("info", "Tool execution started"),
        ("info", "Tool processing data"),
        ("info", "Tool execution completed"),
    ]


def test_sse_response_is_framed_byte_for_byte(stateless: ServerProcess) -> None:
    request = _post(_call(7, "test_tool_with_progress", {}, {"progressToken": "tok"}))
    with _open(stateless.port, request) as sock:
        stream = SseReader(sock)
        stream.finish()
    head = re.sub(rb"date: [^\r]+", b"date: D", stream.head)
    assert head == (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ndate: D\r\n"
        b"transfer-encoding: chunked"
    )
    token = re.match(rb"[0-9a-f]+\r\nid: ([0-9a-f]{12})\.1\n", bytes(stream.raw))
    assert token is not None, bytes(stream.raw[:80])
    events = [
        b"",
        b'{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"tok","progress":0,"total":100}}',
        b'{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"tok","progress":50,"total":100}}',
        b'{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"tok","progress":100,"total":100}}',
        b'{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"Progress test completed: reported 0, 50 '
        b'and 100 of 100."}]}}',
    ]
    expected = b""
    for n, data in enumerate(events, 1):
        event = b"id: " + token[1] + b".%d\ndata: " % n + data + b"\n\n"
        expected += b"%x\r\n" % len(event) + event + b"\r\n"
    assert bytes(stream.raw) == expected + b"0\r\n\r\n"


def test_a_tool_that_sends_nothing_answers_plain_json(stateless: ServerProcess) -> None:
    reply = _exchange(stateless.port, _post(_call(3, "echo", {"message": "hi", "payload_bytes": 0})))
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.json()["result"]["structuredContent"]["message"] == "hi"


def test_a_client_that_accepts_only_json_gets_json_without_notifications(stateless: ServerProcess) -> None:
    request = _post(_call(4, "test_tool_with_progress", {}, {"progressToken": 1}), accept="application/json")
    reply = _exchange(stateless.port, request)
    assert (reply.status, reply.headers["content-type"]) == (200, "application/json")
    assert reply.json()["result"]["content"][0]["text"].startswith("Progress test completed")


def test_priming_event_only_for_2025_11_25(stateless: ServerProcess) -> None:
    request = _post(_call(5, "test_tool_with_logging", {}), version="2025-06-18")
    with _open(stateless.port, request) as sock:
        stream = SseReader(sock)
        first = stream.message()
        stream.finish()
    assert first["method"] == "notifications/message"


def test_stateless_sampling_is_a_tool_error_naming_sessions(stateless: ServerProcess) -> None:
    reply = _exchange(stateless.port, _post(_call(6, "test_sampling", {"prompt": "p"})))
    assert reply.headers["content-type"] == "application/json"  # nothing was sent: no stream
    result = reply.json()["result"]
    assert result["isError"] is True
    assert "needs a session" in result["content"][0]["text"]


# -- stateful: sessions across workers and instances --------------------------------------------------------------


def test_official_client_sampling_round_trip_on_two_workers(stateful_pair: tuple[ServerProcess, ...]) -> None:
    a, _ = stateful_pair
    prompts: list[str] = []

    async def sample(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        content = params.messages[0].content
        prompts.append(content.text if isinstance(content, types.TextContent) else "")
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text="forty-two"), model="test-model"
        )

    async def run() -> list[Any]:
        async with Client(a.url, mode="legacy", sampling_callback=sample) as client:
            # several calls: the answers' POSTs land on either worker, each reaching the waiting call
            return [await client.call_tool("test_sampling", {"prompt": f"question {n}"}) for n in range(4)]

    results = asyncio.run(run())
    assert prompts == [f"question {n}" for n in range(4)]
    assert [r.content[0].text for r in results] == ["LLM response: forty-two"] * 4


def test_an_answer_posted_to_another_instance_reaches_the_waiting_call(
    stateful_pair: tuple[ServerProcess, ...],
) -> None:
    a, b = stateful_pair
    session = _initialize(a.port)
    assert session.startswith("green-")
    with _open(a.port, _post(_call(11, "test_sampling", {"prompt": "where?"}), session=session)) as sock:
        stream = SseReader(sock)
        assert stream.event()["data"] == ""  # priming
        asked = stream.message()
        assert asked["method"] == "sampling/createMessage"
        assert asked["params"]["messages"][0]["content"]["text"] == "where?"
        answer = {"role": "assistant", "content": {"type": "text", "text": "on B"}, "model": "m"}
        posted = _exchange(b.port, _post({"jsonrpc": "2.0", "id": asked["id"], "result": answer}, session=session))
        assert (posted.status, posted.body) == (202, b"")
        response = stream.message()
        stream.finish()
    assert response == {
        "jsonrpc": "2.0",
        "id": 11,
        "result": {"content": [{"type": "text", "text": "LLM response: on B"}]},
    }
    # the same answer again awaits nothing now
    again = _exchange(b.port, _post({"jsonrpc": "2.0", "id": asked["id"], "result": answer}, session=session))
    assert (again.status, again.json()["error"]["message"]) == (400, NOT_AN_ANSWER)


@pytest.mark.parametrize(
    "body",
    [
        {"jsonrpc": "2.0", "id": "s-x", "result": "not an object"},
        {"jsonrpc": "2.0", "id": 5, "result": {}},
        {"jsonrpc": "2.0", "id": "s-x", "error": {"code": "x", "message": 1}},
        {"jsonrpc": "2.0", "id": "s-x", "error": {"code": 1}},
    ],
)
def test_a_malformed_answer_is_refused_clearly(stateful_pair: tuple[ServerProcess, ...], body: Any) -> None:
    a, _ = stateful_pair
    session = _initialize(a.port)
    reply = _exchange(a.port, _post(body, session=session))
    assert reply.status == 400
    assert reply.json() == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": INVALID_REQUEST, "message": MALFORMED_ANSWER},
    }


def test_an_answer_nobody_awaits_is_refused_clearly(stateful_pair: tuple[ServerProcess, ...]) -> None:
    a, _ = stateful_pair
    session = _initialize(a.port)
    reply = _exchange(a.port, _post({"jsonrpc": "2.0", "id": "s-guessed", "result": {}}, session=session))
    assert (reply.status, reply.json()["error"]["message"]) == (400, NOT_AN_ANSWER)


def test_session_lifecycle_missing_unknown_and_ended(stateful_pair: tuple[ServerProcess, ...]) -> None:
    a, b = stateful_pair
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    missing = _exchange(a.port, _post(ping))
    assert (missing.status, missing.json()["error"]["message"]) == (400, SESSION_REQUIRED)
    unknown = _exchange(a.port, _post(ping, session="green-nope"))
    assert (unknown.status, unknown.json()["error"]["message"]) == (404, SESSION_UNKNOWN)
    session = _initialize(a.port)
    assert _exchange(b.port, _post(ping, session=session)).json() == {"jsonrpc": "2.0", "id": 1, "result": {}}
    ended = _exchange(b.port, build_request(method="DELETE", headers={"Mcp-Session-Id": session}))
    assert ended.status == 200
    after = _exchange(a.port, _post(ping, session=session))
    assert (after.status, after.json()["error"]["message"]) == (404, SESSION_UNKNOWN)


def test_sampling_without_the_declared_capability_is_a_tool_error(stateful_pair: tuple[ServerProcess, ...]) -> None:
    a, _ = stateful_pair
    session = _initialize(a.port, capabilities={})
    reply = _exchange(a.port, _post(_call(2, "test_sampling", {"prompt": "p"}), session=session))
    result = reply.json()["result"]
    assert result["isError"] is True
    assert "needs the client's 'sampling' capability" in result["content"][0]["text"]


def test_cancelled_notification_ends_the_waiting_call(stateful_pair: tuple[ServerProcess, ...]) -> None:
    a, _ = stateful_pair
    session = _initialize(a.port)
    with _open(a.port, _post(_call("c1", "test_sampling", {"prompt": "never answered"}), session=session)) as sock:
        stream = SseReader(sock)
        stream.event()  # priming
        assert stream.message()["method"] == "sampling/createMessage"
        cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "c1"}}
        # the call runs on one of A's two workers: a cancellation reaching the other one finds nothing to cancel
        for _ in range(20):
            assert _exchange(a.port, _post(cancel, session=session)).status == 202
            sock.settimeout(0.2)
            try:
                response = stream.message()
                break
            except TimeoutError:
                continue
        else:
            pytest.fail("the call was not cancelled")
    assert response["id"] == "c1" and response["error"]["code"] == REQUEST_CANCELLED


def test_resource_updates_reach_the_sessions_get_stream(
    stateful_pair: tuple[ServerProcess, ...], database_url: str
) -> None:
    a, b = stateful_pair
    session = _initialize(a.port)
    subscribe = {"jsonrpc": "2.0", "id": 3, "method": "resources/subscribe", "params": {"uri": "test://watched"}}
    assert _exchange(b.port, _post(subscribe, session=session)).json()["result"] == {}
    get = build_request(method="GET", headers={"Accept": "text/event-stream", "Mcp-Session-Id": session})
    with _open(a.port, get) as sock:
        stream = SseReader(sock)
        assert stream.event()["data"] == ""  # priming

        async def update() -> int:
            store = PostgresSessionStore(database_url)
            await store.start()
            try:
                return await store.resource_updated("test://watched")
            finally:
                await store.close()

        assert asyncio.run(update()) >= 1
        assert stream.message() == {
            "jsonrpc": "2.0",
            "method": "notifications/resources/updated",
            "params": {"uri": "test://watched"},
        }


def test_get_stream_without_session_is_400(stateful_pair: tuple[ServerProcess, ...]) -> None:
    a, _ = stateful_pair
    reply = _exchange(a.port, build_request(method="GET", headers={"Accept": "text/event-stream"}))
    assert (reply.status, reply.json()["error"]["message"]) == (400, SESSION_REQUIRED)


# -- 2026-07-28: the same SSE responses for progress and logs -----------------------------------------------------


def _post_2026(id_: Any, name: str, meta: dict[str, Any]) -> bytes:
    body = _call(id_, name, {}, {META_PROTOCOL_VERSION: "2026-07-28", META_CLIENT_CAPABILITIES: {}, **meta})
    headers = {
        "Accept": SSE_ACCEPT,
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/call",
        "Mcp-Name": name,
    }
    return build_request(body=orjson.dumps(body), headers=headers)


def test_2026_progress_streams_without_a_priming_event_and_ends_with_the_complete_result(
    stateless: ServerProcess,
) -> None:
    with _open(stateless.port, _post_2026(8, "test_tool_with_progress", {"progressToken": "t26"})) as sock:
        stream = SseReader(sock)
        messages = [stream.message() for _ in range(4)]
        stream.finish()
    assert [m["params"]["progress"] for m in messages[:3]] == [0, 50, 100]
    assert {m["params"]["progressToken"] for m in messages[:3]} == {"t26"}
    assert messages[3]["id"] == 8
    assert messages[3]["result"]["resultType"] == "complete"


def test_2026_logs_go_out_only_at_the_level_meta_names(stateless: ServerProcess) -> None:
    quiet = _exchange(stateless.port, _post_2026(9, "test_tool_with_logging", {}))
    assert quiet.headers["content-type"] == "application/json"  # no level asked for: nothing sent, no stream
    assert quiet.json()["result"]["resultType"] == "complete"
    above = _exchange(stateless.port, _post_2026(10, "test_tool_with_logging", {META_LOG_LEVEL: "warning"}))
    assert above.headers["content-type"] == "application/json"  # its messages are info, below warning
    with _open(stateless.port, _post_2026(11, "test_tool_with_logging", {META_LOG_LEVEL: "info"})) as sock:
        stream = SseReader(sock)
        messages = [stream.message() for _ in range(4)]
        stream.finish()
    assert [m["params"]["level"] for m in messages[:3]] == ["info", "info", "info"]
    assert messages[3]["id"] == 11
