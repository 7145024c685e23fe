"""`mcpstack cost report | diff | sweep | prices | actual`: the cost model on the command line.

Every failure is one line on stderr and a non-zero exit: bad input is reported, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal, DecimalException, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from scripts.state import REPO_ROOT

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)
app = typer.Typer(
    name="cost", help="What each variant costs for a workload, per month and per million calls.", no_args_is_help=True
)

DEFAULT_RESULTS = REPO_ROOT / "docs" / "benchmarks" / "results.json"
EXIT_BAD_INPUT = 2
EXIT_UNPRICED = 3
# Bounds on command-line numbers: beyond them no fleet of this shape exists, and Decimal's 28 digits would overflow.
MAX_FLOOR = 10_000
MAX_LABOUR = Decimal(1_000_000)
SWEEP_RANGE = (Decimal(1), Decimal(10**12))
MAX_PER_DECADE = 100

StageOpt = Annotated[
    str | None, typer.Option("--stage", "-s", help="Stage of the CDK app (default: the app's default).")
]
WorkloadOpt = Annotated[
    str, typer.Option("--workload", "-w", help="Preset (low, moderate, high, saas-200k) or a YAML file.")
]
ResultsOpt = Annotated[Path, typer.Option("--results", help="Benchmark results file (mcpstack bench).")]
CdkOutOpt = Annotated[
    Path | None,
    typer.Option("--cdk-out", help="A synthesized cloud assembly to read as is (default: synth when stale)."),
]
FormatOpt = Annotated[str, typer.Option("--format", "-f", help="table, json, markdown, csv or html.")]
# diff, sweep and prices print a table or JSON only.
TableOrJsonOpt = Annotated[str, typer.Option("--format", "-f", help="table or json.")]
OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")]
UtilOpt = Annotated[str, typer.Option("--target-utilisation", help="CPU utilisation per instance at peak, (0, 1].")]
FloorOpt = Annotated[int | None, typer.Option("--floor", help="Availability floor (default: one per AZ of the group).")]
ContextOpt = Annotated[list[str] | None, typer.Option("--context", "-c", help="Extra `cdk synth -c key=value`.")]


class CostInputError(ValueError):
    """A command-line value that cannot be used."""


@contextmanager
def one_line_errors() -> Iterator[None]:
    from scripts.cost.assembly import SynthError
    from scripts.cost.model import UnknownInstanceTypeError
    from scripts.cost.prices import UnknownPriceError
    from scripts.cost.templates import AssemblyError
    from scripts.cost.throughput import ResultsError
    from scripts.cost.workload import WorkloadError

    try:
        yield
    except (CostInputError, WorkloadError, ResultsError, AssemblyError, SynthError) as ex:
        console.print(f"[red]error:[/] {ex}", highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except (UnknownPriceError, UnknownInstanceTypeError) as ex:
        console.print(f"[red]error:[/] no price or shape for {ex.args[0]!r}", highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except DecimalException:
        # The inputs are bounded where they are read; this is the last guard, never a traceback.
        console.print("[red]error:[/] a number is too large or too small to price", highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def _decimal(name: str, value: str) -> Decimal:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise CostInputError(f"{name} must be a number, not {value!r}") from None
    if not number.is_finite():
        raise CostInputError(f"{name} must be finite")
    return number


def _table_or_json(fmt: str) -> None:
    if fmt not in ("table", "json"):
        raise CostInputError(f"unknown format {fmt!r}; expected table or json")


def _stage(stage: str | None) -> str:
    from infra.config import DEFAULT_STAGE

    return stage or DEFAULT_STAGE


def _pricer(
    stage: str,
    results: Path,
    cdk_out: Path | None,
    target_utilisation: str,
    floor: int | None,
    context: list[str] | None,
) -> tuple[Callable[[Any], Any], Any]:
    """A function pricing `stage` for any workload, and the benchmark run it rests on."""
    from scripts.cost import assembly, prices, templates, throughput
    from scripts.cost import stage as stage_mod

    util = _decimal("--target-utilisation", target_utilisation)
    if not Decimal("0.01") <= util <= 1:
        raise CostInputError("--target-utilisation must be between 0.01 and 1")
    if floor is not None and not 1 <= floor <= MAX_FLOOR:
        raise CostInputError(f"--floor must be between 1 and {MAX_FLOOR:,}")
    run = throughput.load(results)
    extra = list(context or ())
    if cdk_out is None:
        assembly.check_stage(stage)
        # A fresh clone has no built releases: synth reads only their manifests, so price from manifest-only ones.
        from scripts.state import state_dir

        extra = [*assembly.pricing_context(stage, state_dir() / "cost" / "pricing-releases"), *extra]
    with console.status(f"reading the synthesized stacks of {stage} (cdk synth when stale)"):
        path = assembly.assembly_for(stage, cdk_out, context=extra)
    resources = templates.load(path, stage)
    assumptions = stage_mod.Assumptions(target_utilisation=util, availability_floor=floor)

    def price(workload: Any) -> Any:
        return stage_mod.price_stage(
            resources, stage=stage, workload=workload, run=run, table=prices.EMBEDDED, assumptions=assumptions
        )

    return price, run


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        out.print(text, end="", markup=False, highlight=False)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
        console.print(f"wrote {output}")


BLOCK_BEGIN = "<!-- generated by `mcpstack cost report --into`: begin -->"
BLOCK_END = "<!-- generated by `mcpstack cost report --into`: end -->"


def _replace_block(path: Path, markdown: str, stage: str, workload: str) -> None:
    try:
        text = path.read_text()
    except OSError as ex:
        raise CostInputError(f"cannot read {path}: {ex.strerror}") from None
    head, sep, rest = text.partition(BLOCK_BEGIN)
    _, sep2, tail = rest.partition(BLOCK_END)
    if not sep or not sep2:
        raise CostInputError(f"{path} has no generated block ({BLOCK_BEGIN} ... {BLOCK_END})")
    shown = path.resolve().relative_to(REPO_ROOT) if path.resolve().is_relative_to(REPO_ROOT) else path
    command = f"mcpstack cost report --stage {stage} --workload {workload} --into {shown}"
    block = f"{BLOCK_BEGIN}\n_Generated by `{command}`; do not edit by hand._\n\n{markdown}\n{BLOCK_END}"
    path.write_text(head + block + tail)
    console.print(f"updated {path}")


@app.command()
def report(
    stage: StageOpt = None,
    workload: WorkloadOpt = "saas-200k",
    results: ResultsOpt = DEFAULT_RESULTS,
    cdk_out: CdkOutOpt = None,
    fmt: FormatOpt = "table",
    output: OutputOpt = None,
    strict: Annotated[bool, typer.Option(help="Exit non-zero when any resource is unpriced.")] = False,
    target_utilisation: UtilOpt = "0.6",
    floor: FloorOpt = None,
    labour_rate: Annotated[str | None, typer.Option(help="Labour, USD per hour (a separate line).")] = None,
    labour_hours_fastapi: Annotated[str, typer.Option(help="Labour hours a month, FastAPI fleet.")] = "0",
    labour_hours_native: Annotated[str, typer.Option(help="Labour hours a month, native fleet.")] = "0",
    into: Annotated[
        Path | None, typer.Option(help="Replace the generated block of this markdown file with the report.")
    ] = None,
    context: ContextOpt = None,
) -> None:
    """Price a stage's synthesized stacks for a workload: per variant, per month and per million calls."""
    from dataclasses import replace

    from scripts.cost import render
    from scripts.cost import workload as workload_mod

    with one_line_errors():
        if fmt not in (*render.FORMATS, "html"):
            raise CostInputError(f"unknown format {fmt!r}; expected one of {', '.join((*render.FORMATS, 'html'))}")
        load = workload_mod.resolve(workload)
        name = _stage(stage)
        price, run = _pricer(name, results, cdk_out, target_utilisation, floor, context)
        result = price(load)
        if labour_rate is not None:
            rate = _decimal("--labour-rate", labour_rate)
            hours = {
                "fastapi": _decimal("--labour-hours-fastapi", labour_hours_fastapi),
                "native": _decimal("--labour-hours-native", labour_hours_native),
            }
            if not all(0 <= x <= MAX_LABOUR for x in (rate, *hours.values())):
                raise CostInputError(f"labour rate and hours must be between 0 and {MAX_LABOUR:,}")
            result = replace(result, labour={v: rate * h for v, h in hours.items()})
        if into is not None:
            _replace_block(into, render.to_markdown(result), name, load.name)
        elif fmt == "table":
            render.print_table(result, out)
        elif fmt == "json":
            _emit(render.to_json(result), output)
        elif fmt == "markdown":
            _emit(render.to_markdown(result), output)
        elif fmt == "csv":
            _emit(render.to_csv(result), output)
        else:
            import scripts.cost.dashboard as dashboard

            _emit(dashboard.html(result, run, price, load), output)
        if result.unpriced:
            console.print(f"{len(result.unpriced)} resource(s) unpriced (listed, not counted as $0)")
            if strict:
                raise typer.Exit(EXIT_UNPRICED)


@app.command()
def diff(
    stage: StageOpt = None,
    against: Annotated[
        str | None, typer.Option(help="A second stage to compare with (default: the two variants).")
    ] = None,
    workload: WorkloadOpt = "saas-200k",
    results: ResultsOpt = DEFAULT_RESULTS,
    target_utilisation: UtilOpt = "0.6",
    floor: FloorOpt = None,
    fmt: TableOrJsonOpt = "table",
    cdk_out: CdkOutOpt = None,
    against_cdk_out: Annotated[Path | None, typer.Option(help="Cloud assembly of the --against stage.")] = None,
    context: ContextOpt = None,
) -> None:
    """Two variants of one stage, or two stages, side by side."""
    import json

    from rich.table import Table

    from scripts.cost import workload as workload_mod
    from scripts.cost.money import plain, usd
    from scripts.cost.throughput import VARIANT_LABELS

    with one_line_errors():
        _table_or_json(fmt)
        load = workload_mod.resolve(workload)
        targets = [(_stage(stage), cdk_out)] + ([(against, against_cdk_out)] if against else [])
        reports = []
        for name, assembly_dir in targets:
            price, _ = _pricer(name, results, assembly_dir, target_utilisation, floor, context)
            reports.append(price(load))
        rows = []
        for r in reports:
            for variant, cost in r.variants.items():
                s = cost.sizing
                rows.append(
                    {
                        "stage": r.stage,
                        "variant": VARIANT_LABELS[variant],
                        "instances": f"{s.count} x {s.instance_type.name}" if s else "unpriced",
                        "set_by": s.set_by if s else "",
                        "monthly": cost.total,
                        "per_million": cost.per_million,
                    }
                )
        base = rows[0]["monthly"]
        if fmt == "json":
            data = [
                {
                    **row,
                    "monthly": plain(row["monthly"]),
                    "per_million": plain(row["per_million"]),
                    "difference_vs_first": plain(row["monthly"] - base),
                }
                for row in rows
            ]
            out.print(json.dumps(data, indent=2), markup=False, highlight=False)
            return
        table = Table(title=f"workload {load.name}: monthly cost side by side")
        for h in ("stage", "variant", "instances", "count set by", "monthly", "per million", "vs first row"):
            table.add_column(h)
        for row in rows:
            table.add_row(
                row["stage"],
                row["variant"],
                row["instances"],
                row["set_by"],
                usd(row["monthly"]),
                usd(row["per_million"]),
                usd(row["monthly"] - base),
            )
        out.print(table)


@app.command()
def sweep(
    stage: StageOpt = None,
    workload: WorkloadOpt = "saas-200k",
    results: ResultsOpt = DEFAULT_RESULTS,
    low: Annotated[str, typer.Option("--from", help="Lowest calls per day.")] = "1000",
    high: Annotated[str, typer.Option("--to", help="Highest calls per day.")] = "1000000000",
    per_decade: Annotated[int, typer.Option(help="Points per decade (log scale).")] = 4,
    target_utilisation: UtilOpt = "0.6",
    floor: FloorOpt = None,
    fmt: TableOrJsonOpt = "table",
    cdk_out: CdkOutOpt = None,
    context: ContextOpt = None,
) -> None:
    """Cost against volume (log scale), with the points where instance counts step and leave the floor."""
    import json

    from rich.table import Table

    from scripts.cost import sweep as sweep_mod
    from scripts.cost import workload as workload_mod
    from scripts.cost.money import plain, usd

    with one_line_errors():
        _table_or_json(fmt)
        load = workload_mod.resolve(workload)
        lo, hi = _decimal("--from", low), _decimal("--to", high)
        low_limit, high_limit = SWEEP_RANGE
        if not low_limit <= lo <= hi <= high_limit or not 1 <= per_decade <= MAX_PER_DECADE:
            raise CostInputError(
                f"need {low_limit:,} <= --from <= --to <= {high_limit:,} and 1 <= --per-decade <= {MAX_PER_DECADE}"
            )
        price, _ = _pricer(_stage(stage), results, cdk_out, target_utilisation, floor, context)
        points = sweep_mod.sweep(price, load, sweep_mod.volumes(lo, hi, per_decade), [load.peak_factor])
        steps = sweep_mod.steps(points, load.peak_factor)
        if fmt == "json":
            data = {
                "points": [
                    {
                        "calls_per_day": str(p.calls_per_day),
                        "variant": p.variant,
                        "instances": p.instances,
                        "set_by": p.set_by,
                        "above_group_maximum": p.above_maximum,
                        "monthly_usd": plain(p.monthly),
                        "per_million_usd": plain(p.per_million),
                    }
                    for p in points
                ],
                "steps": [
                    {
                        "variant": s.variant,
                        "calls_per_day": str(s.calls_per_day),
                        "from": s.instances_from,
                        "to": s.instances_to,
                        "leaves_floor": s.leaves_floor,
                    }
                    for s in steps
                ],
            }
            out.print(json.dumps(data, indent=2), markup=False, highlight=False)
            return
        table = Table(title=f"cost against volume, peak {load.peak_factor}x")
        for h in ("calls/day", "variant", "instances", "set by", "monthly", "per million"):
            table.add_column(h)
        for p in points:
            table.add_row(
                f"{p.calls_per_day:,}",
                p.variant,
                str(p.instances) + (" (above MaxSize)" if p.above_maximum else ""),
                p.set_by,
                usd(p.monthly),
                usd(p.per_million),
            )
        out.print(table)
        for s in steps:
            mark = " (leaves the availability floor)" if s.leaves_floor else ""
            out.print(
                f"{s.variant}: {s.instances_from} -> {s.instances_to} instances at {s.calls_per_day:,} calls/day{mark}"
            )


@app.command()
def prices(
    refresh: Annotated[
        bool, typer.Option(help="Re-read the prices from the AWS Price List API (needs credentials).")
    ] = False,
    fmt: TableOrJsonOpt = "table",
) -> None:
    """The embedded, dated price table: source, date and confidence per entry."""
    import json

    from rich.table import Table

    from scripts.cost import prices as prices_mod

    with one_line_errors():
        _table_or_json(fmt)
        table = prices_mod.EMBEDDED
        if refresh:
            import scripts.cost.refresh as refresh_mod

            try:
                table, report = refresh_mod.refresh_from_aws(table)
            except refresh_mod.RefreshError as ex:
                raise CostInputError(str(ex)) from None
            for line in report:
                console.print(line, highlight=False)
        entries = list(table.entries.values())
        if fmt == "json":
            data = [
                {
                    "key": e.key,
                    "description": e.description,
                    "unit": e.unit,
                    "region": e.region,
                    "tiers": [{"up_to": None if t.up_to is None else str(t.up_to), "usd": str(t.usd)} for t in e.tiers],
                    "source": e.source,
                    "checked": e.checked.isoformat(),
                    "confidence": e.confidence,
                    "note": e.note,
                }
                for e in entries
            ]
            out.print(json.dumps(data, indent=2), markup=False, highlight=False)
            return
        t = Table(title=f"prices, us-east-1, on demand (embedded as of {prices_mod.EMBEDDED_AS_OF.isoformat()})")
        for h in ("key", "unit", "USD", "confidence", "checked", "source"):
            t.add_column(h)
        for e in entries:
            usd_text = " / ".join(str(tier.usd) for tier in e.tiers)
            t.add_row(e.key, e.unit, usd_text, e.confidence, e.checked.isoformat(), e.source.split(",")[0])
        out.print(t)


@app.command()
def actual(
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD (inclusive).")],
    end: Annotated[str, typer.Option(help="Day after the last, YYYY-MM-DD (exclusive, as Cost Explorer counts).")],
    stage: StageOpt = None,
) -> None:
    """Spend by the `Color` tag from Cost Explorer, and the month-to-date AWS/Billing EstimatedCharges."""
    import scripts.cost.actual as actual_mod
    from scripts.cost.money import usd

    with one_line_errors():
        try:
            spend = actual_mod.spend_by_color(actual_mod.ce_client(), start=start, end=end, stage=_stage(stage))
            estimated = actual_mod.estimated_charges(actual_mod.cloudwatch_client())
        except actual_mod.ActualError as ex:
            raise CostInputError(str(ex)) from None
        for color, amount in sorted(spend.items()):
            out.print(f"{color}: {usd(amount)}")
        out.print(
            f"EstimatedCharges, month to date (us-east-1, no tag split): "
            f"{usd(estimated) if estimated is not None else 'no datapoint'}"
        )
