"""`mcpstack serve …` from the outside: one entry point, one set of flags for the native server, a start that loads
no CLI framework, and one local-database lookup for every server."""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from scripts.pgcluster import Cluster
from tests.support import REPO, free_port, rpc, server_process, wait_healthy

# What `mcpstack serve native` must not load, at any time up to its first answer: the CLI framework and its
# dependencies (typer, click, rich) and the baseline's validation library (pydantic).
CLI_FRAMEWORK = {"typer", "click", "rich", "pydantic", "pydantic_core"}
NATIVE_FLAGS = ("--host", "--port", "--workers", "--database-url", "--tool-packs")


def _mcpstack(*args: str, python_flags: tuple[str, ...] = ()) -> list[str]:
    """The command line of the `mcpstack` console script as pyproject.toml declares it (not a stale installed copy)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    module, _, function = project["project"]["scripts"]["mcpstack"].partition(":")
    code = f"import sys; from {module} import {function}; sys.exit({function}())"
    return [sys.executable, *python_flags, "-c", code, *args]


def _env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MCP_") and k != "DATABASE_URL"}
    return base | {"COLUMNS": "200"} | extra


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_mcpstack(*args), cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False)


def _imported(importtime_log: str) -> set[str]:
    """Modules named by `python -X importtime` lines: every first import, in every process of the tree."""
    names = set()
    for line in importtime_log.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.add(name)
    return names


def _customer_found(port: int) -> bool:
    reply = rpc(port, "tools/call", {"name": "get_customer", "arguments": {"customer_id": 42}})
    assert reply.status == 200
    return reply.json()["result"].get("isError", False) is False


@pytest.mark.parametrize("database", ["DATABASE_URL", "local cluster"])
def test_serve_native_answers_without_loading_the_cli_framework(
    pg_cluster: Cluster, tmp_path: Path, database: str
) -> None:
    port = free_port()
    if database == "DATABASE_URL":
        env = _env(DATABASE_URL=pg_cluster.url, MCPSTACK_STATE_DIR=str(tmp_path / "no-state"))
    else:
        env = _env(MCPSTACK_STATE_DIR=str(pg_cluster.state_dir.parent))
    log_path = tmp_path / "server.log"
    argv = _mcpstack("serve", "native", "--port", str(port), "--workers", "1", python_flags=("-X", "importtime"))
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_healthy(port, proc)
        assert _customer_found(port)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    output = log_path.read_text(errors="replace")
    imported = _imported(output)
    packages = {name.split(".")[0] for name in imported}
    # The record covers the forked worker up to its first answer (uvloop: when it starts; asyncpg: at its first
    # database call), not just the supervisor.
    assert {"services", "uvloop", "asyncpg"} <= packages
    assert packages & CLI_FRAMEWORK == set()
    if database == "local cluster":
        assert f"using the local cluster ({pg_cluster.url})" in output
    else:  # a database named: the local-cluster code is never loaded
        assert "scripts.pgcluster" not in imported


def test_serve_native_without_any_database_serves_and_says_so_once(tmp_path: Path) -> None:
    with server_process("native", tmp_path, database_url=None, env={"MCPSTACK_STATE_DIR": str(tmp_path)}) as server:
        assert not _customer_found(server.port)  # database tools report errors, the server stays up
        assert server.stop() == 0
        assert server.log().count("warning: no DATABASE_URL and no local cluster") == 1


def test_serve_fastapi_uses_the_same_local_cluster_lookup(pg_cluster: Cluster, tmp_path: Path) -> None:
    env = {"MCPSTACK_STATE_DIR": str(pg_cluster.state_dir.parent)}
    with server_process("fastapi", tmp_path, database_url=None, env=env) as server:
        assert _customer_found(server.port)
        log = server.log()
    assert f"using the local cluster ({pg_cluster.url})" in log


def test_serve_native_help_lists_every_flag() -> None:
    proc = _run("serve", "native", "--help", env=_env())
    assert proc.returncode == 0
    assert proc.stdout.startswith("usage: mcpstack serve native")
    for flag in NATIVE_FLAGS:
        assert flag in proc.stdout


def test_serve_help_lists_every_server() -> None:
    proc = _run("serve", "--help", env=_env())
    assert proc.returncode == 0
    for command in ("native", "fastapi", "sdk"):
        assert f" {command} " in proc.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--port", "eighty"], "argument --port: invalid int value: 'eighty'"),
        (["--data", "postgresql://x@127.0.0.1:1/x"], "unrecognized arguments: --data"),  # no abbreviations
        (["--workers", "0"], "workers must be 1-256, got 0"),
        (["--port", "70000"], "port must be 0-65535, got 70000"),
        (["--tool-packs", "reference,nope"], "unknown tool pack 'nope'"),
        (["--database-url", "mysql://x@h/x"], "DATABASE_URL must be a postgresql:// URL"),
    ],
)
def test_serve_native_bad_flag_is_one_line_and_exit_2(tmp_path: Path, args: list[str], fragment: str) -> None:
    proc = _run("serve", "native", *args, env=_env(MCPSTACK_STATE_DIR=str(tmp_path)))
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("mcpstack serve native: error: ")
    assert fragment in lines[0]


def test_services_never_import_scripts() -> None:
    """The servers are the product; `scripts/` is the operator tooling around them and may import them, not back."""
    offenders = []
    for path in sorted((REPO / "services").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            modules = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [f"{path.relative_to(REPO)}: {m}" for m in modules if m.split(".")[0] == "scripts"]
    assert offenders == []
