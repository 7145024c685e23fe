"""2026-07-28 tools/call of a tool declaring `x-mcp-header` parameters: the `Mcp-Param-{Name}` headers must repeat the
arguments (Streamable HTTP, "Custom Headers from Tool Parameters",
https://modelcontextprotocol.io/specification/2026-07-28/basic/transports/streamable-http); any failure is HTTP 400 with
-32020 (HeaderMismatch), on both servers, from the one rule in services/protocol.py."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from services.protocol import (
    HEADER_MISMATCH,
    META_CLIENT_CAPABILITIES,
    META_PROTOCOL_VERSION,
    STATELESS_VERSION,
    check_param_headers,
    param_headers,
)
from services.tools.conformance import HEADER_PARAMS_INPUT
from tests.support import HttpReply, ServerProcess, post

TOOL = "test_header_params"


def _call(
    server: ServerProcess, arguments: dict[str, Any], headers: dict[str, str], *, era: str = "stateless"
) -> HttpReply:
    params: dict[str, Any] = {"name": TOOL, "arguments": arguments}
    sent = dict(headers)
    if era == "stateless":
        params["_meta"] = {META_PROTOCOL_VERSION: STATELESS_VERSION, META_CLIENT_CAPABILITIES: {}}
        sent = {"MCP-Protocol-Version": STATELESS_VERSION, "Mcp-Method": "tools/call", "Mcp-Name": TOOL, **headers}
    return post(server.port, {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": params}, headers=sent)


def _b64(text: str) -> str:
    return "=?base64?" + base64.b64encode(text.encode()).decode() + "?="


def _text(reply: HttpReply) -> str:
    assert reply.status == 200, reply.body
    result = reply.json()["result"]
    assert not result.get("isError"), result
    return str(result["content"][0]["text"])


@pytest.mark.parametrize(
    ("arguments", "headers"),
    [
        ({"region": "eu-west-1"}, {"Mcp-Param-Region": "eu-west-1"}),
        ({"region": "eu-west-1"}, {"MCP-PARAM-REGION": "  eu-west-1 "}),  # names case-insensitive, OWS dropped
        ({"region": "Zürich"}, {"Mcp-Param-Region": _b64("Zürich")}),
        ({"region": "SGVsbG8="}, {"Mcp-Param-Region": "SGVsbG8="}),  # no wrapper: a literal
        ({"region": "r", "priority": 42}, {"Mcp-Param-Region": "r", "Mcp-Param-Priority": "42.0"}),  # as numbers
        ({"region": "r", "dry_run": False}, {"Mcp-Param-Region": "r", "Mcp-Param-Dry-Run": "false"}),
        ({"region": "r", "query": "not mirrored"}, {"Mcp-Param-Region": "r"}),
    ],
)
def test_headers_that_repeat_the_arguments_are_accepted(
    packed_server: ServerProcess, arguments: dict[str, Any], headers: dict[str, str]
) -> None:
    assert _text(_call(packed_server, arguments, headers)).startswith(f"region={arguments['region']} ")


@pytest.mark.parametrize(
    ("arguments", "headers"),
    [
        ({"region": "eu"}, {}),  # the argument is in the body, its header is missing
        ({"region": "eu"}, {"Mcp-Param-Region": "us"}),
        ({"region": "eu"}, {"Mcp-Param-Region": "EU"}),  # values are case-sensitive
        ({"region": "Hello"}, {"Mcp-Param-Region": "=?base64?SGVsbG8?="}),  # bad padding
        ({"region": "Hello"}, {"Mcp-Param-Region": "=?base64?SGVs!!!bG8=?="}),  # not the Base64 alphabet
        ({"region": "r", "priority": 42}, {"Mcp-Param-Region": "r", "Mcp-Param-Priority": "41"}),
        ({"region": "r", "priority": 42}, {"Mcp-Param-Region": "r", "Mcp-Param-Priority": "forty-two"}),
        ({"region": "r", "dry_run": True}, {"Mcp-Param-Region": "r", "Mcp-Param-Dry-Run": "True"}),
        ({"region": "r"}, {"Mcp-Param-Region": "r", "Mcp-Param-Priority": "1"}),  # a header without its argument
    ],
)
def test_headers_that_do_not_repeat_the_arguments_are_refused_with_400_and_header_mismatch(
    packed_server: ServerProcess, arguments: dict[str, Any], headers: dict[str, str]
) -> None:
    reply = _call(packed_server, arguments, headers)
    assert reply.status == 400, reply.body
    assert reply.json()["id"] == 5 and reply.json()["error"]["code"] == HEADER_MISMATCH


def test_the_handshake_era_has_no_param_headers_to_check(packed_server: ServerProcess) -> None:
    assert _text(_call(packed_server, {"region": "eu"}, {}, era="handshake")).startswith("region=eu ")


def test_a_null_argument_expects_no_header_and_an_absent_one_neither() -> None:
    specs = param_headers(HEADER_PARAMS_INPUT)
    headers = {"mcp-param-region": "r"}
    assert check_param_headers(specs, {"region": "r", "priority": None}, headers.get) is None
    assert check_param_headers(specs, {"region": "r"}, headers.get) is None
    refused = check_param_headers(specs, {"region": "r", "dry_run": None}, {**headers, "mcp-param-dry-run": "x"}.get)
    assert refused is not None and refused.code == HEADER_MISMATCH
