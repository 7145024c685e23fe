"""`mcpstack serve …`: start a server the way production does."""

from __future__ import annotations

import os
import sys
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


@app.command()
def fastapi(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8080,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (default 2 x cores + 1, seed 002; --tuned: one per core).")
    ] = None,
    tuned: Annotated[bool, typer.Option(help="One worker per core instead of 2 x cores + 1.")] = False,
    database_url: Annotated[str | None, typer.Option(help="PostgreSQL URL (env DATABASE_URL).")] = None,
) -> None:
    """The FastAPI baseline under gunicorn with uvicorn workers, as the seeds deploy it (replaces this process)."""
    from services.fastapi_baseline.gunicorn_conf import worker_count

    count = workers if workers is not None else worker_count(os.cpu_count() or 1, tuned=tuned)
    if count < 1:
        console.print("[red]error:[/] --workers must be at least 1")
        raise typer.Exit(2)
    env = dict(os.environ, MCP_HOST=host)
    url = _database_url(database_url)
    if url:
        env["DATABASE_URL"] = url
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        "python:services.fastapi_baseline.gunicorn_conf",
        "--bind",
        f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "--workers",
        str(count),
        "services.fastapi_baseline.app:app",
    ]
    os.execve(sys.executable, argv, env)  # noqa: S606 - gunicorn becomes this process (signals reach it directly)


@app.command()
def sdk(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8080,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.")] = 1,
    database_url: Annotated[str | None, typer.Option(help="PostgreSQL URL (env DATABASE_URL).")] = None,
) -> None:
    """The official MCP Python SDK's MCPServer (stateless, JSON responses) serving the same tools, on uvicorn."""
    import uvicorn

    url = _database_url(database_url)
    os.environ["MCP_HOST"] = host
    if url:
        os.environ["DATABASE_URL"] = url
    uvicorn.run(
        "services.sdk_reference.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        timeout_keep_alive=75,
    )
