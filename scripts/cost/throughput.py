"""Measured throughput from the benchmark results file (`docs/benchmarks/results.json`, `mcpstack bench`).

The benchmark runs on one machine, not on AWS instance types. The mapping used here, stated on every report:
a variant's capacity per vCPU is 10^6 / (server CPU microseconds per request, median of the whole-box run on the
chosen tool mix), so one vCPU of an instance type is taken to do the work of one core of the benchmark machine; an
instance type's capacity is that times its vCPUs. The load generator's CPU is not counted against the server.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final, Literal

Variant = Literal["fastapi", "native"]
VARIANTS: Final[tuple[Variant, ...]] = ("fastapi", "native")
VARIANT_LABELS: Final[dict[Variant, str]] = {"fastapi": "FastAPI fleet", "native": "native fleet"}
# Which fleet runs which implementation in the CDK app: blue is the FastAPI baseline, green the native server.
VARIANT_COLORS: Final[dict[Variant, str]] = {"fastapi": "blue", "native": "green"}
DEFAULT_SERVERS: Final[dict[Variant, str]] = {"fastapi": "fastapi-deployed", "native": "native"}
DEFAULT_TOOL_MIX: Final = "mix"
MAPPING_ASSUMPTION: Final = (
    "one vCPU of an instance type does the work of one core of the benchmark machine ({machine}); "
    "capacity per instance = "
    "vCPUs x 10^6 / (server CPU us per request, median, whole box, {mix}); the load generator's CPU is not counted"
)


# What a measured CPU time per request (us) or request rate may be: outside it, the file is not a benchmark's.
MEASURED_RANGE: Final = (Decimal("0.001"), Decimal(10**9))


class ResultsError(ValueError):
    """The benchmark results file is missing, not JSON, or lacks what the cost model reads."""


@dataclass(frozen=True, kw_only=True)
class Measured:
    variant: Variant
    server: str
    label: str
    tool_mix: str
    cpu_us_per_request: Decimal
    whole_box_rps: Decimal

    @property
    def rps_per_vcpu(self) -> Decimal:
        return Decimal(1_000_000) / self.cpu_us_per_request


@dataclass(frozen=True, kw_only=True)
class BenchmarkRun:
    path: str
    generated_at: str
    mode: str
    git_sha: str
    cores: int
    cpu_model: str
    interpreter: str
    measured: dict[Variant, Measured]

    @property
    def name(self) -> str:
        return f"{self.mode} run of {self.generated_at}, git {self.git_sha[:12]}"

    def assumption(self) -> str:
        mix = next(iter(self.measured.values())).tool_mix
        return MAPPING_ASSUMPTION.format(mix=mix, machine=f"{self.cores} cores, {self.cpu_model}")


def _text(value: Any) -> str:
    """A results-file string as the report prints it: one line, no table or markup separators, at most 100 chars."""
    return " ".join(re.sub(r"[|`<>*_#\[\]]", " ", str(value)).split())[:100]


def _number(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ResultsError(f"results file: {where} is not a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:  # pragma: no cover - str() of an int or float always parses
        raise ResultsError(f"results file: {where} is not a number") from None
    if not number.is_finite() or number <= 0:
        raise ResultsError(f"results file: {where} must be above zero")
    if not MEASURED_RANGE[0] <= number <= MEASURED_RANGE[1]:
        low, high = MEASURED_RANGE
        raise ResultsError(f"results file: {where} must be between {low} and {high:,} (got {value})")
    return number


def load(
    path: Path,
    *,
    servers: dict[Variant, str] | None = None,
    tool_mix: str = DEFAULT_TOOL_MIX,
) -> BenchmarkRun:
    chosen = servers or DEFAULT_SERVERS
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultsError(f"benchmark results not found: {path} (run `mcpstack bench`)") from None
    except OSError as ex:
        raise ResultsError(f"cannot read benchmark results {path}: {ex.strerror}") from None
    except ValueError as ex:
        raise ResultsError(f"benchmark results {path} are not valid JSON: {ex}") from None
    if not isinstance(raw, dict) or raw.get("schema_version") != 1:
        raise ResultsError(f"benchmark results {path}: expected schema_version 1 (scripts/bench/results.schema.json)")
    try:
        env = raw["environment"]
        rows = raw["throughput"]
        known_servers = raw["servers"]
        versions = env.get("versions", {})
        interpreter = f"CPython {versions.get('python', '?')} ({versions.get('python_executable', '?')})"
        # Printed in reports and written into docs: one plain line each, whatever the file holds.
        generated_at, mode = _text(raw["generated_at"]), _text(raw["mode"])
        git_sha, cores, cpu_model = _text(env["git_sha"]), int(env["cores"]), _text(env["cpu_model"])
    except (KeyError, TypeError, ValueError, AttributeError) as ex:
        raise ResultsError(f"benchmark results {path}: missing or malformed field {ex}") from None
    if not isinstance(rows, list) or not isinstance(known_servers, dict):
        raise ResultsError(f"benchmark results {path}: throughput must be a list and servers a mapping")
    measured: dict[Variant, Measured] = {}
    for variant in VARIANTS:
        server = chosen[variant]
        if server not in known_servers:
            raise ResultsError(f"benchmark results have no server {server!r}; they have {', '.join(known_servers)}")
        if not isinstance(known_servers[server], dict):
            raise ResultsError(f"benchmark results {path}: servers.{server} must be an object")
        match = [
            r
            for r in rows
            if isinstance(r, dict)
            and r.get("server") == server
            and r.get("workload") == tool_mix
            and r.get("scope") == "whole-box"
        ]
        if len(match) != 1:
            raise ResultsError(
                f"benchmark results have {len(match)} whole-box rows for {server} on {tool_mix!r}; expected one"
            )
        row = match[0]
        measured[variant] = Measured(
            variant=variant,
            server=server,
            label=_text(known_servers[server].get("label", server)),
            tool_mix=tool_mix,
            cpu_us_per_request=_number(row.get("median_cpu_us_per_request"), f"{server}/{tool_mix} CPU per request"),
            whole_box_rps=_number(row.get("median_rps"), f"{server}/{tool_mix} median_rps"),
        )
    return BenchmarkRun(
        path=str(path),
        generated_at=generated_at,
        mode=mode,
        git_sha=git_sha,
        cores=cores,
        cpu_model=cpu_model,
        interpreter=interpreter,
        measured=measured,
    )
