"""The one operator CLI, `mcpstack`: `main()` is its entry point; subcommands live in their own modules.

`mcpstack serve native` goes to the native server's own entry point before Typer and Rich are imported: a server's
cold start is part of what this project measures, and that entry point (`services/mcp_server/__main__.py`) holds the
command's one set of flags and its `--help`. Every other command is a Typer command of `build_app()`.
"""

from __future__ import annotations

import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer

SERVE_NATIVE = ("serve", "native")


def serve_native(argv: list[str]) -> int:
    """`mcpstack serve native ARGS`: the native server, with the local cluster when no database is named."""
    from services.mcp_server.__main__ import main as run_native

    return run_native(argv, prog="mcpstack serve native", local_database_url=_local_database_url)


def _local_database_url() -> str | None:
    # Imported only when asked: with a database named (production), the server's start never loads the cluster code.
    from scripts.pgcluster import local_database_url

    return local_database_url()


def build_app() -> typer.Typer:
    """Every command but the fast path of `serve native` (which is listed here too, and lands in the same place)."""
    import typer

    from scripts import db, demo, serve, stack
    from scripts.bench.cli import bench
    from scripts.cost.cli import app as cost
    from scripts.cutover import cli as cutover
    from scripts.release import app as release

    app = typer.Typer(
        name="mcpstack",
        help="Deploy, measure, migrate and price MCP servers: native vs FastAPI.",
        no_args_is_help=True,
        add_completion=False,
    )
    app.add_typer(db.app, name="db")
    app.add_typer(serve.app, name="serve")
    app.command(name="demo")(demo.demo)
    app.command(name="bench")(bench)
    app.add_typer(stack.app, name="stack")
    app.add_typer(cutover.app, name="cutover")
    app.add_typer(cost, name="cost")
    app.add_typer(release, name="release")
    return app


def main(argv: list[str] | None = None) -> int:
    """The `mcpstack` command (pyproject's `[project.scripts]`)."""
    args = sys.argv[1:] if argv is None else argv
    if tuple(args[: len(SERVE_NATIVE)]) == SERVE_NATIVE:
        return serve_native(args[len(SERVE_NATIVE) :])
    signal.signal(signal.SIGINT, _interrupted)
    try:
        build_app()(args=args, prog_name="mcpstack")  # Typer exits by itself (SystemExit with the command's code)
    except KeyboardInterrupt:  # outside a command's run, which Typer covers: while modules load, or a second Ctrl-C
        raise SystemExit(130) from None
    return 0


_said: list[bool] = []


def _interrupted(_signum: int, _frame: object) -> None:
    """Ctrl-C: one line saying so, once (Typer turns the KeyboardInterrupt into exit 130 without a word), then what
    Python does by default: KeyboardInterrupt, on which each command stops what it started."""
    if not _said:
        _said.append(True)
        sys.stderr.write("mcpstack: interrupted (Ctrl-C)\n")
    raise KeyboardInterrupt


if __name__ == "__main__":
    raise SystemExit(main())
