"""The official MCP conformance suite (npm @modelcontextprotocol/conformance, Node 24 from the venv)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO, ServerProcess

SCENARIOS = ["server-initialize", "ping", "tools-list", "dns-rebinding-protection"]


def run_conformance(url: str, scenario: str, spec_version: str, out_dir: Path) -> list[dict[str, object]]:
    """Run one scenario; returns its checks. Fails the test when the suite itself cannot run."""
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    cli = REPO / "node_modules" / ".bin" / "conformance"
    assert cli.exists(), "npm packages missing: run `make venv`"
    proc = subprocess.run(
        [str(cli), "server", "--url", url, "--scenario", scenario, "--spec-version", spec_version, "-o", str(out_dir)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    files = sorted(out_dir.glob("*/checks.json"))
    assert files, f"conformance wrote no results (exit {proc.returncode}): {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    checks: list[dict[str, object]] = json.loads(files[-1].read_text())
    failed = [c for c in checks if c["status"] not in ("SUCCESS", "INFO")]
    assert not failed, json.dumps(failed, indent=1)[:3000]
    assert proc.returncode == 0, proc.stdout[-2000:]
    return checks


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_conformance_scenario_passes_at_2025_11_25(any_server: ServerProcess, scenario: str, tmp_path: Path) -> None:
    checks = run_conformance(any_server.url, scenario, "2025-11-25", tmp_path)
    assert any(c["status"] == "SUCCESS" for c in checks)
