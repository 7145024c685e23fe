"""Tasks kept in PostgreSQL (services/tasks.py, PostgresTaskStore; migration 0003): one worker creates and runs a
task, another reads it, answers its question and cancels it (two connection pools in process, as two workers have),
and two server processes on one database (the native server and the FastAPI baseline) serve each other's tasks
over HTTP. The session's test cluster
(tests/conftest.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest

from services.protocol import (
    HEADER_MISMATCH,
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    MISSING_CLIENT_CAPABILITY,
    STATELESS_VERSION,
)
from services.tasks import TASKS_EXTENSION, PostgresTaskStore, TaskError, TaskLimits, TaskService
from services.tools.context import InputRequest, Peer
from tests.support import ServerProcess, rpc, server_process

DECLARED = {"_meta": {"io.modelcontextprotocol/clientCapabilities": {"extensions": {TASKS_EXTENSION: {}}}}}
WAIT_S = 10.0


def params(task_id: str, **more: Any) -> dict[str, Any]:
    return {**DECLARED, "taskId": task_id, **more}


@asynccontextmanager
async def two_workers(database_url: str) -> AsyncIterator[tuple[TaskService, TaskService, Any]]:
    """Two services, each on its own pool (as two workers or instances), and a third pool for the test's own SQL."""
    pools = [await asyncpg.create_pool(database_url, min_size=1, max_size=2) for _ in range(3)]
    try:
        services = [
            TaskService(PostgresTaskStore(pool), TaskLimits(), answer_poll_s=0.02, cancel_poll_s=0.02)
            for pool in pools[:2]
        ]
        yield services[0], services[1], pools[2]
    finally:
        for pool in pools:
            await pool.close()


async def settled(tasks: TaskService, task_id: str, status: str) -> dict[str, Any]:
    async with asyncio.timeout(WAIT_S):
        while True:
            got = await tasks.get(params(task_id))
            if got["status"] == status:
                return got
            await asyncio.sleep(0.01)


def test_a_task_run_by_one_worker_is_read_and_answered_from_another(database_url: str) -> None:
    async def asks(peer: Peer) -> dict[str, Any]:
        question = InputRequest("elicitation/create", {"mode": "form", "message": "Name?", "requestedSchema": {}})
        answers = await peer.ask({"name": question})
        return {"content": [{"type": "text", "text": f"Hello, {answers['name']['content']['name']}!"}]}

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        async with two_workers(database_url) as (runner, other, _):
            task_id = (await runner.start(asks, {"elicitation": {}}))["taskId"]
            waiting = await settled(other, task_id, "input_required")
            (key,) = waiting["inputRequests"]
            answer = {"action": "accept", "content": {"name": "Ada"}}
            assert await other.update(params(task_id, inputResponses={key: answer})) == {"resultType": "complete"}
            return waiting, await settled(other, task_id, "completed")

    waiting, completed = asyncio.run(scenario())
    assert next(iter(waiting["inputRequests"].values()))["method"] == "elicitation/create"
    assert completed["result"] == {"content": [{"type": "text", "text": "Hello, Ada!"}]}
    assert completed["taskId"] == waiting["taskId"]


def test_a_cancel_received_by_another_worker_stops_the_running_tool(database_url: str) -> None:
    stopped = asyncio.Event()

    async def forever(peer: Peer) -> dict[str, Any]:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            stopped.set()
            raise
        raise AssertionError("unreachable")

    async def scenario() -> tuple[dict[str, Any], dict[str, Any], int]:
        async with two_workers(database_url) as (runner, other, _):
            task_id = (await runner.start(forever, {}))["taskId"]
            ack = await other.cancel(params(task_id))
            await asyncio.wait_for(stopped.wait(), WAIT_S)
            got = await runner.get(params(task_id))
            await asyncio.sleep(0)
            return ack, got, runner.running

    ack, got, running = asyncio.run(scenario())
    assert ack == {"resultType": "complete"}
    assert got["status"] == "cancelled" and running == 0


def test_a_late_finish_never_overwrites_a_cancellation(database_url: str) -> None:
    async def scenario() -> str | None:
        async with two_workers(database_url) as (runner, _, __):
            store = runner.store
            record = await store.create("late-finish-" + str(id(store)), None, TaskLimits(ttl_ms=60_000))
            assert record is not None
            assert await store.cancel(record.task_id, None) is True
            await store.finish(record.task_id, "completed", result={"content": []})
            assert await store.cancel(record.task_id, None) is False
            after = await store.get(record.task_id, None)
            return None if after is None else after.status

    assert asyncio.run(scenario()) == "cancelled"


def test_an_expired_row_is_answered_as_unknown_and_deleted_at_the_next_creation(database_url: str) -> None:
    async def scenario() -> tuple[int, int]:
        async with two_workers(database_url) as (runner, other, sql):
            task_id = (await runner.start(_done, {}))["taskId"]
            await settled(other, task_id, "completed")
            await sql.execute(
                "UPDATE mcp_tasks SET expires_at = now() - interval '1 second' WHERE task_id = $1", task_id
            )
            with pytest.raises(TaskError) as caught:
                await other.get(params(task_id))
            await runner.start(_done, {})
            left = await sql.fetchval("SELECT count(*) FROM mcp_tasks WHERE task_id = $1", task_id)
            return caught.value.code, left

    assert asyncio.run(scenario()) == (INVALID_PARAMS, 0)


@pytest.mark.parametrize("task_id", ["' OR '1'='1", "x'); DROP TABLE mcp_tasks; --", "%", "\\", "*"])
def test_hostile_task_ids_match_no_row(database_url: str, task_id: str) -> None:
    async def scenario() -> list[int]:
        async with two_workers(database_url) as (runner, _, sql):
            await runner.start(_done, {})
            codes = []
            for method in ("tasks/get", "tasks/update", "tasks/cancel"):
                with pytest.raises(TaskError) as caught:
                    await runner.handler(method)(params(task_id, inputResponses={task_id: {}}), None)
                codes.append(caught.value.code)
            assert await sql.fetchval("SELECT count(*) FROM mcp_tasks") > 0  # the table is still there
            return codes

    assert asyncio.run(scenario()) == [INVALID_PARAMS] * 3


async def _done(peer: Peer) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": "done"}]}


# -- two server processes on one database ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_servers(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[ServerProcess]]:
    env = {"MCP_TOOL_PACKS": "reference,conformance"}
    root: Path = tmp_path_factory.mktemp("tasks-two-servers")
    with (
        server_process("native", root, database_url=database_url, env=env) as first,
        server_process("fastapi", root, database_url=database_url, env=env) as second,
    ):
        yield [first, second]


def call(
    server: ServerProcess, method: str, body: dict[str, Any], name: str | None = None, *, declared: bool = True
) -> dict[str, Any]:
    """A 2026-07-28 request; the answer with its HTTP status under "status"."""
    capabilities: dict[str, Any] = {"elicitation": {}, "extensions": {TASKS_EXTENSION: {}}} if declared else {}
    meta = {
        "io.modelcontextprotocol/protocolVersion": STATELESS_VERSION,
        "io.modelcontextprotocol/clientCapabilities": capabilities,
    }
    headers = {"MCP-Protocol-Version": STATELESS_VERSION, "Mcp-Method": method}
    if name is not None:
        headers["Mcp-Name"] = name
    reply = rpc(server.port, method, {**body, "_meta": meta}, headers=headers)
    message: dict[str, Any] = orjson.loads(reply.body)
    return {**message, "status": reply.status}


@pytest.mark.parametrize("kind", [0, 1], ids=["native", "fastapi"])
def test_task_refusals_carry_their_code_and_http_400(two_servers: list[ServerProcess], kind: int) -> None:
    server = two_servers[kind]
    unknown = call(server, "tasks/get", {"taskId": "no-such-task"}, "no-such-task")
    undeclared = call(server, "tasks/cancel", {"taskId": "no-such-task"}, "no-such-task", declared=False)
    mismatched = call(server, "tasks/get", {"taskId": "no-such-task"}, "another-task")
    required = call(server, "tools/call", {"name": "failing_job", "arguments": {}}, "failing_job", declared=False)
    removed = call(server, "tasks/list", {})
    assert (unknown["status"], unknown["error"]["code"]) == (400, INVALID_PARAMS)
    assert (undeclared["status"], undeclared["error"]["code"]) == (400, MISSING_CLIENT_CAPABILITY)
    assert (mismatched["status"], mismatched["error"]["code"]) == (400, HEADER_MISMATCH)
    assert (required["status"], required["error"]["code"]) == (400, MISSING_CLIENT_CAPABILITY)
    assert required["error"]["data"] == {"requiredCapabilities": {"extensions": {TASKS_EXTENSION: {}}}}
    assert (removed["status"], removed["error"]["code"]) == (404, METHOD_NOT_FOUND)


def test_a_task_created_on_one_server_is_answered_and_read_on_another(two_servers: list[ServerProcess]) -> None:
    first, second = two_servers
    created = call(
        first, "tools/call", {"name": "confirm_delete", "arguments": {"filename": "a.txt"}}, "confirm_delete"
    )
    task_id = created["result"]["taskId"]
    assert created["result"]["resultType"] == "task"
    waiting = _poll(second, task_id, "input_required")
    (key,) = waiting["inputRequests"]
    answer = {"action": "accept", "content": {"confirm": True}}
    ack = call(second, "tasks/update", {"taskId": task_id, "inputResponses": {key: answer}}, task_id)
    assert ack["result"] == {"resultType": "complete"}
    completed = _poll(first, task_id, "completed")
    assert completed["result"]["content"][0]["text"] == "Deleted a.txt."


def test_a_task_cancelled_on_another_server_settles_cancelled(two_servers: list[ServerProcess]) -> None:
    second, first = two_servers  # this time the baseline runs the task
    body = {"name": "slow_compute", "arguments": {"seconds": 60, "label": "x"}}
    task_id = call(first, "tools/call", body, "slow_compute")["result"]["taskId"]
    assert _poll(second, task_id, "working")["taskId"] == task_id
    assert call(second, "tasks/cancel", {"taskId": task_id}, task_id)["result"] == {"resultType": "complete"}
    assert _poll(first, task_id, "cancelled")["status"] == "cancelled"


def _poll(server: ServerProcess, task_id: str, status: str) -> dict[str, Any]:
    """tasks/get until the task has `status`, at the pace a client would poll (bounded by WAIT_S)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        got: dict[str, Any] = call(server, "tasks/get", {"taskId": task_id}, task_id)["result"]
        if got["status"] == status or time.monotonic() > deadline:
            assert got["status"] == status, f"task {task_id} never reached {status}: {got}"
            return got
        time.sleep(0.02)


def test_answers_arrive_one_key_at_a_time_and_unknown_keys_are_ignored(database_url: str) -> None:
    async def scenario() -> list[Any]:
        async with two_workers(database_url) as (runner, other, _):
            record = await runner.store.create("two-questions-" + str(id(runner)), None, TaskLimits(ttl_ms=60_000))
            assert record is not None
            task_id = record.task_id
            question = {"method": "elicitation/create", "params": {"message": "?"}}
            await runner.store.ask(task_id, {"a-1": question, "b-2": question})
            await other.store.respond(task_id, {"a-1": {"v": 1}, "never-asked": {"v": 9}}, None)
            partial = await other.store.get(task_id, None)
            taken = await runner.store.take(task_id, ["a-1", "b-2"])
            await other.store.respond(task_id, {"a-1": {"v": 7}, "b-2": {"v": 2}}, None)  # a-1 is answered already
            both = await other.store.get(task_id, None)
            rest = await runner.store.take(task_id, ["b-2"])
            assert partial is not None and both is not None
            return [partial.status, sorted(partial.input_requests), taken, both.status, both.input_requests, rest]

    assert asyncio.run(scenario()) == [
        "input_required",
        ["b-2"],
        {"a-1": {"v": 1}},
        "working",
        {},
        {"b-2": {"v": 2}},
    ]
