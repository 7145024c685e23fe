"""The stage's database roles on a real PostgreSQL (the session's throwaway cluster, in a database of its own): the
master creates the migrator and app roles, migrations run as the migrator, the app role reads and writes rows and can
change no schema."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import pytest

from infra.bootstrap.db_roles import Login, create_roles, grant_app, main
from scripts.pgcluster import Cluster
from services.tools import schema

INSUFFICIENT_PRIVILEGE = "42501"


def as_user(url: str, user: str, database: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{quote(user, safe='')}@{host}", path=f"/{database}"))


@pytest.fixture
def scratch(pg_cluster: Cluster) -> Iterator[dict[str, str]]:
    """A fresh database holding one table the master made before the roles existed, and role names to use."""
    suffix = secrets.token_hex(4)
    names = {"database": f"roles_{suffix}", "migrator": f"mig {suffix}'s", "app": f"app_{suffix}"}

    async def setup() -> None:
        admin = await asyncpg.connect(pg_cluster.url)
        try:
            await admin.execute(f'CREATE DATABASE "{names["database"]}"')
        finally:
            await admin.close()
        master = await asyncpg.connect(
            as_user(pg_cluster.url, urlsplit(pg_cluster.url).username or "", names["database"])
        )
        try:
            await master.execute("CREATE TABLE legacy_notes (id int PRIMARY KEY, body text)")
        finally:
            await master.close()

    async def teardown() -> None:
        admin = await asyncpg.connect(pg_cluster.url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{names["database"]}" WITH (FORCE)')
            for role in (names["migrator"], names["app"]):
                await admin.execute(await admin.fetchval("SELECT format('DROP ROLE IF EXISTS %I', $1::text)", role))
        finally:
            await admin.close()

    asyncio.run(setup())
    names["master_url"] = as_user(pg_cluster.url, urlsplit(pg_cluster.url).username or "", names["database"])
    try:
        yield names
    finally:
        asyncio.run(teardown())


async def connect(url: str) -> Any:
    return await asyncpg.connect(url)


def test_master_creates_roles_migrator_migrates_app_only_touches_rows(scratch: dict[str, str]) -> None:
    migrator = Login(user=scratch["migrator"], password="p'w \"1")
    app = Login(user=scratch["app"], password="secret-2")
    migrator_url = as_user(scratch["master_url"], migrator.user, scratch["database"])
    app_url = as_user(scratch["master_url"], app.user, scratch["database"])

    async def scenario() -> None:
        master = await connect(scratch["master_url"])
        try:
            for _ in range(2):  # every boot runs it: idempotent
                await create_roles(master, migrator=migrator, app=app)
            owner = await master.fetchval("SELECT tableowner FROM pg_tables WHERE tablename = 'legacy_notes'")
            assert owner == migrator.user  # the master's earlier objects now belong to the migrator
        finally:
            await master.close()

        mig = await connect(migrator_url)
        try:
            assert await schema.migrate(mig)
            await schema.seed(mig)
            for _ in range(2):
                await grant_app(mig, app_user=app.user)
        finally:
            await mig.close()

        conn = await connect(app_url)
        try:
            assert await conn.fetchval("SELECT count(*) FROM schema_migrations") > 0
            await conn.execute("INSERT INTO legacy_notes VALUES (1, 'kept')")
            assert (
                await conn.fetchval("UPDATE legacy_notes SET body = 'edited' WHERE id = 1 RETURNING body") == "edited"
            )
            for statement in (
                "CREATE TABLE intruder (id int)",
                "DROP TABLE legacy_notes",
                "ALTER TABLE schema_migrations ADD COLUMN x int",
                "TRUNCATE legacy_notes",
            ):
                with pytest.raises(asyncpg.PostgresError) as info:
                    await conn.execute(statement)
                assert info.value.sqlstate == INSUFFICIENT_PRIVILEGE, statement
        finally:
            await conn.close()

    asyncio.run(scenario())


def test_missing_settings_fail_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["create-roles"], env={"MCPSTACK_MASTER_URL": "postgresql://x@127.0.0.1:1/db"}) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("db roles: missing environment: MCPSTACK_MIGRATOR_USER")


def test_unreachable_database_fails_with_one_line_without_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    env = {"DATABASE_URL": "postgresql://mig:hunter2-secret@127.0.0.1:1/db", "MCPSTACK_APP_USER": "app"}
    assert main(["grant-app"], env=env) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("db roles: grant-app failed: ")
    assert "hunter2" not in err[0]
