"""The README's example: a complete MCP server with one tool, in about ten lines."""

from services.mcp_server import App

app = App("weather")


@app.tool("weather")
def get_weather(city: str) -> dict[str, object]:
    """Get weather for a city"""
    return {"city": city, "temp": 72}


if __name__ == "__main__":
    app.run()
