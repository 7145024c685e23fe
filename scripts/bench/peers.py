"""The benchmark's opt-in peers (`mcpstack bench --peers`): FastMCP and the official TypeScript SDK.

Boundary: the peers' runtimes (FastMCP's own pinned venv, created here on first use; the TypeScript SDK under the
npm lockfile, installed by `make venv`), the check every peer passes with the official Python client before any load,
and the peers' measurements (the same wrk and open-loop runs as the other servers, written under `results["peers"]`
so the default run's results, page and duration stay exactly as they are without the flag). The peers' code lives in
`services/peers/`.
"""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console

from scripts.bench import workloads
from scripts.bench.targets import FASTMCP_VENV, PEER_TARGETS, PEERS_DIR, TARGETS, Target, running
from scripts.state import REPO_ROOT

REQUIREMENTS = PEERS_DIR / "fastmcp-requirements.txt"
CONSTRAINTS = PEERS_DIR / "fastmcp-constraints.txt"
TS_PACKAGES = ("@modelcontextprotocol/sdk", "pg")
# The tools every peer serves, with the benchmark's own first request of each workload.
CHECKED_WORKLOADS = ("echo_1024", "get_customer")
PEER_WORKLOADS = CHECKED_WORKLOADS


class PeerSetupError(RuntimeError):
    """A peer cannot be installed or started; the message is one line for the CLI."""


class PeerCheckError(RuntimeError):
    """A peer's answers differ from the native server's on content; the message names the peer and the tool."""


def _requirements_digest() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes() + CONSTRAINTS.read_bytes()).hexdigest()


def ensure_fastmcp_venv(console: Console, venv: Path = FASTMCP_VENV) -> Path:
    """FastMCP's own venv from the pinned requirements and frozen constraints; reused while they are unchanged.

    A separate venv, not an extra of the project: the peer must run exactly the FastMCP release it pins, with its
    own dependency set, and nothing of it may leak into the servers under test. A cold install takes about 90 s."""
    stamp = venv / ".installed"
    digest = _requirements_digest()
    if stamp.exists() and stamp.read_text().strip() == digest:
        return venv
    with console.status(f"installing FastMCP's pinned venv in {venv} (first use: about 90 s)…"):
        if not (venv / "bin" / "python").exists():
            _run([sys.executable, "-m", "venv", str(venv)], "creating the FastMCP venv")
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        _run([*pip, "-r", str(REQUIREMENTS), "-c", str(CONSTRAINTS)], "installing FastMCP")
    stamp.write_text(digest + "\n")
    return venv


def _run(cmd: list[str], what: str) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    except (OSError, subprocess.TimeoutExpired) as ex:
        raise PeerSetupError(f"{what} failed: {ex}") from ex
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise PeerSetupError(f"{what} failed (exit {proc.returncode}): {last[0]}")


def ensure_ts_sdk() -> dict[str, str]:
    """The TypeScript SDK and pg as the npm lockfile pins them (installed by `make venv`), and Node from the venv."""
    node = Path(sys.executable).parent / "node"
    if not node.exists():
        raise PeerSetupError(f"no Node at {node}: run `make venv` (Node 24 comes from the venv)")
    versions = {"node": subprocess.run([str(node), "--version"], capture_output=True, text=True).stdout.strip()}
    for package in TS_PACKAGES:
        manifest = REPO_ROOT / "node_modules" / package / "package.json"
        if not manifest.exists():
            raise PeerSetupError(f"{package} is not installed: run `make venv` (npm ci from package-lock.json)")
        versions[package] = str(orjson.loads(manifest.read_bytes())["version"])
    return versions


def fastmcp_versions(venv: Path = FASTMCP_VENV) -> dict[str, str]:
    """What the FastMCP venv really runs (from its installed metadata, not from the requirements file)."""
    code = (
        "import json, importlib.metadata as m; print(json.dumps({p: m.version(p) for p in "
        "('fastmcp', 'mcp', 'pydantic', 'starlette', 'uvicorn', 'uvloop', 'httptools', 'asyncpg')}))"
    )
    out = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise PeerSetupError(f"the FastMCP venv at {venv} does not run: {out.stderr.strip().splitlines()[-1:]}")
    return {f"fastmcp-venv {k}": v for k, v in orjson.loads(out.stdout).items()}


def setup(console: Console) -> dict[str, str]:
    """Install (or reuse) every peer's runtime; the versions they run."""
    ensure_fastmcp_venv(console)
    return fastmcp_versions() | {f"ts-sdk {k}": v for k, v in ensure_ts_sdk().items()}


# -- the check with the official Python client --------------------------------------------------------------------


def _calls() -> dict[str, tuple[str, dict[str, Any]]]:
    calls = {}
    for name in CHECKED_WORKLOADS:
        params = orjson.loads(workloads.ALL[name].bodies[0])["params"]
        calls[name] = (params["name"], params["arguments"])
    return calls


async def client_answers(url: str) -> dict[str, Any]:
    """The official Python client (`mcp`): tools listed, then each benchmarked tool called once."""
    from mcp import Client

    async with Client(url, mode="legacy") as client:
        listed = await client.list_tools()
        answers: dict[str, Any] = {"tools": sorted(t.name for t in listed.tools), "calls": {}}
        for workload, (tool, arguments) in _calls().items():
            result = await client.call_tool(tool, arguments)
            answers["calls"][workload] = {
                "is_error": bool(result.is_error),
                "text": [c.text for c in result.content if c.type == "text"],
                "structured": result.structured_content,
            }
    return answers


def compare(peer: dict[str, Any], native: dict[str, Any]) -> dict[str, Any]:
    """Content equality per tool: the structured result, the text (exactly, and as parsed JSON)."""
    out: dict[str, Any] = {}
    for workload, want in native["calls"].items():
        got = peer["calls"][workload]
        out[workload] = {
            "listed": _calls()[workload][0] in peer["tools"],
            "is_error": got["is_error"],
            "same_structured_content": got["structured"] == want["structured"],
            "same_text": got["text"] == want["text"],
            "same_text_json": [_json(t) for t in got["text"]] == [_json(t) for t in want["text"]],
        }
    return out


def _json(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def response_bytes(port: int) -> dict[str, int]:
    """Size of each benchmarked tool's whole JSON-RPC response body (frameworks add fields such as `isError`)."""
    from scripts.bench.run import _post

    return {name: len(_post(port, workloads.ALL[name].bodies[0])) for name in CHECKED_WORKLOADS}


def check_peers(database_url: str, names: tuple[str, ...] = ("fastmcp", "ts-sdk")) -> dict[str, Any]:
    """Every peer against the native server before any load; raises `PeerCheckError` on a content difference."""
    servers: dict[str, Target] = {"native": TARGETS["native"]} | {n: PEER_TARGETS[n] for n in names}
    answers: dict[str, dict[str, Any]] = {}
    sizes: dict[str, dict[str, int]] = {}
    for name, target in servers.items():
        with running(target, database_url) as server:
            answers[name] = asyncio.run(client_answers(server.url))
            sizes[name] = response_bytes(server.port)
    checks: dict[str, Any] = {"response_bytes": sizes, "vs_native": {}}
    for name in names:
        result = compare(answers[name], answers["native"])
        checks["vs_native"][name] = result
        for workload, row in result.items():
            if not row["listed"] or row["is_error"] or not row["same_structured_content"]:
                raise PeerCheckError(f"{name} differs from the native server on {workload}: {row}")
    return checks
