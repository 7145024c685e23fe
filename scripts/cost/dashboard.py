"""The HTML cost dashboard: one self-contained file (no CDN, no network) with charts and a calculator.

Every figure on the page comes from the Python model: the report itself, and a grid of reports over calls per day
(log scale) and peak factors that the page embeds as JSON. The page's script only looks figures up in that grid and
draws them; it holds no second implementation of the model.
"""

from __future__ import annotations

import html as html_lib
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

from scripts.cost import sweep as sweep_mod
from scripts.cost.model import CostReport
from scripts.cost.money import plain, usd
from scripts.cost.throughput import VARIANT_LABELS, BenchmarkRun
from scripts.cost.workload import Workload

PEAK_FACTORS: Final = tuple(Decimal(x) for x in ("1", "1.5", "2", "3", "4", "6", "10"))
LOW, HIGH, PER_DECADE = Decimal(1_000), Decimal(1_000_000_000), 8

# The outside cost post ("The Real Cost of Slow AI Infrastructure: Conduit vs FastAPI", Conduit Team, 2025-12-02):
# its two setups for 200,000 calls a day, as printed (USD a month).
POST_CLAIM: Final = {
    "title": "The Real Cost of Slow AI Infrastructure: Conduit vs FastAPI (Conduit Team, 2025-12-02)",
    "fastapi_infrastructure": "227",
    "fast_infrastructure": "108",
    "labour_difference": "1600",
    "claimed_saving": "1719",
}


# One colour per part, the same on every bar (dedicated parts first, then the shared ones).
PART_COLORS: Final = {
    "instances": "#2b7bd9",
    "volumes": "#9cc3ef",
    "fleet monitoring": "#5a6fa8",
    "load balancer": "#d9822b",
    "NAT": "#a33",
    "database": "#8a8a8a",
    "monitoring and logs": "#c9b458",
}


def grid(price: Callable[[Workload], CostReport], base: Workload) -> dict[str, Any]:
    # The report's own volume is on the grid, so the calculator opens on exactly the figures of the table above it.
    calls = sorted({*sweep_mod.volumes(LOW, HIGH, PER_DECADE), base.calls_per_day})
    peaks = sorted({*PEAK_FACTORS, base.peak_factor})
    points = sweep_mod.sweep(price, base, calls, peaks)
    cells: dict[str, dict[str, Any]] = {}
    for p in points:
        cell = cells.setdefault(f"{p.peak_factor}|{p.calls_per_day}", {})
        cell[p.variant] = {
            "instances": p.instances,
            "set_by": p.set_by,
            "monthly": float(p.monthly),
            "monthly_text": usd(p.monthly),
            "per_million": float(p.per_million),
            "per_million_text": usd(p.per_million),
        }
        if p.variant == "native":
            cell["saving"] = {
                "usd": float(p.saving_vs_fastapi),
                "text": f"{usd(p.saving_vs_fastapi)} ({p.saving_pct.quantize(Decimal('0.1'))} %)",
            }
    steps = {
        str(peak): [
            {
                "variant": s.variant,
                "calls_per_day": float(s.calls_per_day),
                "to": s.instances_to,
                "leaves_floor": s.leaves_floor,
            }
            for s in sweep_mod.steps(points, peak)
        ]
        for peak in peaks
    }
    return {
        "calls": [str(c) for c in calls],
        "peaks": [str(p) for p in peaks],
        "cells": cells,
        "steps": steps,
    }


def _breakdown(report: CostReport) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for variant, cost in report.variants.items():
        parts: dict[str, Decimal] = {}
        for line in cost.dedicated:
            group = (
                "instances"
                if line.price_key.startswith("ec2.")
                else "volumes"
                if line.price_key.startswith("ebs.")
                else "fleet monitoring"
            )
            parts[group] = parts.get(group, Decimal(0)) + line.amount
        for line in report.shared:
            group = (
                "load balancer"
                if line.price_key.startswith("elb.") or line.item.startswith("ALB")
                else "NAT"
                if line.price_key.startswith("vpc.nat") or line.item.startswith("NAT")
                else "database"
                if line.price_key.startswith(("rds.", "secrets."))
                else "monitoring and logs"
            )
            parts[group] = parts.get(group, Decimal(0)) + line.amount
        out[variant] = {
            "label": VARIANT_LABELS[variant],
            "parts": [
                {"name": k, "usd": float(parts[k]), "text": usd(parts[k]), "color": PART_COLORS[k]}
                for k in PART_COLORS
                if k in parts
            ],
            "total_text": usd(cost.total),
        }
    return out


def page_data(
    report: CostReport, run: BenchmarkRun, price: Callable[[Workload], CostReport], base: Workload
) -> dict[str, Any]:
    saving = report.savings()
    return {
        "stage": report.stage,
        "workload": {
            "name": base.name,
            "calls_per_day": str(base.calls_per_day),
            "peak_factor": str(base.peak_factor),
        },
        "benchmark": report.run_name,
        "interpreter": run.interpreter,
        "assumptions": list(report.assumptions),
        "prices_as_of": report.prices_as_of.isoformat(),
        "breakdown": _breakdown(report),
        "report_saving": {"usd": float(saving.usd), "text": usd(saving.usd)},
        "claim": POST_CLAIM,
        "grid": grid(price, base),
        "labels": dict(VARIANT_LABELS),
    }


def _rows(report: CostReport) -> str:
    rows = []
    for variant, cost in report.variants.items():
        s = cost.sizing
        rows.append(
            "<tr>"
            f"<td>{VARIANT_LABELS[variant]}</td>"
            f"<td>{f'{s.count} x {s.instance_type.name}' if s else 'unpriced'}</td>"
            f"<td>{s.set_by_shown if s else ''}</td>"
            f"<td class=num>{usd(cost.total)}</td><td class=num>{usd(cost.per_million)}</td>"
            "</tr>"
        )
    return "\n".join(rows)


def html(report: CostReport, run: BenchmarkRun, price: Callable[[Workload], CostReport], base: Workload) -> str:
    data = json.dumps(page_data(report, run, price, base), separators=(",", ":")).replace("</", "<\\/")
    esc = html_lib.escape
    assumptions = "".join(f"<li>{esc(a)}</li>" for a in report.assumptions)
    unpriced = (
        "<p class=warn>Unpriced (listed, not $0): "
        + esc(", ".join(f"{u.resource_type} {u.logical_id}" for u in report.unpriced))
        + "</p>"
        if report.unpriced
        else ""
    )
    return (
        _TEMPLATE.replace("__DATA__", data)
        .replace("__STAGE__", esc(report.stage))
        .replace("__RUN__", esc(report.run_name))
        .replace("__INTERPRETER__", esc(run.interpreter))
        .replace("__AS_OF__", esc(report.prices_as_of.isoformat()))
        .replace("__ROWS__", _rows(report))
        .replace("__WORKLOAD__", esc(f"{base.name}: {base.calls_per_day:,} calls/day, peak {base.peak_factor}x"))
        .replace("__ASSUMPTIONS__", assumptions)
        .replace("__UNPRICED__", unpriced)
        .replace("__SAVING__", esc(usd(report.savings().usd)))
        .replace("__SAVING_PCT__", plain(report.savings().pct, 1))
    )


_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>mcpstack cost dashboard: __STAGE__</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:20px;color:#222;max-width:1180px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:18px 0 6px}
.meta{color:#555}.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}
.card{border:1px solid #ddd;border-radius:6px;padding:10px}
table{border-collapse:collapse}td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:left}
.num{text-align:right;font-variant-numeric:tabular-nums}.warn{color:#a40}
svg text{font:11px system-ui,sans-serif}
</style></head><body>
<h1>What each variant costs: stage <b>__STAGE__</b></h1>
<p class=meta>Workload __WORKLOAD__. Throughput from the benchmark <b id=run>__RUN__</b> (__INTERPRETER__).
Embedded prices as of __AS_OF__ (us-east-1, on demand). Every figure here was computed by <code>mcpstack cost</code>;
the page only looks them up.</p>
<table id=summary>
<tr><th>variant</th><th>instances</th><th>count set by</th><th>monthly</th><th>per million calls</th></tr>
__ROWS__</table>
<p>Native saves <b>__SAVING__</b> a month (__SAVING_PCT__ %) against the FastAPI fleet at this workload.</p>
__UNPRICED__
<div class=grid>
<div class=card><h2>Monthly cost by part</h2><svg id=chart-breakdown width=540 height=200></svg></div>
<div class=card><h2>The post's claim beside the measured figure</h2>
<svg id=chart-claim width=540 height=200></svg></div>
<div class=card><h2>Cost against volume (peak <span id=peak-label></span>x; dots: instance count steps)</h2>
<svg id=chart-volume width=540 height=260></svg></div>
<div class=card><h2>Saving of the native fleet against volume</h2>
<svg id=chart-savings width=540 height=260></svg></div>
</div>
<h2>Calculator</h2>
<div class=card id=calculator>
<label>calls per day <input id=calls type=range min=0 step=1> <b id=calls-value></b></label>
&nbsp; <label>peak factor <select id=peak></select></label>
<table><tr><th>variant</th><th>instances</th><th>set by</th><th>monthly</th><th>per million calls</th></tr>
<tr><td>FastAPI fleet</td><td id=fastapi-instances class=num></td><td id=fastapi-set-by></td>
<td id=fastapi-monthly class=num></td><td id=fastapi-per-million class=num></td></tr>
<tr><td>native fleet</td><td id=native-instances class=num></td><td id=native-set-by></td>
<td id=native-monthly class=num></td><td id=native-per-million class=num></td></tr></table>
<p>Saving of the native fleet: <b id=saving></b></p></div>
<h2>Assumptions</h2><ul>__ASSUMPTIONS__</ul>
<script id=cost-data type="application/json">__DATA__</script>
<script>
"use strict";
const D = JSON.parse(document.getElementById("cost-data").textContent);
const NS = "http://www.w3.org/2000/svg";
const COLORS = {fastapi: "#d9822b", native: "#2b7bd9"};
function el(svg, name, attrs, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  svg.appendChild(e); return e;
}
function clear(svg) { while (svg.firstChild) svg.removeChild(svg.firstChild); }
function money(x) { return "$" + Math.round(x).toLocaleString("en-US"); }
function bars(svg, rows) {
  clear(svg);
  const max = Math.max(...rows.map(r => r.total)), w = 300, seen = new Map();
  rows.forEach((r, i) => {
    let x = 150; const y = 20 + i * 40;
    el(svg, "text", {x: 4, y: y + 14}, r.label);
    r.parts.forEach((p, j) => {
      const width = max > 0 ? p.usd / max * w : 0;
      const color = p.color || r.palette[j % r.palette.length];
      if (!seen.has(p.name)) seen.set(p.name, color);
      el(svg, "rect", {x, y, width, height: 20, fill: color, "data-part": p.name},
         undefined).appendChild(document.createElementNS(NS, "title")).textContent = p.name + " " + p.text;
      x += width;
    });
    el(svg, "text", {x: x + 4, y: y + 14}, r.totalText);
  });
  let lx = 4, ly = 30 + rows.length * 40;
  for (const [name, color] of seen) {
    el(svg, "rect", {x: lx, y: ly, width: 10, height: 10, fill: color, "data-legend": name});
    el(svg, "text", {x: lx + 14, y: ly + 9}, name);
    lx += 24 + name.length * 6;
    if (lx > 420) { lx = 4; ly += 16; }
  }
}
const PALETTE = ["#2b7bd9", "#6aa5e8", "#9cc3ef", "#d9822b", "#e8a86a", "#8a8a8a", "#b5b5b5"];
function drawBreakdown() {
  const rows = Object.values(D.breakdown).map(b => ({label: b.label, parts: b.parts,
    total: b.parts.reduce((s, p) => s + p.usd, 0), totalText: b.total_text, palette: PALETTE}));
  bars(document.getElementById("chart-breakdown"), rows);
}
function drawClaim() {
  const c = D.claim;
  const rows = [
    {label: "post: saving claimed",
     parts: [{name: "labour", usd: +c.labour_difference, text: money(+c.labour_difference)},
      {name: "infrastructure", usd: c.fastapi_infrastructure - c.fast_infrastructure,
       text: money(c.fastapi_infrastructure - c.fast_infrastructure)}],
     total: +c.claimed_saving, totalText: money(+c.claimed_saving), palette: ["#b5b5b5", "#d9822b"]},
    {label: "post: infra only", parts: [{name: "infrastructure", usd: c.fastapi_infrastructure - c.fast_infrastructure,
      text: ""}], total: c.fastapi_infrastructure - c.fast_infrastructure,
     totalText: money(c.fastapi_infrastructure - c.fast_infrastructure), palette: ["#d9822b"]},
    {label: "measured: " + D.stage, parts: [{name: "infrastructure", usd: Math.max(D.report_saving.usd, 0),
      text: D.report_saving.text}], total: D.report_saving.usd, totalText: D.report_saving.text, palette: ["#2b7bd9"]},
  ];
  bars(document.getElementById("chart-claim"), rows);
}
function lineChart(svg, series, yLabel, marks, logY) {
  clear(svg);
  const W = 540, H = 260, L = 60, R = 10, T = 10, B = 30;
  const xs = D.grid.calls.map(Number), lx = xs.map(Math.log10);
  const ys = series.flatMap(s => s.values);
  const f = logY ? Math.log10 : (v => v);
  const ymin = logY ? Math.min(...ys) / 1.2 : Math.min(0, ...ys), ymax = Math.max(...ys) * 1.05 || 1;
  const X = v => L + (Math.log10(v) - lx[0]) / (lx[lx.length - 1] - lx[0]) * (W - L - R);
  const Y = v => H - B - (f(v) - f(ymin)) / (f(ymax) - f(ymin)) * (H - T - B);
  el(svg, "line", {x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#999"});
  el(svg, "line", {x1: L, y1: T, x2: L, y2: H - B, stroke: "#999"});
  for (let e = Math.ceil(lx[0]); e <= lx[lx.length - 1]; e++) {
    el(svg, "text", {x: X(10 ** e) - 10, y: H - 12}, "1e" + e);
  }
  const mid = logY ? Math.sqrt(ymin * ymax) : (ymin + ymax) / 2;
  [ymin, mid, ymax].forEach(v => el(svg, "text", {x: 2, y: Y(v) + 4}, money(v)));
  el(svg, "text", {x: L + 4, y: T + 10}, yLabel);
  series.forEach(s => {
    const d = s.values.map((v, i) => (i ? "L" : "M") + X(xs[i]).toFixed(1) + "," + Y(v).toFixed(1)).join(" ");
    el(svg, "path", {d, fill: "none", stroke: s.color, "stroke-width": 2, "data-series": s.name});
  });
  (marks || []).forEach(m => el(svg, "circle", {cx: X(m.x), cy: Y(m.y), r: 4, fill: m.color, "data-step": m.label}));
}
function cell(peak, calls) { return D.grid.cells[peak + "|" + calls]; }
function drawVolume(peak) {
  document.getElementById("peak-label").textContent = peak;
  const variants = ["fastapi", "native"];
  const series = variants.map(v => ({name: v, color: COLORS[v],
    values: D.grid.calls.map(c => cell(peak, c)[v].monthly)}));
  const marks = (D.grid.steps[peak] || []).map(s => {
    const key = D.grid.calls.find(c => Number(c) === s.calls_per_day);
    return {x: s.calls_per_day, y: cell(peak, key)[s.variant].monthly, color: COLORS[s.variant],
            label: s.variant + " -> " + s.to + (s.leaves_floor ? " (leaves floor)" : "")};
  });
  lineChart(document.getElementById("chart-volume"), series, "USD a month (log scale)", marks, true);
  lineChart(document.getElementById("chart-savings"),
    [{name: "saving", color: "#2a2", values: D.grid.calls.map(c => cell(peak, c).saving.usd)}], "USD a month saved");
}
function update() {
  const calls = D.grid.calls[+document.getElementById("calls").value];
  const peak = document.getElementById("peak").value;
  const c = cell(peak, calls);
  document.getElementById("calls-value").textContent = Number(calls).toLocaleString("en-US");
  for (const v of ["fastapi", "native"]) {
    document.getElementById(v + "-instances").textContent = c[v].instances;
    document.getElementById(v + "-set-by").textContent = c[v].set_by;
    document.getElementById(v + "-monthly").textContent = c[v].monthly_text;
    document.getElementById(v + "-per-million").textContent = c[v].per_million_text;
  }
  document.getElementById("saving").textContent = c.saving.text;
  drawVolume(peak);
}
function start() {
  const slider = document.getElementById("calls"), select = document.getElementById("peak");
  slider.max = D.grid.calls.length - 1;
  let nearest = 0;
  D.grid.calls.forEach((c, i) => { if (Math.abs(Math.log10(c / D.workload.calls_per_day)) <
      Math.abs(Math.log10(D.grid.calls[nearest] / D.workload.calls_per_day))) nearest = i; });
  slider.value = nearest;
  for (const p of D.grid.peaks) {
    const o = document.createElement("option"); o.textContent = p; select.appendChild(o);
  }
  select.value = D.grid.peaks.find(p => Number(p) === Number(D.workload.peak_factor)) || D.grid.peaks[0];
  slider.addEventListener("input", update); select.addEventListener("change", update);
  drawBreakdown(); drawClaim(); update();
  document.body.dataset.ready = "1";
}
start();
</script></body></html>
"""
