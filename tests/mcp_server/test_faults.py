"""Fault injection (MCP_FAULTS): the file's rules, the refusal on a non-loopback bind, and a real server whose tool
calls fail or slow down when the file says so and recover when it changes."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from services.mcp_server.config import ConfigError, load_config
from services.mcp_server.faults import NO_FAULTS, Faults, FaultsError, FaultsFile, parse_faults
from services.mcp_server.jsonrpc import INVALID_PARAMS, Request
from services.mcp_server.methods import McpMethods, ServerInfo
from services.mcp_server.metrics import Metrics
from services.tools.context import NO_DATABASE
from services.tools.packs import load_packs
from tests.support import REPO, HttpReply, build_request, free_port, native_server, raw_request, rpc

ECHO = {"name": "echo", "arguments": {"message": "hi", "payload_bytes": 0}}


def _write(path: Path, settings: dict[str, Any]) -> None:
    """Replace the file at once (a new inode), the way an operator's editor or a rehearsal script does."""
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps(settings))
    os.replace(tmp, path)


def _until(condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def _is_error(reply: HttpReply) -> bool:
    assert reply.status == 200, reply
    return bool(reply.json()["result"].get("isError", False))


# -- the file -------------------------------------------------------------------------------------------------------


def test_a_faults_file_gives_its_settings_and_missing_keys_mean_zero() -> None:
    assert parse_faults(b'{"tool_error_rate": 0.25, "added_latency_ms": 40}') == Faults(0.25, 40.0)
    assert parse_faults(b'{"tool_error_rate": 1}') == Faults(1.0, 0.0)
    assert parse_faults(b"{}") == NO_FAULTS
    assert not NO_FAULTS.active


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"[0.5]",
        b'{"tool_error_rate": 1.5}',
        b'{"tool_error_rate": -0.1}',
        b'{"tool_error_rate": "0.5"}',
        b'{"tool_error_rate": true}',
        b'{"added_latency_ms": -1}',
        b'{"added_latency_ms": 60001}',
        b'{"error_rate": 0.5}',
    ],
)
def test_a_faults_file_with_bad_json_an_unknown_key_or_a_value_out_of_range_is_refused(raw: bytes) -> None:
    with pytest.raises(FaultsError):
        parse_faults(raw)


def test_the_file_is_read_again_only_when_it_changes_and_a_bad_one_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "faults.json"
    watched = FaultsFile(str(path))
    assert watched.poll() == NO_FAULTS  # missing: no faults
    assert watched.poll() is None
    _write(path, {"tool_error_rate": 1.0})
    assert watched.poll() == Faults(1.0, 0.0)
    assert watched.poll() is None
    caplog.set_level(logging.ERROR, logger="mcpstack.faults")
    path.write_bytes(b'{"tool_error_rate": 2}')
    assert watched.poll() == NO_FAULTS
    assert watched.poll() is None and watched.poll() is None
    assert len([r for r in caplog.records if "tool_error_rate must be a number" in r.getMessage()]) == 1
    _write(path, {"added_latency_ms": 5})
    assert watched.poll() == Faults(0.0, 5.0)
    path.unlink()
    assert watched.poll() == NO_FAULTS


def test_injected_faults_answer_tool_calls_with_is_error_and_leave_invalid_params_a_protocol_error() -> None:
    metrics = Metrics()
    methods = McpMethods(
        registry=load_packs(("reference",)), info=ServerInfo("t", "1"), db=NO_DATABASE, metrics=metrics
    )
    draws = iter([0.1, 0.9, 0.1])
    methods.inject(Faults(tool_error_rate=0.5), draw=lambda: next(draws))
    answers = [orjson.loads(methods.handle(Request(i, "tools/call", ECHO))) for i in range(3)]  # type: ignore[arg-type]
    unknown = orjson.loads(methods.handle(Request(9, "tools/call", {"name": "nope"})))  # type: ignore[arg-type]
    methods.inject(NO_FAULTS)
    after = orjson.loads(methods.handle(Request(4, "tools/call", ECHO)))  # type: ignore[arg-type]
    assert [a["result"].get("isError", False) for a in answers] == [True, False, True]
    assert "Fault injected" in answers[0]["result"]["content"][0]["text"]
    assert unknown["error"]["code"] == INVALID_PARAMS
    assert after["result"].get("isError", False) is False
    assert metrics.requests[("tools/call", "echo", "tool_error")] == 2
    assert metrics.requests[("tools/call", "echo", "ok")] == 2


# -- where it is allowed --------------------------------------------------------------------------------------------


def test_faults_are_refused_on_a_non_loopback_bind_unless_allowed(tmp_path: Path) -> None:
    faults = str(tmp_path / "faults.json")
    for host in ("127.0.0.1", "127.0.0.2", "localhost", "::1"):
        assert load_config({"MCP_FAULTS": faults, "MCP_HOST": host}).faults_file == faults
    for host in ("0.0.0.0", "10.0.0.5", "::", "mcp.example.com"):
        with pytest.raises(ConfigError, match="MCP_FAULTS_ALLOW_REMOTE=1"):
            load_config({"MCP_FAULTS": faults, "MCP_HOST": host})
    allowed = load_config({"MCP_FAULTS": faults, "MCP_HOST": "0.0.0.0", "MCP_FAULTS_ALLOW_REMOTE": "1"})
    assert allowed.faults_allow_remote


def test_a_server_with_faults_on_a_non_loopback_bind_exits_at_start_with_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_") and k != "DATABASE_URL"}
    env["MCP_FAULTS"] = str(tmp_path / "faults.json")
    proc = subprocess.run(
        [sys.executable, "-m", "services.mcp_server", "--host", "0.0.0.0", "--port", str(free_port())],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "MCP_FAULTS is refused on a server bound to 0.0.0.0" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- a real server --------------------------------------------------------------------------------------------------


def test_a_real_server_fails_every_call_at_rate_1_and_recovers_when_the_file_says_0(tmp_path: Path) -> None:
    path = tmp_path / "faults.json"
    _write(path, {"tool_error_rate": 1.0})
    with native_server(tmp_path, database_url=None, env={"MCP_FAULTS": str(path)}) as server:
        failed = [rpc(server.port, "tools/call", ECHO, id_=i) for i in range(20)]
        unknown_tool = rpc(server.port, "tools/call", {"name": "nope", "arguments": {}})
        _write(path, {"tool_error_rate": 0.0})
        recovered = _until(lambda: not _is_error(rpc(server.port, "tools/call", ECHO)))
        after = [rpc(server.port, "tools/call", ECHO, id_=i) for i in range(20)]
        metrics = raw_request(server.port, build_request(method="GET", path="/metrics")).body.decode()
    assert all(_is_error(reply) for reply in failed)
    assert all("Fault injected" in reply.json()["result"]["content"][0]["text"] for reply in failed)
    assert unknown_tool.json()["error"]["code"] == INVALID_PARAMS
    assert recovered, "calls still failed 10 s after the faults file said 0"
    assert not any(_is_error(reply) for reply in after)
    # The 20 failed calls, and those that still failed while the change was on its way, count as tool errors.
    counted = re.search(r'mcp_requests_total\{method="tools/call",outcome="tool_error",tool="echo"\} (\S+)', metrics)
    assert counted is not None and float(counted.group(1)) >= 20


def test_added_latency_holds_the_call_before_the_tool_answers(tmp_path: Path) -> None:
    """With one request allowed in flight, a call held by the added latency makes the next request a 503."""
    path = tmp_path / "faults.json"
    _write(path, {"added_latency_ms": 1500})
    env = {"MCP_FAULTS": str(path), "MCP_MAX_IN_FLIGHT": "1"}
    with native_server(tmp_path, database_url=None, env=env) as server:
        held: dict[str, Any] = {}

        def slow_call() -> None:
            started = time.monotonic()
            held["reply"] = rpc(server.port, "tools/call", ECHO)
            held["seconds"] = time.monotonic() - started

        caller = threading.Thread(target=slow_call)
        caller.start()
        overloaded = _until(lambda: rpc(server.port, "ping").status == 503)
        caller.join(timeout=20)
    assert overloaded, "no request was turned away while the delayed call was in flight"
    assert not _is_error(held["reply"])
    assert held["seconds"] >= 1.5
