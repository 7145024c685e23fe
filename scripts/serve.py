"""`mcpstack serve …`: start a server the way production does."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(help="Run an MCP server the way production does.", no_args_is_help=True)
console = Console(stderr=True)


def _database_url(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    from scripts.db import local_cluster

    cluster = local_cluster()
    if cluster.running():
        console.print(f"DATABASE_URL not set: using the local cluster ({cluster.url})")
        return cluster.url
    console.print(
        "[yellow]warning:[/] no DATABASE_URL and no local cluster: database tools will report errors "
        "(run `mcpstack db up`)"
    )
    return None


@app.command()
def native(
    host: Annotated[str | None, typer.Option(help="Address to bind (env MCP_HOST; default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (env MCP_PORT; default 8080).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (env MCP_WORKERS; default: one per core).")
    ] = None,
    database_url: Annotated[str | None, typer.Option(help="PostgreSQL URL (env DATABASE_URL).")] = None,
    tool_packs: Annotated[str | None, typer.Option(help="Comma-separated tool packs (env MCP_TOOL_PACKS).")] = None,
) -> None:
    """The native server: a supervisor with one uvloop worker per core (SO_REUSEPORT)."""
    from services.mcp_server import supervisor
    from services.mcp_server.config import ConfigError, load_config
    from services.tools.packs import load_packs

    try:
        config = load_config(
            host=host,
            port=port,
            workers=workers if workers is not None else (None if os.environ.get("MCP_WORKERS") else os.cpu_count()),
            database_url=_database_url(database_url),
            tool_packs=tuple(p.strip() for p in tool_packs.split(",")) if tool_packs else None,
        )
        registry = load_packs(config.tool_packs)
    except (ConfigError, ValueError) as ex:
        console.print(f"[red]error:[/] {ex}")
        raise typer.Exit(2) from None
    raise typer.Exit(supervisor.run(config, registry))
