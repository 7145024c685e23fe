"""The task record bounds (services/tasks.py, TaskLimits; docs/tasks.md): at most `max_per_owner` records per owner
and `max_stored` in all, the oldest finished record making room at either, and a refusal (SERVER_OVERLOADED) naming
the bound only when every record it counts is unfinished. The memory store in process with a fake clock; the
PostgreSQL store on a database of its own (the session's cluster, tests/conftest.py), migrated, so the counts are
exact; both servers with authentication on are in test_caller_binding.py."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest

from services.protocol import SERVER_OVERLOADED
from services.tasks import (
    MEMORY_LIMITS,
    MemoryTaskStore,
    PostgresTaskStore,
    TaskError,
    TaskLimits,
    TaskService,
    TaskStore,
    owner_of,
)
from services.tools import schema
from services.tools.context import NO_DATABASE, Peer

ALICE, BOB = owner_of("alice"), owner_of("bob")


async def _forever(peer: Peer) -> dict[str, Any]:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def caps_database(database_url: str) -> Iterator[str]:
    """A database of this module's own, migrated: nothing else's task rows in its counts."""
    name = "task_caps_" + uuid.uuid4().hex[:12]

    async def create() -> None:
        admin = await asyncpg.connect(database_url)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        conn = await asyncpg.connect(url)
        try:
            await schema.migrate(conn)
        finally:
            await conn.close()

    async def drop() -> None:
        admin = await asyncpg.connect(database_url)
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()

    url = database_url.rsplit("/", 1)[0] + "/" + name
    asyncio.run(create())
    try:
        yield url
    finally:
        asyncio.run(drop())


@asynccontextmanager
async def _stores(kind: str, url: str) -> AsyncIterator[tuple[TaskStore, TaskStore]]:
    """Two stores over one set of records, as two workers have (memory: the same store twice, one worker's)."""
    if kind == "memory":
        store = MemoryTaskStore()
        yield store, store
        return
    pools = [await asyncpg.create_pool(url, min_size=1, max_size=2) for _ in range(2)]
    try:
        await pools[0].execute("DELETE FROM mcp_tasks")
        yield PostgresTaskStore(pools[0]), PostgresTaskStore(pools[1])
    finally:
        for pool in pools:
            await pool.close()


def _id() -> str:
    return "t-" + uuid.uuid4().hex


KINDS = ["memory", "postgres"]


@pytest.mark.parametrize("kind", KINDS)
def test_one_owner_at_its_bound_leaves_other_owners_and_unauthenticated_callers_room(
    kind: str, caps_database: str
) -> None:
    limits = TaskLimits(max_running=2, max_per_owner=2, max_stored=10)

    async def scenario() -> list[Any]:
        async with _stores(kind, caps_database) as (one, two):
            got = [await one.create(_id(), ALICE, limits), await two.create(_id(), ALICE, limits)]
            got += [await one.create(_id(), ALICE, limits)]  # both unfinished: her bound
            got += [await two.create(_id(), BOB, limits)]
            got += [await one.create(_id(), None, limits) for _ in range(3)]  # no owner: no per-owner bound
            return [g if isinstance(g, str) else g.owner for g in got]

    assert asyncio.run(scenario()) == [ALICE, ALICE, "owner", BOB, None, None, None]


@pytest.mark.parametrize("kind", KINDS)
def test_at_the_owner_s_bound_her_oldest_finished_record_makes_room_not_another_owner_s(
    kind: str, caps_database: str
) -> None:
    limits = TaskLimits(max_running=2, max_per_owner=2, max_stored=10)

    async def scenario() -> tuple[list[str], list[str], bool]:
        async with _stores(kind, caps_database) as (one, two):
            bobs = _id()
            assert not isinstance(await two.create(bobs, BOB, limits), str)
            await two.finish(bobs, "completed", result={"content": []})
            first, second = _id(), _id()
            for task_id in (first, second):
                assert not isinstance(await one.create(task_id, ALICE, limits), str)
                await asyncio.sleep(0.002)  # creation times apart (PostgreSQL's now() is per transaction)
            await one.finish(second, "completed", result={"content": []})
            await one.finish(first, "failed", error={"code": 1, "message": "x"})
            third = _id()
            assert not isinstance(await two.create(third, ALICE, limits), str)
            alive = [t for t in (first, second, third) if await one.get(t, ALICE) is not None]
            return alive, [second, third], await one.get(bobs, BOB) is not None

    alive, expected, bob_kept = asyncio.run(scenario())
    assert alive == expected  # `first`, her oldest finished record, made room
    assert bob_kept


@pytest.mark.parametrize("kind", KINDS)
def test_at_the_ceiling_the_oldest_finished_record_of_anyone_makes_room(kind: str, caps_database: str) -> None:
    limits = TaskLimits(max_running=1, max_per_owner=5, max_stored=3)

    async def scenario() -> list[bool]:
        async with _stores(kind, caps_database) as (one, two):
            ids = [_id() for _ in range(3)]
            for task_id, owner in zip(ids, (BOB, ALICE, None), strict=True):
                assert not isinstance(await one.create(task_id, owner, limits), str)
                await asyncio.sleep(0.002)
            await one.finish(ids[2], "completed", result={"content": []})
            await one.finish(ids[0], "completed", result={"content": []})
            assert not isinstance(await two.create(_id(), ALICE, limits), str)
            return [await one.get(t, o) is not None for t, o in zip(ids, (BOB, ALICE, None), strict=True)]

    assert asyncio.run(scenario()) == [False, True, True]  # bob's, the oldest finished, went; the working one stayed


@pytest.mark.parametrize("kind", KINDS)
def test_the_ceiling_counts_every_worker_s_records_and_refuses_naming_it_when_none_has_finished(
    kind: str, caps_database: str
) -> None:
    limits = TaskLimits(max_running=3, max_per_owner=5, max_stored=3)

    async def scenario() -> TaskError:
        async with _stores(kind, caps_database) as (one, two):
            runner, other = TaskService(one, limits), TaskService(two, limits)
            for service, caller in ((runner, "alice"), (other, "bob"), (runner, None)):
                await service.start(_forever, {}, caller)
            with pytest.raises(TaskError) as caught:
                await other.start(_forever, {}, "carol")
            return caught.value

    error = asyncio.run(scenario())
    assert error.code == SERVER_OVERLOADED
    assert error.message == (
        "This server keeps at most 3 tasks in all, and none of them has finished; retry once one has (finished tasks "
        "make room, oldest first)."
    )


def test_the_refusal_at_an_owner_s_bound_names_that_bound() -> None:
    async def scenario() -> TaskError:
        tasks = TaskService(MemoryTaskStore(), TaskLimits(max_running=3, max_per_owner=2, max_stored=10))
        for _ in range(2):
            await tasks.start(_forever, {}, "alice")
        with pytest.raises(TaskError) as caught:
            await tasks.start(_forever, {}, "alice")
        return caught.value

    error = asyncio.run(scenario())
    assert (error.code, error.message) == (
        SERVER_OVERLOADED,
        "You have 2 tasks kept on this server, its limit per user, and none of them has finished; retry once one has "
        "(finished tasks make room, oldest first).",
    )


def test_an_expired_record_makes_room_before_any_finished_one_is_dropped() -> None:
    now = [1_800_000_000.0]
    store = MemoryTaskStore(lambda: now[0])
    limits = TaskLimits(ttl_ms=1_000, max_running=2, max_per_owner=2, max_stored=10)

    async def scenario() -> list[bool]:
        old, done = _id(), _id()
        await store.create(old, ALICE, limits)
        now[0] += 0.6
        await store.create(done, ALICE, limits)
        await store.finish(done, "completed", result={"content": []})
        now[0] += 0.5  # `old` has expired; `done` has not
        assert not isinstance(await store.create(_id(), ALICE, limits), str)
        return [await store.get(old, ALICE) is not None, await store.get(done, ALICE) is not None]

    assert asyncio.run(scenario()) == [False, True]


def test_a_worker_s_memory_keeps_a_smaller_ceiling_than_a_database() -> None:
    in_memory = TaskService.for_database(NO_DATABASE)
    assert in_memory.limits == MEMORY_LIMITS and MEMORY_LIMITS.max_stored < TaskLimits().max_stored
    assert MEMORY_LIMITS.max_per_owner == TaskLimits().max_per_owner


@pytest.mark.parametrize(
    ("statement", "index"),
    [
        ("_COUNTS_SQL", "mcp_tasks_owner"),
        ("_DROP_OWNERS_OLDEST_FINISHED", "mcp_tasks_owner"),
        ("_DROP_OLDEST_FINISHED", "mcp_tasks_finished"),
    ],
)
def test_the_bound_statements_read_an_index_not_the_table(caps_database: str, statement: str, index: str) -> None:
    """Each statement's plan reaches its rows through its index (migration 0005), whatever the table's size: with
    sequential scans priced out, a plan still reading the table means there is no index it can use."""
    import services.tasks as tasks

    sql: str = getattr(tasks, statement)
    args = {"_COUNTS_SQL": (ALICE, 1_000, 10_000), "_DROP_OWNERS_OLDEST_FINISHED": (ALICE,)}.get(statement, ())

    async def plan() -> str:
        conn = await asyncpg.connect(caps_database)
        try:
            await conn.execute("SET enable_seqscan = off")  # this connection only; EXPLAIN runs nothing of a DELETE
            rows = await conn.fetch("EXPLAIN " + sql, *args)
        finally:
            await conn.close()
        return "\n".join(row[0] for row in rows)

    text = asyncio.run(plan())
    assert index in text and "Seq Scan" not in text, text
