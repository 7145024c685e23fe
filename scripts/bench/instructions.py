"""Instructions per request through the native server, in process, counted by callgrind.

A fake transport stands in for the socket (no syscalls): each request's bytes go to the connection's
`data_received`, so the count covers httptools, the transport, JSON-RPC, methods, the tool and the response written.
The tool is echo (1 KB payload), or `get_customer` against a seeded database (`--database-url`): then the count also
holds the worker's database driver and its socket calls (PostgreSQL's own work runs in other processes, uncounted).
Instruction counts do not depend on how busy the machine is, so two trees can be compared on a shared machine:
`PYTHONPATH=<other tree> python scripts/bench/instructions.py` measures that tree's server with this script.

    python -m scripts.bench.instructions --era handshake     # prints instructions per request
    python -m scripts.bench.instructions --drive 1000 --era 2026-07-28   # the driven loop alone (what callgrind runs)
    python -m scripts.bench.instructions --tool get_customer --database-url postgresql://…   # a seeded database

Per request = (I(3,000 requests) − I(1,000)) ÷ 2,000, with PYTHONHASHSEED=0: start-up cancels out.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

ERAS = ("handshake", "2026-07-28")
TOOLS = ("echo", "get_customer")
SMALL, LARGE = 1000, 3000


class _Transport:
    """The parts of an asyncio transport the wire layer uses; counts the responses written."""

    def __init__(self) -> None:
        self.responses: list[bytes] = []
        self.written = asyncio.Event()

    def write(self, data: bytes) -> None:
        self.responses.append(data)
        self.written.set()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 5555) if name == "peername" else default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False


ARGUMENTS: dict[str, dict[str, Any]] = {
    "echo": {"message": "hello", "payload_bytes": 1024},
    "get_customer": {"customer_id": 4242},
}


def echo_request(era: str, tool: str = "echo") -> bytes:
    """The benchmark's echo call (1 KB payload), or a `get_customer` call, as raw HTTP, in the handshake era or the
    2026-07-28 era."""
    params: dict[str, Any] = {"name": tool, "arguments": ARGUMENTS[tool]}
    headers = b""
    if era == "2026-07-28":
        params["_meta"] = {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
        }
        headers = b"MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: %s\r\n" % tool.encode()
    body = orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})
    return (
        b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\n"
        b"Accept: application/json, text/event-stream\r\n" + headers + b"Content-Length: %d\r\n\r\n" % len(body) + body
    )


async def drive(n: int, era: str, tool: str = "echo", database_url: str | None = None) -> list[bytes]:
    """Send `n` calls of `tool` through one connection of a native worker; returns the responses."""
    from services.mcp_server.config import load_config
    from services.mcp_server.worker import Worker
    from services.tools.packs import load_packs

    env = {"DATABASE_URL": database_url} if database_url else {}
    worker = Worker(load_config(env=env), load_packs(("reference",)), metrics_dir=None)
    if worker.db is not None:
        await worker.db.start()
    connection = worker.wire.protocol_factory()
    transport = _Transport()
    connection.connection_made(transport)
    request = echo_request(era, tool)
    try:
        for i in range(n):
            connection.data_received(request)
            while len(transport.responses) <= i:  # a reply that is not ready at once runs on the loop
                transport.written.clear()
                await transport.written.wait()
    finally:
        await worker.close()
    return transport.responses


def count(n: int, era: str, tool: str = "echo", database_url: str | None = None) -> int:
    """Instructions of a whole `--drive n` run under callgrind."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is needed: apt-get install valgrind")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        # The file itself, not `-m`: under PYTHONPATH=<another tree> it measures that tree's server.
        driven = [sys.executable, __file__, "--drive", str(n), "--era", era, "--tool", tool]
        if database_url:
            driven += ["--database-url", database_url]
        subprocess.run(
            [valgrind, "--tool=callgrind", f"--callgrind-out-file={out}", *driven],
            env=os.environ | {"PYTHONHASHSEED": "0"},
            capture_output=True,
            check=True,
        )
        for line in out.read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise SystemExit("callgrind wrote no total")


def build_note() -> str:
    """Which build of the server's modules a `--drive` run under the same environment loads."""
    probe = "import services.mcp_server.wire as w; print('compiled' if w.__file__.endswith('.so') else 'pure')"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False, env=os.environ)
    return out.stdout.strip() or "unknown build"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench.instructions", description=__doc__.split("\n")[0])
    parser.add_argument("--era", choices=ERAS, default="handshake")
    parser.add_argument("--tool", choices=TOOLS, default="echo")
    parser.add_argument("--database-url", help="a seeded database (get_customer needs one)")
    parser.add_argument("--drive", type=int, metavar="N", help="only send N requests (what callgrind runs)")
    args = parser.parse_args(argv)
    if args.tool == "get_customer" and not args.database_url:
        parser.error("--tool get_customer needs --database-url (a seeded database: mcpstack db up)")
    if args.drive is not None:
        import uvloop

        responses = uvloop.run(drive(args.drive, args.era, args.tool, args.database_url))
        failed = [r for r in responses if not r.startswith(b"HTTP/1.1 200 ") or b'"isError":true' in r]
        if failed:
            raise SystemExit(f"{len(failed)} of {len(responses)} answers failed, the first: {failed[0][:300]!r}")
        return
    small = count(SMALL, args.era, args.tool, args.database_url)
    large = count(LARGE, args.era, args.tool, args.database_url)
    print(f"{args.tool}, {args.era}: {(large - small) // (LARGE - SMALL)} instructions per request ({build_note()})")


if __name__ == "__main__":
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]  # run as a file: this directory's run.py, report.py, … must not shadow other modules
    main()
