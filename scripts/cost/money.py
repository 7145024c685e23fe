"""Decimal helpers: parsing without float, and the one display rounding (half-up to the cent)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal(0)
MILLION = Decimal(1_000_000)


def dec(value: str | int | Decimal) -> Decimal:
    """A Decimal from a string or int; floats are refused so no binary rounding creeps into money."""
    if isinstance(value, float):  # pragma: no cover - guarded by the type, kept for callers outside mypy
        raise TypeError("money never goes through float")
    return value if isinstance(value, Decimal) else Decimal(value)


def cents(amount: Decimal) -> Decimal:
    """Half-up to the cent: for display only, never fed back into a sum."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def usd(amount: Decimal) -> str:
    """`$1,234.57`, half-up to the cent."""
    rounded = cents(amount)
    sign = "-" if rounded < 0 else ""
    return f"{sign}${abs(rounded):,.2f}"


def plain(amount: Decimal, places: int = 2) -> str:
    """A decimal string rounded half-up to `places` (JSON and CSV keep it a string, never a float)."""
    return str(amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))
