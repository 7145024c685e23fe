"""A tool with a hand-written inputSchema (the conformance pack's json_schema_2020_12_tool: $ref, allOf/anyOf,
if/then/else) gets the same verdict on its arguments from both servers: the schema's, from the one validator
(services/tools/validate.py), not what the function's signature alone would allow."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import ServerProcess, rpc

TOOL = "json_schema_2020_12_tool"


def _call(server: ServerProcess, arguments: dict[str, Any]) -> dict[str, Any]:
    reply = rpc(server.port, "tools/call", {"name": TOOL, "arguments": arguments})
    assert reply.status == 200, reply.body
    result: dict[str, Any] = reply.json()["result"]
    return result


def test_arguments_the_schema_accepts_reach_the_tool(packed_server: ServerProcess) -> None:
    result = _call(packed_server, {"name": "Ada", "contactMethod": "phone", "phone": "555", "address": {"city": "X"}})
    assert not result.get("isError") and result["content"][0]["text"] == "Contact Ada by phone 555"


@pytest.mark.parametrize(
    "arguments",
    [
        {"name": "Ada"},  # allOf/anyOf: a phone or an email
        {"contactMethod": "phone", "email": "a@b"},  # if/then: phone required
        {"email": "a@b", "address": {"street": 5}},  # $ref: street is a string
        {"email": "a@b", "unknown": 1},  # additionalProperties: false
    ],
)
def test_arguments_the_schema_refuses_are_an_invalid_arguments_result(
    packed_server: ServerProcess, arguments: dict[str, Any]
) -> None:
    result = _call(packed_server, arguments)
    assert result.get("isError") is True
    assert result["content"][0]["text"].lower().startswith(f"invalid arguments for tool '{TOOL}'")
