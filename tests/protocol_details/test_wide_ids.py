"""JSON-RPC allows any number as an id: an integer id beyond 64 bits is echoed exactly by both servers, in both eras,
on every kind of answer (a result, a tool result, an error); a fractional id stays an invalid request (-32600, id
null) on both. Responses are read with the standard library, whose integers are exact."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.protocol import (
    INVALID_REQUEST,
    META_CLIENT_CAPABILITIES,
    META_PROTOCOL_VERSION,
    METHOD_NOT_FOUND,
    STATELESS_VERSION,
)
from tests.support import ServerProcess, post

WIDE = [99999999999999999999, -99999999999999999999, 2**64, -(2**63) - 1]
_STATELESS_HEADERS = {"MCP-Protocol-Version": STATELESS_VERSION}
_META = {META_PROTOCOL_VERSION: STATELESS_VERSION, META_CLIENT_CAPABILITIES: {}}


def _post(server: ServerProcess, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    reply = post(server.port, body, headers=headers)
    return reply.status, json.loads(reply.body)


def _body(id_: int | float, method: str, params: dict[str, Any] | None = None) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": id_, "method": method}
    if params is not None:
        message["params"] = params
    return json.dumps(message).encode()


@pytest.mark.parametrize("id_", WIDE)
def test_a_wide_integer_id_is_echoed_exactly_in_the_handshake_era(packed_server: ServerProcess, id_: int) -> None:
    status, answer = _post(packed_server, _body(id_, "ping"))
    assert (status, answer) == (200, {"jsonrpc": "2.0", "id": id_, "result": {}})
    status, answer = _post(packed_server, _body(id_, "tools/call", {"name": "echo", "arguments": {"message": "m"}}))
    assert status == 200 and answer["id"] == id_ and answer["result"]["structuredContent"]["message"] == "m"
    status, answer = _post(packed_server, _body(id_, "no/such/method"))
    assert status == 200 and answer["id"] == id_ and answer["error"]["code"] == METHOD_NOT_FOUND


@pytest.mark.parametrize("id_", WIDE[:2])
def test_a_wide_integer_id_is_echoed_exactly_in_the_2026_07_28_era(packed_server: ServerProcess, id_: int) -> None:
    params = {"name": "echo", "arguments": {"message": "m"}, "_meta": _META}
    headers = {**_STATELESS_HEADERS, "Mcp-Method": "tools/call", "Mcp-Name": "echo"}
    status, answer = _post(packed_server, _body(id_, "tools/call", params), headers)
    assert status == 200 and answer["id"] == id_ and answer["result"]["resultType"] == "complete"
    status, answer = _post(packed_server, _body(id_, "tools/call", params), {**headers, "Mcp-Name": "other"})
    assert status == 400 and answer["id"] == id_


def test_the_exact_digits_come_back(packed_server: ServerProcess) -> None:
    reply = post(packed_server.port, b'{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"ping"}')
    assert b'"id":123456789012345678901234567890' in reply.body.replace(b" ", b"")


@pytest.mark.parametrize("id_", [1.5, 1e20])
def test_a_fractional_id_is_an_invalid_request(packed_server: ServerProcess, id_: float) -> None:
    status, answer = _post(packed_server, _body(id_, "ping"))
    assert status == 400 and answer["id"] is None and answer["error"]["code"] == INVALID_REQUEST
