"""The session stores' bound and their end (services/sessions.py), in process: the PostgreSQL store on a database of
this module's own (the session's cluster; its sessions would otherwise make room among the hostile servers' ones),
the memory store beside it. A store keeps at most its cap of live sessions, forgetting the oldest, and whatever waits
on a session that ends (DELETE on any worker, its lifetime, or the cap) stops at once with SessionEnded."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import asyncpg
import pytest

from services.sessions import (
    STREAM_KEY,
    MemorySessionStore,
    PostgresSessionStore,
    SessionEnded,
    SessionStore,
)

CAP = 5
WAIT_S = 5.0  # far below a question's 300 s: an end that is not relayed fails the test instead of hanging it


@pytest.fixture(scope="module")
def sessions_database(database_url: str) -> Iterator[str]:
    name = "session_bounds_" + uuid.uuid4().hex[:12]
    url = database_url.rsplit("/", 1)[0] + "/" + name

    async def admin(statement: str) -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield url
    finally:
        asyncio.run(admin(f'DROP DATABASE "{name}" WITH (FORCE)'))


async def _open(store: SessionStore, n: int) -> list[str]:
    return [(await store.create(protocol_version="2025-11-25", client_capabilities={})).id for _ in range(n)]


async def _ended(store: SessionStore, session_id: str, key: str) -> bool:
    """Whether a wait registered on `session_id` now stops with SessionEnded (False: it is still waiting)."""
    inbox = await store.expect(session_id, key)
    try:
        await inbox.get(WAIT_S)
    except SessionEnded:
        return True
    except TimeoutError:
        return False
    finally:
        inbox.close()
    raise AssertionError("no message was sent to this inbox")


def test_the_postgres_store_forgets_its_oldest_sessions_beyond_its_cap_and_ends_their_waits(
    sessions_database: str,
) -> None:
    async def scenario() -> None:
        store = PostgresSessionStore(sessions_database, max_sessions=CAP)
        await store.start()
        try:
            await store._pool.execute("TRUNCATE mcp_sessions CASCADE")
            first = await _open(store, CAP)
            waiting = await store.expect(first[0], "s-question")
            stream = await store.expect(first[1], STREAM_KEY)
            later = await _open(store, 2)  # two past the cap: the two oldest go
            for inbox in (waiting, stream):
                with pytest.raises(SessionEnded):
                    await inbox.get(WAIT_S)
                inbox.close()
            assert [await store.get(s) is None for s in first + later] == [True, True] + [False] * (CAP)
            assert await store._pool.fetchval("SELECT count(*) FROM mcp_sessions") == CAP
        finally:
            await store.close()

    asyncio.run(scenario())


def test_ending_a_postgres_session_on_one_worker_ends_a_wait_on_another(sessions_database: str) -> None:
    async def scenario() -> None:
        here, there = PostgresSessionStore(sessions_database), PostgresSessionStore(sessions_database)
        await here.start()
        await there.start()
        try:
            (session,) = await _open(here, 1)
            waiting = asyncio.ensure_future(_ended(here, session, "s-question"))
            await asyncio.sleep(0)  # the wait registers before the end
            assert await there.end(session) is True
            assert await waiting is True
            assert await there.end(session) is False
        finally:
            await here.close()
            await there.close()

    asyncio.run(scenario())


def test_a_postgres_session_past_its_lifetime_is_pruned_and_its_waits_end(sessions_database: str) -> None:
    async def scenario() -> None:
        store = PostgresSessionStore(sessions_database)
        await store.start()
        try:
            old, young = await _open(store, 2)
            await store._pool.execute(
                "UPDATE mcp_sessions SET created_at = now() - interval '25 hours' WHERE id = $1", old
            )
            waiting = asyncio.ensure_future(_ended(store, old, "s-question"))
            await asyncio.sleep(0)
            await store._prune()
            assert await waiting is True
            assert await store.get(old) is None and await store.get(young) is not None
        finally:
            await store.close()

    asyncio.run(scenario())


def test_a_session_table_made_before_the_cap_gains_its_numbering_once(sessions_database: str) -> None:
    """An older server's table (no `seq`) with a live session in it: the store numbers it, and starting again (every
    worker runs the schema) adds no second sequence."""
    other = sessions_database + "_old"

    async def scenario() -> None:
        admin = await asyncpg.connect(sessions_database)
        await admin.execute(f'CREATE DATABASE "{other.rsplit("/", 1)[1]}"')
        await admin.close()
        conn = await asyncpg.connect(other)
        try:
            await conn.execute(
                "CREATE TABLE mcp_sessions (id text PRIMARY KEY, protocol_version text NOT NULL, "
                "client_capabilities jsonb NOT NULL, log_level text, created_at timestamptz NOT NULL DEFAULT now())"
            )
            await conn.execute("INSERT INTO mcp_sessions VALUES ('before', '2025-11-25', '{}', NULL, now())")
            for _ in range(2):
                store = PostgresSessionStore(other, max_sessions=CAP)
                await store.start()
                await _open(store, 1)
                await store.close()
            assert await conn.fetchval("SELECT seq FROM mcp_sessions WHERE id = 'before'") is not None
            sequences = await conn.fetch("SELECT relname FROM pg_class WHERE relkind = 'S' ORDER BY relname")
            assert [row["relname"] for row in sequences] == ["mcp_session_messages_id_seq", "mcp_sessions_seq_seq"]
            assert await conn.fetchval("SELECT count(*) FROM mcp_sessions") == 3
        finally:
            await conn.close()

    asyncio.run(scenario())


def test_the_memory_store_ends_the_waits_of_a_session_it_forgets_or_that_is_deleted() -> None:
    async def scenario() -> None:
        store = MemorySessionStore(max_sessions=CAP)
        first = await _open(store, CAP)
        waiting = await store.expect(first[0], "s-question")
        await _open(store, 1)  # one past the cap: the oldest goes
        with pytest.raises(SessionEnded):
            await waiting.get(WAIT_S)
        waiting.close()
        stream = await store.expect(first[1], STREAM_KEY)
        question = await store.expect(first[1], "s-question")
        assert await store.end(first[1]) is True
        for inbox in (stream, question):
            with pytest.raises(SessionEnded):
                await inbox.get(WAIT_S)
            inbox.close()
        assert store._open == {}  # nothing of an ended session is left behind on the worker

    asyncio.run(scenario())
