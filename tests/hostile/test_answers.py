"""Client responses posted to a stateful server as if they answered a server-to-client request: an answer no request
of the session awaits (never sent, answered already, or another session's) is refused, 400 with -32600, by both
servers on both session stores, as docs/protocol.md says; the session goes on."""

from __future__ import annotations

from typing import Any

import pytest

from services.protocol import INVALID_REQUEST
from tests.hostile.client import Client, error_of
from tests.support import ServerProcess


@pytest.mark.parametrize(
    "answer",
    [
        {"jsonrpc": "2.0", "id": 12345, "result": {}},
        {"jsonrpc": "2.0", "id": "never-sent", "result": {"content": []}},
        {"jsonrpc": "2.0", "id": "s-0", "error": {"code": -1, "message": "no"}},
    ],
    ids=["integer-id", "string-id", "error"],
)
def test_an_answer_to_a_request_that_was_never_sent_is_refused_with_400(
    stateful: ServerProcess, answer: dict[str, Any]
) -> None:
    client = Client(stateful.port)
    client.initialize({"sampling": {}})
    refused = client.send(answer)
    assert refused.status == 400
    assert error_of(refused)[0] == INVALID_REQUEST
    assert client.request("ping").json()["result"] == {}
