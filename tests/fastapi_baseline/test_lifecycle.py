"""The FastAPI baseline under gunicorn, under bounded load on 127.0.0.1: drain on SIGTERM, database restarts."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from scripts.pgcluster import Cluster
from tests.loadgen import LoadResult, run_load
from tests.support import build_request, fastapi_server, raw_request, rpc


def _mixed(i: int) -> dict[str, object]:
    calls = [
        ("echo", {"message": "m", "payload_bytes": 1024}),
        ("get_customer", {"customer_id": 1 + i % 10000}),
        ("search_documents", {"query": f"sku{1 + i % 4000}", "limit": 5}),
        ("hash_chain", {"text": "x", "rounds": 2000}),
    ]
    name, arguments = calls[i % len(calls)]
    return {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": name, "arguments": arguments}}


def _lookup(i: int) -> dict[str, object]:
    return {
        "jsonrpc": "2.0",
        "id": i,
        "method": "tools/call",
        "params": {"name": "get_customer", "arguments": {"customer_id": 1 + i % 10000}},
    }


def test_sigterm_under_load_loses_no_in_flight_request(database_url: str, tmp_path: Path) -> None:
    with fastapi_server(tmp_path, database_url=database_url, workers=2) as server:

        async def scenario() -> tuple[LoadResult, float]:
            connected = asyncio.Event()
            load = asyncio.create_task(
                run_load(server.port, _mixed, connections=16, duration_s=8.0, connected=connected)
            )
            await asyncio.wait_for(connected.wait(), 10)
            await asyncio.sleep(0.5)
            server.proc.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            return await load, signalled

        result, signalled = asyncio.run(scenario())
        code = server.proc.wait(timeout=30)
        stopped_after = time.monotonic() - signalled

    print("sigterm load:", result.sent, result.answered, result.lost, result.statuses, result.closed_by_server)
    assert result.sent > 100
    assert result.lost == 0, f"{result.lost} requests written to accepted connections got no response"
    assert result.answered == result.sent
    assert set(result.statuses) == {200}
    assert result.tool_errors == 0
    assert result.closed_by_server == 16  # every connection told to close (the worker's drain grace)
    assert code == 0
    assert stopped_after < 20  # gunicorn's graceful_timeout


def test_database_restart_under_load_is_survived_and_service_resumes_within_5_s(
    pg_cluster: Cluster, database_url: str, tmp_path: Path
) -> None:
    with fastapi_server(tmp_path, database_url=database_url, workers=1) as server:

        async def scenario() -> tuple[LoadResult, float, int]:
            # Long enough that 5 s of load follow the restart even when stopping and starting PostgreSQL is slow.
            started = time.monotonic()
            load = asyncio.create_task(run_load(server.port, _lookup, connections=4, duration_s=14.0))
            await asyncio.sleep(1.5)
            await asyncio.to_thread(pg_cluster.stop, mode="immediate")
            await asyncio.sleep(0.5)
            ready_during_outage = await asyncio.to_thread(
                lambda: raw_request(server.port, build_request(method="GET", path="/ready")).status
            )
            await asyncio.sleep(1.5)
            await asyncio.to_thread(pg_cluster.start)
            back = time.monotonic()
            assert back - started < 9.0, "stopping and starting PostgreSQL took too long to test recovery"
            return await load, back, ready_during_outage

        result, back, ready_status = asyncio.run(scenario())
        assert server.proc.poll() is None, "the server must survive a database restart"
        after = rpc(server.port, "tools/call", {"name": "get_customer", "arguments": {"customer_id": 3}}).json()
        assert not after["result"].get("isError")
        ready_after = raw_request(server.port, build_request(method="GET", path="/ready")).status

    recovered = [t for t in result.ok_times if t >= back]
    print("db restart:", result.sent, result.tool_errors, result.tool_ok, [t - back for t in recovered][:1])
    assert ready_status == 503
    assert ready_after == 200
    assert result.lost == 0
    assert set(result.statuses) == {200}  # outage answers are isError results, not 5xx
    assert result.tool_errors > 0  # the outage was seen ...
    assert recovered, "no successful call after the database came back"
    assert recovered[0] - back < 5.0
