"""The native MCP server: HTTP wire (uvloop + httptools) → JSON-RPC → MCP methods → tools, and a small framework.

Layers import only downward: `wire` and `jsonrpc` know nothing of MCP; `methods` knows JSON-RPC and the tool
registry; `transport` applies MCP's HTTP rules; `worker` and `supervisor` assemble and run them. An answer that may
still need awaiting has one shape in every layer, `services.tools.reply.Reply`; `faults` injects tool failures and
latency for local rehearsals (`MCP_FAULTS`); `catalogue_methods` routes resources, prompts and completion.
"""

from services.mcp_server.app import App
from services.tools.context import ToolContext, ToolError
from services.tools.resources import ResourceNotFound

__all__ = ["App", "ResourceNotFound", "ToolContext", "ToolError"]
