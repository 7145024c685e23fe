"""Tool packs a server can be configured to serve (`MCP_TOOL_PACKS=reference,…`)."""

from __future__ import annotations

from services.tools.registry import ToolRegistry


def load_packs(names: tuple[str, ...]) -> ToolRegistry:
    registry = ToolRegistry()
    for name in names:
        if name == "reference":
            from services.tools.catalogue import catalogue

            registry.include(catalogue)
        else:
            raise ValueError(f"unknown tool pack {name!r} (available: reference)")
    return registry
