"""Two request rules both servers hold alike: an empty method name is an unknown method (-32601, not -32600), and
`initialize` needs the params the 2025-11-25 schema requires (protocolVersion, capabilities, clientInfo), else -32602.
"""

from __future__ import annotations

import pytest

from services import protocol
from tests.support import ServerProcess, post, rpc

INIT = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}


def test_request_with_an_empty_method_is_method_not_found(server: ServerProcess) -> None:
    reply = rpc(server.port, "", {}, id_=5)
    assert reply.status == 200
    assert (reply.json()["error"]["code"], reply.json()["id"]) == (protocol.METHOD_NOT_FOUND, 5)


def test_notification_with_an_empty_method_is_accepted(server: ServerProcess) -> None:
    assert post(server.port, {"jsonrpc": "2.0", "method": ""}).status == 202


@pytest.mark.parametrize("missing", sorted(INIT))
def test_initialize_without_a_required_param_is_invalid_params(server: ServerProcess, missing: str) -> None:
    params = {k: v for k, v in INIT.items() if k != missing}
    reply = rpc(server.port, "initialize", params)
    assert (reply.status, reply.json()["error"]["code"]) == (200, protocol.INVALID_PARAMS)


@pytest.mark.parametrize("wrong", ["capabilities", "clientInfo"])
def test_initialize_with_a_param_that_is_not_an_object_is_invalid_params(server: ServerProcess, wrong: str) -> None:
    reply = rpc(server.port, "initialize", {**INIT, wrong: "x"})
    assert reply.json()["error"]["code"] == protocol.INVALID_PARAMS


def test_initialize_with_every_required_param_is_answered(server: ServerProcess) -> None:
    assert reply_version(server) == "2025-11-25"


def reply_version(server: ServerProcess) -> str:
    result: str = rpc(server.port, "initialize", INIT).json()["result"]["protocolVersion"]
    return result
