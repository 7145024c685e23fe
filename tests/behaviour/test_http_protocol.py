"""The behaviour docs/protocol.md sets out, over a real socket: status codes, error codes, the server staying up."""

from __future__ import annotations

import socket

import pytest

from services.mcp_server import jsonrpc
from tests.behaviour.differences import expect_difference
from tests.support import ServerProcess, build_request, post, raw_request, read_reply, rpc

INIT = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}


def test_initialize_echoes_a_supported_version(server: ServerProcess) -> None:
    for version in ("2025-11-25", "2025-06-18", "2025-03-26"):
        reply = rpc(server.port, "initialize", {**INIT, "protocolVersion": version})
        assert reply.status == 200
        result = reply.json()["result"]
        assert result["protocolVersion"] == version
        # logging: served in the handshake era (logging/setLevel, notifications/message on a request's stream)
        assert result["capabilities"] in (
            {"tools": {"listChanged": False}},
            {"tools": {"listChanged": False}, "logging": {}},
        )
        assert set(result["serverInfo"]) == {"name", "version"}
        assert "mcp-session-id" not in reply.headers


def test_initialize_with_an_unknown_version_answers_the_newest(server: ServerProcess) -> None:
    reply = rpc(server.port, "initialize", {**INIT, "protocolVersion": "1999-01-01"})
    assert reply.json()["result"]["protocolVersion"] == "2025-11-25"


def test_requests_work_without_initialize_and_ids_are_echoed_unchanged(server: ServerProcess) -> None:
    for id_ in (0, 7, -3, 2**53, "abc", "", "ü-ñ"):
        reply = rpc(server.port, "ping", id_=id_)
        assert reply.status == 200
        assert reply.json() == {"jsonrpc": "2.0", "id": id_, "result": {}}


def test_notifications_and_client_responses_get_202_with_an_empty_body(server: ServerProcess) -> None:
    for message in (
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}},
        {"jsonrpc": "2.0", "id": 5, "result": {}},
        {"jsonrpc": "2.0", "id": 5, "error": {"code": -1, "message": "x"}},
    ):
        reply = post(server.port, message)
        assert (reply.status, reply.body) == (202, b"")


@pytest.mark.parametrize(
    "body",
    [b"{", b"not json", b'{"jsonrpc": "2.0", "id": 1, "method": "ping"', b"\xff\xfe", b""],
)
def test_invalid_json_is_400_parse_error_with_null_id(server: ServerProcess, body: bytes) -> None:
    reply = post(server.port, body)
    assert reply.status == 400
    assert reply.json()["id"] is None
    assert reply.json()["error"]["code"] == jsonrpc.PARSE_ERROR


@pytest.mark.parametrize(
    "message",
    [
        [{"jsonrpc": "2.0", "id": 1, "method": "ping"}],
        [],
        "ping",
        42,
        None,
        {"jsonrpc": "1.0", "id": 1, "method": "ping"},
        {"id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "id": 1},
        {"jsonrpc": "2.0", "id": None, "method": "ping"},
        {"jsonrpc": "2.0", "id": 1.5, "method": "ping"},
        {"jsonrpc": "2.0", "id": True, "method": "ping"},
        {"jsonrpc": "2.0", "id": [1], "method": "ping"},
        {"jsonrpc": "2.0", "id": 1, "method": 5},
        {"jsonrpc": "2.0", "id": 1, "method": "ping", "params": [1, 2]},
    ],
)
def test_invalid_requests_are_400_invalid_request(server: ServerProcess, message: object) -> None:
    reply = post(server.port, message if message is not None else b"null")  # type: ignore[arg-type]
    assert reply.status == 400
    assert reply.json()["error"]["code"] == jsonrpc.INVALID_REQUEST
    assert reply.json()["jsonrpc"] == "2.0"


def test_unknown_method_is_method_not_found(server: ServerProcess) -> None:
    reply = rpc(server.port, "no/such/method")
    assert reply.status == 200
    assert reply.json()["error"]["code"] == jsonrpc.METHOD_NOT_FOUND


def test_get_and_delete_on_the_endpoint_are_405(server: ServerProcess) -> None:
    for method in ("GET", "DELETE", "PUT"):
        reply = raw_request(server.port, build_request(method=method))
        assert reply.status == 405
        assert reply.headers["allow"] == "POST"


def test_wrong_content_type_is_415(server: ServerProcess) -> None:
    reply = rpc(server.port, "ping", headers={"Content-Type": "text/plain"})
    assert reply.status == 415


def test_accept_without_json_is_406_and_wildcards_are_accepted(server: ServerProcess) -> None:
    assert rpc(server.port, "ping", headers={"Accept": "text/event-stream"}).status == 406
    assert rpc(server.port, "ping", headers={"Accept": "text/html"}).status == 406
    assert rpc(server.port, "ping", headers={"Accept": "*/*"}).status == 200
    assert rpc(server.port, "ping", headers={"Accept": "application/*;q=0.5"}).status == 200


def test_unsupported_protocol_version_header_is_400_with_the_supported_list(server: ServerProcess) -> None:
    reply = rpc(server.port, "ping", id_=9, headers={"MCP-Protocol-Version": "2099-01-01"})
    assert reply.status == 400
    error = reply.json()["error"]
    assert error["code"] == jsonrpc.UNSUPPORTED_PROTOCOL_VERSION
    assert "2025-11-25" in error["data"]["supported"]
    assert reply.json()["id"] == 9
    assert rpc(server.port, "ping", headers={"MCP-Protocol-Version": "2025-06-18"}).status == 200


def test_foreign_origin_is_403_and_local_origin_is_allowed(server: ServerProcess) -> None:
    assert rpc(server.port, "ping", headers={"Origin": "http://evil.example.com"}).status == 403
    assert rpc(server.port, "ping", headers={"Origin": f"http://localhost:{server.port}"}).status == 200


def test_foreign_host_is_rejected_for_dns_rebinding(server: ServerProcess) -> None:
    assert rpc(server.port, "ping", host="evil.example.com").status == 403
    assert rpc(server.port, "ping", host=f"localhost:{server.port}").status == 200


def test_oversized_body_is_413(server: ServerProcess) -> None:
    big = b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"' + b"a" * 2_000_000 + b'"}}'
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(build_request(big)[:4096])  # the announced length alone is refused
        assert read_reply(sock, bytearray()).status == 413


def test_oversized_chunked_body_is_413(server: ServerProcess) -> None:
    head = (
        b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"100000\r\n" + b"a" * 0x100000 + b"\r\n"
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(head)
        try:
            for _ in range(3):
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert read_reply(sock, bytearray()).status == 413


def test_oversized_headers_are_431(server: ServerProcess, request: pytest.FixtureRequest) -> None:
    expect_difference(
        request,
        server,
        fastapi="uvicorn's httptools protocol has no header size or count limit (gunicorn's limit_request_* do not "
        "apply to uvicorn workers); in AWS the ALB refuses oversized headers in front of it",
    )
    reply = raw_request(
        server.port, build_request({"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers={"X-Big": "a" * 20000})
    )
    assert reply.status == 431
    many = {f"X-H{i}": "v" for i in range(150)}
    assert (
        raw_request(server.port, build_request({"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers=many)).status
        == 431
    )


def test_garbage_bytes_get_400_and_the_server_stays_up(server: ServerProcess) -> None:
    for garbage in (
        b"\x00\x01\x02\x03\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"POST /mcp HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
    ):
        reply = raw_request(server.port, garbage)
        assert reply.status == 400
    assert rpc(server.port, "ping").status == 200


def test_unknown_path_is_404(server: ServerProcess) -> None:
    assert raw_request(server.port, build_request(method="GET", path="/nope")).status == 404


def test_health_ready_and_metrics_answer(server: ServerProcess) -> None:
    assert raw_request(server.port, build_request(method="GET", path="/health")).json() == {"status": "ok"}
    assert raw_request(server.port, build_request(method="GET", path="/ready")).status == 200
    rpc(server.port, "tools/call", {"name": "echo", "arguments": {"message": "m"}})
    metrics = raw_request(server.port, build_request(method="GET", path="/metrics"))
    assert metrics.status == 200
    text = metrics.body.decode()
    assert 'mcp_requests_total{method="tools/call",outcome="ok",tool="echo"}' in text
    assert "mcp_request_duration_seconds_bucket" in text
    assert "mcp_in_flight_requests" in text


def test_pipelined_requests_are_answered_in_order(server: ServerProcess) -> None:
    calls = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "get_customer", "arguments": {"customer_id": 5}},
        },
        {"jsonrpc": "2.0", "id": 2, "method": "ping"},
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {"name": "search_documents", "arguments": {"query": "canary"}},
        },
        {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": "x"}}},
    ]
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"".join(build_request(c) for c in calls))
        buffer = bytearray()
        ids = [read_reply(sock, buffer).json()["id"] for _ in calls]
    assert ids == [1, 2, 3, 4]


def test_keep_alive_serves_many_requests_on_one_connection(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        buffer = bytearray()
        for i in range(50):
            sock.sendall(build_request({"jsonrpc": "2.0", "id": i, "method": "ping"}))
            assert read_reply(sock, buffer).json()["id"] == i


def test_tools_list_is_deterministic_and_well_formed(server: ServerProcess) -> None:
    first = rpc(server.port, "tools/list").json()["result"]
    second = rpc(server.port, "tools/list").json()["result"]
    assert first == second
    names = [t["name"] for t in first["tools"]]
    assert names == ["echo", "hash_chain", "get_customer", "search_documents", "send_notification"]
    for tool in first["tools"]:
        assert tool["description"]
        assert tool["inputSchema"]["type"] == "object"


def test_tools_list_invalid_cursor_is_invalid_params(server: ServerProcess) -> None:
    for cursor in ("garbage", "dG9vbHM6OTk=", 5):
        reply = rpc(server.port, "tools/list", {"cursor": cursor})
        assert reply.json()["error"]["code"] == jsonrpc.INVALID_PARAMS


@pytest.mark.parametrize(
    "params",
    [
        None,
        {},
        {"name": 5},
        {"name": "no_such_tool"},
        {"name": "echo", "arguments": [1]},
        {"name": "echo", "arguments": "x"},
    ],
)
def test_malformed_tools_call_is_invalid_params(server: ServerProcess, params: dict[str, object] | None) -> None:
    reply = rpc(server.port, "tools/call", params)
    assert reply.status == 200
    assert reply.json()["error"]["code"] == jsonrpc.INVALID_PARAMS


def test_argument_validation_failures_are_is_error_results(server: ServerProcess) -> None:
    for arguments in (
        {},
        {"message": 5},
        {"message": "x", "payload_bytes": -1},
        {"message": "x", "payload_bytes": 65537},
        {"message": "x" * 4097},
        {"message": "x", "extra": 1},
        {"message": "x", "payload_bytes": True},
    ):
        result = rpc(server.port, "tools/call", {"name": "echo", "arguments": arguments}).json()["result"]
        assert result["isError"] is True
        assert result["content"][0]["type"] == "text"
        assert "Invalid arguments for tool 'echo'" in result["content"][0]["text"]
        assert "structuredContent" not in result


def test_business_rule_failures_are_helpful_is_error_results(server: ServerProcess) -> None:
    result = rpc(server.port, "tools/call", {"name": "get_customer", "arguments": {"customer_id": 999999}}).json()
    assert result["result"]["isError"] is True
    text = result["result"]["content"][0]["text"]
    assert "999999" in text
    assert "SELECT" not in text and "Traceback" not in text


def test_foreign_host_gets_a_json_rpc_invalid_request_error_with_a_null_id(server: ServerProcess) -> None:
    reply = rpc(server.port, "ping", id_=3, host="evil.example.com")
    assert reply.status == 403
    assert reply.json()["error"]["code"] == jsonrpc.INVALID_REQUEST
    assert reply.json()["id"] is None
