"""The MCP custom metrics a slot publishes (the metrics bridge, `infra/bootstrap/metrics_bridge.py`, through the
CloudWatch agent's EMF listener), counted from the contract's names and priced as CloudWatch custom metrics.

One custom metric is one metric name with one combination of dimension values. The count per slot is, for every
metric and each of its dimension sets (`infra.contract.MCP_METRIC_DIMENSIONS`), the product of how many values each
dimension can take: Stage and Slot one each (a report prices one stage, and each slot on its own line), Method the
routed methods (`MCP_METHOD_LABELS`), Tool the tools the slot serves, Outcome the four outcomes. It is a ceiling:
the bridge sends a combination only in a minute it changed, and CloudWatch prorates a metric by the hours it
receives data, so a combination that never happens (a `timeout` of a tool that never times out) costs nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from infra import contract


def dimension_cardinality(*, tools: int) -> dict[str, int]:
    return {
        contract.MCP_DIMENSION_STAGE: 1,
        contract.MCP_DIMENSION_SLOT: 1,
        contract.MCP_DIMENSION_METHOD: len(contract.MCP_METHOD_LABELS),
        contract.MCP_DIMENSION_TOOL: tools,
        contract.MCP_DIMENSION_OUTCOME: len(contract.MCP_OUTCOMES),
    }


@dataclass(frozen=True)
class McpMetricCount:
    """Custom metrics per slot, by metric name."""

    tools: int
    by_metric: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_metric.values())

    def describe(self) -> str:
        parts = ", ".join(f"{name} {n}" for name, n in self.by_metric.items())
        return (
            f"per slot: {parts} ({len(contract.MCP_METHOD_LABELS)} methods, {self.tools} tools, "
            f"{len(contract.MCP_OUTCOMES)} outcomes); a ceiling, billed only for the hours a combination gets data"
        )


def per_slot(*, tools: int) -> McpMetricCount:
    if tools < 0:
        raise ValueError(f"tools must be >= 0, not {tools}")
    card = dimension_cardinality(tools=tools)
    return McpMetricCount(
        tools=tools,
        by_metric={
            name: sum(math.prod(card[d] for d in dims) for dims in sets)
            for name, sets in contract.MCP_METRIC_DIMENSIONS.items()
        },
    )


def catalogue_tools() -> int:
    """Tools in the packs a slot serves by default (the server's `tool_packs`, "reference")."""
    from services.mcp_server.config import ServerConfig
    from services.tools.packs import load_packs

    return len(load_packs(ServerConfig().tool_packs))
