"""Migrations, seed data and the database tools against the real throwaway PostgreSQL cluster."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from services.tools import schema
from services.tools.catalogue import catalogue
from services.tools.context import ToolContext


async def _with_conn(url: str, fn: Any) -> Any:
    conn = await schema.connect(url)
    try:
        return await fn(conn)
    finally:
        await conn.close()


class _ConnDb:
    """A single connection as a `Database` (the tools only need fetch/fetchrow/fetchval/execute)."""

    def __init__(self, conn: Any) -> None:
        self.fetch = conn.fetch
        self.fetchrow = conn.fetchrow
        self.fetchval = conn.fetchval
        self.execute = conn.execute


def test_seed_has_the_stated_sizes_and_migrations_are_idempotent(database_url: str) -> None:
    async def check(conn: Any) -> tuple[dict[str, int], list[Any], int]:
        counts = await schema.row_counts(conn)
        again = await schema.migrate(conn)
        seeded_again = await schema.seed(conn)
        versions = await conn.fetchval("SELECT count(*) FROM schema_migrations")
        return counts, [again, seeded_again], versions

    counts, (again, seeded_again), versions = asyncio.run(_with_conn(database_url, check))
    assert counts == schema.SEED_SIZES
    assert again == [] and seeded_again is False
    assert versions == len(schema.migrations())


def test_seed_data_is_deterministic(database_url: str) -> None:
    async def digests(conn: Any) -> tuple[str, str]:
        documents = await conn.fetchval(
            "SELECT md5(string_agg(id::text || title || body, ',' ORDER BY id)) FROM documents WHERE id % 97 = 0"
        )
        orders = await conn.fetchval(
            "SELECT md5(string_agg(id::text || ':' || customer_id || ':' || status || ':' || total_cents || ':'"
            " || extract(epoch FROM created_at)::bigint, ',' ORDER BY id)) FROM orders WHERE id % 101 = 0"
        )
        return str(documents), str(orders)

    # Digests of a sample, taken from a cluster seeded on another day: every cluster holds the same data.
    assert asyncio.run(_with_conn(database_url, digests)) == (
        "26a8c005aa5f886f12ed12df2d0632d8",
        "7d20f2aa9da19b3ab6cabe5adeb5aa1c",
    )


def test_full_text_search_uses_the_gin_index(database_url: str) -> None:
    async def plan(conn: Any) -> str:
        await conn.execute("SET enable_seqscan = off")
        rows = await conn.fetch(
            "EXPLAIN SELECT id FROM documents WHERE search @@ websearch_to_tsquery('english', 'canary')"
        )
        return "\n".join(r[0] for r in rows)

    assert "documents_search" in asyncio.run(_with_conn(database_url, plan))


def test_notification_with_the_same_idempotency_key_is_written_once(database_url: str) -> None:
    key = f"test-{uuid.uuid4()}"
    tool = catalogue.get("send_notification")
    assert tool is not None

    async def scenario(conn: Any) -> tuple[Any, Any, Any, int]:
        ctx = ToolContext(_ConnDb(conn))
        args = {"customer_id": 11, "channel": "sms", "message": "your order shipped", "idempotency_key": key}
        first = await tool.invoke(args, ctx)  # type: ignore[misc]
        second = await tool.invoke(args, ctx)  # type: ignore[misc]
        conflicting = await tool.invoke({**args, "message": "different"}, ctx)  # type: ignore[misc]
        rows = await conn.fetchval("SELECT count(*) FROM notification_outbox WHERE idempotency_key = $1", key)
        return first, second, conflicting, rows

    first, second, conflicting, rows = asyncio.run(_with_conn(database_url, scenario))
    assert first.structured["status"] == "queued"
    assert second.structured["status"] == "duplicate"
    assert second.structured["notification_id"] == first.structured["notification_id"]
    assert conflicting.is_error and "already used" in conflicting.content[0]["text"]
    assert rows == 1


def test_notification_for_an_unknown_customer_writes_nothing(database_url: str) -> None:
    tool = catalogue.get("send_notification")
    assert tool is not None
    key = f"test-{uuid.uuid4()}"

    async def scenario(conn: Any) -> tuple[Any, int]:
        result = await tool.invoke(  # type: ignore[misc]
            {"customer_id": 10**9, "channel": "email", "message": "x", "idempotency_key": key},
            ToolContext(_ConnDb(conn)),
        )
        return result, await conn.fetchval("SELECT count(*) FROM notification_outbox WHERE idempotency_key = $1", key)

    result, rows = asyncio.run(_with_conn(database_url, scenario))
    assert result.is_error and "No customer" in result.content[0]["text"]
    assert rows == 0
