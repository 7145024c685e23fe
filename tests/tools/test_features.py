"""Resources, prompts and completion in process: registration rules, refusals by code, async functions, App()."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from services import protocol
from services.mcp_server import App, jsonrpc
from services.mcp_server.methods import McpMethods, ServerInfo
from services.mcp_server.metrics import Metrics
from services.tools.context import NO_DATABASE, ToolError
from services.tools.features import MAX_COMPLETIONS, CatalogueError, Features
from services.tools.registry import ToolRegistry
from services.tools.reply import pending
from services.tools.resources import ResourceNotFound


def features(registry: ToolRegistry, page_size: int = 50) -> Features:
    return Features(registry.resources, registry.prompts, page_size=page_size)


def refusal(call: Any, *args: Any, **kwargs: Any) -> CatalogueError:
    with pytest.raises(CatalogueError) as caught:
        reply = call(*args, **kwargs)
        if pending(reply):
            asyncio.run(reply)
    return caught.value


def test_template_parameters_must_be_its_variables() -> None:
    registry = ToolRegistry()
    with pytest.raises(TypeError, match="parameters must be the template's variables"):

        @registry.resource("items://{id}")
        def item(name: str) -> str:
            """An item."""
            return name


def test_resource_without_variables_takes_no_parameters_and_registers_once() -> None:
    registry = ToolRegistry()

    @registry.resource("items://all")
    def items() -> str:
        """All items."""
        return ""

    with pytest.raises(ValueError, match="registered twice"):
        registry.resource("items://all")(items)
    with pytest.raises(TypeError, match="takes no parameters"):

        @registry.resource("items://one")
        def one(id: str) -> str:
            """One."""
            return id


def test_prompt_arguments_must_be_strings_and_a_default_makes_one_optional() -> None:
    registry = ToolRegistry()
    with pytest.raises(TypeError, match="must be annotated str"):

        @registry.prompt()
        def counted(n: int) -> str:
            """Count."""
            return str(n)

    @registry.prompt()
    def greet(name: str, tone: str = "warm") -> str:
        """Greet someone.

        Args:
            name: Who to greet.
        """
        return f"Greet {name}, {tone}"

    entry = features(registry).list_prompts()["prompts"][0]
    assert entry["arguments"] == [
        {"name": "name", "description": "Who to greet.", "required": True},
        {"name": "tone", "required": False},
    ]
    assert (
        features(registry).get_prompt("greet", {"name": "Ada"})["messages"][0]["content"]["text"] == "Greet Ada, warm"
    )


def test_async_resources_and_their_failures_are_answered_by_code_per_era() -> None:
    registry = ToolRegistry()

    @registry.resource("docs://{slug}", mime_type="text/markdown")
    async def doc(slug: str) -> str:
        """A document."""
        if slug == "gone":
            raise ResourceNotFound(slug)
        if slug == "rule":
            raise ToolError("Documents named 'rule' are private.")
        if slug == "bug":
            raise RuntimeError("secret internals")
        return f"# {slug}"

    served = features(registry)
    reply = served.read_resource("docs://intro", stateless=False)
    assert pending(reply)
    assert asyncio.run(reply)["contents"] == [{"uri": "docs://intro", "mimeType": "text/markdown", "text": "# intro"}]
    handshake = refusal(served.read_resource, "docs://gone", stateless=False)
    stateless = refusal(served.read_resource, "docs://gone", stateless=True)
    assert (handshake.code, stateless.code) == (protocol.RESOURCE_NOT_FOUND, protocol.INVALID_PARAMS)
    assert handshake.data == stateless.data == {"uri": "docs://gone"}
    rule = refusal(served.read_resource, "docs://rule", stateless=False)
    assert (rule.code, rule.message) == (protocol.INVALID_PARAMS, "Documents named 'rule' are private.")
    bug = refusal(served.read_resource, "docs://bug", stateless=False)
    assert bug.code == protocol.INTERNAL_ERROR
    assert "secret" not in bug.message


def test_completion_caps_values_at_100_and_passes_resolved_arguments() -> None:
    registry = ToolRegistry()
    calls: list[tuple[str, dict[str, str]]] = []

    def cities(prefix: str, resolved: dict[str, str]) -> list[str]:
        calls.append((prefix, resolved))
        return [f"{resolved.get('country', '?')}-{prefix}{i}" for i in range(150)]

    @registry.prompt(complete={"city": cities})
    def trip(country: str, city: str) -> str:
        """Plan a trip."""
        return f"{city}, {country}"

    served = features(registry)
    assert served.capabilities["completions"] == {}
    answer = served.complete(
        {"type": "ref/prompt", "name": "trip"}, {"name": "city", "value": "Li"}, {"arguments": {"country": "PT"}}
    )["completion"]
    assert (len(answer["values"]), answer["total"], answer["hasMore"]) == (MAX_COMPLETIONS, 150, True)
    assert answer["values"][0] == "PT-Li0"
    assert calls == [("Li", {"country": "PT"})]
    # An argument without a completer has no suggestions (not an error).
    empty = served.complete({"type": "ref/prompt", "name": "trip"}, {"name": "country", "value": ""})
    assert empty == {"completion": {"values": [], "total": 0, "hasMore": False}}


def test_lists_page_with_cursors_that_fit_only_their_own_list() -> None:
    registry = ToolRegistry()
    for i in range(5):
        registry.resource(f"n://{i}", name=f"n{i}", description=f"Number {i}")(lambda: "x")
    served = features(registry, page_size=2)
    first = served.list_resources()
    second = served.list_resources(first["nextCursor"])
    third = served.list_resources(second["nextCursor"])
    assert [len(p["resources"]) for p in (first, second, third)] == [2, 2, 1]
    assert "nextCursor" not in third
    assert refusal(served.list_prompts, first["nextCursor"]).code == protocol.INVALID_PARAMS


def test_nothing_registered_advertises_and_routes_nothing() -> None:
    served = features(ToolRegistry())
    assert (served.capabilities, served.methods) == ({}, ())


def _handle(methods: McpMethods, method: str, params: dict[str, Any]) -> Any:
    return orjson.loads(methods.handle(jsonrpc.Request(1, method, params)))  # type: ignore[arg-type]


def test_app_resource_and_prompt_are_served_beside_its_tools() -> None:
    app = App("weather")

    @app.tool("weather")
    def get_weather(city: str) -> dict[str, object]:
        """Get weather for a city"""
        return {"city": city}

    @app.resource("weather://cities")
    def cities() -> str:
        """The cities with weather data"""
        return "Paris, Lisbon"

    @app.prompt(complete={"city": ["Paris", "Lisbon"]})
    def forecast(city: str) -> str:
        """Ask for a forecast"""
        return f"Weather in {city}?"

    methods = McpMethods(registry=app.registry, info=ServerInfo("weather", "1"), db=NO_DATABASE, metrics=Metrics())
    init = _handle(methods, "initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {}})
    # What the catalogue registers adds its capabilities to the server's own (tools, logging).
    assert {"tools", "resources", "prompts", "completions"} <= set(init["result"]["capabilities"])
    bare = McpMethods(registry=ToolRegistry(), info=ServerInfo("bare", "1"), db=NO_DATABASE, metrics=Metrics())
    bare_init = _handle(bare, "initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {}})
    assert not {"resources", "prompts", "completions"} & set(bare_init["result"]["capabilities"])
    read = _handle(methods, "resources/read", {"uri": "weather://cities"})["result"]
    assert read["contents"][0]["text"] == "Paris, Lisbon"
    got = _handle(methods, "prompts/get", {"name": "forecast", "arguments": {"city": "Lisbon"}})["result"]
    assert got["messages"] == [{"role": "user", "content": {"type": "text", "text": "Weather in Lisbon?"}}]
    ref = {"type": "ref/prompt", "name": "forecast"}
    completed = _handle(methods, "completion/complete", {"ref": ref, "argument": {"name": "city", "value": "l"}})
    assert completed["result"]["completion"]["values"] == ["Lisbon"]
