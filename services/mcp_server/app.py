"""The framework face of the native server: write tools, resources and prompts as typed functions, then `app.run()`.

app = App("weather")

@app.tool("weather")
def get_weather(city: str) -> dict:
    \"\"\"Get weather for a city\"\"\"
    return {"city": city, "temp": 72}

@app.resource("weather://cities")
def cities() -> str:
    \"\"\"The cities with weather data\"\"\"
    return "Paris, Lisbon, Oslo"

@app.prompt(complete={"city": ["Paris", "Lisbon", "Oslo"]})
def forecast(city: str) -> str:
    \"\"\"Ask for a forecast\"\"\"
    return f"What will the weather be in {city} tomorrow?"

app.run()
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from services.mcp_server.config import ConfigError, ServerConfig, load_config
from services.tools.registry import ToolRegistry


class App:
    def __init__(self, name: str = "mcp-server", version: str = "0.1.0", *, instructions: str | None = None) -> None:
        self.name = name
        self.version = version
        self.instructions = instructions
        self.registry = ToolRegistry()

    def tool(self, name: str | None = None, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register a tool: its schema comes from the type hints, its description from the docstring."""
        return self.registry.tool(name, **options)

    mcp_tool = tool  # the spelling of the cost post's example ("Conduit vs FastAPI")

    def resource(self, uri: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register a resource: the function returns its text (`str`) or binary content (`bytes`). A `uri` with
        `{variables}` registers a template whose variables are the function's `str` parameters."""
        return self.registry.resource(uri, **options)

    def prompt(self, name: str | None = None, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register a prompt: its arguments are the function's `str` parameters, its messages what it returns (a
        `str` for one user message, or a list of messages; services/tools/prompts.py)."""
        return self.registry.prompt(name, **options)

    def include(self, registry: ToolRegistry) -> None:
        """Serve the tools, resources and prompts of another registry too (a tool pack)."""
        self.registry.include(registry)

    def config(self, **overrides: Any) -> ServerConfig:
        overrides.setdefault("server_name", self.name)
        overrides.setdefault("server_version", self.version)
        overrides.setdefault("instructions", self.instructions)
        return load_config(**overrides)

    def run(
        self, *, host: str | None = None, port: int | None = None, workers: int | None = None, **settings: Any
    ) -> None:
        """Serve until SIGTERM (environment variables MCP_HOST, MCP_PORT, MCP_WORKERS, DATABASE_URL, … apply)."""
        from services.mcp_server import supervisor

        try:
            config = self.config(host=host, port=port, workers=workers, **settings)
        except ConfigError as ex:
            print(f"error: {ex}", file=sys.stderr)
            raise SystemExit(2) from None
        raise SystemExit(supervisor.run(config, self.registry))
