"""The official MCP conformance suite (npm @modelcontextprotocol/conformance, pinned in package.json) against both
servers, every scenario a revision requires (`--requirements`), one invocation per server and revision.

What a server is known to fail is listed, with the reason, in `expected-failures/<server>-<revision>.yml`; the suite
checks its results against that list and exits non-zero on an unexpected failure and on a listed scenario that now
passes (a stale entry), so the list changes only by being edited.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support import REPO, ServerProcess

EXPECTED = Path(__file__).with_name("expected-failures")
REVISIONS = ["2025-11-25", "2026-07-28"]
SUMMARY_LINE = re.compile(r"^(?P<mark>[✓✗]) (?P<name>[\w.-]+): \d+ passed, \d+ failed$", re.MULTILINE)


def expected_failures(kind: str, revision: str) -> Path:
    return EXPECTED / f"{kind}-{revision}.yml"


def scenario_outcomes(stdout: str) -> dict[str, bool]:
    """The suite's own verdict per scenario, from its summary lines (`✓ name: …` / `✗ name: …`).

    The summary, not `checks.json`: a scenario that could not run at all writes no failing check but is a failure.
    """
    return {m["name"]: m["mark"] == "✓" for m in SUMMARY_LINE.finditer(stdout)}


@pytest.mark.parametrize("revision", REVISIONS)
def test_conformance_suite_fails_only_the_expected_scenarios(conformance_server: ServerProcess, revision: str) -> None:
    run_suite(conformance_server, revision)


def test_conformance_suite_in_stateful_mode_fails_only_the_expected_scenarios(
    stateful_conformance_server: ServerProcess,
) -> None:
    """The handshake era with sessions (MCP_STATEFUL=1): the scenarios that need them (sampling, elicitation,
    resource subscriptions, several SSE streams of one session) run too. The 2026-07-28 era has no sessions: its
    requests take the stateless path whatever the mode, which the run above covers."""
    run_suite(stateful_conformance_server, "2025-11-25")


def run_suite(conformance_server: ServerProcess, revision: str) -> None:
    baseline = expected_failures(conformance_server.kind, revision)
    listed = set(yaml.safe_load(baseline.read_text())["server"])
    cli = REPO / "node_modules" / ".bin" / "conformance"
    assert cli.exists(), "npm packages missing: run `make venv`"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(
        [
            str(cli),
            "server",
            "--url",
            conformance_server.url,
            "--requirements",
            revision,
            "--expected-failures",
            str(baseline),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    outcomes = scenario_outcomes(proc.stdout)
    assert outcomes, f"conformance ran no scenario (exit {proc.returncode}): {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    assert listed <= outcomes.keys(), (
        f"{baseline.name} lists scenarios the suite did not run: {listed - outcomes.keys()}"
    )
    passed = sum(outcomes.values())
    verdict = proc.stdout[proc.stdout.find("Expected failures (in baseline)") :]
    assert proc.returncode == 0, (
        f"{conformance_server.kind} at {revision}: {passed}/{len(outcomes)} scenarios pass, and the suite's "
        f"baseline check against {baseline.name} failed:\n{verdict[-3000:]}{proc.stderr[-1000:]}"
    )
