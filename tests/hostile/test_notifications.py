"""Wrong types where a request id or a log level belongs, on both servers in every mode: `notifications/cancelled`
naming a request by a list or an object, `logging/setLevel` with a list or an object for its level. Each gets the
answer its kind of message gets (202 for a notification, -32602 for the request), never a 500, and the server serves
the next request."""

from __future__ import annotations

from typing import Any

import pytest

from services.protocol import INVALID_PARAMS
from tests.hostile.client import Client, error_of
from tests.hostile.conftest import STATELESS
from tests.support import ServerProcess


def connect(server: ServerProcess, mode: str) -> Client:
    client = Client(server.port)
    if mode != STATELESS:
        client.initialize()
    return client


@pytest.mark.parametrize("request_id", [[], {}, [1], {"id": 1}, 1.5, None, True])
def test_a_cancellation_naming_a_request_by_no_id_is_accepted_and_ignored(
    any_mode: tuple[ServerProcess, str], request_id: Any
) -> None:
    client = connect(*any_mode)
    cancelled = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": request_id}}
    assert client.send(cancelled).status == 202
    assert client.request("ping").json()["result"] == {}


@pytest.mark.parametrize("level", [[], {}, ["debug"], {"debug": 1}, 5, None])
def test_set_level_with_a_level_that_is_no_level_name_is_invalid_params(
    any_mode: tuple[ServerProcess, str], level: Any
) -> None:
    client = connect(*any_mode)
    answer = client.request("logging/setLevel", {"level": level})
    assert answer.status == 200
    code, message = error_of(answer)
    assert code == INVALID_PARAMS and message.startswith("logging/setLevel: level must be one of")
    assert client.request("ping").json()["result"] == {}
