"""The stage's database roles: the RDS master user only creates them; migrations run as the migrator, which owns the
schema's objects; the servers connect as the app role, which may read and write rows and nothing else.

The roles are created once per stage by a custom resource in the Data stack (a Lambda with pg8000,
`infra/lambdas/db_roles_handler.py`, through `create_roles_sync`), so no instance reads the master's secret. The
bootstrap of fleets wired before that (release format 3) created them at boot, through `create_roles` (asyncpg). Both
run the same statements (`ROLE_EXISTS_SQL`, `role_statements`, `OWNED_OBJECTS_SQL`).

Run by the instance bootstrap from the slot's venv (asyncpg is installed there), credentials in the environment, never
on the command line:

    python -m infra.bootstrap.db_roles create-roles   # as the master: MCPSTACK_MASTER_URL, MCPSTACK_{MIGRATOR,APP}_*
    python -m infra.bootstrap.db_roles grant-app      # as the migrator after migrating: DATABASE_URL, MCPSTACK_APP_USER

Both are idempotent (every boot runs them; a role that exists gets its password set to the secret's again). Names and
passwords are quoted by PostgreSQL's own `format('%I', '%L')`, never spliced in Python. A failure is one line on
stderr and exit code 1.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

SCHEMA = "public"
APP_TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
APP_SEQUENCE_PRIVILEGES = "USAGE, SELECT"


class RolesError(RuntimeError):
    """Missing settings or a database refusal; the message is one line."""


@dataclass(frozen=True, kw_only=True)
class Login:
    user: str
    password: str


ROLE_EXISTS_SQL = "SELECT 1 FROM pg_roles WHERE rolname = $1"
# The master's own tables, views and functions in the schema (made before the roles existed), each as the statement
# handing it to the migrator ($1 the schema, $2 the migrator).
OWNED_OBJECTS_SQL = """
    SELECT format('ALTER TABLE %I.%I OWNER TO %I', n.nspname, c.relname, $2::text) AS sql
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v') AND pg_get_userbyid(c.relowner) = current_user
    UNION ALL
    SELECT format('ALTER FUNCTION %I.%I(%s) OWNER TO %I', n.nspname, p.proname,
                  pg_get_function_identity_arguments(p.oid), $2::text)
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = $1 AND p.prokind = 'f' AND pg_get_userbyid(p.proowner) = current_user
"""


def role_statements(*, database: str, migrator: Login, app: Login) -> list[tuple[str, ...]]:
    """After the two roles exist with their passwords: the grants, as format() templates and their arguments."""
    return [
        ("GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I, %I", database, migrator.user, app.user),
        # PostgreSQL 15 no longer lets every role create in public; said here for a database made before it.
        ("REVOKE CREATE ON SCHEMA %I FROM PUBLIC", SCHEMA),
        ("GRANT USAGE, CREATE ON SCHEMA %I TO %I", SCHEMA, migrator.user),
        ("GRANT USAGE ON SCHEMA %I TO %I", SCHEMA, app.user),
        # The master must be able to act as the migrator to hand objects over (PostgreSQL 16 asks for it even
        # from a role's creator).
        ("GRANT %I TO CURRENT_USER", migrator.user),
    ]


def login_template(exists: bool) -> str:
    return f"{'ALTER' if exists else 'CREATE'} ROLE %I LOGIN PASSWORD %L"


def _format_sql(template: str, count: int) -> str:
    placeholders = ", ".join(f"${i}::text" for i in range(1, count + 1))
    return f"SELECT format({_literal(template)}, {placeholders})"


async def _quoted(conn: Any, template: str, *args: str) -> str:
    """`template` with its %I / %L filled in by PostgreSQL's format(), the arguments sent as parameters."""
    return str(await conn.fetchval(_format_sql(template, len(args)), *args))


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


async def create_roles(conn: Any, *, migrator: Login, app: Login) -> None:
    """As the master (asyncpg): the two login roles, the migrator's right to create in the schema, the app's to use
    it, and the master's own objects (from before the roles existed) handed to the migrator."""
    database: str = await conn.fetchval("SELECT current_database()")
    async with conn.transaction():
        for login in (migrator, app):
            exists = await conn.fetchval(ROLE_EXISTS_SQL, login.user)
            await conn.execute(await _quoted(conn, login_template(bool(exists)), login.user, login.password))
        for template, *args in role_statements(database=database, migrator=migrator, app=app):
            await conn.execute(await _quoted(conn, template, *args))
        for row in await conn.fetch(OWNED_OBJECTS_SQL, SCHEMA, migrator.user):
            await conn.execute(row["sql"])


class SyncSession(Protocol):
    """A blocking connection inside one transaction ($n placeholders), as the custom resource's pg8000 adapter."""

    def fetchval(self, sql: str, *args: str) -> Any: ...

    def fetch_column(self, sql: str, *args: str) -> list[Any]: ...

    def execute(self, sql: str) -> None: ...


def create_roles_sync(session: SyncSession, *, migrator: Login, app: Login) -> None:
    """`create_roles` on a blocking driver: the same statements, in the caller's transaction."""

    def quoted(template: str, *args: str) -> str:
        return str(session.fetchval(_format_sql(template, len(args)), *args))

    database = str(session.fetchval("SELECT current_database()"))
    for login in (migrator, app):
        exists = session.fetchval(ROLE_EXISTS_SQL, login.user)
        session.execute(quoted(login_template(exists is not None), login.user, login.password))
    for template, *args in role_statements(database=database, migrator=migrator, app=app):
        session.execute(quoted(template, *args))
    for sql in session.fetch_column(OWNED_OBJECTS_SQL, SCHEMA, migrator.user):
        session.execute(str(sql))


async def grant_app(conn: Any, *, app_user: str) -> None:
    """As the migrator, after migrating: the app role may read and write the rows of every table, now and later."""
    async with conn.transaction():
        for template in (
            f"GRANT {APP_TABLE_PRIVILEGES} ON ALL TABLES IN SCHEMA %I TO %I",
            f"GRANT {APP_SEQUENCE_PRIVILEGES} ON ALL SEQUENCES IN SCHEMA %I TO %I",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT {APP_TABLE_PRIVILEGES} ON TABLES TO %I",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT {APP_SEQUENCE_PRIVILEGES} ON SEQUENCES TO %I",
        ):
            await conn.execute(await _quoted(conn, template, SCHEMA, app_user))


def _require(env: Mapping[str, str], *names: str) -> list[str]:
    missing = [name for name in names if not env.get(name)]
    if missing:
        raise RolesError(f"missing environment: {', '.join(missing)}")
    return [env[name] for name in names]


async def _run(command: str, env: Mapping[str, str]) -> None:
    import asyncpg  # the slot's venv has it; imported here so --help and the settings check need no driver

    if command == "create-roles":
        url, m_user, m_password, a_user, a_password = _require(
            env,
            "MCPSTACK_MASTER_URL",
            "MCPSTACK_MIGRATOR_USER",
            "MCPSTACK_MIGRATOR_PASSWORD",
            "MCPSTACK_APP_USER",
            "MCPSTACK_APP_PASSWORD",
        )
        conn = await asyncpg.connect(url)
        try:
            await create_roles(
                conn, migrator=Login(user=m_user, password=m_password), app=Login(user=a_user, password=a_password)
            )
        finally:
            await conn.close()
    elif command == "grant-app":
        url, app_user = _require(env, "DATABASE_URL", "MCPSTACK_APP_USER")
        conn = await asyncpg.connect(url)
        try:
            await grant_app(conn, app_user=app_user)
        finally:
            await conn.close()
    else:
        raise RolesError(f"unknown command {command!r}; expected create-roles or grant-app")


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m infra.bootstrap.db_roles create-roles|grant-app", file=sys.stderr)
        return 2
    try:
        asyncio.run(_run(args[0], os.environ if env is None else env))
    except RolesError as ex:
        print(f"db roles: {ex}", file=sys.stderr)
        return 1
    except Exception as ex:  # asyncpg and OS errors: one line for the cfn-init log (their text names no password)
        print(f"db roles: {args[0]} failed: {type(ex).__name__}: {ex}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
