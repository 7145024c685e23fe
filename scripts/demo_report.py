"""What a demo run found, as data (`summary.json`) and as a markdown run report (`report.md`); the terminal summary.

Every figure here is read from the run: the load generator's counts, the cutover's audit log, the measurement's
results file and the cost report (`mcpstack cost report --format json` of that file). Nothing is computed twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from scripts.cutover.load import LoadStats


@dataclass(frozen=True)
class Counts:
    """What the load saw in one phase. `lost`: sent and never answered (connection ended, timeout), or answered with
    an HTTP error; `failed_answers`: answered 200 but a JSON-RPC error or an `isError` tool result."""

    sent: int
    ok: int
    lost: int
    failed_answers: int
    failures: dict[str, int]

    @staticmethod
    def between(before: Mapping[str, Any], after: Mapping[str, Any]) -> Counts:
        failures = {k: after["failures"].get(k, 0) - before["failures"].get(k, 0) for k in after["failures"]}
        failures = {k: v for k, v in failures.items() if v}
        lost = sum(v for k, v in failures.items() if k in ("lost", "connect") or k.startswith("http_"))
        return Counts(
            sent=after["sent"] - before["sent"],
            ok=after["ok"] - before["ok"],
            lost=lost,
            failed_answers=sum(failures.values()) - lost,
            failures=failures,
        )


def phase_counts(stats: LoadStats, phase: str) -> Counts:
    """What the requests sent during `phase` came to (their answers may have arrived after it ended)."""
    tally: Mapping[str, int] = stats.by_phase.get(phase, {})
    failures = {k: v for k, v in tally.items() if k not in ("sent", "ok") and v}
    return Counts.between(
        {"sent": 0, "ok": 0, "failures": {}},
        {"sent": tally.get("sent", 0), "ok": tally.get("ok", 0), "failures": failures},
    )


def mark(stats: LoadStats) -> dict[str, Any]:
    """The load's cumulative counts now (the load thread keeps counting)."""
    return {"sent": stats.sent, "ok": stats.ok, "failures": dict(stats.failures)}


@dataclass(frozen=True)
class StepTime:
    weight_pct: int
    seconds: float
    outcome: str


@dataclass
class DemoSummary:
    run_id: str
    git_sha: str
    started_at: str
    output_dir: str
    rate_per_s: float
    mix: str
    phases_s: dict[str, float] = field(default_factory=dict)
    cutover: Counts | None = None
    cutover_steps: list[StepTime] = field(default_factory=list)
    cutover_exit: str = ""
    weights_after_cutover: dict[str, int] = field(default_factory=dict)
    rehearsal: Counts | None = None
    rehearsal_exit: str = ""
    rehearsal_failed_gates: list[str] = field(default_factory=list)
    rollback_s: float | None = None
    weights_after_rehearsal: dict[str, int] = field(default_factory=dict)
    whole_run: Counts | None = None
    latency_ms: dict[str, float] = field(default_factory=dict)
    measured: dict[str, dict[str, float]] = field(default_factory=dict)
    results_file: str = ""
    benchmark_run: str = ""
    cost: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def cost_summary(report: Mapping[str, Any]) -> dict[str, Any]:
    """The figures the summary shows, taken as they are from `mcpstack cost report --format json`."""
    variants = {}
    for variant, cost in report["variants"].items():
        sizing = cost.get("sizing") or {}
        variants[variant] = {
            "label": cost["label"],
            "instances": f"{sizing.get('instances', '?')} x {sizing.get('instance_type', '?')}",
            "set_by": sizing.get("set_by", ""),
            "monthly_usd": cost["monthly_usd"],
            "per_million_calls_usd": cost["per_million_calls_usd"],
        }
    return {
        "stage": report["stage"],
        "workload": report["workload"]["name"],
        "calls_per_day": report["workload"]["calls_per_day"],
        "peak_factor": report["workload"]["peak_factor"],
        "benchmark": report["benchmark"],
        "prices": report["prices"],
        "variants": variants,
        "savings_monthly_usd": report["savings_vs_fastapi"]["monthly_usd"],
        "savings_pct": report["savings_vs_fastapi"]["pct"],
        "unpriced": len(report["unpriced"]),
    }


def _counts_line(c: Counts | None) -> str:
    if c is None:
        return "not run"
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(c.failures.items())) or "none"
    return f"{c.sent:,} sent, {c.ok:,} ok, {c.lost} lost, {c.failed_answers} failed answers ({kinds})"


def markdown(s: DemoSummary) -> str:
    out = [
        f"# mcpstack demo run {s.run_id}",
        "",
        f"git `{s.git_sha[:12]}`, started {s.started_at}. Everything on 127.0.0.1: PostgreSQL, blue = FastAPI "
        "(gunicorn), green = native, HAProxy in front; a constant-rate mixed MCP load through HAProxy "
        f"({s.rate_per_s:g} requests/s: {s.mix}).",
        "",
        "## Phases",
        "",
        "| phase | seconds |",
        "|---|---|",
        *(f"| {name} | {secs:.1f} |" for name, secs in s.phases_s.items()),
        "",
        "## Cutover blue (FastAPI) to green (native)",
        "",
        f"Outcome: {s.cutover_exit}; weights after it: {s.weights_after_cutover}.",
        f"Load during the cutover: {_counts_line(s.cutover)}.",
        "",
        "| step (green %) | seconds from verified weights to its analysis | analysis |",
        "|---|---|---|",
        *(f"| {t.weight_pct} | {t.seconds:.2f} | {t.outcome} |" for t in s.cutover_steps),
        "",
        "## A bad release rolls back by itself",
        "",
    ]
    if s.rehearsal is None:
        out.append("Not run (`--no-rollback-rehearsal`).")
    else:
        out += [
            f"Traffic sent back to blue (`cutover rollback`), green made faulty (half of its tool calls answer "
            f"`isError`), a second cutover started. Outcome: {s.rehearsal_exit}; failed gates: "
            f"{', '.join(s.rehearsal_failed_gates) or 'none'}; failed analysis to blue 100 % verified in "
            f"{'n/a' if s.rollback_s is None else f'{s.rollback_s * 1000:.0f} ms'}; weights after it: "
            f"{s.weights_after_rehearsal}.",
            f"Load during the rehearsal: {_counts_line(s.rehearsal)}.",
        ]
    out += [
        "",
        "## Whole run",
        "",
        f"Load: {_counts_line(s.whole_run)}. Client-side latency through HAProxy: "
        + ", ".join(f"{k} {v:.2f} ms" for k, v in s.latency_ms.items())
        + ".",
        "",
        "## Measured side by side (both servers alone, saturated with wrk on the same mix)",
        "",
        f"Results file: `{s.results_file}` ({s.benchmark_run}).",
        "",
        "| server | requests/s | server CPU µs per request |",
        "|---|---|---|",
        *(f"| {name} | {m['rps']:,.0f} | {m['cpu_us_per_request']:.0f} |" for name, m in s.measured.items()),
        "",
    ]
    c = s.cost
    if c:
        out += [
            f"## Cost: stage `{c['stage']}`, workload `{c['workload']}` ({int(c['calls_per_day']):,} calls a day, "
            f"peak {c['peak_factor']}x)",
            "",
            f"Sized from the measurement above ({c['benchmark']}); {c['prices']}.",
            "",
            "| variant | instances | set by | monthly | per million calls |",
            "|---|---|---|---|---|",
            *(
                f"| {v['label']} | {v['instances']} | {v['set_by']} | ${v['monthly_usd']} "
                f"| ${v['per_million_calls_usd']} |"
                for v in c["variants"].values()
            ),
            "",
            f"Saving of the native fleet: ${c['savings_monthly_usd']} a month ({c['savings_pct']} %). "
            f"Unpriced resources: {c['unpriced']}.",
            "",
        ]
    out += ["## Files", "", *(f"- {what}: `{path}`" for what, path in s.files.items()), ""]
    return "\n".join(out)


def print_summary(s: DemoSummary, console: Console) -> None:
    table = Table(title="what the native fleet costs against FastAPI", title_justify="left", header_style="bold")
    for column in ("variant", "instances", "monthly", "per million calls"):
        table.add_column(column)
    for v in s.cost.get("variants", {}).values():
        table.add_row(v["label"], v["instances"], f"${v['monthly_usd']}", f"${v['per_million_calls_usd']}")
    console.print(table)
    c = s.cost
    console.print(
        f"saving: ${c['savings_monthly_usd']} a month ({c['savings_pct']} %), stage {c['stage']}, workload "
        f"{c['workload']}, sized from {c['benchmark']}"
    )
    console.print(f"cutover: {_counts_line(s.cutover)}; weights {s.weights_after_cutover}")
    if s.rehearsal is not None:
        rollback = "n/a" if s.rollback_s is None else f"{s.rollback_s * 1000:.0f} ms"
        console.print(f"bad release: {s.rehearsal_exit}, rolled back in {rollback}; {_counts_line(s.rehearsal)}")
    console.print(f"whole run: {_counts_line(s.whole_run)}; {sum(s.phases_s.values()):.0f} s")
    for what, path in s.files.items():
        console.print(f"{what}: {path}")


def write(s: DemoSummary, out_dir: Path) -> None:
    (out_dir / "summary.json").write_text(s.to_json())
    (out_dir / "report.md").write_text(markdown(s))
