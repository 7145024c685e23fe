"""The official MCP Python SDK's `MCPServer` serving the reference tools: the third point of comparison."""
