"""Session fixtures for the cost tests: every stage of the CDK app synthesized once by the CDK CLI (the real
`cdk.out` the report reads; shared with tests/infra through tests/synth_fixtures.py), and the real benchmark results
file."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.state import REPO_ROOT

RESULTS = REPO_ROOT / "docs" / "benchmarks" / "results.json"


@pytest.fixture(scope="session")
def assemblies(cli_assemblies: dict[str, Path]) -> dict[str, Path]:
    """`npx cdk synth -c stage=<s>` for every stage the app defines (names read at run time)."""
    return cli_assemblies
