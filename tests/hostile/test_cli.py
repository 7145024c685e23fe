"""`mcpstack` commands given bad arguments and files, as a user would: one clear line on stderr and a non-zero exit,
never a traceback, and nothing started."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scripts.cli import build_app
from scripts.cutover.cli import app as cutover_app
from scripts.cutover.runner import ExitCode
from scripts.pgcluster import Cluster
from tests.support import REPO, server_process

USAGE = 2


def mcpstack(
    *args: str, timeout_s: float = 30.0, state: Path | None = None, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_") and k != "DATABASE_URL"}
    if state is not None:
        env["MCPSTACK_STATE_DIR"] = str(state)
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "scripts.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def assert_refused(result: subprocess.CompletedProcess[str], *, code: int, says: str) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert says in " ".join(result.stderr.split())


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "no benchmark results at"),
        (b"{not json", "are not valid JSON"),
        (b'{"schema_version": 1}', "do not match scripts/bench/results.schema.json"),
        (b"[1, 2]", "do not match scripts/bench/results.schema.json"),
    ],
    ids=["missing", "not-json", "incomplete", "not-an-object"],
)
def test_bench_report_only_without_usable_results_is_one_line_and_exit_2(
    tmp_path: Path, content: bytes | None, says: str
) -> None:
    if content is not None:
        (tmp_path / "results.json").write_bytes(content)
    result = CliRunner().invoke(build_app(), ["bench", "--report-only", "--out", str(tmp_path)])
    assert result.exit_code == USAGE
    assert says in " ".join(result.output.split()) and "Traceback" not in result.output
    assert not (tmp_path / "benchmarks.md").exists()


@pytest.mark.parametrize(("server", "port"), [("fastapi", "70000"), ("sdk", "70000"), ("fastapi", "-1"), ("sdk", "-1")])
def test_serve_with_a_port_out_of_range_is_a_usage_error(server: str, port: str) -> None:
    result = CliRunner().invoke(build_app(), ["serve", server, "--port", port])
    assert result.exit_code == USAGE
    assert "Invalid value for '--port'" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("setting", "value", "says"),
    [
        ("MCP_STATEFUL", "2", "MCP_STATEFUL='2' must be 1 or 0"),
        ("MCP_TOOL_PACKS", "reference,nope", "unknown tool pack 'nope'"),
        ("MCP_MAX_BODY_BYTES", "1MB", "MCP_MAX_BODY_BYTES='1MB' is not a valid int"),
        ("MCP_KEEPALIVE_TIMEOUT_S", "soon", "MCP_KEEPALIVE_TIMEOUT_S='soon' is not a valid number"),
    ],
)
def test_serve_fastapi_with_a_bad_setting_is_one_line_before_gunicorn_starts(
    tmp_path: Path, setting: str, value: str, says: str
) -> None:
    """A subprocess, not CliRunner: the command execs gunicorn when its checks pass."""
    result = mcpstack("serve", "fastapi", "--port", "0", state=tmp_path, env_extra={setting: value}, timeout_s=20)
    assert_refused(result, code=USAGE, says=says)
    assert "gunicorn" not in result.stderr.lower()


def test_serve_native_on_a_port_another_server_listens_on_is_refused_not_shared(tmp_path: Path) -> None:
    """Both would set SO_REUSEPORT; the kernel would split the connections between two servers."""
    with server_process("native", tmp_path, database_url=None) as first:
        result = mcpstack("serve", "native", "--port", str(first.port), "--workers", "1", state=tmp_path)
        assert_refused(result, code=USAGE, says=f"cannot listen on 127.0.0.1:{first.port}")
        assert first.proc.poll() is None


@pytest.mark.parametrize("verb", ["plan", "start", "status", "abort"])
def test_cutover_on_aws_with_a_stage_the_cdk_app_does_not_know_is_a_usage_error(verb: str) -> None:
    result = CliRunner().invoke(cutover_app, [verb, "--target", "aws", "--stage", "prod-typo"])
    assert result.exit_code == ExitCode.USAGE
    assert "unknown stage 'prod-typo'" in result.output and "Traceback" not in result.output


def test_ctrl_c_during_a_command_is_one_line_and_exit_130() -> None:
    """`db up` on a fresh state folder (initdb, migrations, seed: several seconds) interrupted once it has begun. The
    folder is one the `postgres` user can reach (pytest's tmp_path is not: db up would fail before the Ctrl-C)."""
    tmp_path = Path(tempfile.mkdtemp(prefix="mcpstack-ctrl-c-", dir="/tmp"))
    tmp_path.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_") and k != "DATABASE_URL"}
    env["MCPSTACK_STATE_DIR"] = str(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "scripts.cli", "db", "up"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # Ctrl-C reaches the terminal's whole foreground group: here, the session's
    )
    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "pg").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert (tmp_path / "pg").exists() and proc.poll() is None, "db up did not begin"
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        Cluster(tmp_path / "pg").destroy()
        shutil.rmtree(tmp_path, ignore_errors=True)
    assert proc.returncode == 130, err[-2000:]
    assert err.strip().splitlines() == ["mcpstack: interrupted (Ctrl-C)"]
    assert "Traceback" not in out + err


@pytest.mark.parametrize("value", ["0", "-1"])
def test_serve_native_with_a_request_timeout_that_is_not_positive_is_refused(tmp_path: Path, value: str) -> None:
    """Else every request in progress would be answered 408 at the next sweep."""
    result = mcpstack("serve", "native", "--port", "0", state=tmp_path, env_extra={"MCP_REQUEST_TIMEOUT_S": value})
    assert_refused(result, code=USAGE, says="request_timeout_s must be positive")
