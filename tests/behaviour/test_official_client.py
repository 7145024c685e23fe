"""The official Python SDK client (`mcp` 2.3.0) against every server, in legacy, auto and 2026-07-28 modes."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import jsonschema
import pytest
from mcp import Client, MCPError

from tests.behaviour.differences import expect_difference
from tests.support import ServerProcess

# The servers that speak the stateless 2026-07-28 era beside the handshake era.
STATELESS_ERA_SERVERS = {"sdk", "fastapi", "native"}

CALLS: dict[str, dict[str, Any]] = {
    "echo": {"message": "hello", "payload_bytes": 1024},
    "hash_chain": {"text": "abc", "rounds": 3},
    "get_customer": {"customer_id": 42},
    "search_documents": {"query": "canary rollback", "limit": 3},
    "send_notification": {"customer_id": 7, "channel": "email", "message": "hi", "idempotency_key": "client-test"},
}


async def _exercise(url: str, mode: str) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with Client(url, mode=mode) as client:  # type: ignore[arg-type]
        listed = await client.list_tools()
        tools = {t.name: t for t in listed.tools}
        assert set(CALLS) <= set(tools)
        for name, arguments in CALLS.items():
            args = dict(arguments)
            if name == "send_notification":
                args["idempotency_key"] = f"{mode}-{uuid.uuid4()}"
            result = await client.call_tool(name, args)
            assert not result.is_error, result.content
            schema = tools[name].output_schema
            assert schema is not None
            jsonschema.Draft202012Validator(schema).validate(result.structured_content)
            results[name] = result.structured_content
        bad = await client.call_tool("get_customer", {"customer_id": "not a number"})
        assert bad.is_error
        results["protocol_version"] = client.protocol_version
    return results


async def _call_unknown_tool(url: str) -> int | str:
    """The JSON-RPC error code the client raises for an unknown tool, or "isError" when it got a result instead."""
    async with Client(url, mode="legacy") as client:
        try:
            result = await client.call_tool("no_such_tool", {})
        except MCPError as ex:
            return ex.code
        assert result.is_error
        return "isError"


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_official_client_lists_and_calls_every_reference_tool(any_server: ServerProcess, mode: str) -> None:
    results = asyncio.run(_exercise(any_server.url, mode))
    assert results["echo"]["message"] == "hello"
    assert len(results["echo"]["payload"]) == 1024
    assert results["get_customer"]["id"] == 42
    assert results["search_documents"]["results"]
    assert results["send_notification"]["status"] == "queued"
    assert results["hash_chain"]["rounds"] == 3
    # The client's auto mode tries the stateless 2026-07-28 era first and falls back where it is not served.
    stateless = mode == "auto" and any_server.kind in STATELESS_ERA_SERVERS
    assert results["protocol_version"] == ("2026-07-28" if stateless else "2025-11-25")


def test_official_client_in_2026_07_28_mode_lists_and_calls_every_reference_tool(any_server: ServerProcess) -> None:
    results = asyncio.run(_exercise(any_server.url, "2026-07-28"))
    assert results["protocol_version"] == "2026-07-28"
    assert results["echo"]["message"] == "hello"
    assert results["get_customer"]["id"] == 42


def test_official_client_gets_invalid_params_for_an_unknown_tool(
    any_server: ServerProcess, request: pytest.FixtureRequest
) -> None:
    expect_difference(
        request,
        any_server,
        sdk="MCPServer answers an unknown tool with an isError result; the spec (2025-11-25, tools: error handling) "
        "lists unknown tools under protocol errors, JSON-RPC -32602, as docs/protocol.md requires",
    )
    assert asyncio.run(_call_unknown_tool(any_server.url)) == -32602
