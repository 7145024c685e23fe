"""A constant-rate mixed MCP load through HAProxy that checks every response (HTTP status, JSON-RPC envelope, MCP
`isError`) and time-stamps each failure. 127.0.0.1 only; stops by itself (a deadline and a request cap) or on `stop`.

Each connection sends on a fixed schedule (rate / connections per second) and keeps the connection alive; a
response that arrives late delays only that connection's next request, and the schedule catches up.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

MIX: tuple[dict[str, Any], ...] = (
    {"method": "tools/call", "params": {"name": "echo", "arguments": {"message": "load", "payload_bytes": 512}}},
    {"method": "tools/call", "params": {"name": "get_customer", "arguments": {"customer_id": 42, "recent_orders": 3}}},
    {"method": "tools/call", "params": {"name": "hash_chain", "arguments": {"text": "load", "rounds": 20}}},
    {"method": "tools/list", "params": {}},
)

# A request's method and params by its sequence number (a function, so writes can carry a fresh idempotency key).
Messages = Callable[[int], dict[str, Any]]


def cycle(mix: tuple[dict[str, Any], ...]) -> Messages:
    return lambda n: mix[n % len(mix)]


DEFAULT_MESSAGES: Messages = cycle(MIX)


@dataclass
class LoadStats:
    sent: int = 0
    ok: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    failure_times: list[float] = field(default_factory=list)  # wall clock, comparable with the audit log
    samples: list[str] = field(default_factory=list)  # the first failed responses, for the assertion message
    latencies_ms: list[float] = field(default_factory=list)  # every answered request, in arrival order
    started: float = 0.0
    ended: float = 0.0
    # The phase a request is sent in (set by the caller between phases), and every request's outcome counted under the
    # phase it was sent in, so a phase's counts do not borrow answers that were in flight when it began.
    phase: str = ""
    by_phase: dict[str, Counter[str]] = field(default_factory=dict)

    def tally(self, phase: str, outcome: str) -> None:
        counts = self.by_phase.get(phase)
        if counts is None:
            counts = self.by_phase[phase] = Counter()
        counts[outcome] += 1

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    @property
    def rate(self) -> float:
        return self.sent / max(self.ended - self.started, 1e-9)


def _classify(status: int, body: bytes, method: str) -> str | None:
    """None when the response is a success; else the kind of failure."""
    if status != 200:
        return f"http_{status}"
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "bad_json"
    if "error" in payload:
        return "jsonrpc_error"
    result = payload.get("result")
    if not isinstance(result, dict):
        return "no_result"
    if method == "tools/call" and (result.get("isError") or "structuredContent" not in result):
        return "is_error"
    if method == "tools/list" and not result.get("tools"):
        return "empty_tools"
    return None


async def _read(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    length, close = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
        elif name.strip().lower() == "connection" and value.strip().lower() == "close":
            close = True
    return status, await reader.readexactly(length), close


async def run(
    port: int,
    *,
    rate_per_s: float,
    duration_s: float,
    connections: int = 96,
    stop: threading.Event | None = None,
    warmed: threading.Event | None = None,
    messages: Messages = DEFAULT_MESSAGES,
    stats: LoadStats | None = None,
) -> LoadStats:
    """`stats`, when given, is filled in place, so another thread can watch the counts while the load runs."""
    stats = stats if stats is not None else LoadStats()
    stats.started = time.monotonic()
    deadline = stats.started + duration_s
    interval = connections / rate_per_s
    max_requests = int(rate_per_s * duration_s * 1.1) + connections

    async def client(index: int) -> None:
        reader = writer = None
        next_at = stats.started + index * interval / connections
        n = index
        while time.monotonic() < deadline and stats.sent < max_requests and not (stop and stop.is_set()):
            delay = next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            next_at += interval
            if writer is None:
                try:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                except OSError:
                    stats.failures["connect"] += 1
                    stats.tally(stats.phase, "connect")
                    stats.failure_times.append(time.time())
                    continue
            assert reader is not None
            message = {"jsonrpc": "2.0", "id": n, **messages(n)}
            n += connections
            body = orjson.dumps(message)
            writer.write(
                b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Accept: application/json, text/event-stream\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )
            stats.sent += 1
            phase = stats.phase
            stats.tally(phase, "sent")
            sent_at = time.monotonic()
            try:
                status, payload, close = await asyncio.wait_for(_read(reader), 30)
            except (asyncio.IncompleteReadError, ConnectionError, TimeoutError, ValueError):
                stats.failures["lost"] += 1
                stats.tally(phase, "lost")
                stats.failure_times.append(time.time())
                writer.close()
                reader = writer = None
                continue
            stats.latencies_ms.append((time.monotonic() - sent_at) * 1000)
            kind = _classify(status, payload, str(message["method"]))
            stats.tally(phase, "ok" if kind is None else kind)
            if kind is None:
                stats.ok += 1
                if warmed is not None and stats.ok >= rate_per_s:
                    warmed.set()
            else:
                stats.failures[kind] += 1
                stats.failure_times.append(time.time())
                if len(stats.samples) < 5:
                    stats.samples.append(f"{message['method']} {status} {payload[:300]!r}")
            if close:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    await asyncio.gather(*(client(i) for i in range(connections)))
    stats.ended = time.monotonic()
    return stats
