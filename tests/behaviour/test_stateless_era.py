"""The stateless 2026-07-28 era over raw HTTP, chosen per request by `MCP-Protocol-Version: 2026-07-28`, on the same
endpoint as the handshake era: both servers answer alike (the same HTTP statuses, error codes and error data).
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from services import protocol
from tests.support import HttpReply, ServerProcess, build_request, raw_request, rpc

META = {protocol.META_PROTOCOL_VERSION: "2026-07-28", protocol.META_CLIENT_CAPABILITIES: {}}


@pytest.fixture
def stateless(server: ServerProcess) -> ServerProcess:
    return server


def call(server: ServerProcess, method: str, params: dict[str, Any] | None, **headers: str) -> HttpReply:
    merged = {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": method, **headers}
    return rpc(server.port, method, params, id_=7, headers=merged)


def test_server_discover_answers_versions_capabilities_and_server_info(stateless: ServerProcess) -> None:
    reply = call(stateless, "server/discover", {"_meta": META})
    assert reply.status == 200
    result = reply.json()["result"]
    assert result["resultType"] == "complete"
    assert "2026-07-28" in result["supportedVersions"]
    assert result["capabilities"] == {"tools": {"listChanged": False}}
    assert result["_meta"][protocol.META_SERVER_INFO]["name"]


def test_tools_list_carries_result_type_and_cache_hints(stateless: ServerProcess) -> None:
    result = call(stateless, "tools/list", {"_meta": META}).json()["result"]
    assert result["resultType"] == "complete"
    assert (result["ttlMs"], result["cacheScope"]) == (protocol.LIST_TTL_MS, protocol.LIST_CACHE_SCOPE)
    assert [t["name"] for t in result["tools"]][:1] == ["echo"]


def test_tools_call_with_a_base64_name_header_is_answered(stateless: ServerProcess) -> None:
    name = "=?base64?" + base64.b64encode(b"echo").decode() + "?="
    params = {"name": "echo", "arguments": {"message": "hi", "payload_bytes": 2}, "_meta": META}
    reply = call(stateless, "tools/call", params, **{"Mcp-Name": name})
    assert reply.status == 200
    result = reply.json()["result"]
    assert result["resultType"] == "complete"
    assert result["structuredContent"]["payload_bytes"] == 2


def test_name_header_that_disagrees_with_the_body_is_400_header_mismatch(stateless: ServerProcess) -> None:
    params = {"name": "echo", "arguments": {"message": "hi"}, "_meta": META}
    reply = call(stateless, "tools/call", params, **{"Mcp-Name": "hash_chain"})
    assert reply.status == 400
    assert reply.json()["error"]["code"] == protocol.HEADER_MISMATCH
    assert reply.json()["id"] == 7


def test_request_without_meta_is_400_invalid_params(stateless: ServerProcess) -> None:
    reply = call(stateless, "tools/list", {})
    assert (reply.status, reply.json()["error"]["code"]) == (400, protocol.INVALID_PARAMS)


@pytest.mark.parametrize("method", sorted(protocol.HANDSHAKE_ONLY_METHODS))
def test_handshake_only_method_is_404_method_not_found(stateless: ServerProcess, method: str) -> None:
    reply = call(stateless, method, {"_meta": META, "protocolVersion": "2026-07-28", "level": "info"})
    assert (reply.status, reply.json()["error"]["code"]) == (404, protocol.METHOD_NOT_FOUND)


def test_unknown_tool_is_400_invalid_params(stateless: ServerProcess) -> None:
    reply = call(stateless, "tools/call", {"name": "nope", "_meta": META}, **{"Mcp-Name": "nope"})
    assert (reply.status, reply.json()["error"]["code"]) == (400, protocol.INVALID_PARAMS)


def test_unserved_version_is_400_with_supported_and_requested(stateless: ServerProcess) -> None:
    meta = {**META, protocol.META_PROTOCOL_VERSION: "2099-01-01"}
    reply = call(stateless, "tools/list", {"_meta": meta}, **{"MCP-Protocol-Version": "2099-01-01"})
    assert reply.status == 400
    error = reply.json()["error"]
    assert error["code"] == protocol.UNSUPPORTED_PROTOCOL_VERSION
    assert error["data"]["requested"] == "2099-01-01"
    assert "2026-07-28" in error["data"]["supported"]


def test_handshake_era_is_unchanged_beside_it(server: ServerProcess) -> None:
    reply = rpc(server.port, "tools/list", {}, headers={"MCP-Protocol-Version": "2025-11-25"})
    assert reply.status == 200
    assert "resultType" not in reply.json()["result"]


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_get_and_delete_in_the_stateless_era_are_405(stateless: ServerProcess, method: str) -> None:
    headers = {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/list"}
    reply = raw_request(stateless.port, build_request(method=method, headers=headers))
    assert (reply.status, reply.headers["allow"]) == (405, "POST")


def test_method_header_that_disagrees_with_the_body_is_400_header_mismatch(stateless: ServerProcess) -> None:
    reply = call(stateless, "tools/list", {"_meta": META}, **{"Mcp-Method": "tools/call"})
    assert (reply.status, reply.json()["error"]["code"]) == (400, protocol.HEADER_MISMATCH)


def test_meta_version_that_disagrees_with_the_header_is_400_header_mismatch(stateless: ServerProcess) -> None:
    meta = {**META, protocol.META_PROTOCOL_VERSION: "2025-11-25"}
    reply = call(stateless, "tools/list", {"_meta": meta})
    assert (reply.status, reply.json()["error"]["code"]) == (400, protocol.HEADER_MISMATCH)


def test_unknown_method_is_404_method_not_found(stateless: ServerProcess) -> None:
    reply = call(stateless, "no/such/method", {"_meta": META})
    assert (reply.status, reply.json()["error"]["code"], reply.json()["id"]) == (404, protocol.METHOD_NOT_FOUND, 7)


def test_server_discover_is_not_a_handshake_era_method(server: ServerProcess) -> None:
    reply = rpc(server.port, "server/discover", {}, headers={"MCP-Protocol-Version": "2025-11-25"})
    assert (reply.status, reply.json()["error"]["code"]) == (200, protocol.METHOD_NOT_FOUND)


def test_tool_error_result_carries_result_type(stateless: ServerProcess) -> None:
    params = {"name": "get_customer", "arguments": {"customer_id": "not a number"}, "_meta": META}
    reply = call(stateless, "tools/call", params, **{"Mcp-Name": "get_customer"})
    assert reply.status == 200
    result = reply.json()["result"]
    assert (result["isError"], result["resultType"]) == (True, "complete")


def test_tool_order_is_the_same_on_every_listing(stateless: ServerProcess) -> None:
    names = [
        [t["name"] for t in call(stateless, "tools/list", {"_meta": META}).json()["result"]["tools"]] for _ in "ab"
    ]
    assert names[0] == names[1]
    assert len(names[0]) == len(set(names[0])) > 1


def test_notification_in_the_stateless_era_is_202(stateless: ServerProcess) -> None:
    message = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1, "_meta": META}}
    headers = {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "notifications/cancelled"}
    reply = raw_request(stateless.port, build_request(message, headers=headers))
    assert reply.status == 202
