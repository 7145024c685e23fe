"""`mcpstack demo`: the main job on embedded defaults. For now: PostgreSQL, the native server, every tool called by the
official MCP client. (The full rehearsal — both servers, HAProxy, load, a cutover, a cost report — grows here.)"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from scripts.db import prepare
from scripts.pgcluster import ClusterError, free_port, local_cluster

console = Console()

CALLS: list[tuple[str, dict[str, Any]]] = [
    ("echo", {"message": "hello from mcpstack", "payload_bytes": 1024}),
    ("hash_chain", {"text": "mcpstack", "rounds": 1000}),
    ("get_customer", {"customer_id": 42}),
    ("search_documents", {"query": "rollback sku42", "limit": 3}),
    ("send_notification", {"customer_id": 42, "channel": "email", "message": "Your order shipped"}),
]


async def _exercise(url: str) -> list[tuple[str, bool, str, float]]:
    from mcp import Client

    rows = []
    async with Client(url, mode="auto") as client:
        await client.list_tools()
        for name, arguments in CALLS:
            if name == "send_notification":
                arguments = {**arguments, "idempotency_key": f"demo-{uuid.uuid4()}"}
            started = time.perf_counter()
            result = await client.call_tool(name, arguments)
            elapsed = (time.perf_counter() - started) * 1000
            text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
            rows.append((name, not result.is_error, text[:70], elapsed))
    return rows


def demo() -> None:
    """Start PostgreSQL and the native server, and call every tool with the official MCP client."""
    cluster = local_cluster()
    try:
        with console.status("starting PostgreSQL (first run creates and seeds it)…"):
            cluster.init()
            cluster.start()
            asyncio.run(prepare(cluster.url, seed=True))
    except ClusterError as ex:
        console.print(f"[red]error:[/] {ex}")
        raise typer.Exit(1) from None
    console.print(f"PostgreSQL: {cluster.url}")
    port = free_port()
    env = {**os.environ, "DATABASE_URL": cluster.url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "scripts.cli", "serve", "native", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        deadline = time.monotonic() + 20
        with console.status("starting the native server…"):
            while True:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
                if time.monotonic() > deadline or proc.poll() is not None:
                    console.print("[red]error:[/] the native server did not start")
                    raise typer.Exit(1)
                time.sleep(0.05)
        console.print(f"native MCP server: {url} (2 workers)")
        rows = asyncio.run(_exercise(url))
        table = Table(title="Every reference tool, called by the official MCP client (mcp 2.3.0)")
        for column in ("tool", "ok", "ms", "answer (start)"):
            table.add_column(column)
        for name, ok, text, ms in rows:
            table.add_row(name, "yes" if ok else "[red]no[/]", f"{ms:.1f}", text)
        console.print(table)
        if not all(ok for _, ok, _, _ in rows):
            raise typer.Exit(1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    console.print("done: the server drained and stopped; `mcpstack db down` stops PostgreSQL")
