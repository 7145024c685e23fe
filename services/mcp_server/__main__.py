"""`python -m services.mcp_server`: the native server's production entry point, and its one set of flags.

`mcpstack serve native` is this same function (with its own program name and the local cluster as a database
fallback), so the flags, their defaults and their help are written here once. It imports only what serving needs (no
CLI framework), which keeps cold start short. Environment variables (MCP_*, DATABASE_URL) apply; flags override them.
This module never imports `scripts/`: a caller that knows of a local database passes the lookup in.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import NoReturn

from services.mcp_server import supervisor
from services.mcp_server.config import ConfigError, load_config
from services.tools.packs import load_packs

EXIT_USAGE = 2  # bad flag or bad configuration, the way argparse and Typer exit on a usage error


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, not argparse's usage block plus the error: the operator reads a bad flag at a glance.
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


class _Formatter(argparse.HelpFormatter):
    """argparse's help formatter with the terminal width read through `os`.

    argparse builds a formatter for every `add_argument` and, left to itself, imports `shutil` (and with it bz2, lzma
    and fnmatch, several milliseconds) only to read the terminal width: a cost on every start, not just for --help.
    """

    def __init__(self, prog: str) -> None:
        try:
            columns = int(os.environ.get("COLUMNS", "")) or os.get_terminal_size().columns
        except (ValueError, OSError):
            columns = 80
        super().__init__(prog, width=max(columns - 2, 40))


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, description="The native MCP server.", allow_abbrev=False, formatter_class=_Formatter)
    parser.add_argument("--host", help="address to bind (env MCP_HOST; default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (env MCP_PORT; default 8080)")
    parser.add_argument("--workers", type=int, help="worker processes (env MCP_WORKERS; default: one per core)")
    parser.add_argument("--database-url", help="PostgreSQL URL (env DATABASE_URL)")
    parser.add_argument("--tool-packs", help="comma-separated tool packs (env MCP_TOOL_PACKS; default: reference)")
    return parser


def main(
    argv: list[str] | None = None,
    *,
    prog: str = "python -m services.mcp_server",
    local_database_url: Callable[[], str | None] | None = None,
) -> int:
    """Parse the flags, decide the configuration once, and run the supervisor until it has drained.

    `local_database_url` is asked only when neither --database-url nor DATABASE_URL names a database.
    """
    args = _parser(prog).parse_args(argv)
    workers = args.workers
    if workers is None and not os.environ.get("MCP_WORKERS"):
        workers = os.cpu_count()
    try:
        config = load_config(
            host=args.host,
            port=args.port,
            workers=workers,
            database_url=args.database_url,
            tool_packs=tuple(p.strip() for p in args.tool_packs.split(",")) if args.tool_packs else None,
        )
        registry = load_packs(config.tool_packs)
    except (ConfigError, ValueError) as ex:
        print(f"{prog}: error: {ex}", file=sys.stderr)
        return EXIT_USAGE
    if config.database_url is None and local_database_url is not None:
        # Asked last, once everything the operator gave is known to be valid: a bad flag stays one line.
        config = replace(config, database_url=local_database_url())
    from services.tasks import serves_tasks, unshared_tasks

    refused = unshared_tasks(
        serves=serves_tasks(tool.fn for tool in registry), workers=config.workers, database_url=config.database_url
    )
    if refused is not None:
        print(f"{prog}: error: {refused}", file=sys.stderr)
        return EXIT_USAGE
    return supervisor.run(config, registry)


if __name__ == "__main__":
    raise SystemExit(main())
