"""The benchmark's opt-in peers (FastMCP, the official TypeScript SDK): each started for real on 127.0.0.1 and checked
with the official Python client against the native server before any load, as `mcpstack bench --peers` does.

The FastMCP venv is the bench's own cached one (`.state/peers/fastmcp-venv`): the first run on a fresh machine
installs it from the pinned requirements (about 90 s); later runs reuse it while the pins are unchanged.
"""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from scripts.bench import peers, report


def test_every_peer_answers_the_official_client_with_the_native_servers_content(database_url: str) -> None:
    peers.setup(Console(stderr=True))
    checks = peers.check_peers(database_url)
    for name in ("fastmcp", "ts-sdk"):
        for workload in peers.CHECKED_WORKLOADS:
            row = checks["vs_native"][name][workload]
            assert row["listed"] and not row["is_error"], (name, workload, row)
            assert row["same_structured_content"] and row["same_text_json"], (name, workload, row)
    sizes = checks["response_bytes"]
    assert set(sizes) == {"native", "fastmcp", "ts-sdk"}
    # Same content, so the sizes differ only by what a framework adds around it (FastMCP: `"isError":false`).
    for name in ("fastmcp", "ts-sdk"):
        for workload in peers.CHECKED_WORKLOADS:
            assert 0 <= sizes[name][workload] - sizes["native"][workload] < 64, (name, workload, sizes)


def _answers() -> dict[str, Any]:
    return {
        "tools": ["echo", "get_customer"],
        "calls": {
            "echo_1024": {"is_error": False, "text": ['{"message":"hello"}'], "structured": {"message": "hello"}},
            "get_customer": {"is_error": False, "text": ['{"id":1}'], "structured": {"id": 1}},
        },
    }


def test_a_peer_whose_structured_result_differs_is_reported_as_different() -> None:
    native = _answers()
    peer = copy.deepcopy(native)
    peer["calls"]["get_customer"]["structured"] = {"id": "1"}  # e.g. int8 as a string, as pg returns it by default
    peer["calls"]["echo_1024"]["text"] = ['{"message": "hello"}']  # other JSON spacing: same JSON, other text
    result = peers.compare(peer, native)
    assert result["get_customer"]["same_structured_content"] is False
    assert result["echo_1024"] == {
        "listed": True,
        "is_error": False,
        "same_structured_content": True,
        "same_text": False,
        "same_text_json": True,
    }


def test_fastmcp_venv_is_reused_while_its_pins_are_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / ".installed").write_text(peers._requirements_digest() + "\n")

    def no_install(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached venv with the same pins must not be installed again")

    monkeypatch.setattr(subprocess, "run", no_install)
    assert peers.ensure_fastmcp_venv(Console(stderr=True), venv) == venv


def test_the_peers_section_reports_memory_cold_start_and_equal_rate_latency() -> None:
    def run(server: str, rate: float, basis: str) -> dict[str, Any]:
        return {
            "server": server,
            "workload": "get_customer",
            "fraction": 0.5,
            "basis": basis,
            "rate": rate,
            "p50_us": 2000,
            "p99_us": 9000,
            "p999_us": 9500,
            "errors": 0,
            "non_2xx": 0,
        }

    peers_results = {
        "servers": {},
        "throughput": [],
        "latency": [run("fastmcp", 150.0, "own"), run("native", 150.0, "fastmcp"), run("ts-sdk", 150.0, "fastmcp")],
        "memory": [
            {
                "server": "fastmcp",
                "connections": 2000,
                "opened": 2000,
                "delta_rss_bytes": 2**24,
                "bytes_per_connection": 8388.6,
                "sample_alive": 20,
                "sample_size": 20,
            }
        ],
        "cold_start": [{"server": "ts-sdk", "samples_s": [0.31, 0.29, 0.3], "median_s": 0.3}],
        "checks": {},
    }
    page = "\n".join(report.peers_section(peers_results))
    assert "| fastmcp | 2000 | 2000 | 16.0 | 8,389 | 20/20 |" in page
    assert "| ts-sdk | 0.300 | 0.310, 0.290, 0.300 |" in page
    assert "| offered req/s | fastmcp | native | ts-sdk |" in page
    assert "| 150 | 2.00 / 9.00 (0) | 2.00 / 9.00 (0) | 2.00 / 9.00 (0) |" in page
