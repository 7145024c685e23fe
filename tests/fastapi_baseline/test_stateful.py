"""The FastAPI baseline's stateful mode (MCP_STATEFUL=1): sessions shared by two gunicorn workers through PostgreSQL
(services/sessions.py), a sampling round trip whose answer reaches the other worker, the session rules of the
Streamable HTTP transport, and the session's log level and capabilities."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from mcp import Client, types

from services.fastapi_baseline.endpoint import REQUEST_CANCELLED
from services.protocol import INVALID_REQUEST
from tests.fastapi_baseline.test_streaming import Stream, call
from tests.support import REPO, ServerProcess, build_request, fastapi_server, post, read_reply

SLOT = "green"
ENV = {"MCP_TOOL_PACKS": "reference,conformance", "MCP_STATEFUL": "1", "MCP_SLOT": SLOT}
SAMPLING = {"sampling": {}, "elicitation": {}}


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with fastapi_server(tmp_path_factory.mktemp("stateful"), database_url=database_url, workers=2, env=ENV) as running:
        yield running


def open_session(port: int, capabilities: dict[str, Any] | None = None) -> str:
    init = {
        "protocolVersion": "2025-11-25",
        "capabilities": SAMPLING if capabilities is None else capabilities,
        "clientInfo": {"name": "t", "version": "1"},
    }
    reply = post(port, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init})
    assert reply.status == 200
    session = reply.headers["mcp-session-id"]
    headers = {"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"}
    assert post(port, {"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers).status == 202
    return session


def session_headers(session: str) -> dict[str, str]:
    return {"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"}


def messages(stream: Stream) -> Iterator[dict[str, Any]]:
    for event in stream.events():
        if event.get("data"):
            yield json.loads(event["data"])


def test_initialize_answers_a_session_id_that_starts_with_the_slot(server: ServerProcess) -> None:
    assert open_session(server.port).startswith(f"{SLOT}-")


def test_request_without_a_session_is_400_and_with_an_unknown_one_404(server: ServerProcess) -> None:
    missing = post(server.port, {"jsonrpc": "2.0", "id": 4, "method": "tools/list"})
    assert (missing.status, missing.json()["error"]["code"], missing.json()["id"]) == (400, INVALID_REQUEST, 4)
    unknown = post(server.port, {"jsonrpc": "2.0", "id": 5, "method": "tools/list"}, headers=session_headers("x-1"))
    assert (unknown.status, unknown.json()["id"]) == (404, 5)


def test_delete_ends_the_session_on_every_worker(server: ServerProcess) -> None:
    session = open_session(server.port)
    assert post(server.port, None, method="DELETE", headers=session_headers(session)).status == 200
    for _ in range(4):  # new connections: both workers see the end
        reply = post(server.port, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers=session_headers(session))
        assert reply.status == 404


def connection_to(port: int, headers: dict[str, str], tag: str, *, same_worker: bool) -> socket.socket:
    """A keep-alive connection accepted by the worker whose tag is `tag` (or by the other one). Both refuse an answer
    that nothing awaits (400); the worker that sent the id says it names one of its own requests."""
    for _ in range(40):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(build_request({"jsonrpc": "2.0", "id": f"s-{tag}-999999999", "result": {}}, headers=headers))
        reply = read_reply(sock, bytearray())
        assert reply.status == 400
        if ("no request with id" in reply.json()["error"]["message"]) == same_worker:
            return sock
        sock.close()
    raise AssertionError("no connection reached the wanted worker")


def test_cancelled_notification_ends_the_named_call_with_request_cancelled(server: ServerProcess) -> None:
    session = open_session(server.port)
    headers = session_headers(session)
    stream = Stream(server.port, call("test_elicitation", {"message": "who?"}, id_=11), headers=headers)
    try:
        incoming = messages(stream)
        question = next(incoming)  # the tool now waits for the answer
        same = connection_to(server.port, headers, question["id"].split("-")[1], same_worker=True)
        cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 11}}
        same.sendall(build_request(cancel, headers=headers))
        assert read_reply(same, bytearray()).status == 202
        same.close()
        final = next(incoming)
    finally:
        stream.close()
    assert final["id"] == 11
    assert final["error"]["code"] == REQUEST_CANCELLED


def test_sampling_answer_posted_to_the_other_worker_reaches_the_waiting_tool(server: ServerProcess) -> None:
    session = open_session(server.port)
    headers = session_headers(session)
    stream = Stream(server.port, call("test_sampling", {"prompt": "2 + 2?"}, id_=9), headers=headers)
    try:
        incoming = messages(stream)
        question = next(incoming)
        assert question["method"] == "sampling/createMessage"
        tag = question["id"].split("-")[1]  # s-<worker tag>-<n>: the worker whose tool waits
        other = connection_to(server.port, headers, tag, same_worker=False)
        answer = {"role": "assistant", "content": {"type": "text", "text": "four"}, "model": "test-model"}
        other.sendall(build_request({"jsonrpc": "2.0", "id": question["id"], "result": answer}, headers=headers))
        assert read_reply(other, bytearray()).status == 202
        other.close()
        final = next(incoming)
    finally:
        stream.close()
    assert final["id"] == 9
    assert final["result"]["content"][0]["text"] == "LLM response: four"


def test_official_client_sampling_round_trips_in_stateful_mode(server: ServerProcess) -> None:
    async def sample(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        prompt = params.messages[0].content.text  # type: ignore[union-attr]
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text=f"re: {prompt}"), model="test-model"
        )

    async def scenario() -> list[str]:
        async with Client(server.url, mode="legacy", sampling_callback=sample) as client:
            results = [await client.call_tool("test_sampling", {"prompt": f"p{i}"}) for i in range(4)]
        return [result.content[0].text for result in results]  # type: ignore[union-attr]

    assert asyncio.run(scenario()) == [f"LLM response: re: p{i}" for i in range(4)]


def test_garbage_answer_is_refused_clearly_and_the_tool_told(server: ServerProcess) -> None:
    session = open_session(server.port)
    headers = session_headers(session)
    stream = Stream(server.port, call("test_elicitation", {"message": "who?"}, id_=3), headers=headers)
    try:
        incoming = messages(stream)
        question = next(incoming)
        assert question["method"] == "elicitation/create"
        garbage = post(server.port, {"jsonrpc": "2.0", "id": question["id"], "result": 42}, headers=headers)
        assert garbage.status == 400
        assert garbage.json()["error"]["code"] == INVALID_REQUEST
        assert "result must be an object" in garbage.json()["error"]["message"]
        final = next(incoming)
    finally:
        stream.close()
    assert final["id"] == 3
    assert final["result"]["isError"] is True
    assert "malformed" in final["result"]["content"][0]["text"]


def test_question_to_a_client_without_the_capability_is_an_error_result(server: ServerProcess) -> None:
    session = open_session(server.port, capabilities={})
    reply = post(server.port, call("test_sampling", {"prompt": "x"}), headers=session_headers(session))
    result = reply.json()["result"]
    assert result["isError"] is True
    assert "needs the client's 'sampling' capability" in result["content"][0]["text"]


def test_session_log_level_filters_what_tools_log(server: ServerProcess) -> None:
    session = open_session(server.port)
    headers = session_headers(session)
    level = post(
        server.port,
        {"jsonrpc": "2.0", "id": 2, "method": "logging/setLevel", "params": {"level": "warning"}},
        headers=headers,
    )
    assert level.json()["result"] == {}
    reply = post(server.port, call("test_tool_with_logging", {}), headers=headers)  # three info messages: filtered
    assert reply.headers["content-type"] == "application/json"
    assert reply.json()["result"]["content"][0]["type"] == "text"


def test_get_opens_the_sessions_stream_with_a_priming_event(server: ServerProcess) -> None:
    session = open_session(server.port)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        request = build_request(None, method="GET", headers={**session_headers(session), "Accept": "text/event-stream"})
        sock.sendall(request.replace(b"Content-Type: application/json\r\n", b""))
        received = b""
        while b"\r\n\r\n" not in received or b"data:" not in received:
            received += sock.recv(4096)
    finally:
        sock.close()
    head = received.split(b"\r\n\r\n", 1)[0].decode().lower()
    assert head.startswith("http/1.1 200") and "content-type: text/event-stream" in head
    assert b"data: \n" in received


def test_stateful_mode_with_two_workers_and_no_database_refuses_to_start() -> None:
    env = {"PATH": "/usr/bin:/bin", "MCP_STATEFUL": "1", "HOME": "/tmp"}
    proc = subprocess.run(
        [sys.executable, "-m", "scripts.cli", "serve", "fastapi", "--workers", "2", "--port", "1"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "needs DATABASE_URL" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
