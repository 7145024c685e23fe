"""`notifications/cancelled` reaches a call running on another worker when a database is configured
(services/cancellation.py): two server processes on the session's PostgreSQL, the call on one, the notification to
the other (as a load balancer or SO_REUSEPORT may split them), native to FastAPI and back; a notification from another
caller (another Authorization header) cancels nothing. The key is a digest that names caller and id alike on both
servers."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from services.cancellation import cancel_key
from tests.support import ServerProcess, post, rpc, server_process

REQUEST_CANCELLED = -32800
WAIT_S = 15.0


@pytest.fixture(scope="module")
def servers(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ServerProcess]]:
    root: Path = tmp_path_factory.mktemp("cancel-relay")
    env = {"MCP_TOOL_PACKS": "reference,conformance"}
    with (
        server_process("native", root, database_url=database_url, env=env) as native,
        server_process("fastapi", root, database_url=database_url, env=env) as fastapi,
    ):
        yield {"native": native, "fastapi": fastapi}


def _call_in_background(server: ServerProcess, id_: str, seconds: float, caller: str) -> tuple[threading.Thread, Any]:
    answer: dict[str, Any] = {}

    def run() -> None:
        params = {"name": "slow_compute", "arguments": {"seconds": seconds, "label": "relay"}}
        reply = rpc(server.port, "tools/call", params, id_=id_, headers={"Authorization": caller})
        answer.update(orjson.loads(reply.body))

    thread = threading.Thread(target=run)
    thread.start()
    return thread, answer


def _cancel_until_done(server: ServerProcess, id_: str, caller: str, thread: threading.Thread) -> int:
    """Send the notification every 0.2 s until the call has answered (it is advisory: one sent before the call is
    registered on its worker is lost); returns how many were sent."""
    sent = 0
    deadline = time.monotonic() + WAIT_S
    while thread.is_alive() and time.monotonic() < deadline:
        notification = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": id_}}
        assert post(server.port, notification, headers={"Authorization": caller}).status == 202
        sent += 1
        thread.join(0.2)
    return sent


@pytest.mark.parametrize(("runs_on", "told"), [("native", "fastapi"), ("fastapi", "native")])
def test_a_cancellation_sent_to_another_server_stops_the_call(
    servers: dict[str, ServerProcess], runs_on: str, told: str
) -> None:
    id_, caller = f"relay-{uuid.uuid4()}", f"Bearer caller-{uuid.uuid4()}"
    started = time.monotonic()
    thread, answer = _call_in_background(servers[runs_on], id_, 8.0, caller)
    _cancel_until_done(servers[told], id_, caller, thread)
    thread.join(WAIT_S)
    assert answer["id"] == id_
    assert answer["error"]["code"] == REQUEST_CANCELLED, answer
    assert time.monotonic() - started < 6.0  # well before the tool's 8 s


def test_another_caller_s_cancellation_leaves_the_call_alone(servers: dict[str, ServerProcess]) -> None:
    id_ = f"relay-{uuid.uuid4()}"
    thread, answer = _call_in_background(servers["native"], id_, 1.5, "Bearer owner")
    assert _cancel_until_done(servers["fastapi"], id_, "Bearer somebody-else", thread) > 1
    thread.join(WAIT_S)
    assert "error" not in answer and not answer["result"].get("isError"), answer


def test_the_key_names_caller_and_id_the_same_way_on_both_servers() -> None:
    assert cancel_key(b"Bearer t", 7) == cancel_key("Bearer t", 7)  # the native server reads bytes, FastAPI text
    assert cancel_key(None, 7) != cancel_key("", 7)  # no header is not an empty one
    assert cancel_key("Bearer t", 7) != cancel_key("Bearer t", "7")  # an integer id is not its string
    assert cancel_key("Bearer t", 7) != cancel_key("Bearer u", 7)
    assert "Bearer" not in cancel_key("Bearer t", 7)  # a digest: no token travels through the database
