"""`mcpstack serve …`: start a server the way production does."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from rich.console import Console

from scripts.pgcluster import local_database_url

app = typer.Typer(help="Run an MCP server the way production does.", no_args_is_help=True)
console = Console(stderr=True)


def _database_url(explicit: str | None) -> str | None:
    """--database-url, else DATABASE_URL, else the local cluster when it runs (the same lookup as `serve native`)."""
    return explicit or os.environ.get("DATABASE_URL") or local_database_url()


# Flags, help and behaviour are the native server's own (services/mcp_server/__main__.py): `main()` in scripts/cli.py
# sends `mcpstack serve native …` there before Typer loads. This entry lists the command in `mcpstack serve --help`
# and hands whatever follows it to that same function when the app is called some other way.
@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def native(ctx: typer.Context) -> None:
    """The native server: a supervisor with one uvloop worker per core (SO_REUSEPORT). Options: see its --help."""
    from scripts.cli import serve_native

    raise typer.Exit(serve_native(ctx.args))


@app.command()
def fastapi(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.", min=0, max=65535)] = 8080,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Worker processes (default 2 x cores + 1, the FastAPI worker note's formula; --tuned: one per core)."
        ),
    ] = None,
    tuned: Annotated[bool, typer.Option(help="One worker per core instead of 2 x cores + 1.")] = False,
    database_url: Annotated[str | None, typer.Option(help="PostgreSQL URL (env DATABASE_URL).")] = None,
) -> None:
    """The FastAPI baseline: gunicorn with uvicorn workers, as the FastAPI worker note advises (execs gunicorn)."""
    _check_guard_settings()  # first: importing gunicorn_conf reads MCP_KEEPALIVE_TIMEOUT_S
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


def _check_guard_settings() -> None:
    """A wrong setting (the baseline's own, MCP_TOOL_PACKS, MCP_KEEPALIVE_TIMEOUT_S, MCP_AUTH_*, MCP_RATE_LIMIT_*,
    MCP_REQUEST_STATE_KEYS) stops the start here with one line, before gunicorn runs (in a worker it would be
    gunicorn's traceback)."""
    from services.auth import AuthConfigError, AuthSettings
    from services.fastapi_baseline.settings import Settings, keepalive_s
    from services.ratelimit import RateLimitConfigError, RateLimitSettings
    from services.request_state import KEYS_ENV, RequestStateConfigError, parse_keys
    from services.tools.packs import load_packs

    try:
        load_packs(Settings.from_env(os.environ).tool_packs)  # MCP_STATEFUL and MCP_SLOT are among its settings
        keepalive_s(os.environ)
        AuthSettings.from_env(os.environ)
        RateLimitSettings.from_env(os.environ)
        if os.environ.get(KEYS_ENV, "").strip():
            parse_keys(os.environ[KEYS_ENV].strip())
    except (AuthConfigError, RateLimitConfigError, RequestStateConfigError, ValueError) as ex:
        console.print(f"[red]error:[/] {ex}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


@app.command()
def sdk(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.", min=0, max=65535)] = 8080,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.", min=1)] = 1,
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
