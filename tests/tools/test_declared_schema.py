"""A tool may declare its inputSchema by hand (`input_schema=`): it is served as written, enforced by the project's
validator, and refused at registration when it does not describe the function or uses what cannot be enforced."""

from __future__ import annotations

from typing import Any

import pytest

from services.tools.conformance import HEADER_PARAMS_INPUT, JSON_SCHEMA_2020_12_INPUT, conformance
from services.tools.registry import ToolRegistry


def _texts(result: Any) -> str:
    return " ".join(block["text"] for block in result.content)


def test_the_declared_schema_is_listed_exactly_as_written() -> None:
    tool = conformance.get("json_schema_2020_12_tool")
    assert tool is not None
    assert tool.descriptor()["inputSchema"] == JSON_SCHEMA_2020_12_INPUT
    assert tool.descriptor()["inputSchema"]["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_the_declared_schema_decides_which_calls_reach_the_tool() -> None:
    tool = conformance.get("json_schema_2020_12_tool")
    assert tool is not None
    ok = tool.invoke({"name": "Ada", "contactMethod": "phone", "phone": "555"}, None)
    assert not ok.is_error and _texts(ok) == "Contact Ada by phone 555"  # type: ignore[union-attr]
    refused = [
        {"name": "Ada"},  # allOf/anyOf: a phone or an email
        {"contactMethod": "phone", "email": "a@b"},  # if contactMethod is phone then phone is required
        {"email": "a@b", "address": {"street": 5}},  # $ref to $defs/address: street is a string
        {"email": "a@b", "contactMethod": "fax"},  # enum
        {"email": "a@b", "extra": 1},  # additionalProperties: false
    ]
    for arguments in refused:
        result = tool.invoke(arguments, None)
        assert result.is_error and "Invalid arguments for tool 'json_schema_2020_12_tool'" in _texts(result), arguments  # type: ignore[union-attr]


def _register(schema: dict[str, Any]) -> None:
    def tool(region: str, count: int | None = None) -> str:
        """A tool."""
        return region

    ToolRegistry().tool(input_schema=schema)(tool)


_GOOD = {
    "type": "object",
    "properties": {"region": {"type": "string"}, "count": {"type": "integer"}},
    "required": ["region"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"type": "array"}, "type 'object'"),
        ({"properties": {"region": {"type": "string"}}}, "must be the function's parameters"),
        ({"additionalProperties": True}, "additionalProperties to false"),
        ({"required": []}, "must be required"),
        ({"unevaluatedProperties": False}, "unevaluatedProperties"),
        ({"properties": {"region": {"type": "string", "pattern": "^a"}, "count": {}}}, "pattern"),
        ({"properties": {"region": {"type": "string", "x-mcp-header": "My Region"}, "count": {}}}, "header-name token"),
        ({"properties": {"region": {"type": "string"}, "count": {"type": "number", "x-mcp-header": "C"}}}, "integer"),
        (
            {
                "properties": {
                    "region": {"type": "string", "x-mcp-header": "Same"},
                    "count": {"type": "integer", "x-mcp-header": "same"},
                }
            },
            "used twice",
        ),
        ({"allOf": [{"properties": {"region": {"type": "string", "x-mcp-header": "R"}}}]}, "through `properties`"),
    ],
)
def test_a_declared_schema_that_cannot_hold_is_refused_at_registration(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        _register({**_GOOD, **change})
    assert str(raised.value).startswith("tool tool: ")  # names the tool


def test_a_well_formed_declared_schema_registers() -> None:
    _register(_GOOD)
    _register(
        HEADER_PARAMS_INPUT | {"properties": {"region": {"type": "string", "x-mcp-header": "Region"}, "count": {}}}
    )
