"""The framework face: the README's ten-line example served and called by the official client."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from mcp import Client

from tests.support import REPO, free_port, wait_healthy


def test_readme_example_serves_its_tool_to_the_official_client() -> None:
    readme = (REPO / "README.md").read_text()
    example = (REPO / "examples" / "weather.py").read_text()
    assert '@app.tool("weather")' in readme and '@app.tool("weather")' in example
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_")} | {"MCP_PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, str(Path("examples") / "weather.py")],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_healthy(port, proc)

        async def call() -> tuple[list[str], object]:
            async with Client(f"http://127.0.0.1:{port}/mcp", mode="legacy") as client:
                tools = await client.list_tools()
                result = await client.call_tool("weather", {"city": "Lisbon"})
                return [t.name for t in tools.tools], result.structured_content

        names, structured = asyncio.run(call())
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0
    assert names == ["weather"]
    assert structured == {"city": "Lisbon", "temp": 72}
