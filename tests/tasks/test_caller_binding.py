"""With authentication on, a task and a requestState belong to the token subject that got them: another subject's
tasks/get, tasks/update and tasks/cancel are answered exactly as for an unknown task id, and another subject's retry
with a requestState is refused exactly as an altered state is. In process on both stores (memory and the session's
PostgreSQL), the migration that adds the owner on an existing database, and both servers on one database with bearer
tokens (tests/auth/tokens.py), over raw HTTP and through the official Python client."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import mcp_types as types
import orjson
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

from services.protocol import INVALID_PARAMS, SERVER_OVERLOADED, STATELESS_VERSION
from services.request_state import new_key
from services.tasks import (
    TASKS_EXTENSION,
    MemoryTaskStore,
    PostgresTaskStore,
    TaskError,
    TaskLimits,
    TaskService,
    owner_of,
)
from services.tools import schema
from services.tools.context import Peer
from tests.auth.tokens import ISSUER, Issuer
from tests.support import ServerProcess, rpc, server_process

DECLARED = {"_meta": {"io.modelcontextprotocol/clientCapabilities": {"extensions": {TASKS_EXTENSION: {}}}}}
RESOURCE = "https://mcp.example.test/mcp"
MULTI_ROUND = "test_input_required_result_multi_round"


def params(task_id: str, **more: Any) -> dict[str, Any]:
    return {**DECLARED, "taskId": task_id, **more}


async def _forever(peer: Peer) -> dict[str, Any]:
    await asyncio.sleep(3600)
    raise AssertionError("cancelled long before")


async def _answers(tasks: TaskService, task_id: str, caller: str | None) -> list[tuple[int, str]]:
    """What tasks/get, tasks/update and tasks/cancel answer `caller` for `task_id`: (code, message), or (0, status)."""
    answers = []
    for method in ("tasks/get", "tasks/update", "tasks/cancel"):
        try:
            result = await tasks.handler(method)(params(task_id, inputResponses={"k": {}}), caller)
            answers.append((0, str(result.get("status", result["resultType"]))))
        except TaskError as ex:
            answers.append((ex.code, ex.message))
    return answers


@asynccontextmanager
async def _service(kind: str, database_url: str) -> AsyncIterator[TaskService]:
    if kind == "memory":
        yield TaskService(MemoryTaskStore())
        return
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        yield TaskService(PostgresTaskStore(pool), cancel_poll_s=0.02)
    finally:
        await pool.close()


@pytest.mark.parametrize("kind", ["memory", "postgres"])
def test_another_subject_s_task_is_answered_as_an_unknown_one(kind: str, database_url: str) -> None:
    async def scenario() -> tuple[list[Any], list[Any], list[Any], list[Any], str]:
        async with _service(kind, database_url) as tasks:
            task_id = (await tasks.start(_forever, {}, "alice"))["taskId"]
            await asyncio.sleep(0)  # the tool starts running
            unknown = await _answers(tasks, "no-such-task-" + uuid.uuid4().hex, "bob")
            bob = await _answers(tasks, task_id, "bob")
            anonymous = await _answers(tasks, task_id, None)  # the same server with authentication off
            alice = await _answers(tasks, task_id, "alice")  # get, update (nothing asked), cancel: all hers
            after = await tasks.get(params(task_id), "alice")
            return unknown, bob, anonymous, alice, after["status"]

    unknown, bob, anonymous, alice, status = asyncio.run(scenario())
    assert [code for code, _ in unknown] == [INVALID_PARAMS] * 3
    assert bob == unknown and anonymous == unknown  # same code, same text: nothing tells "exists" from "unknown"
    assert alice == [(0, "working"), (0, "complete"), (0, "complete")]
    assert status == "cancelled"  # by alice: bob's cancel before hers changed nothing


def test_a_task_created_without_authentication_is_unknown_to_every_subject() -> None:
    async def scenario() -> tuple[int, str]:
        tasks = TaskService(MemoryTaskStore())
        task_id = (await tasks.start(_forever, {}))["taskId"]
        await asyncio.sleep(0)  # the tool starts running
        try:
            await tasks.get(params(task_id), "alice")
        except TaskError as ex:
            got = await tasks.get(params(task_id))
            await tasks.cancel(params(task_id))
            return ex.code, str(got["status"])
        raise AssertionError("alice read a task created without authentication")

    assert asyncio.run(scenario()) == (INVALID_PARAMS, "working")


def test_the_owner_is_a_digest_not_the_subject() -> None:
    owner = owner_of("alice@example.test")
    assert owner is not None and "alice" not in owner and len(owner) == 43  # base64url of 32 bytes
    assert owner_of("alice@example.test") == owner != owner_of("bob@example.test")
    assert owner_of(None) is None


def test_an_existing_database_migrates_and_keeps_its_tasks(database_url: str) -> None:
    """A database at migration 0003 with a task in it: `migrate` applies 0004 alone, the task keeps its row and is
    answered without authentication (owner NULL), and tasks stored afterwards record their owner."""
    name = "migrate_owner_" + uuid.uuid4().hex[:12]

    async def scenario() -> tuple[list[int], str | None, str | None, str | None]:
        admin = await asyncpg.connect(database_url)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        url = database_url.rsplit("/", 1)[0] + "/" + name
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(
                "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
                "applied_at timestamptz NOT NULL DEFAULT now())"
            )
            for migration in schema.migrations()[:3]:
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", migration.version, migration.name
                )
            await conn.execute(
                "INSERT INTO mcp_tasks (task_id, status, created_at, updated_at, expires_at, ttl_ms) "
                "VALUES ('before-0004', 'working', now(), now(), now() + interval '1 hour', 3600000)"
            )
            applied = [m.version for m in await schema.migrate(conn)]
            store = PostgresTaskStore(conn)
            old = await store.get("before-0004", None)
            foreign = await store.get("before-0004", owner_of("alice"))
            created = await store.create("after-0004", owner_of("alice"), TaskLimits(ttl_ms=60_000))
            assert created is not None
            return applied, None if old is None else old.status, None if foreign is None else "seen", created.owner
        finally:
            await conn.close()
            admin = await asyncpg.connect(database_url)
            await admin.execute(f'DROP DATABASE "{name}"')
            await admin.close()

    applied, old, foreign, owner = asyncio.run(scenario())
    assert applied == [4, 5]
    assert old == "working" and foreign is None
    assert owner == owner_of("alice")


# -- both servers on one database, authentication on -----------------------------------------------------------------


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture(scope="module")
def servers(
    database_url: str, issuer: Issuer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServerProcess]]:
    root: Path = tmp_path_factory.mktemp("caller-binding")
    env = {
        "MCP_TOOL_PACKS": "reference,conformance",
        "MCP_REQUEST_STATE_KEYS": new_key(),
        "MCP_AUTH_ISSUER": ISSUER,
        "MCP_AUTH_RESOURCE_URL": RESOURCE,
        "MCP_AUTH_JWKS_FILE": str(issuer.write_jwks(root / "jwks.json")),
    }
    with (
        server_process("native", root, database_url=database_url, env=env) as native,
        server_process("fastapi", root, database_url=database_url, env=env) as fastapi,
    ):
        yield {"native": native, "fastapi": fastapi}


def call(server: ServerProcess, token: str, method: str, body: dict[str, Any], name: str | None) -> dict[str, Any]:
    """A 2026-07-28 request with a bearer token: the answer, its HTTP status under "status", its id dropped."""
    meta = {
        "io.modelcontextprotocol/protocolVersion": STATELESS_VERSION,
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}, "extensions": {TASKS_EXTENSION: {}}},
    }
    headers = {"MCP-Protocol-Version": STATELESS_VERSION, "Mcp-Method": method, "Authorization": f"Bearer {token}"}
    if name is not None:
        headers["Mcp-Name"] = name
    reply = rpc(server.port, method, {**body, "_meta": meta}, headers=headers)
    message: dict[str, Any] = orjson.loads(reply.body)
    message.pop("id", None)
    return {**message, "status": reply.status}


def _task_requests(server: ServerProcess, token: str, task_id: str) -> list[dict[str, Any]]:
    return [
        call(server, token, "tasks/get", {"taskId": task_id}, task_id),
        call(server, token, "tasks/update", {"taskId": task_id, "inputResponses": {"k": {}}}, task_id),
        call(server, token, "tasks/cancel", {"taskId": task_id}, task_id),
    ]


@pytest.mark.parametrize(("creator", "other"), [("native", "fastapi"), ("fastapi", "native")])
def test_another_subject_gets_the_unknown_task_answer_from_either_server(
    servers: dict[str, ServerProcess], issuer: Issuer, creator: str, other: str
) -> None:
    alice = issuer.token(RESOURCE, subject=f"alice-{uuid.uuid4()}")
    bob = issuer.token(RESOURCE, subject=f"bob-{uuid.uuid4()}")
    body = {"name": "slow_compute", "arguments": {"seconds": 60, "label": "x"}}
    created = call(servers[creator], alice, "tools/call", body, "slow_compute")
    task_id = created["result"]["taskId"]
    unknown_id = "x" * len(task_id)
    for server in (servers[creator], servers[other]):
        unknown = _task_requests(server, bob, unknown_id)
        assert [(r["status"], r["error"]["code"]) for r in unknown] == [(400, INVALID_PARAMS)] * 3
        assert _task_requests(server, bob, task_id) == unknown  # same status, same body: no existence oracle
    mine = call(servers[other], alice, "tasks/get", {"taskId": task_id}, task_id)
    assert mine["result"]["status"] == "working"  # bob's cancel changed nothing
    assert call(servers[other], alice, "tasks/cancel", {"taskId": task_id}, task_id)["result"] == {
        "resultType": "complete"
    }
    assert call(servers[creator], alice, "tasks/get", {"taskId": task_id}, task_id)["result"]["status"] == "cancelled"


async def _round(url: str, token: str, responses: dict[str, Any] | None, state: str | None) -> Any:
    """One round of the multi-round tool through the official client with a bearer token: the result, or the
    MCPError (caught inside the client's context, where it is raised)."""

    async def unused(context: Any, params: Any) -> types.ElicitResult:
        raise AssertionError("the test answers the questions itself")

    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    async with (
        http,
        Client(
            streamable_http_client(url, http_client=http),  # type: ignore[arg-type]
            mode="2026-07-28",
            elicitation_callback=unused,
        ) as client,
    ):
        try:
            return await client.session.call_tool(
                MULTI_ROUND, {}, input_responses=responses, request_state=state, allow_input_required=True
            )
        except MCPError as ex:
            return ex


@pytest.mark.parametrize(("issued_by", "retried_on"), [("native", "fastapi"), ("fastapi", "native")])
def test_a_request_state_is_refused_for_another_subject_and_accepted_for_its_own(
    servers: dict[str, ServerProcess], issuer: Issuer, issued_by: str, retried_on: str
) -> None:
    alice = issuer.token(RESOURCE, subject=f"alice-{uuid.uuid4()}")
    bob = issuer.token(RESOURCE, subject=f"bob-{uuid.uuid4()}")
    answer = {"step1": types.ElicitResult(action="accept", content={"name": "Alice"})}

    async def scenario() -> tuple[Any, Any, Any]:
        first = await _round(servers[issued_by].url, alice, None, None)
        assert isinstance(first, types.InputRequiredResult) and first.request_state, first
        stolen = await _round(servers[retried_on].url, bob, answer, first.request_state)
        state = first.request_state
        altered = await _round(servers[retried_on].url, alice, answer, state[:-1] + ("B" if state[-1] == "A" else "A"))
        own = await _round(servers[retried_on].url, alice, answer, first.request_state)
        return stolen, altered, own

    stolen, altered, own = asyncio.run(scenario())
    assert isinstance(stolen, MCPError) and isinstance(altered, MCPError)
    assert (stolen.code, stolen.error.message, stolen.error.data) == (
        altered.code,
        altered.error.message,
        altered.error.data,
    )
    assert stolen.code == INVALID_PARAMS and stolen.error.data == {"reason": "signature"}
    assert isinstance(own, types.InputRequiredResult) and list(own.input_requests or {}) == ["step2"]


# -- the record bounds: per owner, and a ceiling for the database (TaskLimits) ----------------------------------------


@contextmanager
def _rows(database_url: str, owner: str | None, status: str, count: int) -> Iterator[str]:
    """`count` task rows of `owner` with `status`, living an hour, put straight into the servers' database (what many
    earlier tools/call would have left), removed afterwards; yields their task id prefix."""
    prefix = "filler-" + uuid.uuid4().hex[:12] + "-"

    async def put() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(
                "INSERT INTO mcp_tasks (task_id, status, created_at, updated_at, expires_at, ttl_ms, owner) "
                "SELECT $1 || n, $2, now() - interval '1 minute' + n * interval '1 ms', now(), "
                "now() + interval '1 hour', 3600000, $3 FROM generate_series(1, $4) n",
                prefix,
                status,
                owner,
                count,
            )
        finally:
            await conn.close()

    async def remove() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute("DELETE FROM mcp_tasks WHERE task_id LIKE $1 || '%'", prefix)
        finally:
            await conn.close()

    asyncio.run(put())
    try:
        yield prefix
    finally:
        asyncio.run(remove())


def _ids(database_url: str, prefix: str) -> set[str]:
    async def read() -> set[str]:
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch("SELECT task_id FROM mcp_tasks WHERE task_id LIKE $1 || '%'", prefix)
            return {row["task_id"] for row in rows}
        finally:
            await conn.close()

    return asyncio.run(read())


QUICK = {"name": "slow_compute", "arguments": {"seconds": 0, "label": "x"}}


@pytest.mark.parametrize("kind", ["native", "fastapi"])
def test_another_user_s_thousand_tasks_leave_a_user_room_on_both_servers(
    servers: dict[str, ServerProcess], issuer: Issuer, database_url: str, kind: str
) -> None:
    """The per-owner bound is per owner: a thousand finished records of someone else (the old fleet-wide cap) do not
    refuse this user, and none of them is dropped for it (the ceiling is far)."""
    alice = issuer.token(RESOURCE, subject=f"alice-{uuid.uuid4()}")
    with _rows(database_url, owner_of(f"someone-{uuid.uuid4()}"), "completed", TaskLimits().max_per_owner) as prefix:
        created = call(servers[kind], alice, "tools/call", QUICK, "slow_compute")
        left = _ids(database_url, prefix)
    assert (created["status"], created["result"]["resultType"]) == (200, "task")
    assert len(left) == TaskLimits().max_per_owner


@pytest.mark.parametrize("kind", ["native", "fastapi"])
def test_a_user_at_the_per_owner_bound_makes_room_with_the_oldest_finished_record_on_both_servers(
    servers: dict[str, ServerProcess], issuer: Issuer, database_url: str, kind: str
) -> None:
    subject = f"carol-{uuid.uuid4()}"
    carol = issuer.token(RESOURCE, subject=subject)
    bound = TaskLimits().max_per_owner
    with _rows(database_url, owner_of(subject), "completed", bound) as prefix:
        created = call(servers[kind], carol, "tools/call", QUICK, "slow_compute")
        left = _ids(database_url, prefix)
    assert (created["status"], created["result"]["resultType"]) == (200, "task")
    assert len(left) == bound - 1 and prefix + "1" not in left  # her oldest finished record made room


@pytest.mark.parametrize("kind", ["native", "fastapi"])
def test_a_user_whose_every_task_is_unfinished_is_refused_naming_the_per_owner_bound_on_both_servers(
    servers: dict[str, ServerProcess], issuer: Issuer, database_url: str, kind: str
) -> None:
    subject = f"dave-{uuid.uuid4()}"
    dave = issuer.token(RESOURCE, subject=subject)
    erin = issuer.token(RESOURCE, subject=f"erin-{uuid.uuid4()}")
    bound = TaskLimits().max_per_owner
    with _rows(database_url, owner_of(subject), "working", bound):
        refused = call(servers[kind], dave, "tools/call", QUICK, "slow_compute")
        other = call(servers[kind], erin, "tools/call", QUICK, "slow_compute")
    assert refused["error"]["code"] == SERVER_OVERLOADED
    assert f"You have {bound} tasks kept on this server, its limit per user" in refused["error"]["message"]
    assert other["result"]["resultType"] == "task"  # one user's bound is not everyone's
