"""Argument validation: the JSON Schema subset `typeschema` emits, compiled once into plain closures.

Measured here for the echo tool's arguments: about 1.4 µs per call, against 2.8 µs for fastjsonschema and
1.0 µs for pydantic-core in strict mode, whose import alone adds 150 ms to cold start. The tests check it against
the `jsonschema` reference implementation on the same schemas and inputs.

Semantics follow JSON Schema: `integer` admits 2.0 (delivered to the tool as int 2), booleans are never numbers,
string lengths count code points. The returned object is a new dict with defaults filled in; the input is untouched.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

Check = Callable[[Any, str], Any]

_KNOWN = {
    "type",
    "enum",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "items",
    "properties",
    "required",
    "additionalProperties",
    "anyOf",
    "default",
    "description",
    "title",
}
_MISSING = object()
_PY_TYPES: dict[str, set[type]] = {
    "string": {str},
    "boolean": {bool},
    "null": {type(None)},
    "array": {list},
    "object": {dict},
    "number": {int, float},
    "integer": {int},
}


class ValidationError(ValueError):
    """`path` is where in the arguments the problem is ("" for the arguments object itself)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


def compile_schema(schema: dict[str, Any]) -> Callable[[Any], Any]:
    """A validator for `schema`: returns the (normalized) value or raises ValidationError."""
    check = _compile(schema)
    if getattr(check, "__defaults__", None) == ("",):
        return check  # type: ignore[return-value]  # object checks default to the root path: no wrapper call
    return lambda value: check(value, "")


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


_OBJECT_KEYS = {"type", "properties", "required", "additionalProperties", "description", "title", "default"}
_SCALAR_KEYS = {"type", "minimum", "maximum", "minLength", "maxLength", "default", "description", "title"}


def _compile(schema: dict[str, Any]) -> Check:
    unknown = set(schema) - _KNOWN
    if unknown:
        raise ValueError(f"unsupported JSON Schema keywords: {sorted(unknown)}")
    if schema.get("type") in ("string", "integer") and set(schema) <= _SCALAR_KEYS:
        return _scalar(schema)
    steps: list[Check] = []
    types = schema.get("type")
    if types == "object" and not set(schema) - _OBJECT_KEYS:
        return _object_check(schema, typed=True)
    if types is not None:
        steps.append(_type_check([types] if isinstance(types, str) else list(types)))
    if "enum" in schema:
        steps.append(_enum_check(schema["enum"]))
    steps.extend(_number_checks(schema))
    steps.extend(_length_checks(schema))
    if "items" in schema or "uniqueItems" in schema:
        steps.append(_items_check(schema.get("items"), bool(schema.get("uniqueItems"))))
    if "properties" in schema or "required" in schema or "additionalProperties" in schema:
        steps.append(_object_check(schema))
    if "anyOf" in schema:
        steps.append(_any_of([_compile(s) for s in schema["anyOf"]]))
    if not steps:
        return lambda value, path: value
    if len(steps) == 1:
        return steps[0]

    def run_all(value: Any, path: str) -> Any:
        for step in steps:
            value = step(value, path)
        return value

    return run_all


def _scalar(schema: dict[str, Any]) -> Check:
    """One closure for the common case (a string with lengths, an integer with bounds): the hot path."""
    if schema["type"] == "string":
        lo, hi = schema.get("minLength", 0), schema.get("maxLength")

        def string(value: Any, path: str) -> Any:
            if type(value) is not str:
                raise ValidationError(path, f"must be string, got {_type_name(value)}")
            if len(value) < lo:
                raise ValidationError(path, f"must have at least {lo} characters")
            if hi is not None and len(value) > hi:
                raise ValidationError(path, f"must have at most {hi} characters, got {len(value)}")
            return value

        return string
    low, high = schema.get("minimum"), schema.get("maximum")

    def integer(value: Any, path: str) -> Any:
        if type(value) is not int:
            if type(value) is float and value.is_integer():
                value = int(value)
            else:
                raise ValidationError(path, f"must be integer, got {_type_name(value)}")
        if low is not None and value < low:
            raise ValidationError(path, f"must be ≥ {low}, got {value}")
        if high is not None and value > high:
            raise ValidationError(path, f"must be ≤ {high}, got {value}")
        return value

    return integer


def _type_check(names: list[str]) -> Check:
    allowed: set[type] = set()
    integer = "integer" in names and "number" not in names
    for name in names:
        allowed |= _PY_TYPES[name]
    expected = " or ".join(names)

    def check(value: Any, path: str) -> Any:
        kind = type(value)
        if kind in allowed:
            return value
        if integer and kind is float and value.is_integer():
            return int(value)
        raise ValidationError(path, f"must be {expected}, got {_type_name(value)}")

    return check


def _enum_check(values: list[Any]) -> Check:
    # JSON equality: true is not 1, 1.0 equals 1.
    keyed = {(type(v) is bool, v) for v in values}
    shown = ", ".join(repr(v) if isinstance(v, str) else str(v).lower() for v in values)

    def check(value: Any, path: str) -> Any:
        try:
            if (type(value) is bool, value) in keyed:
                return value
        except TypeError:  # unhashable (list, dict)
            pass
        raise ValidationError(path, f"must be one of {shown}")

    return check


def _number_checks(schema: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []
    bounds = [
        ("minimum", lambda v, b: v >= b, "≥"),
        ("maximum", lambda v, b: v <= b, "≤"),
        ("exclusiveMinimum", lambda v, b: v > b, ">"),
        ("exclusiveMaximum", lambda v, b: v < b, "<"),
    ]
    for key, ok, symbol in bounds:
        if key in schema:
            checks.append(_bound(schema[key], ok, symbol))
    if "multipleOf" in schema:
        step = schema["multipleOf"]

        def multiple(value: Any, path: str) -> Any:
            if _is_number(value):
                quotient = value / step
                if not math.isfinite(quotient) or quotient != int(quotient):
                    raise ValidationError(path, f"must be a multiple of {step}")
            return value

        checks.append(multiple)
    return checks


def _is_number(value: Any) -> bool:
    return type(value) is int or type(value) is float


def _bound(limit: float, ok: Callable[[Any, float], bool], symbol: str) -> Check:
    def check(value: Any, path: str) -> Any:
        if _is_number(value) and not ok(value, limit):
            raise ValidationError(path, f"must be {symbol} {limit}, got {value}")
        return value

    return check


def _length_checks(schema: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []
    for key, kind, noun in (("minLength", str, "characters"), ("minItems", list, "items")):
        if key in schema:
            lo = schema[key]

            def at_least(value: Any, path: str, lo: int = lo, kind: type = kind, noun: str = noun) -> Any:
                if type(value) is kind and _size(value) < lo:
                    raise ValidationError(path, f"must have at least {lo} {noun}")
                return value

            checks.append(at_least)
    for key, kind, noun in (("maxLength", str, "characters"), ("maxItems", list, "items")):
        if key in schema:
            hi = schema[key]

            def at_most(value: Any, path: str, hi: int = hi, kind: type = kind, noun: str = noun) -> Any:
                if type(value) is kind and _size(value) > hi:
                    raise ValidationError(path, f"must have at most {hi} {noun}, got {_size(value)}")
                return value

            checks.append(at_most)
    return checks


def _size(value: Any) -> int:
    return len(value)


def _items_check(items: dict[str, Any] | None, unique: bool) -> Check:
    item_check = _compile(items) if items else None

    def check(value: Any, path: str) -> Any:
        if type(value) is not list:
            return value
        if item_check is not None:
            value = [item_check(item, _join(path, i)) for i, item in enumerate(value)]
        if unique:
            seen: list[Any] = []
            for item in value:
                if any(_json_equal(item, other) for other in seen):
                    raise ValidationError(path, "must not contain duplicate items")
                seen.append(item)
        return value

    return check


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def _object_check(schema: dict[str, Any], *, typed: bool = False) -> Check:
    properties: dict[str, Any] = schema.get("properties", {})
    required = list(schema.get("required", []))
    required_set = frozenset(required)
    additional = schema.get("additionalProperties", True)
    plan = [(name, _compile(sub), sub.get("default", _MISSING)) for name, sub in properties.items()]
    known = frozenset(properties)
    closed = additional is False
    extra_check = _compile(additional) if isinstance(additional, dict) else None

    def check(value: Any, path: str = "") -> Any:
        if type(value) is not dict:
            if typed:
                raise ValidationError(path, f"must be object, got {_type_name(value)}")
            return value
        keys = value.keys()
        if closed and not keys <= known:
            unknown = sorted(set(value) - known)
            raise ValidationError(
                path,
                f"unknown argument(s) {', '.join(map(repr, unknown))}; accepted: {', '.join(properties) or 'none'}",
            )
        if not required_set <= keys:
            missing = [name for name in required if name not in value]
            raise ValidationError(path, f"missing required argument(s) {', '.join(map(repr, missing))}")
        out = dict(value)
        for name, sub_check, default in plan:
            item = value.get(name, _MISSING)
            if item is _MISSING:
                if default is not _MISSING:
                    out[name] = default
                continue
            out[name] = sub_check(item, f"{path}.{name}" if path else name)
        if extra_check is not None:
            for name in keys - known:
                out[name] = extra_check(value[name], _join(path, name))
        return out

    return check


def _any_of(options: list[Check]) -> Check:
    def check(value: Any, path: str) -> Any:
        for option in options:
            try:
                return option(value, path)
            except ValidationError:
                continue
        raise ValidationError(path, "does not match any of the accepted forms")

    return check
