"""A tool's question to a client that did not declare the capability it needs, on both servers and both session
stores: one rule decides in every era (services/round_trips.py, `check_askable`), so the handshake era's stateful
refusal says what the 2026-07-28 era's does, each in its era's form (an `isError` result there, -32021 here)."""

from __future__ import annotations

from typing import Any

from services.protocol import META_CLIENT_CAPABILITIES, META_PROTOCOL_VERSION, MISSING_CLIENT_CAPABILITY
from tests.hostile.client import Client
from tests.support import ServerProcess

NEW_ERA = "2026-07-28"


def _new_era_call(client: Client, tool: str, arguments: dict[str, Any]) -> Any:
    meta = {META_PROTOCOL_VERSION: NEW_ERA, META_CLIENT_CAPABILITIES: {}}
    body = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments, "_meta": meta},
    }
    headers: dict[str, str | None] = {
        "MCP-Protocol-Version": NEW_ERA,
        "Mcp-Method": "tools/call",
        "Mcp-Name": tool,
        "Mcp-Session-Id": None,
    }
    return client.send(body, headers=headers)


def test_a_question_without_its_capability_is_refused_with_the_same_words_in_both_eras(
    stateful: ServerProcess,
) -> None:
    client = Client(stateful.port)
    try:
        client.initialize(capabilities={})  # declares neither sampling nor elicitation
        for tool, arguments, capability in (
            ("test_sampling", {"prompt": "p"}, "sampling"),
            ("test_elicitation", {"message": "m"}, "elicitation"),
        ):
            handshake = client.request("tools/call", {"name": tool, "arguments": arguments})
            assert handshake.status == 200
            result = handshake.json()["result"]
            assert result["isError"] is True
            text = result["content"][0]["text"]

            refused = _new_era_call(client, tool, arguments)
            assert refused.status == 400
            error = refused.json()["error"]
            assert error["code"] == MISSING_CLIENT_CAPABILITY
            assert error["data"] == {"requiredCapabilities": {capability: {}}}
            # the same rule's words; only where the client declares its capabilities differs between the eras
            common = f"This tool needs the client's {capability!r} capability ("
            assert text.startswith(common) and error["message"].startswith(common), (text, error["message"])
            assert text.split(", which ")[0] == error["message"].split(", which ")[0]
            assert text.endswith("which this session's initialize does not declare")
        assert client.request("ping").json()["result"] == {}
    finally:
        client.close()
