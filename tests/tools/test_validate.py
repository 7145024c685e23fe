"""The compiled argument validator agrees with the jsonschema reference implementation."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from services.tools.catalogue import catalogue
from services.tools.validate import ValidationError, compile_schema

SCHEMAS: list[dict[str, Any]] = [tool.input_schema for tool in catalogue] + [
    {
        "type": "object",
        "properties": {"tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2, "uniqueItems": True}},
    },
    {"type": "object", "properties": {"x": {"type": ["integer", "null"]}, "y": {"type": "number", "minimum": 0.5}}},
    {
        "type": "object",
        "properties": {
            "o": {
                "type": "object",
                "properties": {"a": {"type": "integer"}},
                "required": ["a"],
                "additionalProperties": False,
            }
        },
    },
    {"type": "object", "properties": {"e": {"enum": [1, "a", True, None]}}},
    {"type": "object", "properties": {"u": {"anyOf": [{"type": "string", "maxLength": 2}, {"type": "integer"}]}}},
    {"type": "object", "properties": {"m": {"type": "integer", "multipleOf": 3, "exclusiveMaximum": 10}}},
]

VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    2.0,
    2.5,
    10,
    65536,
    65537,
    1e300,
    "",
    "x",
    "ab",
    "abc",
    "ü" * 3,
    [],
    [1],
    ["a"],
    ["a", "a"],
    ["a", "b", "c"],
    {},
    {"a": 1},
    {"a": "1"},
    {"a": 1, "b": 2},
    "a" * 5000,
]


def _instances(schema: dict[str, Any]) -> list[Any]:
    props = list(schema.get("properties", {}))
    out: list[Any] = [None, [], "x", 5, {}]
    for name in props:
        for value in VALUES:
            base = {p: _valid_default(schema["properties"][p]) for p in schema.get("required", [])}
            out.append({**base, name: value})
    out.append({**{p: 1 for p in props}, "unknown": 1})
    return out


def _valid_default(sub: dict[str, Any]) -> Any:
    kind = sub.get("type")
    if "enum" in sub:
        return sub["enum"][0]
    samples = {"string": "abcdefgh", "integer": 1, "number": 1.0, "boolean": True}
    return samples.get(kind) if isinstance(kind, str) else None


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: ",".join(s.get("properties", {}))[:40])
def test_validator_accepts_and_rejects_exactly_what_jsonschema_does(schema: dict[str, Any]) -> None:
    ours = compile_schema(schema)
    reference = jsonschema.Draft202012Validator(schema)
    for instance in _instances(schema):
        expected = reference.is_valid(instance)
        try:
            ours(instance)
            got = True
        except ValidationError:
            got = False
        assert got == expected, f"{instance!r} against {schema}"


def test_validator_fills_defaults_without_touching_the_input() -> None:
    schema = catalogue.get("echo").input_schema  # type: ignore[union-attr]
    arguments = {"message": "hi"}
    assert compile_schema(schema)(arguments) == {"message": "hi", "payload_bytes": 512}
    assert arguments == {"message": "hi"}


def test_integral_floats_reach_the_tool_as_int() -> None:
    validated = compile_schema(catalogue.get("echo").input_schema)({"message": "m", "payload_bytes": 8.0})  # type: ignore[union-attr]
    assert validated["payload_bytes"] == 8 and type(validated["payload_bytes"]) is int


def test_unsupported_keywords_fail_at_compile_time() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        compile_schema({"type": "string", "pattern": "^a"})
