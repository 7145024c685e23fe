"""Idle keep-alive memory: N connections, one request each, left idle; ΔRSS of the server's process tree ÷ N."""

from __future__ import annotations

import asyncio
import resource
from dataclasses import dataclass

from scripts.bench.proc import rss_bytes

PING = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'


def raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, needed))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


@dataclass(frozen=True)
class MemoryResult:
    connections: int
    opened: int
    delta_rss_bytes: int
    bytes_per_connection: float
    sample_alive: int
    sample_size: int


def _request(port: int) -> bytes:
    return (
        f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json, text/event-stream\r\nContent-Length: {len(PING)}\r\n\r\n"
    ).encode() + PING


async def _open(port: int, n: int) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    conns: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    request = _request(port)

    async def one() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        conns.append((reader, writer))

    batch = 200
    for start in range(0, n, batch):
        results = await asyncio.gather(*(one() for _ in range(min(batch, n - start))), return_exceptions=True)
        if any(isinstance(r, BaseException) for r in results):
            break
    return conns


async def _alive(port: int, conns: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]) -> int:
    ok = 0
    request = _request(port)
    for reader, writer in conns:
        try:
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            ok += head.startswith(b"HTTP/1.1 200")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            continue
    return ok


def measure_idle_memory(server_pid: int, port: int, n: int, *, settle_s: float = 3.0) -> MemoryResult:
    raise_fd_limit(n + 1000)

    async def scenario() -> MemoryResult:
        warm = await _open(port, 50)  # let lazily-allocated per-process state exist before the baseline
        await asyncio.sleep(settle_s)
        before = rss_bytes(server_pid)
        conns = await _open(port, n)
        await asyncio.sleep(settle_s)
        after = rss_bytes(server_pid)
        sample = conns[:: max(1, len(conns) // 20)][:20]
        alive = await _alive(port, sample)
        for _, writer in conns + warm:
            writer.close()
        delta = after - before
        return MemoryResult(n, len(conns), delta, delta / len(conns) if conns else float("nan"), alive, len(sample))

    return asyncio.run(scenario())
