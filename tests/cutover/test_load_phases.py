"""The constant-rate load counts each request's outcome under the phase it was sent in (scripts/cutover/load.py), so a
phase never borrows answers that were in flight when it began (the demo once showed 1,267 ok of 1,266 sent)."""

from __future__ import annotations

import asyncio
import threading

import orjson

from scripts.cutover import load
from scripts.demo_report import phase_counts

ANSWER = orjson.dumps({"jsonrpc": "2.0", "id": 0, "result": {"tools": [{"name": "echo"}]}})


async def _held_server(release: asyncio.Event, received: asyncio.Event) -> asyncio.Server:
    """An HTTP server on 127.0.0.1 that reads each request and answers it only once `release` is set."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                received.set()
                await release.wait()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                    + str(len(ANSWER)).encode()
                    + b"\r\n\r\n"
                    + ANSWER
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


def test_an_answer_arriving_after_its_phase_ended_counts_in_the_phase_it_was_sent_in() -> None:
    async def scenario() -> load.LoadStats:
        release, received = asyncio.Event(), asyncio.Event()
        server = await _held_server(release, received)
        port = server.sockets[0].getsockname()[1]
        stats = load.LoadStats(phase="before")
        stop = threading.Event()
        messages = load.cycle(({"method": "tools/list", "params": {}},))
        running = asyncio.create_task(
            load.run(port, rate_per_s=1.0, duration_s=5.0, connections=1, stop=stop, messages=messages, stats=stats)
        )
        await asyncio.wait_for(received.wait(), 5)
        stats.phase = "after"  # the phase changes while the first request waits for its answer
        stop.set()
        release.set()
        await asyncio.wait_for(running, 10)
        server.close()
        await server.wait_closed()
        return stats

    stats = asyncio.run(scenario())
    before, after = phase_counts(stats, "before"), phase_counts(stats, "after")
    assert (before.sent, before.ok, before.lost) == (1, 1, 0)
    assert (after.sent, after.ok) == (0, 0)


def test_phase_counts_split_failures_into_lost_and_failed_answers() -> None:
    stats = load.LoadStats()
    for outcome in ("sent", "sent", "sent", "sent", "ok", "lost", "jsonrpc_error", "http_503"):
        stats.tally("cutover", outcome)
    counts = phase_counts(stats, "cutover")
    assert (counts.sent, counts.ok, counts.lost, counts.failed_answers) == (4, 1, 2, 1)
    assert counts.failures == {"lost": 1, "jsonrpc_error": 1, "http_503": 1}


def test_a_phase_with_no_requests_counts_zero() -> None:
    counts = phase_counts(load.LoadStats(), "never")
    assert (counts.sent, counts.ok, counts.lost, counts.failed_answers, counts.failures) == (0, 0, 0, 0, {})
