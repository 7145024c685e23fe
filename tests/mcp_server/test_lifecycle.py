"""Process lifecycle under bounded load on 127.0.0.1: drain on SIGTERM, database restarts, worker crashes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

from scripts.pgcluster import Cluster
from tests.loadgen import run_load
from tests.support import build_request, native_server, raw_request, rpc, wait_healthy


def _mixed(i: int) -> dict[str, object]:
    calls = [
        ("echo", {"message": "m", "payload_bytes": 1024}),
        ("get_customer", {"customer_id": 1 + i % 10000}),
        ("search_documents", {"query": f"sku{1 + i % 4000}", "limit": 5}),
        ("hash_chain", {"text": "x", "rounds": 2000}),
    ]
    name, arguments = calls[i % len(calls)]
    return {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": name, "arguments": arguments}}


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
    return [int(p) for p in out.split()]


def test_sigterm_under_load_loses_no_in_flight_request(database_url: str, tmp_path: Path) -> None:
    with native_server(tmp_path, database_url=database_url, workers=2, env={"MCP_DRAIN_TIMEOUT_S": "10"}) as server:

        async def scenario() -> tuple[object, float]:
            connected = asyncio.Event()
            load = asyncio.create_task(
                run_load(server.port, _mixed, connections=16, duration_s=8.0, connected=connected)
            )
            await asyncio.wait_for(connected.wait(), 10)
            await asyncio.sleep(0.5)
            server.proc.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            result = await load
            return result, signalled

        result, signalled = asyncio.run(scenario())
        code = server.proc.wait(timeout=20)
        stopped_after = time.monotonic() - signalled

    print("sigterm load:", result)
    assert result.sent > 100  # type: ignore[attr-defined]
    assert result.lost == 0, f"{result.lost} requests written to accepted connections got no response"  # type: ignore[attr-defined]
    assert result.answered == result.sent  # type: ignore[attr-defined]
    assert set(result.statuses) == {200}  # type: ignore[attr-defined]
    assert result.tool_errors == 0  # type: ignore[attr-defined]
    assert result.closed_by_server == 16  # type: ignore[attr-defined]  # every connection told to close
    assert code == 0
    assert stopped_after < 10


def test_database_restart_under_load_is_survived_and_service_resumes_within_5_s(
    pg_cluster: Cluster, database_url: str, tmp_path: Path
) -> None:
    def lookup(i: int) -> dict[str, object]:
        return {
            "jsonrpc": "2.0",
            "id": i,
            "method": "tools/call",
            "params": {"name": "get_customer", "arguments": {"customer_id": 1 + i % 10000}},
        }

    with native_server(tmp_path, database_url=database_url, workers=1) as server:

        async def scenario() -> tuple[object, float, int]:
            load = asyncio.create_task(run_load(server.port, lookup, connections=4, duration_s=9.0))
            await asyncio.sleep(1.5)
            await asyncio.to_thread(pg_cluster.stop, mode="immediate")
            await asyncio.sleep(0.5)
            ready_during_outage = await asyncio.to_thread(
                lambda: raw_request(server.port, build_request(method="GET", path="/ready")).status
            )
            await asyncio.sleep(1.5)
            await asyncio.to_thread(pg_cluster.start)
            back = time.monotonic()
            return await load, back, ready_during_outage

        result, back, ready_status = asyncio.run(scenario())
        assert server.proc.poll() is None, "the server must survive a database restart"
        after = rpc(server.port, "tools/call", {"name": "get_customer", "arguments": {"customer_id": 3}}).json()
        assert not after["result"].get("isError")
        ready_after = raw_request(server.port, build_request(method="GET", path="/ready")).status

    print(
        "db restart:",
        result.sent,
        result.tool_errors,
        result.tool_ok,
        [t - back for t in result.ok_times if t >= back][:1],
    )  # type: ignore[attr-defined]
    assert ready_status == 503
    assert ready_after == 200
    assert result.lost == 0  # type: ignore[attr-defined]
    assert set(result.statuses) == {200}  # type: ignore[attr-defined]  # outage answers are isError results, not 5xx
    assert result.tool_errors > 0  # type: ignore[attr-defined]  # the outage was seen ...
    recovered = [t for t in result.ok_times if t >= back]  # type: ignore[attr-defined]
    assert recovered, "no successful call after the database came back"
    assert recovered[0] - back < 5.0


def test_a_killed_worker_is_replaced(database_url: str, tmp_path: Path) -> None:
    with native_server(tmp_path, database_url=database_url, workers=2) as server:
        before = _children(server.proc.pid)
        assert len(before) == 2
        os.kill(before[0], signal.SIGKILL)
        deadline = time.monotonic() + 10
        after: list[int] = []
        while time.monotonic() < deadline:
            after = _children(server.proc.pid)
            if len(after) == 2 and before[0] not in after:
                break
            time.sleep(0.05)
        assert len(after) == 2 and before[0] not in after
        wait_healthy(server.port)
        for i in range(20):
            assert rpc(server.port, "ping", id_=i).status == 200


def test_a_busy_port_fails_at_start_with_one_clear_line(tmp_path: Path) -> None:
    import socket
    import sys

    from tests.support import REPO

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "scripts.cli", "serve", "native", "--port", str(port), "--workers", "1"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"MCPSTACK_STATE_DIR": str(tmp_path)},
        )
    assert proc.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr
    assert "Traceback" not in proc.stderr
