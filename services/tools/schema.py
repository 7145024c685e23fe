"""Versioned SQL migrations and deterministic seed data for the reference tools' PostgreSQL database.

Migrations are the files `migrations/NNNN_name.sql`, applied in order, each once, inside a transaction, under an
advisory lock so two instances booting together cannot both apply one. Seed data loads only into an empty database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import asyncpg

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x6D6370  # "mcp": the advisory lock id held while migrating

SEED_SIZES = {"customers": 10_000, "orders": 200_000, "documents": 20_000}


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """All migrations shipped with the package, ordered by version."""
    found: list[Migration] = []
    for entry in resources.files(__package__).joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration versions: {versions}")
    return found


async def migrate(conn: Any) -> list[Migration]:
    """Apply pending migrations; returns those applied by this call."""
    applied_now: list[Migration] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")}
        for migration in migrations():
            if migration.version in done:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", migration.version, migration.name
                )
            applied_now.append(migration)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied_now


async def seed(conn: Any) -> bool:
    """Load the deterministic seed data when the database holds none; returns whether it loaded."""
    if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM customers)"):
        return False
    sql = resources.files(__package__).joinpath("seed.sql").read_text(encoding="utf-8")
    async with conn.transaction():
        await conn.execute(sql)
    return True


async def row_counts(conn: Any) -> dict[str, int]:
    """Rows per seeded table (for `mcpstack db status`)."""
    counts: dict[str, int] = {}
    for table in SEED_SIZES:
        counts[table] = int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    return counts


async def connect(url: str, *, timeout_s: float = 10.0) -> Any:
    """One plain connection (for migrations and admin work, not for serving)."""
    return await asyncpg.connect(url, timeout=timeout_s)
