"""The one operator CLI, `mcpstack`: subcommands live in their own modules under `scripts/`."""

from __future__ import annotations

import typer

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
