"""The stateless 2026-07-28 era over raw HTTP, chosen per request by `MCP-Protocol-Version: 2026-07-28`.

The native server does not serve this era yet: every test here is a declared difference for it, so the day it does,
these tests turn red until the declaration is removed.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from services import protocol
from tests.behaviour.differences import expect_difference
from tests.support import HttpReply, ServerProcess, rpc

NOT_YET = "the stateless 2026-07-28 era is not served yet (every such request is answered with -32022)"
META = {protocol.META_PROTOCOL_VERSION: "2026-07-28", protocol.META_CLIENT_CAPABILITIES: {}}


@pytest.fixture
def stateless(server: ServerProcess, request: pytest.FixtureRequest) -> ServerProcess:
    expect_difference(request, server, native=NOT_YET)
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
