"""Cost against volume: the stage priced at many calls-per-day values (log scale) and peak factors, with the points
where a variant's instance count steps and where it leaves its availability floor. The dashboard embeds this grid.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from scripts.cost.model import CostReport
from scripts.cost.throughput import Variant
from scripts.cost.workload import Workload


@dataclass(frozen=True, kw_only=True)
class Point:
    calls_per_day: Decimal
    peak_factor: Decimal
    variant: Variant
    instances: int
    set_by: str
    monthly: Decimal
    per_million: Decimal
    saving_vs_fastapi: Decimal
    saving_pct: Decimal
    # More instances than the group's MaxSize: the stack as synthesized cannot serve this peak.
    above_maximum: bool = False


@dataclass(frozen=True, kw_only=True)
class Step:
    variant: Variant
    calls_per_day: Decimal
    instances_from: int
    instances_to: int
    leaves_floor: bool


def volumes(low: Decimal, high: Decimal, per_decade: int) -> list[Decimal]:
    """Log-spaced calls per day from `low` to `high`, rounded to whole calls."""
    if low <= 0 or high < low or per_decade < 1:
        raise ValueError("need 0 < from <= to and at least one point per decade")
    out: list[Decimal] = []
    exponent = low.log10()
    top = high.log10()
    step = Decimal(1) / per_decade
    while exponent <= top + Decimal("1e-9"):
        value = (Decimal(10) ** exponent).to_integral_value()
        if not out or value > out[-1]:
            out.append(value)
        exponent += step
    return out


def sweep(
    price: Callable[[Workload], CostReport],
    base: Workload,
    calls: Sequence[Decimal],
    peak_factors: Sequence[Decimal],
) -> list[Point]:
    points: list[Point] = []
    for peak in peak_factors:
        for c in calls:
            report = price(base.at_volume(c, peak))
            saving = report.savings()
            for variant, cost in report.variants.items():
                points.append(
                    Point(
                        calls_per_day=c,
                        peak_factor=peak,
                        variant=variant,
                        instances=cost.sizing.count if cost.sizing else 0,
                        set_by=cost.sizing.set_by if cost.sizing else "unpriced",
                        monthly=cost.total,
                        per_million=cost.per_million,
                        saving_vs_fastapi=saving.usd if variant == "native" else Decimal(0),
                        saving_pct=saving.pct if variant == "native" else Decimal(0),
                        above_maximum=cost.sizing.above_maximum if cost.sizing else False,
                    )
                )
    return points


# What holds a fleet at a fixed size whatever the load: the count leaves it when the load sets the count.
FLOORS: Final = ("availability floor", "group minimum")


def steps(points: Sequence[Point], peak_factor: Decimal) -> list[Step]:
    """Where each variant's instance count changes along the volume axis, at one peak factor."""
    out: list[Step] = []
    by_variant: dict[Variant, list[Point]] = {}
    for p in points:
        if p.peak_factor == peak_factor:
            by_variant.setdefault(p.variant, []).append(p)
    for variant, series in by_variant.items():
        series.sort(key=lambda p: p.calls_per_day)
        for before, after in itertools.pairwise(series):
            if after.instances != before.instances:
                out.append(
                    Step(
                        variant=variant,
                        calls_per_day=after.calls_per_day,
                        instances_from=before.instances,
                        instances_to=after.instances,
                        leaves_floor=before.set_by in FLOORS and after.set_by not in FLOORS,
                    )
                )
    return out
