"""`mcpstack db …`: the project's own PostgreSQL cluster, or the one in `DATABASE_URL` (RDS), migrated and seeded."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated, Any

import typer
from rich.console import Console

from scripts.pgcluster import ClusterError, local_cluster
from services.tools import schema

app = typer.Typer(
    help="Local PostgreSQL cluster: up, down, status, reset, url, migrate (--seed).", no_args_is_help=True
)
console = Console(stderr=True)


def _external_url() -> str | None:
    return os.environ.get("DATABASE_URL") or None


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/] {message}")
    return typer.Exit(1)


async def prepare(url: str, *, seed: bool) -> tuple[list[str], bool]:
    """Migrate (and optionally seed) the database at `url`; returns applied migration names and whether it seeded."""
    conn: Any = await schema.connect(url)
    try:
        applied = await schema.migrate(conn)
        seeded = await schema.seed(conn) if seed else False
    finally:
        await conn.close()
    return [f"{m.version:04d}_{m.name}" for m in applied], seeded


def _report(applied: list[str], seeded: bool) -> None:
    console.print(f"migrations applied: {', '.join(applied) if applied else 'none pending'}")
    if seeded:
        sizes = ", ".join(f"{n:,} {t}" for t, n in schema.SEED_SIZES.items())
        console.print(f"seed data loaded: {sizes}")


@app.command()
def up() -> None:
    """Start the local cluster (creating it on first use), migrate and seed. With DATABASE_URL set, only migrate."""
    try:
        url = _external_url()
        if url is None:
            cluster = local_cluster()
            with console.status("starting PostgreSQL…"):
                cluster.init()
                cluster.start()
            url = cluster.url
        with console.status("migrating and seeding (first run: ~10 s)…"):
            applied, seeded = asyncio.run(prepare(url, seed=_external_url() is None))
    except (ClusterError, OSError) as ex:
        raise _fail(str(ex)) from ex
    except Exception as ex:  # asyncpg errors: one line, not a traceback
        raise _fail(f"database setup failed: {type(ex).__name__}: {ex}") from ex
    _report(applied, seeded)
    console.print(f"database ready: {url}")


@app.command()
def down() -> None:
    """Stop the local cluster (its data stays; `reset` wipes it)."""
    if _external_url():
        console.print("DATABASE_URL is set: nothing local to stop")
        return
    try:
        local_cluster().stop()
    except ClusterError as ex:
        raise _fail(str(ex)) from ex
    console.print("local cluster stopped")


@app.command()
def reset() -> None:
    """Wipe the local cluster and create it again, migrated and seeded."""
    if _external_url():
        raise _fail("refusing to reset the database in DATABASE_URL; reset only touches the local cluster")
    try:
        local_cluster().destroy()
    except ClusterError as ex:
        raise _fail(str(ex)) from ex
    up()


@app.command()
def status() -> None:
    """Say whether the database is reachable and what it holds."""
    url = _external_url()
    if url is None:
        cluster = local_cluster()
        if not cluster.running():
            console.print("local cluster: stopped (run `mcpstack db up`)")
            raise typer.Exit(3)
        url = cluster.url

    async def probe() -> dict[str, int]:
        conn: Any = await schema.connect(url, timeout_s=5)
        try:
            return await schema.row_counts(conn)
        finally:
            await conn.close()

    try:
        counts = asyncio.run(probe())
    except Exception as ex:
        raise _fail(f"database at {url} not usable: {type(ex).__name__}: {ex}") from ex
    console.print(f"database up: {url}")
    for table, n in counts.items():
        console.print(f"  {table}: {n:,} rows")


@app.command()
def url() -> None:
    """Print the connection URL (DATABASE_URL when set, else the local cluster's)."""
    external = _external_url()
    try:
        typer.echo(external or local_cluster().url)
    except ClusterError as ex:
        raise _fail(str(ex)) from ex


@app.command()
def migrate(
    seed: Annotated[bool, typer.Option(help="Also load the seed data when the database is empty.")] = False,
) -> None:
    """Apply pending migrations to DATABASE_URL (or the local cluster)."""
    try:
        target = _external_url() or local_cluster().url
        applied, seeded = asyncio.run(prepare(target, seed=seed))
    except (ClusterError, OSError) as ex:
        raise _fail(str(ex)) from ex
    except Exception as ex:  # asyncpg errors: one line, not a traceback
        raise _fail(f"database setup failed: {type(ex).__name__}: {ex}") from ex
    _report(applied, seeded)
