"""Tool packs a server can be configured to serve (`MCP_TOOL_PACKS=reference,…`)."""

from __future__ import annotations

from services.tools.registry import ToolRegistry

PACKS = ("reference", "conformance")


def load_packs(names: tuple[str, ...]) -> ToolRegistry:
    registry = ToolRegistry()
    for name in names:
        if name == "reference":
            from services.tools.catalogue import catalogue

            registry.include(catalogue)
        elif name == "conformance":
            # The official conformance suite's fixtures: only when asked for, never part of the default catalogue.
            from services.tools.conformance import conformance

            registry.include(conformance)
            from services.tools.conformance_streaming import conformance_streaming

            registry.include(conformance_streaming)
            from services.tools.conformance_mrtr import conformance_mrtr

            registry.include(conformance_mrtr)
            from services.tools.conformance_tasks import conformance_tasks

            registry.include(conformance_tasks)
        else:
            raise ValueError(f"unknown tool pack {name!r} (available: {', '.join(PACKS)})")
    return registry
