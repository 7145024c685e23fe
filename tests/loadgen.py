"""A small closed-loop load client that counts every request: sent, answered, lost.

Each connection is opened once and reused (keep-alive). A request is `lost` when it was written and the connection
ended without its response. After a `Connection: close` response the connection stops (not reconnecting keeps the
count exact: every request it wrote went to an accepted connection). Only 127.0.0.1; bounded in time and count.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson


@dataclass
class LoadResult:
    sent: int = 0
    answered: int = 0
    lost: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    tool_errors: int = 0
    tool_ok: int = 0
    closed_by_server: int = 0
    first_ok_after: dict[str, float] = field(default_factory=dict)
    ok_times: list[float] = field(default_factory=list)


def request_bytes(port: int, message: dict[str, object]) -> bytes:
    body = orjson.dumps(message)
    return (
        f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json, text/event-stream\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


async def run_load(
    port: int,
    make_message: Callable[[int], dict[str, object]],
    *,
    connections: int,
    duration_s: float,
    max_requests: int = 1_000_000,
    connected: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
) -> LoadResult:
    """Drive `connections` sequential clients for `duration_s` (or `max_requests`, or until `stop` is set), counting
    every request."""
    result = LoadResult()
    deadline = time.monotonic() + duration_s
    ready = 0
    counter = 0

    async def client() -> None:
        nonlocal ready, counter
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        first = True
        try:
            while time.monotonic() < deadline and result.sent < max_requests and not (stop and stop.is_set()):
                counter += 1
                writer.write(request_bytes(port, make_message(counter)))
                result.sent += 1
                try:
                    status, headers, body = await asyncio.wait_for(_read_response(reader), 30)
                except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
                    result.lost += 1
                    return
                result.answered += 1
                result.statuses[status] += 1
                if status == 200:
                    payload = orjson.loads(body)
                    if payload.get("result", {}).get("isError"):
                        result.tool_errors += 1
                    elif "result" in payload:
                        result.tool_ok += 1
                        result.ok_times.append(time.monotonic())
                if first:
                    first = False
                    ready += 1
                    if connected is not None and ready == connections:
                        connected.set()
                if headers.get("connection") == "close":
                    result.closed_by_server += 1
                    return
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(connections)))
    return result
