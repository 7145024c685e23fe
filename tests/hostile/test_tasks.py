"""Hostile task requests against both servers (the tasks extension, 2026-07-28 era, tasks in the worker's memory):
an answer to a task's question is held to the rule a multi-round-trip request's answers meet, and a start that
would keep task records apart on several workers is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from services.protocol import INVALID_PARAMS, STATELESS_VERSION
from services.tasks import TASKS_EXTENSION
from tests.hostile.conftest import KINDS, PACKS, STATELESS, StatefulServers
from tests.hostile.test_cli import USAGE, assert_refused
from tests.support import REPO, ServerProcess, rpc

WAIT_S = 10.0


def call(server: ServerProcess, method: str, body: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    """A 2026-07-28 request from a client that declares elicitation and tasks; the answer with its HTTP status."""
    meta = {
        "io.modelcontextprotocol/protocolVersion": STATELESS_VERSION,
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}, "extensions": {TASKS_EXTENSION: {}}},
    }
    headers = {"MCP-Protocol-Version": STATELESS_VERSION, "Mcp-Method": method}
    if name is not None:
        headers["Mcp-Name"] = name
    reply = rpc(server.port, method, {**body, "_meta": meta}, headers=headers)
    message: dict[str, Any] = orjson.loads(reply.body)
    return {**message, "status": reply.status}


def poll(server: ServerProcess, task_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_S
    while True:
        got: dict[str, Any] = call(server, "tasks/get", {"taskId": task_id}, task_id)["result"]
        if got["status"] == status or time.monotonic() > deadline:
            assert got["status"] == status, f"task {task_id} never reached {status}: {got}"
            return got
        time.sleep(0.02)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("answer", "says"),
    [
        ({"action": "accept", "content": {"confirm": 5}}, "must be of type boolean"),
        (5, "must be a elicitation/create result object, not int"),
        ({"action": "maybe"}, "needs action 'accept', 'decline' or 'cancel'"),
        ({"action": "accept", "content": {}}, "lacks the required field 'confirm'"),
    ],
    ids=["wrong-type-field", "not-an-object", "unknown-action", "missing-required"],
)
def test_a_task_answer_that_does_not_fit_its_question_is_refused_and_the_task_still_waits(
    stateful_servers: StatefulServers, kind: str, answer: Any, says: str
) -> None:
    server = stateful_servers.get(kind, STATELESS)
    body = {"name": "confirm_delete", "arguments": {"filename": "a.txt"}}
    task_id = call(server, "tools/call", body, "confirm_delete")["result"]["taskId"]
    (key,) = poll(server, task_id, "input_required")["inputRequests"]
    refused = call(server, "tasks/update", {"taskId": task_id, "inputResponses": {key: answer}}, task_id)
    assert (refused["status"], refused["error"]["code"]) == (400, INVALID_PARAMS)
    message = refused["error"]["message"]
    assert message.startswith(f"inputResponses[{key!r}]") and says in message, message
    assert poll(server, task_id, "input_required")["inputRequests"].keys() == {key}
    good = {"action": "accept", "content": {"confirm": True}}
    ack = call(server, "tasks/update", {"taskId": task_id, "inputResponses": {key: good}}, task_id)
    assert ack["result"] == {"resultType": "complete"}
    assert poll(server, task_id, "completed")["result"]["content"][0]["text"] == "Deleted a.txt."


@pytest.mark.parametrize("kind", KINDS)
def test_tools_that_support_tasks_on_several_workers_without_a_database_are_refused_at_start(
    kind: str, tmp_path: Path
) -> None:
    """Else tasks/get reaches another worker half the time and answers that the task does not exist."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_") and k != "DATABASE_URL"}
    env.update(PACKS, MCPSTACK_STATE_DIR=str(tmp_path))
    command = [sys.executable, "-m", "scripts.cli", "serve", kind, "--port", "0", "--workers", "2"]
    # Its own process group: a server that starts after all (the bug) is stopped whole, workers included.
    proc = subprocess.Popen(
        command, cwd=REPO, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    result = subprocess.CompletedProcess(command, proc.returncode, out, err)
    assert_refused(result, code=USAGE, says="tools that support tasks with 2 workers need DATABASE_URL")
    assert any("need DATABASE_URL" in line for line in result.stderr.splitlines()), result.stderr  # on one line
