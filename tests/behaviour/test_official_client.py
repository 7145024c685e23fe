"""The official Python SDK client (`mcp` 2.3.0) against the native server, in legacy and auto modes."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import jsonschema
import pytest
from mcp import Client, MCPError

from tests.support import ServerProcess

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
        try:
            await client.call_tool("no_such_tool", {})
            raise AssertionError("an unknown tool must raise MCPError")
        except MCPError as ex:
            results["unknown_tool_code"] = ex.code
        results["protocol_version"] = client.protocol_version
    return results


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_official_client_lists_and_calls_every_reference_tool(native: ServerProcess, mode: str) -> None:
    results = asyncio.run(_exercise(native.url, mode))
    assert results["echo"]["message"] == "hello"
    assert len(results["echo"]["payload"]) == 1024
    assert results["get_customer"]["id"] == 42
    assert results["search_documents"]["results"]
    assert results["send_notification"]["status"] == "queued"
    assert results["hash_chain"]["rounds"] == 3
    assert results["unknown_tool_code"] == -32602
    assert results["protocol_version"] == "2025-11-25"
