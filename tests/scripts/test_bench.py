"""The benchmark harness: `--quick` runs end to end and its results file validates against the published schema."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

from scripts.bench import report, workloads
from scripts.bench.openloop import run_openloop
from scripts.bench.proc import group_members
from scripts.bench.targets import _wait_group_gone
from scripts.bench.wrk import parse
from tests.support import REPO, native_server

SCHEMA = json.loads((REPO / "scripts" / "bench" / "results.schema.json").read_text())

WRK_OUTPUT = """Running 5s test @ http://127.0.0.1:1/mcp
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.21ms    1.02ms  20.11ms   90.00%
  Latency Distribution
     50%    4.00ms
  75010 requests in 5.00s, 120.00MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 7
Requests/sec:  15002.00
"""


def test_wrk_output_is_parsed_with_errors_and_non_2xx() -> None:
    result = parse(WRK_OUTPUT)
    assert (result.requests, result.duration_s, result.non_2xx, result.socket_errors) == (75010, 5.0, 7, 3)
    assert result.rps == pytest.approx(15002.0)
    assert result.latency_avg_s == pytest.approx(0.00421)


def _results(native_rps: float, fastapi_rps: float) -> dict[str, Any]:
    def row(server: str, workload: str, scope: str, rps: float) -> dict[str, Any]:
        return {"server": server, "workload": workload, "scope": scope, "median_rps": rps}

    return {
        "throughput": [
            row("native-1", "echo_1024", "per-core", native_rps),
            row("fastapi-1", "echo_1024", "per-core", fastapi_rps),
            row("nginx-1", "echo_1024", "per-core", native_rps),
            row("sdk-1", "echo_1024", "per-core", native_rps / 120),
            row("native", "get_customer", "whole-box", 7000),
            row("fastapi-deployed", "get_customer", "whole-box", 1000),
        ],
        "memory": [
            {"server": "native", "connections": 8000, "bytes_per_connection": 1500},
            {"server": "fastapi-deployed", "connections": 8000, "bytes_per_connection": 11000},
        ],
        "cold_start": [{"server": "native", "median_s": 0.08}, {"server": "fastapi-deployed", "median_s": 0.4}],
        "latency": [
            {
                "server": "native",
                "fraction": 0.07,
                "rate": 500.0,
                "p50_us": 300,
                "p95_us": 800,
                "p99_us": 1500,
                "p999_us": 3000,
            }
        ],
    }


def test_targets_are_computed_from_the_results_and_can_fail() -> None:
    met = {t.name: t for t in report.targets(_results(12000, 1000))}
    missed = {t.name: t for t in report.targets(_results(11000, 1000))}
    assert met["per-core, echo 1 KB"].value == pytest.approx(12.0) and met["per-core, echo 1 KB"].passed
    assert missed["per-core, echo 1 KB"].passed is False
    assert met["database tool, whole box"].passed and met["official SDK server"].passed
    assert met["open-loop p99 at 50 % of FastAPI's saturation"].value == pytest.approx(1.5)


def test_peer_targets_come_from_the_peers_runs_and_are_unknown_without_them() -> None:
    without = {t.name: t for t in report.targets(_results(12000, 1000))}
    assert without["FastMCP"].passed is None and without["TypeScript SDK"].passed is None

    def row(server: str, rps: float) -> dict[str, Any]:
        return {"server": server, "workload": "echo_1024", "scope": "per-core", "median_rps": rps}

    peers = {"throughput": [row("native-1", 9000), row("fastmcp-1", 100), row("ts-sdk-1", 400)]}
    got = {t.name: t for t in report.targets(_results(12000, 1000) | {"peers": peers})}
    assert got["FastMCP"].value == pytest.approx(90.0) and got["FastMCP"].passed is False
    assert got["TypeScript SDK"].value == pytest.approx(22.5) and got["TypeScript SDK"].passed is False
    peers["throughput"][1:] = [row("fastmcp-1", 80), row("ts-sdk-1", 250)]
    got = {t.name: t for t in report.targets(_results(12000, 1000) | {"peers": peers})}
    assert got["FastMCP"].passed and got["TypeScript SDK"].passed


def test_tail_target_takes_the_worst_p99_up_to_three_quarters_of_natives_own_saturation() -> None:
    rows = [
        _openloop_row("native", 1000.0, 1.0, fraction=0.25),
        _openloop_row("native", 3000.0, 4.0, fraction=0.75),
        _openloop_row("native", 3600.0, 80.0, fraction=0.9),  # above 75 %: not held to the target
        _openloop_row("native", 500.0, 9.0, fraction=0.1, basis="fastapi-deployed"),  # another server's rates
        _openloop_row("fastapi-deployed", 500.0, 7.0, fraction=0.5),
    ]
    met = {t.name: t for t in report.targets(_results(12000, 1000) | {"latency": rows})}
    assert met["native tail, open loop"].value == pytest.approx(4.0) and met["native tail, open loop"].passed
    rows[1] = _openloop_row("native", 3000.0, 6.0, fraction=0.75)
    missed = {t.name: t for t in report.targets(_results(12000, 1000) | {"latency": rows})}
    assert missed["native tail, open loop"].passed is False


def _openloop_row(
    server: str, rate: float, p99_ms: float, basis: str = "own", *, fraction: float = 0.5
) -> dict[str, Any]:
    return {
        "server": server,
        "rate": rate,
        "fraction": fraction,
        "basis": basis,
        "p50_us": 300,
        "p99_us": p99_ms * 1000,
        "errors": 0,
        "non_2xx": 0,
    }


def test_equal_rate_target_pairs_native_with_fastapi_at_the_same_rates_and_can_fail() -> None:
    rows = [
        _openloop_row("fastapi-deployed", 500.0, 3.0),
        _openloop_row("fastapi-deployed", 900.0, 40.0),
        _openloop_row("native", 4000.0, 9.0),  # its own saturation sweep: no FastAPI run at this rate
        _openloop_row("native", 500.0, 1.0, basis="fastapi-deployed"),
        _openloop_row("native", 900.0, 2.0, basis="fastapi-deployed"),
    ]
    assert report.equal_rate_p99(rows, "native", "fastapi-deployed") == {
        500.0: (1000.0, 3000.0),
        900.0: (2000.0, 40000.0),
    }
    met = {t.name: t for t in report.targets(_results(12000, 1000) | {"latency": rows})}
    assert met["open loop at equal arrival rates"].passed and met[
        "open loop at equal arrival rates"
    ].value == pytest.approx(1 / 3)
    rows[3] = _openloop_row("native", 500.0, 4.5, basis="fastapi-deployed")
    missed = {t.name: t for t in report.targets(_results(12000, 1000) | {"latency": rows})}
    assert missed["open loop at equal arrival rates"].passed is False
    table = "\n".join(report.equal_rates_table(rows, title="t"))
    assert "| 500 | 0.30 / 3.00 (0) | 0.30 / 4.50 (0) |" in table  # fastapi-deployed, then native


def test_search_mix_draws_common_and_rare_terms_from_the_vocabulary_with_a_fixed_seed() -> None:
    common = [(f"word{i}", 12000 - i) for i in range(64)]
    rare = [(f"sku{i}", 5) for i in range(4000)]
    vocabulary = common + rare
    workload, record = workloads.search_mix(vocabulary)
    again, _ = workloads.search_mix(vocabulary)
    assert workload.bodies == again.bodies and len(workload.bodies) == workloads.SEARCH_MIX_QUERIES
    terms = [q["query"] for q in record["queries"]]
    share_common = sum(t.startswith("word") for t in terms) / len(terms)
    # Zipf over 4,064 ranks: the 64 common words hold (H_64 / H_4064) ≈ 54 % of the draws; the rest is the tail.
    assert 0.4 < share_common < 0.7, share_common
    assert record["queries_over_2000_matches"] == sum(t.startswith("word") for t in terms)
    assert orjson.loads(workload.bodies[0])["params"]["arguments"] == {"query": terms[0], "limit": 5}
    assert workloads.with_search_mix(workload)["mix"].bodies[8:14] == workload.bodies[:6]


def test_littles_law_check_flags_a_run_whose_lambda_w_is_far_from_its_connection_count() -> None:
    assert report.littles_law_holds(63.8, 64)
    assert report.littles_law_holds(52.0, 64)
    assert not report.littles_law_holds(34.2, 64)
    assert not report.littles_law_holds(116.2, 64)


def test_a_server_process_that_ignores_sigterm_is_killed_before_the_next_measurement() -> None:
    stubborn = subprocess.Popen(["bash", "-c", "trap '' TERM; sleep 60 & sleep 60; wait"], start_new_session=True)
    try:
        time.sleep(0.2)
        assert len(group_members(stubborn.pid)) == 3
        os.killpg(stubborn.pid, signal.SIGTERM)
        _wait_group_gone(stubborn.pid, timeout_s=0.5)
        assert group_members(stubborn.pid) == []
    finally:
        stubborn.wait(timeout=10)


def test_openloop_generator_paces_requests_and_reports_percentiles(database_url: str, tmp_path: Path) -> None:
    with native_server(tmp_path, database_url=database_url) as server:
        body = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'
        request = (
            f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        result = run_openloop(
            server.port, request, rate=200, duration_s=2.0, connections=8, warmup_s=0.5, cpu=None, workdir=tmp_path
        )
    assert result["sent"] == 400  # a constant rate: 200/s for 2 s, whatever the server does
    assert result["completed"] == 300  # after the 0.5 s warm-up
    assert result["errors"] == 0 and result["non_2xx"] == 0
    assert 0 < result["p50_us"] <= result["p99_us"] <= result["max_us"] * 1.02


def test_quick_benchmark_runs_and_its_results_validate_against_the_schema(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_") and k != "DATABASE_URL"}
    proc = subprocess.run(
        [sys.executable, "-m", "scripts.cli", "bench", "--quick", "--out", str(tmp_path)],
        cwd=REPO,
        env=env | {"MCPSTACK_STATE_DIR": str(tmp_path / "state")},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(results)
    assert results["mode"] == "quick"
    assert {r["server"] for r in results["throughput"]} >= {
        "native-1",
        "fastapi-1",
        "sdk-1",
        "nginx-1",
        "native",
        "fastapi-deployed",
        "fastapi-tuned",
    }
    assert results["checks"]["non_2xx_total"] == 0
    checks = results["checks"]["responses_vs_native"]
    assert all(c["same_bytes"] for c in checks["fastapi-deployed"].values())  # the baseline answers byte for byte
    assert all(c["same_structured_content"] for c in checks["sdk-1"].values())  # the SDK formats its text otherwise
    golden = results["checks"]["responses_vs_golden"]
    fixtures = len(list((REPO / "tests" / "behaviour" / "golden").glob("*.json")))
    assert len(golden["native"]) == fixtures
    assert all(c["same_json"] for c in golden["native"].values())
    assert all(c["same_json"] for c in golden["fastapi-deployed"].values())
    assert all(c["same_content"] for c in golden["sdk-1"].values())
    page = (tmp_path / "benchmarks.md").read_text()
    assert "| throughput (req/s) | 8200 vs 1200 |" in page
    golden_line = f"- native against the {fixtures} golden fixtures (`tests/behaviour/golden`): identical JSON"
    assert f"{golden_line} {fixtures}/{fixtures}" in page
    assert (tmp_path / "throughput.png").stat().st_size > 1000
    assert (tmp_path / "latency_vs_load.svg").stat().st_size > 1000 and "latency_vs_load.png" in page
    assert (tmp_path / "footprint.svg").stat().st_size > 1000
    # Native was also run at FastAPI's rates: the two servers at equal arrival rates.
    assert report.equal_rate_p99(results["latency"], "native", "fastapi-deployed")
    mix = results["workloads"]["search_documents"]
    assert len(mix["queries"]) == workloads.SEARCH_MIX_QUERIES and 0 < mix["queries_over_2000_matches"] < len(
        mix["queries"]
    )
    assert "peers" not in results  # opt-in only


def test_openloop_generator_spreads_a_low_rate_over_all_its_connections(tmp_path: Path) -> None:
    """Round robin: at a rate one connection could carry alone, every connection still carries its share (a
    generator that takes the lowest free connection would send nearly all on the first, and a server that splits
    connections over workers would see one worker loaded and the others idle)."""
    import socket
    import threading

    counts: list[int] = []
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve(conn: socket.socket, slot: int) -> None:
        with conn:
            buffered = b""
            while chunk := conn.recv(65536):
                buffered += chunk
                while b"\r\n\r\n" in buffered:
                    head, _, buffered = buffered.partition(b"\r\n\r\n")
                    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                    while len(buffered) < length:
                        buffered += conn.recv(65536)
                    buffered = buffered[length:]
                    counts[slot] += 1
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    def accept() -> None:
        for slot in range(8):
            conn, _ = listener.accept()
            counts.append(0)
            threading.Thread(target=serve, args=(conn, slot), daemon=True).start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    body = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'
    request = f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
    try:
        result = run_openloop(
            port, request, rate=400, duration_s=1.0, connections=8, warmup_s=0.25, cpu=None, workdir=tmp_path
        )
    finally:
        listener.close()
    assert result["sent"] == 400 and result["errors"] == 0
    assert len(counts) == 8 and sum(counts) == 400
    assert min(counts) >= 400 / 8 / 2, counts  # each connection at least half its even share


def test_busiest_share_is_the_busiest_process_part_of_the_cpu_used_between_two_readings() -> None:
    from scripts.bench.proc import busiest_share

    before = {10: 1.0, 11: 5.0, 12: 2.0}
    after = {10: 1.0, 11: 5.8, 12: 2.2, 13: 0.0}  # the supervisor idle, one worker at 0.8 s, the other at 0.2 s
    assert busiest_share(before, after) == pytest.approx(0.8)
    assert busiest_share(before, before) is None


@pytest.mark.parametrize("era", ["handshake", "2026-07-28"])
def test_instruction_count_driver_gets_an_echo_answer_in_either_era(era: str) -> None:
    import asyncio

    from scripts.bench.instructions import drive

    responses = asyncio.run(drive(3, era))
    assert len(responses) == 3 and all(r.startswith(b"HTTP/1.1 200 ") for r in responses)
    body = orjson.loads(responses[-1].partition(b"\r\n\r\n")[2])
    assert body["result"]["structuredContent"]["payload_bytes"] == 1024
    assert ("resultType" in body["result"]) == (era == "2026-07-28")
