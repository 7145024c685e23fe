"""The baseline's own parsing of `POST /mcp`, its metric set beside the native server's, and its pool release policy."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator

import pytest

from services.fastapi_baseline.app import create_app, open_pool
from services.fastapi_baseline.models import INVALID_REQUEST, PARSE_ERROR
from services.fastapi_baseline.settings import Settings
from tests.support import ServerProcess, build_request, fastapi_server, post, raw_request, read_reply, rpc


@pytest.fixture(scope="module")
def fastapi(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with fastapi_server(tmp_path_factory.mktemp("fastapi-endpoint"), database_url=database_url) as server:
        yield server


def _metric_families(port: int) -> set[str]:
    reply = raw_request(port, build_request(method="GET", path="/metrics"))
    assert reply.status == 200
    return {line.split()[2] for line in reply.body.decode().splitlines() if line.startswith("# TYPE ")}


def test_a_body_with_a_utf8_byte_order_mark_is_answered_as_fastapis_json_parser_accepted_it(
    fastapi: ServerProcess,
) -> None:
    reply = post(fastapi.port, b'\xef\xbb\xbf{"jsonrpc":"2.0","id":3,"method":"ping"}')
    assert (reply.status, reply.json()) == (200, {"jsonrpc": "2.0", "id": 3, "result": {}})


@pytest.mark.parametrize(
    "body",
    [b'{"jsonrpc":"2.0","id":1,"method":"\xff"}', b'{"jsonrpc":"2.0","id":1,"method":"p\x01ing"}', b"[" * 3000],
)
def test_a_body_neither_parser_accepts_is_a_parse_error(fastapi: ServerProcess, body: bytes) -> None:
    reply = post(fastapi.port, body)
    assert reply.status == 400
    assert reply.json()["error"]["code"] == PARSE_ERROR
    assert reply.json()["id"] is None


def test_parse_errors_come_before_the_content_type_and_invalid_messages_after_it(fastapi: ServerProcess) -> None:
    plus_json = {"Content-Type": "application/ld+json"}
    assert post(fastapi.port, b"{", headers=plus_json).json()["error"]["code"] == PARSE_ERROR
    assert post(fastapi.port, b"[]", headers=plus_json).status == 415
    assert post(fastapi.port, b"[]", headers={"Accept": "text/html"}).status == 406
    reply = rpc(fastapi.port, "ping", id_="x", headers={"MCP-Protocol-Version": "2099-01-01", "Accept": "text/html"})
    assert reply.status == 406
    assert post(fastapi.port, {"jsonrpc": "2.0", "id": 1.5, "method": "ping"}).json()["error"]["code"] == (
        INVALID_REQUEST
    )


def test_metrics_are_the_native_servers_set_with_no_http_level_metrics(
    fastapi: ServerProcess, native: ServerProcess
) -> None:
    for server in (fastapi, native):
        assert rpc(server.port, "tools/call", {"name": "echo", "arguments": {"message": "m"}}).status == 200
    families = _metric_families(fastapi.port)
    assert families == _metric_families(native.port)
    assert families == {
        "mcp_requests_total",
        "mcp_request_duration_seconds",
        "mcp_in_flight_requests",
        "mcp_open_connections",
    }


def _gauge(port: int, name: str) -> float:
    text = raw_request(port, build_request(method="GET", path="/metrics")).body.decode()
    return float(next(line for line in text.splitlines() if line.startswith(name + " ")).rsplit(" ", 1)[1])


def test_open_connections_gauge_counts_idle_keep_alive_connections_within_seconds(fastapi: ServerProcess) -> None:
    with contextlib.ExitStack() as stack:
        for _ in range(3):
            sock = stack.enter_context(socket.create_connection(("127.0.0.1", fastapi.port)))
            sock.sendall(build_request({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
            assert read_reply(sock, bytearray()).status == 200
        deadline = time.monotonic() + 5.0  # the worker samples its connections once a second
        while _gauge(fastapi.port, "mcp_open_connections") < 3:
            assert time.monotonic() < deadline, "the open-connections gauge never counted the idle connections"
            time.sleep(0.1)


def test_pool_hands_a_connection_back_without_the_reset_round_trip_as_the_native_server_does(
    database_url: str,
) -> None:
    async def scenario() -> str:
        pool = await open_pool(Settings(database_url=database_url, db_pool_size=1))
        try:
            async with pool.acquire() as connection:
                await connection.execute("SET application_name = 'kept'")
            async with pool.acquire() as connection:  # the same connection: the pool holds one
                setting: str = await connection.fetchval("SHOW application_name")
                return setting
        finally:
            await pool.close()

    assert asyncio.run(scenario()) == "kept"  # asyncpg's default reset (RESET ALL) would have cleared it


def test_openapi_documents_the_headers_the_body_and_the_error_responses() -> None:
    schema = create_app(Settings()).openapi()
    post_mcp = schema["paths"]["/mcp"]["post"]
    assert {p["name"] for p in post_mcp["parameters"]} == {"content-type", "accept", "mcp-protocol-version"}
    body = post_mcp["requestBody"]["content"]["application/json"]["schema"]
    refs = {option["$ref"].rsplit("/", 1)[1] for option in body["oneOf"]}
    assert refs == {"JsonRpcRequest", "JsonRpcNotification", "JsonRpcClientResponse"}
    assert refs <= set(schema["components"]["schemas"])
    assert {"200", "202", "400", "406", "413", "415"} <= set(post_mcp["responses"])
    assert post_mcp["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/JsonRpcSuccess")
