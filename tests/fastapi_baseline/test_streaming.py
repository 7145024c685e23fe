"""SSE responses on the FastAPI baseline (handshake era, stateless): a tool that talks to its client while it runs
answers `text/event-stream`; one that says nothing answers JSON as before. Real gunicorn, one worker, the conformance
pack's streaming fixtures, the official Python client."""

from __future__ import annotations

import asyncio
import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest
from mcp import Client, types

from services.protocol import INVALID_PARAMS
from tests.support import ServerProcess, fastapi_server, post, rpc

PACKS = {"MCP_TOOL_PACKS": "reference,conformance"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with fastapi_server(tmp_path_factory.mktemp("streaming"), database_url=None, env=PACKS) as running:
        yield running


def call(name: str, arguments: dict[str, Any], id_: int = 1, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"name": name, "arguments": arguments}
    if meta is not None:
        params["_meta"] = meta
    return {"jsonrpc": "2.0", "id": id_, "method": "tools/call", "params": params}


class Stream:
    """One POST whose answer is read event by event (http.client undoes the chunked framing)."""

    def __init__(
        self, port: int, body: dict[str, Any], version: str = "2025-11-25", headers: dict[str, str] | None = None
    ) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": version,
            **(headers or {}),
        }
        self.conn.request("POST", "/mcp", json.dumps(body), headers)
        self.response = self.conn.getresponse()

    def events(self) -> Iterator[dict[str, str]]:
        event: dict[str, str] = {}
        for raw in self.response:
            line = raw.decode().rstrip("\r\n")
            if not line:
                if event:
                    yield event
                event = {}
                continue
            field, _, value = line.partition(":")
            event[field] = value.removeprefix(" ")

    def close(self) -> None:
        self.conn.close()


@pytest.mark.filterwarnings("ignore:The logging capability is deprecated")
def test_official_client_receives_progress_and_logs_before_the_result(server: ServerProcess) -> None:
    logs: list[types.LoggingMessageNotificationParams] = []
    progress: list[tuple[float, float | None]] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(params)

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total))

    async def scenario() -> tuple[types.CallToolResult, types.CallToolResult]:
        async with Client(server.url, mode="legacy", logging_callback=on_log) as client:
            await client.set_logging_level("debug")
            logged = await client.call_tool("test_tool_with_logging", {})
            reported = await client.call_tool("test_tool_with_progress", {}, progress_callback=on_progress)
            return logged, reported

    logged, reported = asyncio.run(scenario())
    assert not logged.is_error and not reported.is_error
    assert [(entry.level, entry.data) for entry in logs] == [
        ("info", "Tool execution started"),
        ("info", "Tool processing data"),
        ("info", "Tool execution completed"),
    ]
    assert progress == [(0, 100), (50, 100), (100, 100)]


def test_official_client_in_the_2026_07_28_era_receives_progress(server: ServerProcess) -> None:
    progress: list[float] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(done)

    async def scenario() -> types.CallToolResult:
        async with Client(server.url, mode="2026-07-28") as client:
            return await client.call_tool("test_tool_with_progress", {}, progress_callback=on_progress)

    result = asyncio.run(scenario())
    assert not result.is_error
    assert progress == [0, 50, 100]


def test_2026_07_28_request_without_a_log_level_gets_no_log_and_a_json_answer(server: ServerProcess) -> None:
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    headers = {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "test_tool_with_logging"}
    reply = post(server.port, call("test_tool_with_logging", {}, meta=meta), headers=headers)
    assert reply.headers["content-type"] == "application/json"
    assert reply.json()["result"]["resultType"] == "complete"
    body = call("test_tool_with_logging", {}, meta={**meta, "io.modelcontextprotocol/logLevel": "info"})
    stream = Stream(server.port, body, version="2026-07-28", headers=headers)
    try:
        assert stream.response.getheader("content-type", "").startswith("text/event-stream")
        messages = [json.loads(event["data"]) for event in stream.events()]
    finally:
        stream.close()
    assert [m.get("method") for m in messages] == ["notifications/message"] * 3 + [None]  # no priming event
    assert messages[-1]["result"]["resultType"] == "complete"


def test_stream_opens_with_a_priming_event_and_ends_with_the_response(server: ServerProcess) -> None:
    stream = Stream(server.port, call("test_tool_with_progress", {}, id_=7, meta={"progressToken": "t"}))
    try:
        assert stream.response.getheader("content-type", "").startswith("text/event-stream")
        events = list(stream.events())
    finally:
        stream.close()
    assert events[0]["data"] == "" and events[0]["id"]
    messages = [json.loads(event["data"]) for event in events[1:]]
    assert [m.get("method") for m in messages] == ["notifications/progress"] * 3 + [None]
    assert [m["params"]["progress"] for m in messages[:3]] == [0, 50, 100]
    assert messages[-1]["id"] == 7 and "result" in messages[-1]


def test_clients_before_2025_11_25_get_no_priming_event(server: ServerProcess) -> None:
    stream = Stream(server.port, call("test_tool_with_progress", {}, meta={"progressToken": 1}), version="2025-06-18")
    try:
        events = list(stream.events())
    finally:
        stream.close()
    assert all(event["data"] for event in events)
    assert json.loads(events[0]["data"])["method"] == "notifications/progress"


def test_tool_that_sends_nothing_answers_json(server: ServerProcess) -> None:
    reply = post(server.port, call("test_tool_with_progress", {}))  # no progressToken: nothing to report
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.json()["result"]["content"][0]["type"] == "text"


def test_accept_without_event_stream_answers_json_and_drops_the_notifications(server: ServerProcess) -> None:
    reply = post(
        server.port,
        call("test_tool_with_progress", {}, meta={"progressToken": "t"}),
        headers={"Accept": "application/json"},
    )
    assert reply.headers["content-type"] == "application/json"
    assert "notifications" not in reply.body.decode()
    assert reply.json()["id"] == 1


def test_sampling_without_a_stream_is_an_error_result_naming_the_method(server: ServerProcess) -> None:
    reply = post(server.port, call("test_sampling", {"prompt": "x"}), headers={"Accept": "application/json"})
    result = reply.json()["result"]
    assert result["isError"] is True
    assert "sampling/createMessage" in result["content"][0]["text"]


def test_question_in_stateless_mode_is_an_error_result_saying_a_session_is_needed(server: ServerProcess) -> None:
    reply = post(server.port, call("test_elicitation", {"message": "who?"}))  # Accept admits text/event-stream
    assert reply.headers["content-type"] == "application/json"
    result = reply.json()["result"]
    assert result["isError"] is True
    assert "needs a session" in result["content"][0]["text"]


def test_answer_to_an_id_this_server_never_used_is_accepted_and_dropped(server: ServerProcess) -> None:
    assert post(server.port, {"jsonrpc": "2.0", "id": "client-own-7", "result": {}}).status == 202


def test_set_level_accepts_a_known_level_and_refuses_others(server: ServerProcess) -> None:
    assert rpc(server.port, "logging/setLevel", {"level": "warning"}).json()["result"] == {}
    refused = rpc(server.port, "logging/setLevel", {"level": "loud"}).json()
    assert refused["error"]["code"] == INVALID_PARAMS


def test_initialize_declares_logging(server: ServerProcess) -> None:
    init = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
    assert rpc(server.port, "initialize", init).json()["result"]["capabilities"]["logging"] == {}


def test_server_log_has_no_traceback(server: ServerProcess) -> None:
    assert "Traceback" not in server.log()
