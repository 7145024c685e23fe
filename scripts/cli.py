"""The one operator CLI, `mcpstack`: subcommands live in their own modules under `scripts/`."""

from __future__ import annotations

import os
import sys


def _serve_native_fast_path(argv: list[str]) -> int:
    """`mcpstack serve native` without loading Typer and Rich: the server process starts in a fraction of the time.

    Adds the local cluster's URL when neither DATABASE_URL nor --database-url is given (operator convenience).
    """
    from services.mcp_server.__main__ import main as serve_native

    if not os.environ.get("DATABASE_URL") and not any(a.startswith("--database-url") for a in argv):
        from scripts.pgcluster import ClusterError, local_database_url

        try:
            url = local_database_url()
        except ClusterError:
            url = None
        if url:
            argv = [*argv, "--database-url", url]
        else:
            print(
                "warning: no DATABASE_URL and no local cluster: database tools will report errors "
                "(run `mcpstack db up`)",
                file=sys.stderr,
            )
    return serve_native(argv)


if sys.argv[1:3] == ["serve", "native"] and not {"--help", "-h"} & set(sys.argv):
    raise SystemExit(_serve_native_fast_path(sys.argv[3:]))

import typer  # noqa: E402  (after the fast path on purpose)

app = typer.Typer(
    name="mcpstack",
    help="Deploy, measure, migrate and price MCP servers: native vs FastAPI.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def main() -> None:
    """mcpstack: a deployment reference stack for MCP servers."""


def _register() -> None:
    from scripts import db, demo, serve

    app.add_typer(db.app, name="db")
    app.add_typer(serve.app, name="serve")
    app.command(name="demo")(demo.demo)
    from scripts.bench.cli import bench

    app.command(name="bench")(bench)


_register()

if __name__ == "__main__":
    app()
