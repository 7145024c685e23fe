"""`python -m services.mcp_server`: the native server's production entry point.

It imports only what serving needs (no CLI framework), which keeps cold start short; `mcpstack serve native` routes
here. Environment variables (MCP_*, DATABASE_URL) apply; flags override them.
"""

from __future__ import annotations

import argparse
import os
import sys

from services.mcp_server import supervisor
from services.mcp_server.config import ConfigError, load_config
from services.tools.packs import load_packs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mcpstack serve native", description="The native MCP server.")
    parser.add_argument("--host", help="address to bind (env MCP_HOST; default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (env MCP_PORT; default 8080)")
    parser.add_argument("--workers", type=int, help="worker processes (env MCP_WORKERS; default: one per core)")
    parser.add_argument("--database-url", help="PostgreSQL URL (env DATABASE_URL)")
    parser.add_argument("--tool-packs", help="comma-separated tool packs (env MCP_TOOL_PACKS)")
    args = parser.parse_args(argv)
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
        print(f"error: {ex}", file=sys.stderr)
        return 2
    return supervisor.run(config, registry)


if __name__ == "__main__":
    raise SystemExit(main())
