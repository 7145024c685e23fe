"""Workloads: how many tool calls arrive, how peaky, and what each call costs the edge and the logs.

Presets or a YAML file with the same field names. Only this module reads workload input; bad input raises
`WorkloadError` with one line the CLI shows as is.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Final

from scripts.cost.money import MILLION

SECONDS_PER_DAY: Final = Decimal(86_400)


# The range each field may take (a day has at most 10^12 calls here; a month at most 744 hours).
LIMITS: Final[dict[str, tuple[Decimal, Decimal]]] = {
    "calls_per_day": (Decimal(1), Decimal(10**12)),
    "peak_factor": (Decimal(1), Decimal(1000)),
    "bytes_per_call": (Decimal(0), Decimal(10**9)),
    "new_connections_per_call": (Decimal(0), Decimal(1000)),
    "log_bytes_per_call": (Decimal(0), Decimal(10**9)),
    "hours_per_month": (Decimal(1), Decimal(744)),
}


class WorkloadError(ValueError):
    """A workload that cannot be priced (unknown preset, unreadable file, a non-positive volume)."""


@dataclass(frozen=True, kw_only=True)
class Workload:
    name: str
    calls_per_day: Decimal
    # Peak request rate as a multiple of the day's average rate; sizing uses the peak.
    peak_factor: Decimal = Decimal(3)
    # Request plus response bytes through the load balancer per call (ALB "processed bytes").
    bytes_per_call: Decimal = Decimal(2048)
    # New TCP connections per call: 1 when every client call opens one, near 0 with long keep-alive.
    new_connections_per_call: Decimal = Decimal(1)
    # Application log bytes written per call (CloudWatch Logs ingestion).
    log_bytes_per_call: Decimal = Decimal(256)
    hours_per_month: Decimal = Decimal(730)

    def __post_init__(self) -> None:
        if self.calls_per_day <= 0:
            raise WorkloadError(f"workload {self.name!r}: calls_per_day must be above zero (got {self.calls_per_day})")
        if self.peak_factor < 1:
            raise WorkloadError(f"workload {self.name!r}: peak_factor must be at least 1 (got {self.peak_factor})")
        if self.hours_per_month <= 0:
            raise WorkloadError(f"workload {self.name!r}: hours_per_month must be above zero")
        for name in ("bytes_per_call", "new_connections_per_call", "log_bytes_per_call"):
            if getattr(self, name) < 0:
                raise WorkloadError(f"workload {self.name!r}: {name} must not be negative")
        # Beyond these no AWS fleet of this shape exists, and the money's 28 significant digits would overflow.
        for name, (low, high) in LIMITS.items():
            value = getattr(self, name)
            if not low <= value <= high:
                raise WorkloadError(
                    f"workload {self.name!r}: {name} must be between {low:,} and {high:,} (got {value})"
                )

    @property
    def average_rps(self) -> Decimal:
        return self.calls_per_day / SECONDS_PER_DAY

    @property
    def peak_rps(self) -> Decimal:
        return self.average_rps * self.peak_factor

    @property
    def calls_per_month(self) -> Decimal:
        return self.calls_per_day * self.hours_per_month / 24

    @property
    def millions_per_month(self) -> Decimal:
        return self.calls_per_month / MILLION

    def at_volume(self, calls_per_day: Decimal, peak_factor: Decimal | None = None) -> Workload:
        """The same call shape at another volume (sweeps, the dashboard's calculator)."""
        return replace(
            self,
            calls_per_day=calls_per_day,
            peak_factor=self.peak_factor if peak_factor is None else peak_factor,
        )


# The outside cost post's scenario: 200,000 tool calls a day, peak three times the average.
PRESETS: Final[dict[str, Workload]] = {
    "low": Workload(name="low", calls_per_day=Decimal(20_000)),
    "moderate": Workload(name="moderate", calls_per_day=Decimal(2_000_000)),
    "high": Workload(name="high", calls_per_day=Decimal(50_000_000)),
    "saas-200k": Workload(name="saas-200k", calls_per_day=Decimal(200_000), peak_factor=Decimal(3)),
}
DEFAULT_PRESET: Final = "saas-200k"


def preset(name: str) -> Workload:
    try:
        return PRESETS[name]
    except KeyError:
        raise WorkloadError(f"unknown workload preset {name!r}; expected one of: {', '.join(PRESETS)}") from None


def _decimal(name: str, value: object, source: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise WorkloadError(f"{source}: {name} must be a number (got {value!r})")
    try:
        # str() first: a YAML float such as 0.1 becomes Decimal("0.1"), not its binary expansion.
        number = Decimal(str(value))
    except InvalidOperation:
        raise WorkloadError(f"{source}: {name} must be a number (got {value!r})") from None
    if not number.is_finite():
        raise WorkloadError(f"{source}: {name} must be finite (got {value!r})")
    return number


def load(path: Path) -> Workload:
    """A workload from a YAML mapping with the fields of `Workload` (all but calls_per_day optional)."""
    import yaml  # type: ignore[import-untyped]

    source = str(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as ex:
        raise WorkloadError(f"cannot read workload file {source}: {ex.strerror}") from None
    except yaml.YAMLError as ex:
        raise WorkloadError(f"{source} is not valid YAML: {str(ex).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise WorkloadError(f"{source}: expected a mapping of workload fields")
    known = {f.name for f in fields(Workload)}
    unknown = sorted(set(map(str, raw)) - known)
    if unknown:
        raise WorkloadError(
            f"{source}: unknown field(s) {', '.join(unknown)}; expected some of {', '.join(sorted(known))}"
        )
    if "calls_per_day" not in raw:
        raise WorkloadError(f"{source}: calls_per_day is required")
    values = {k: _decimal(k, v, source) for k, v in raw.items() if k != "name"}
    # The name heads every report and docs/cost.md's block: one plain line, no table separators, at most 100 chars.
    name = " ".join(str(raw.get("name", path.stem)).replace("|", " ").split())[:100] or path.stem
    return Workload(name=name, **values)


def resolve(spec: str) -> Workload:
    """A preset name, or the path of a YAML file (anything ending in .yaml/.yml or naming an existing file)."""
    path = Path(spec)
    if spec.endswith((".yaml", ".yml")) or path.is_file():
        return load(path)
    return preset(spec)
