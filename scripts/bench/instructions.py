"""Instructions per echo request through the native server, in process, counted by callgrind.

A fake transport stands in for the socket (no syscalls): each request's bytes go to the connection's
`data_received`, so the count covers httptools, the transport, JSON-RPC, methods, the tool and the response written.
Instruction counts do not depend on how busy the machine is, so two trees can be compared on a shared machine:
`PYTHONPATH=<other tree> python scripts/bench/instructions.py` measures that tree's server with this script.

    python -m scripts.bench.instructions --era handshake     # prints instructions per request
    python -m scripts.bench.instructions --drive 1000 --era 2026-07-28   # the driven loop alone (what callgrind runs)

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


def echo_request(era: str) -> bytes:
    """The benchmark's echo call (1 KB payload) as raw HTTP, in the handshake era or the 2026-07-28 era."""
    params: dict[str, Any] = {"name": "echo", "arguments": {"message": "hello", "payload_bytes": 1024}}
    headers = b""
    if era == "2026-07-28":
        params["_meta"] = {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
        }
        headers = b"MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: echo\r\n"
    body = orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})
    return (
        b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\n"
        b"Accept: application/json, text/event-stream\r\n" + headers + b"Content-Length: %d\r\n\r\n" % len(body) + body
    )


async def drive(n: int, era: str) -> list[bytes]:
    """Send `n` echo calls through one connection of a native worker; returns the responses."""
    from services.mcp_server.config import load_config
    from services.mcp_server.worker import Worker
    from services.tools.packs import load_packs

    worker = Worker(load_config(env={}), load_packs(("reference",)), metrics_dir=None)
    connection = worker.wire.protocol_factory()
    transport = _Transport()
    connection.connection_made(transport)
    request = echo_request(era)
    for i in range(n):
        connection.data_received(request)
        while len(transport.responses) <= i:  # a reply that is not ready at once runs on the loop
            transport.written.clear()
            await transport.written.wait()
    return transport.responses


def count(n: int, era: str) -> int:
    """Instructions of a whole `--drive n` run under callgrind."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is needed: apt-get install valgrind")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        # The file itself, not `-m`: under PYTHONPATH=<another tree> it measures that tree's server.
        driven = [sys.executable, __file__, "--drive", str(n), "--era", era]
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench.instructions", description=__doc__.split("\n")[0])
    parser.add_argument("--era", choices=ERAS, default="handshake")
    parser.add_argument("--drive", type=int, metavar="N", help="only send N requests (what callgrind runs)")
    args = parser.parse_args(argv)
    if args.drive is not None:
        import uvloop

        responses = uvloop.run(drive(args.drive, args.era))
        if not all(r.startswith(b"HTTP/1.1 200 ") for r in responses):
            raise SystemExit("a response was not 200")
        return
    small, large = count(SMALL, args.era), count(LARGE, args.era)
    print(f"{args.era}: {(large - small) // (LARGE - SMALL)} instructions per request")


if __name__ == "__main__":
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]  # run as a file: this directory's run.py, report.py, … must not shadow other modules
    main()
