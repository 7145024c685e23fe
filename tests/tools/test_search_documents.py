"""`search_documents` on the seed data: exact ranking up to 2,000 matches, bounded work beyond (the newest 2,000 are
ranked), whatever the prepared statement's plan cache has seen before."""

from __future__ import annotations

import asyncio
from typing import Any

from services.tools import schema

TOOL_SQL = "SELECT id, title, snippet, rank FROM search_documents_ranked($1, $2)"
# The tool's query before the bound: every match ranked before the limit.
EVERY_MATCH_SQL = """
SELECT d.id, d.title, left(d.body, 160) AS snippet, ts_rank(d.search, q)::float8 AS rank
  FROM documents d, websearch_to_tsquery('english', $1) AS q
 WHERE d.search @@ q
 ORDER BY rank DESC, d.id
 LIMIT $2
"""
NEWEST_2000_SQL = """
SELECT d.id, d.title, left(d.body, 160) AS snippet, ts_rank(d.search, q)::float8 AS rank
  FROM websearch_to_tsquery('english', $1) AS q,
       LATERAL (SELECT * FROM documents d WHERE d.search @@ q ORDER BY d.id DESC LIMIT 2000) d
 ORDER BY rank DESC, d.id
 LIMIT $2
"""
BLOCKS_SQL = (
    "SELECT sum(pg_stat_get_xact_blocks_fetched(r::regclass))::bigint"
    " FROM unnest(ARRAY['documents', 'documents_pkey', 'documents_search']) r"
)
# Product codes, phrases, exclusions, and six common words together (1,414 matches: near the bound).
SELECTIVE = [
    "sku42",
    "sku3999 or sku7",
    "canary sku1640",
    "-rollback sku9",
    '"canary rollback" tax',
    "canary rollback deploy tax pool zone",
]


def _run(url: str, fn: Any) -> Any:
    async def main() -> Any:
        conn = await schema.connect(url)
        try:
            return await fn(conn)
        finally:
            await conn.close()

    return asyncio.run(main())


async def _rows(conn: Any, sql: str, query: str, limit: int) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in await conn.fetch(sql, query, limit)]


async def _blocks(conn: Any, sql: str, query: str, limit: int) -> int:
    """Buffers of the documents table and its indexes one call reads (this transaction's counters: deterministic)."""
    async with conn.transaction():
        before = await conn.fetchval(BLOCKS_SQL)
        await conn.fetch(sql, query, limit)
        return int(await conn.fetchval(BLOCKS_SQL) - before)


def test_a_query_with_at_most_2000_matches_is_ranked_exactly_as_before(database_url: str) -> None:
    async def check(conn: Any) -> list[tuple[str, int, bool]]:
        out = []
        for query in SELECTIVE:
            matches = await conn.fetchval(
                "SELECT count(*) FROM documents WHERE search @@ websearch_to_tsquery('english', $1)", query
            )
            same = await _rows(conn, TOOL_SQL, query, 50) == await _rows(conn, EVERY_MATCH_SQL, query, 50)
            out.append((query, int(matches), same))
        return out

    for query, matches, same in _run(database_url, check):
        assert 0 < matches <= 2000, (query, matches)
        assert same, query


def test_a_common_word_ranks_its_2000_newest_matches_and_reads_a_fraction_of_the_table(database_url: str) -> None:
    async def check(conn: Any) -> tuple[list[Any], list[Any], list[Any], int, int, int]:
        # Fill the plan cache with rare and common words first: past five calls a prepared statement may switch to a
        # generic plan, which must not make a common word read every match again.
        for query in ["sku42", "rollback", "sku7", "canary", "deploy or rollback", "sku9", "tax"] * 2:
            await conn.fetch(TOOL_SQL, query, 3)
        got = await _rows(conn, TOOL_SQL, "rollback", 5)
        newest = await _rows(conn, NEWEST_2000_SQL, "rollback", 5)
        every = await _rows(conn, EVERY_MATCH_SQL, "rollback", 5)
        matches = await conn.fetchval(
            "SELECT count(*) FROM documents WHERE search @@ websearch_to_tsquery('english', 'rollback')"
        )
        tool_blocks = await _blocks(conn, TOOL_SQL, "rollback", 5)
        every_blocks = await _blocks(conn, EVERY_MATCH_SQL, "rollback", 5)
        return got, newest, every, int(matches), tool_blocks, every_blocks

    got, newest, every, matches, tool_blocks, every_blocks = _run(database_url, check)
    assert matches > 10_000  # a common word in the seed corpus
    assert got == newest
    assert got != every  # the bound is visible: the best of all matches are not all among the newest 2,000
    assert tool_blocks * 2 < every_blocks, (tool_blocks, every_blocks)
