"""The compiled argument validator agrees with the jsonschema reference implementation."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest

from services.tools.catalogue import catalogue
from services.tools.conformance import JSON_SCHEMA_2020_12_INPUT
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


# -- JSON Schema 2020-12 beyond typeschema's subset (hand-written inputSchemas) ---------------------------------------

HAND_WRITTEN: list[dict[str, Any]] = [
    # the conformance suite's json_schema_2020_12_tool: $defs, $ref, $anchor, allOf/anyOf, if/then/else
    JSON_SCHEMA_2020_12_INPUT,
    {
        "type": "object",
        "$defs": {
            "node": {"type": "object", "properties": {"v": {"type": "integer"}, "next": {"$ref": "#/$defs/node"}}}
        },
        "properties": {"list": {"$ref": "#/$defs/node"}, "a": {"$ref": "#/$defs/node/properties/v"}},
        "additionalProperties": False,
    },
    {
        "type": "object",
        "$defs": {"leaf": {"$anchor": "leaf", "type": "string", "maxLength": 2}},
        "properties": {"a": {"$ref": "#leaf"}, "b": {"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 2}]}},
    },
    {
        "type": "object",
        "properties": {
            "c": {"const": {"k": [1, True]}},
            "n": {"not": {"type": "string"}},
            "t": {
                "type": "array",
                "prefixItems": [{"type": "integer"}, {"type": "string"}],
                "items": {"type": "boolean"},
            },
        },
    },
]
NESTED_VALUES: list[Any] = [
    {"v": 1},
    {"v": 1, "next": {"v": 2, "next": {"v": "x"}}},
    {"v": 1, "next": {"v": 2}},
    {"k": [1, True]},
    {"k": [1, 1]},
    {"k": [1.0, True]},
    [1, "a"],
    [1, "a", True, False],
    [1, "a", 3],
    ["a", 1],
    [1],
    "phone",
    "email",
    1.5,
    3,
]


def _hand_written_instances(schema: dict[str, Any]) -> list[Any]:
    out: list[Any] = [None, [], "x", 5, {}]
    for name in schema.get("properties", {}):
        for value in VALUES + NESTED_VALUES:
            out.append({name: value})
            out.append({name: value, "email": "e"})
            out.append({name: value, "phone": "p", "contactMethod": "phone"})
    out += [{"contactMethod": "phone", "email": "e"}, {"contactMethod": "email", "phone": "p"}, {"name": "n"}]
    return out


@pytest.mark.parametrize(
    "schema", HAND_WRITTEN, ids=["conformance-2020-12", "recursive-ref", "anchor-oneof", "const-not-prefix"]
)
def test_hand_written_2020_12_schemas_validate_exactly_as_jsonschema_does(schema: dict[str, Any]) -> None:
    ours = compile_schema(schema)
    reference = jsonschema.Draft202012Validator(schema)
    for instance in _hand_written_instances(schema):
        expected = reference.is_valid(instance)
        try:
            ours(instance)
            got = True
        except ValidationError:
            got = False
        assert got == expected, f"{instance!r} against {schema}"


@pytest.mark.parametrize(
    ("schema", "named"),
    [
        ({"type": "object", "unevaluatedProperties": False}, "unevaluatedProperties"),
        ({"type": "array", "unevaluatedItems": False}, "unevaluatedItems"),
        ({"type": "object", "patternProperties": {"^a": {}}}, "patternProperties"),
        ({"type": "string", "format": "email"}, "format"),
        ({"$ref": "https://example.com/schema.json"}, "same-document"),
        ({"$ref": "#/$defs/missing"}, "points at nothing"),
        ({"$ref": "#nowhere"}, "no $anchor"),
        ({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"}, "2020-12"),
        ({"type": "object", "properties": {"a": {"allOf": [{"dependentRequired": {}}]}}}, "dependentRequired"),
    ],
)
def test_keywords_it_cannot_enforce_are_refused_by_name_at_compile_time(schema: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=re.escape(named)):
        compile_schema(schema)


def test_a_referenced_definition_fills_its_defaults_and_normalizes_integers() -> None:
    schema = {
        "type": "object",
        "$defs": {"size": {"type": "integer", "default": 3}},
        "properties": {"n": {"$ref": "#/$defs/size"}},
    }
    assert compile_schema(schema)({"n": 4.0}) == {"n": 4} and type(compile_schema(schema)({"n": 4.0})["n"]) is int
