"""Outputs of a cost report: a rich table, JSON (amounts as decimal strings), markdown and CSV. Presentation only."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from scripts.cost.model import CostReport, Line, VariantCost
from scripts.cost.money import cents, plain, usd
from scripts.cost.throughput import VARIANT_LABELS

FORMATS = ("table", "json", "markdown", "csv")


def _qty(value: Decimal) -> str:
    text = f"{value.quantize(Decimal('0.0001')):f}".rstrip("0").rstrip(".")
    return text or "0"


def line_dict(line: Line) -> dict[str, str]:
    return {
        "scope": line.scope,
        "item": line.item,
        "price_key": line.price_key,
        "quantity": _qty(line.quantity),
        "unit": line.unit,
        "unit_price_usd": str(line.unit_price),
        "amount_usd": plain(line.amount),
        "source": line.source,
        "checked": line.checked.isoformat(),
        "assumption": line.assumption,
        "resource": line.resource,
    }


def _variant(report: CostReport, cost: VariantCost) -> dict[str, Any]:
    sizing = cost.sizing
    out: dict[str, Any] = {
        "label": VARIANT_LABELS[cost.variant],
        "slot": cost.color,
        "dedicated": [line_dict(line) for line in cost.dedicated],
        "dedicated_usd": plain(cost.dedicated_total),
        "shared_allocated_usd": plain(cost.shared),
        "monthly_usd": plain(cost.total),
        "per_million_calls_usd": plain(cost.per_million),
    }
    if sizing is not None:
        out["sizing"] = {
            "instance_type": sizing.instance_type.name,
            "vcpus": sizing.instance_type.vcpus,
            "capacity_rps_per_instance": plain(sizing.capacity_rps_per_instance, 1),
            "target_utilisation": str(sizing.target_utilisation),
            "required_by_throughput": sizing.required_by_throughput,
            "availability_floor": sizing.availability_floor,
            "group_minimum": sizing.group_minimum,
            "required_by_credits": sizing.required_by_credits,
            "instances": sizing.count,
            "set_by": sizing.set_by,
            "group_maximum": sizing.group_maximum,
            "above_group_maximum": sizing.above_maximum,
            "average_cpu_utilisation": plain(sizing.average_utilisation, 4),
        }
    return out


def to_dict(report: CostReport) -> dict[str, Any]:
    w = report.workload
    savings = report.savings()
    return {
        "stage": report.stage,
        "workload": {
            "name": w.name,
            "calls_per_day": str(w.calls_per_day),
            "peak_factor": str(w.peak_factor),
            "bytes_per_call": str(w.bytes_per_call),
            "new_connections_per_call": str(w.new_connections_per_call),
            "log_bytes_per_call": str(w.log_bytes_per_call),
            "hours_per_month": str(w.hours_per_month),
            "average_rps": plain(w.average_rps, 4),
            "peak_rps": plain(w.peak_rps, 4),
            "calls_per_month": plain(w.calls_per_month, 0),
        },
        "benchmark": report.run_name,
        "prices": f"embedded prices as of {report.prices_as_of.isoformat()}",
        "assumptions": list(report.assumptions),
        "variants": {v: _variant(report, c) for v, c in report.variants.items()},
        "shared": [line_dict(line) for line in report.shared],
        "shared_usd": plain(report.shared_total),
        "savings_vs_fastapi": {"monthly_usd": plain(savings.usd), "pct": plain(savings.pct, 1)},
        "both_fleets_monthly_usd": plain(report.stage_total),
        "unpriced": [
            {"type": u.resource_type, "stack": u.stack, "logical_id": u.logical_id, "scope": u.scope}
            for u in report.unpriced
        ],
        "free": [{"type": t, "reason": reason} for t, reason in report.free],
        "labour_usd": {v: plain(amount) for v, amount in report.labour.items()},
    }


def to_json(report: CostReport) -> str:
    return json.dumps(to_dict(report), indent=2) + "\n"


def summary_rows(report: CostReport) -> list[list[str]]:
    base = report.variants.get("fastapi")
    rows = []
    for variant, cost in report.variants.items():
        s = cost.sizing
        saved = "—"
        if base is not None and variant != "fastapi":
            sv = report.savings()
            saved = f"{usd(sv.usd)} ({sv.pct.quantize(Decimal('0.1'))} %)"
        rows.append(
            [
                VARIANT_LABELS[variant],
                f"{s.count} x {s.instance_type.name}" if s else "unpriced",
                s.set_by_shown if s else "—",
                usd(cost.dedicated_total),
                usd(cost.shared),
                usd(cost.total),
                usd(cost.per_million),
                saved,
            ]
        )
    return rows


SUMMARY_HEADER = [
    "variant",
    "instances",
    "count set by",
    "dedicated",
    "shared",
    "monthly",
    "per million calls",
    "saving vs FastAPI",
]
LINE_HEADER = ["scope", "item", "quantity", "unit", "unit price", "monthly", "assumption"]


SIZING_HEADER = [
    "variant",
    "CPU per request (measured)",
    "capacity per instance",
    "peak load",
    "needed by throughput",
    "availability floor",
    "instances",
    "average CPU per vCPU",
]


def sizing_rows(report: CostReport) -> list[list[str]]:
    rows = []
    for variant, cost in report.variants.items():
        s = cost.sizing
        if s is None:
            continue
        cpu_us = Decimal(1_000_000) * s.instance_type.vcpus / s.capacity_rps_per_instance
        rows.append(
            [
                VARIANT_LABELS[variant],
                f"{plain(cpu_us, 1)} us",
                f"{s.capacity_rps_per_instance:,.0f} req/s ({s.instance_type.name}, {s.instance_type.vcpus} vCPU)",
                f"{plain(report.workload.peak_rps, 2)} req/s",
                str(s.required_by_throughput),
                str(s.availability_floor),
                f"{s.count} ({s.set_by_shown})",
                f"{s.average_utilisation:.2%}",
            ]
        )
    return rows


def _line_row(line: Line) -> list[str]:
    return [
        line.scope,
        line.item,
        _qty(line.quantity),
        line.unit,
        f"${line.unit_price}",
        usd(line.amount),
        line.assumption,
    ]


def _all_lines(report: CostReport) -> list[Line]:
    return [*(line for c in report.variants.values() for line in c.dedicated), *report.shared]


def heading(report: CostReport) -> str:
    w = report.workload
    return (
        f"stage {report.stage}, workload {w.name}: {w.calls_per_day:,} calls/day, peak {w.peak_factor}x "
        f"({plain(w.peak_rps, 2)} req/s), {cents(w.calls_per_month).to_integral_value():,} calls/month; "
        f"benchmark: {report.run_name}; embedded prices as of {report.prices_as_of.isoformat()}"
    )


# Sums are exact and each amount is rounded on its own, for display only (never fed back into a sum).
ROUNDING_NOTE = (
    "Every amount is exact and rounded half-up to the cent on its own, for display: a total or a saving can differ "
    "by a cent from the sum or difference of the rounded amounts shown beside it."
)


def to_markdown(report: CostReport) -> str:
    def table(header: list[str], rows: list[list[str]]) -> list[str]:
        esc = [[c.replace("|", "\\|") for c in row] for row in rows]
        return [
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
            *("| " + " | ".join(r) + " |" for r in esc),
        ]

    out = [f"_{heading(report)}_", "", *table(SUMMARY_HEADER, summary_rows(report)), ""]
    out += [ROUNDING_NOTE, ""]
    out += ["Fleet sizing (at the target utilisation):", "", *table(SIZING_HEADER, sizing_rows(report)), ""]
    out += [f"Both fleets at once (during a cutover): {usd(report.stage_total)} a month.", ""]
    if report.labour:
        labour = ", ".join(f"{VARIANT_LABELS[v]} {usd(a)}" for v, a in report.labour.items())
        out += [f"Labour a month, given, not infrastructure and not in the totals above: {labour}.", ""]
    out += ["Line items:", "", *table(LINE_HEADER, [_line_row(x) for x in _all_lines(report)]), ""]
    out += ["Assumptions:", "", *(f"- {a}" for a in report.assumptions), ""]
    if report.unpriced:
        out += ["Unpriced (not $0: no price in the table):", ""]
        out += [f"- {u.resource_type} {u.stack}/{u.logical_id}" for u in report.unpriced] + [""]
    return "\n".join(out)


def to_csv(report: CostReport) -> str:
    buffer = io.StringIO()
    fields = list(line_dict(_all_lines(report)[0]).keys()) if _all_lines(report) else ["scope"]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for line in _all_lines(report):
        writer.writerow(line_dict(line))
    return buffer.getvalue()


def print_table(report: CostReport, console: Console) -> None:
    console.print(heading(report))
    summary = Table(title="monthly cost per variant (each serving all the traffic)")
    for h in SUMMARY_HEADER:
        summary.add_column(h, justify="right" if h not in ("variant", "count set by") else "left")
    for row in summary_rows(report):
        summary.add_row(*row)
    console.print(summary)
    sizing = Table(title="fleet sizing")
    for h in SIZING_HEADER:
        sizing.add_column(h)
    for row in sizing_rows(report):
        sizing.add_row(*row)
    console.print(sizing)
    lines = Table(title="line items")
    for h in LINE_HEADER:
        lines.add_column(h, justify="right" if h in ("quantity", "unit price", "monthly") else "left")
    for line in _all_lines(report):
        lines.add_row(*_line_row(line))
    console.print(lines)
    console.print(f"both fleets at once (during a cutover): {usd(report.stage_total)} a month")
    for variant, amount in report.labour.items():
        console.print(
            f"labour, {VARIANT_LABELS[variant]}: {usd(amount)} a month (given; not infrastructure, not in totals)"
        )
    for a in report.assumptions:
        console.print(f"- {a}")
    for u in report.unpriced:
        console.print(f"[yellow]unpriced[/] {u.resource_type} {u.stack}/{u.logical_id} (not $0: no price in the table)")
