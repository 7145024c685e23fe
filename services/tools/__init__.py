"""The shared tool catalogue: tool registry, reference tools, database schema, migrations and seed data.

Both servers serve exactly these tools. Nothing here knows about HTTP, JSON-RPC or MCP.
"""
