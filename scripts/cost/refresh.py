"""`prices --refresh`: re-read flat prices from the AWS Price List API (boto3 `pricing`, us-east-1 endpoint).

Only when asked and only with credentials. An entry is updated when exactly one product matches all of its filters
(checked again on the product's own attributes) with exactly one on-demand price above zero; anything else (no match,
decoys such as Outposts rows at $0 or capacity reservations, several candidates) keeps the embedded price and says so.
Prices stay `Decimal` from the JSON string on.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from scripts.cost.prices import PriceEntry, PriceTable

PRICE_LIST_SOURCE = "AWS Price List API (pricing.get_products, us-east-1)"


class RefreshError(RuntimeError):
    """The Price List API cannot be used (no credentials, access denied) or an entry has no single match."""


def _positive_prices(product: dict[str, Any]) -> list[Decimal]:
    prices: list[Decimal] = []
    for term in (product.get("terms", {}).get("OnDemand") or {}).values():
        for dimension in (term.get("priceDimensions") or {}).values():
            text = (dimension.get("pricePerUnit") or {}).get("USD")
            try:
                value = Decimal(str(text))
            except InvalidOperation:
                continue
            if value.is_finite() and value > 0:
                prices.append(value)
    return prices


def _matches(product: dict[str, Any], entry: PriceEntry) -> bool:
    attributes = product.get("product", {}).get("attributes", {})
    return all(attributes.get(name) == value for name, value in entry.filters)


def lookup(client: Any, entry: PriceEntry) -> Decimal:
    """The one on-demand price of `entry` in the Price List API, across every page."""
    if not entry.service_code:
        raise RefreshError(f"{entry.key}: not refreshable (no Price List API filters)")
    filters = [{"Type": "TERM_MATCH", "Field": name, "Value": value} for name, value in entry.filters]
    candidates: list[Decimal] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"ServiceCode": entry.service_code, "Filters": filters, "MaxResults": 100}
        if token:
            kwargs["NextToken"] = token
        page = client.get_products(**kwargs)
        for text in page.get("PriceList", []):
            product = json.loads(text) if isinstance(text, str) else text
            if not _matches(product, entry):
                continue
            positive = _positive_prices(product)
            if len(positive) == 1:
                candidates.append(positive[0])
        token = page.get("NextToken")
        if not token:
            break
    if len(candidates) != 1:
        raise RefreshError(f"{entry.key}: {len(candidates)} products with one price above zero; expected exactly one")
    return candidates[0]


def refresh(client: Any, table: PriceTable, *, today: datetime | None = None) -> tuple[PriceTable, list[str]]:
    """The table with every refreshable entry re-priced where the API gives one answer; a line per entry."""
    checked = (today or datetime.now(UTC)).date()
    updates: dict[str, PriceEntry] = {}
    report: list[str] = []
    for entry in table.entries.values():
        if not entry.service_code:
            continue
        try:
            price = lookup(client, entry)
        except RefreshError as ex:
            report.append(f"kept embedded: {ex}")
            continue
        updates[entry.key] = entry.with_price(price, source=PRICE_LIST_SOURCE, checked=checked)
        change = "unchanged" if price == entry.usd else f"{entry.usd} -> {price}"
        report.append(f"{entry.key}: {change}")
    return table.replaced(updates), report


def refresh_from_aws(table: PriceTable) -> tuple[PriceTable, list[str]]:
    import boto3  # type: ignore[import-untyped]
    from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

    session = boto3.Session()
    if session.get_credentials() is None:
        raise RefreshError("no AWS credentials found: the embedded prices stay (nothing was fetched)")
    client = session.client("pricing", region_name="us-east-1")
    try:
        return refresh(client, table)
    except (ClientError, BotoCoreError) as ex:
        raise RefreshError(f"Price List API: {ex}") from None
