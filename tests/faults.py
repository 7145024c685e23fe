"""Fault scenarios shared by every server's lifecycle tests: SIGTERM under load, a database restart under load.

Each drives bounded load on 127.0.0.1 with the counting client and checks the outcome the same way for every server,
so a server cannot pass with a weaker test.
"""

from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import dataclass

from scripts.pgcluster import Cluster
from tests.loadgen import LoadResult, run_load
from tests.support import ServerProcess, build_request, raw_request, rpc


def mixed_call(i: int) -> dict[str, object]:
    calls = [
        ("echo", {"message": "m", "payload_bytes": 1024}),
        ("get_customer", {"customer_id": 1 + i % 10000}),
        ("search_documents", {"query": f"sku{1 + i % 4000}", "limit": 5}),
        ("hash_chain", {"text": "x", "rounds": 2000}),
    ]
    name, arguments = calls[i % len(calls)]
    return {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": name, "arguments": arguments}}


def lookup_call(i: int) -> dict[str, object]:
    return {
        "jsonrpc": "2.0",
        "id": i,
        "method": "tools/call",
        "params": {"name": "get_customer", "arguments": {"customer_id": 1 + i % 10000}},
    }


def assert_sigterm_loses_nothing(
    server: ServerProcess, *, connections: int = 16, stop_within_s: float
) -> tuple[LoadResult, float]:
    """SIGTERM while `connections` clients keep requests in flight: every written request is answered (200, no
    isError), every connection is told to close, and the server exits 0 within `stop_within_s`. Returns the load's
    counts and how long the server took to stop."""

    async def scenario() -> tuple[LoadResult, float]:
        connected = asyncio.Event()
        load = asyncio.create_task(
            run_load(server.port, mixed_call, connections=connections, duration_s=8.0, connected=connected)
        )
        await asyncio.wait_for(connected.wait(), 10)
        await asyncio.sleep(0.5)
        server.proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        return await load, signalled

    result, signalled = asyncio.run(scenario())
    code = server.proc.wait(timeout=stop_within_s + 10)
    stopped_after = time.monotonic() - signalled
    print("sigterm load:", result.sent, result.answered, result.lost, dict(result.statuses), result.closed_by_server)
    assert result.sent > 100
    assert result.lost == 0, f"{result.lost} requests written to accepted connections got no response"
    assert result.answered == result.sent
    assert set(result.statuses) == {200}
    assert result.tool_errors == 0
    assert result.closed_by_server == connections  # every connection told to close
    assert code == 0
    assert stopped_after < stop_within_s
    return result, stopped_after


@dataclass
class RestartOutcome:
    load: LoadResult
    back: float  # when PostgreSQL was accepting connections again
    ready_during_outage: int
    ready_after: int
    call_after_ok: bool


def database_restart_under_load(server: ServerProcess, cluster: Cluster) -> RestartOutcome:
    """Stop PostgreSQL (immediate) under load, start it again, keep the load running 6 s after it is back: however
    long the restart takes on a busy machine, recovery is measured from when PostgreSQL accepts again."""

    async def scenario() -> tuple[LoadResult, float, int]:
        stop = asyncio.Event()
        load = asyncio.create_task(run_load(server.port, lookup_call, connections=4, duration_s=120.0, stop=stop))
        await asyncio.sleep(1.5)
        await asyncio.to_thread(cluster.stop, mode="immediate")
        await asyncio.sleep(0.5)
        ready_during_outage = await asyncio.to_thread(
            lambda: raw_request(server.port, build_request(method="GET", path="/ready")).status
        )
        await asyncio.sleep(1.5)
        await asyncio.to_thread(cluster.start)
        back = time.monotonic()
        await asyncio.sleep(6.0)
        stop.set()
        return await load, back, ready_during_outage

    result, back, ready_status = asyncio.run(scenario())
    assert server.proc.poll() is None, "the server must survive a database restart"
    after = rpc(server.port, "tools/call", {"name": "get_customer", "arguments": {"customer_id": 3}}).json()
    ready_after = raw_request(server.port, build_request(method="GET", path="/ready")).status
    return RestartOutcome(result, back, ready_status, ready_after, not after["result"].get("isError"))


def assert_recovered_within_5_s(outcome: RestartOutcome) -> None:
    result = outcome.load
    recovered = [t for t in result.ok_times if t >= outcome.back]
    print("db restart:", result.sent, result.tool_errors, result.tool_ok, [t - outcome.back for t in recovered][:1])
    assert outcome.ready_during_outage == 503
    assert outcome.ready_after == 200 and outcome.call_after_ok
    assert result.lost == 0
    assert set(result.statuses) == {200}  # outage answers are isError results, not 5xx
    assert result.tool_errors > 0  # the outage was seen ...
    assert recovered, "no successful call after the database came back"
    assert recovered[0] - outcome.back < 5.0  # ... and service resumed within 5 s of the database returning
