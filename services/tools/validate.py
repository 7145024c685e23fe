"""Argument validation: the JSON Schema subset `typeschema` emits, compiled once into plain closures.

Measured here for the echo tool's arguments: about 1.4 µs per call, against 2.8 µs for fastjsonschema and
1.0 µs for pydantic-core in strict mode, whose import alone adds 150 ms to cold start. The tests check it against
the `jsonschema` reference implementation on the same schemas and inputs.

Semantics follow JSON Schema 2020-12 (https://json-schema.org/draft/2020-12/json-schema-validation): `integer`
admits 2.0 (delivered to the tool as int 2), booleans are never numbers, string lengths count code points. The
returned object is a new dict with defaults filled in; the input is untouched.

Besides the subset `typeschema` emits, a hand-written schema (a tool's explicit `input_schema`) may use `$defs` with
same-document `$ref` (`#/$defs/...` JSON pointers or `#anchor` names, recursion allowed), `allOf`/`oneOf`/`not`,
`const`, `if`/`then`/`else` and `prefixItems`, and the annotations `$schema` (2020-12 only), `$comment`, `$anchor`,
`examples`, `deprecated`, `readOnly`, `writeOnly` and MCP's `x-mcp-header`. Any other keyword (`unevaluatedProperties`,
`pattern`, `format`, a network `$ref`, ...) is refused when the schema is compiled, at registration, with the keyword
named: a keyword this module does not enforce is never silently ignored.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

Check = Callable[[Any, str], Any]

DIALECT = "https://json-schema.org/draft/2020-12/schema"
# Keywords that only annotate: accepted, never checked (`x-mcp-header` is MCP's, services/protocol.py reads it).
_ANNOTATIONS = frozenset(
    ("$schema", "$comment", "$anchor", "examples", "deprecated", "readOnly", "writeOnly", "x-mcp-header")
)
_KNOWN = {
    *_ANNOTATIONS,
    "$defs",
    "$ref",
    "allOf",
    "oneOf",
    "not",
    "const",
    "if",
    "then",
    "else",
    "prefixItems",
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


class _Document:
    """The schema being compiled: what a `$ref` resolves against, and the targets compiled so far (a recursive
    reference finds its target's cell before the target is done)."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.anchors: dict[str, dict[str, Any]] = {}
        self.cells: dict[int, list[Check]] = {}
        _collect_anchors(root, self.anchors)

    def resolve(self, ref: Any) -> dict[str, Any]:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise ValueError(f"unsupported $ref {ref!r}: only same-document references ('#/$defs/...', '#anchor')")
        # Imported here: only a schema with a $ref needs it, and urllib.parse (with ipaddress) costs a server's start.
        from urllib.parse import unquote

        fragment = unquote(ref[1:])
        if fragment and not fragment.startswith("/"):
            if fragment not in self.anchors:
                raise ValueError(f"$ref {ref!r}: no $anchor {fragment!r} in the schema")
            return self.anchors[fragment]
        target: Any = self.root
        for token in fragment.split("/")[1:]:
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(target, dict) and token in target:
                target = target[token]
            elif isinstance(target, list) and token.isdigit() and int(token) < len(target):
                target = target[int(token)]
            else:
                raise ValueError(f"$ref {ref!r} points at nothing in the schema")
        if not isinstance(target, dict):
            raise ValueError(f"$ref {ref!r} must point at a schema object")
        return target

    def check_of(self, target: dict[str, Any]) -> Check:
        """The check of a referenced schema, compiled once however many references name it."""
        cell = self.cells.get(id(target))
        if cell is None:
            cell = self.cells[id(target)] = []
            cell.append(_compile(target, self))
        return lambda value, path: cell[0](value, path)


def _collect_anchors(schema: Any, anchors: dict[str, dict[str, Any]]) -> None:
    if isinstance(schema, list):
        for item in schema:
            _collect_anchors(item, anchors)
    elif isinstance(schema, dict):
        name = schema.get("$anchor")
        if isinstance(name, str):
            if name in anchors:
                raise ValueError(f"$anchor {name!r} is defined twice")
            anchors[name] = schema
        for key, sub in schema.items():
            if key in ("properties", "$defs") and isinstance(sub, dict):  # names, then schemas
                for named in sub.values():
                    _collect_anchors(named, anchors)
            elif key not in ("const", "enum", "default", "examples"):  # values, not schemas
                _collect_anchors(sub, anchors)


def compile_schema(schema: dict[str, Any]) -> Callable[[Any], Any]:
    """A validator for `schema`: returns the (normalized) value or raises ValidationError. Raises ValueError for a
    schema it cannot enforce exactly (an unsupported keyword, dialect or reference)."""
    check = _compile(schema, _Document(schema))
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


def _compile(schema: Any, doc: _Document) -> Check:
    if schema is True or schema == {}:
        return lambda value, path: value
    if schema is False:
        return _never
    if not isinstance(schema, dict):
        raise ValueError(f"a JSON Schema must be an object or a boolean, got {schema!r}")
    unknown = set(schema) - _KNOWN
    if unknown:
        raise ValueError(f"unsupported JSON Schema keywords: {sorted(unknown)}")
    if "$schema" in schema and str(schema["$schema"]).rstrip("#") != DIALECT:
        raise ValueError(f"unsupported $schema {schema['$schema']!r}: only {DIALECT!r} (JSON Schema 2020-12)")
    if schema.get("type") in ("string", "integer") and set(schema) <= _SCALAR_KEYS:
        return _scalar(schema)
    steps: list[Check] = []
    types = schema.get("type")
    if types == "object" and not set(schema) - _OBJECT_KEYS:
        return _object_check(schema, doc, typed=True)
    for target in schema.get("$defs", {}).values():
        doc.check_of(target)  # compiled now, so a definition nothing references is checked at registration too
    if "$ref" in schema:
        steps.append(doc.check_of(doc.resolve(schema["$ref"])))
    if types is not None:
        steps.append(_type_check([types] if isinstance(types, str) else list(types)))
    if "enum" in schema:
        steps.append(_enum_check(schema["enum"]))
    if "const" in schema:
        steps.append(_const_check(schema["const"]))
    steps.extend(_number_checks(schema))
    steps.extend(_length_checks(schema))
    if "items" in schema or "uniqueItems" in schema or "prefixItems" in schema:
        prefix = [_compile(sub, doc) for sub in schema.get("prefixItems", [])]
        steps.append(_items_check(schema.get("items"), prefix, bool(schema.get("uniqueItems")), doc))
    if "properties" in schema or "required" in schema or "additionalProperties" in schema:
        steps.append(_object_check(schema, doc))
    if "allOf" in schema:
        steps.extend(_compile(sub, doc) for sub in schema["allOf"])
    if "anyOf" in schema:
        steps.append(_any_of([_compile(sub, doc) for sub in schema["anyOf"]]))
    if "oneOf" in schema:
        steps.append(_one_of([_compile(sub, doc) for sub in schema["oneOf"]]))
    if "not" in schema:
        steps.append(_not(_compile(schema["not"], doc)))
    if "if" in schema:
        steps.append(
            _if_then_else(
                _compile(schema["if"], doc),
                _compile(schema.get("then", True), doc),
                _compile(schema.get("else", True), doc),
            )
        )
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


def _items_check(items: Any, prefix: list[Check], unique: bool, doc: _Document) -> Check:
    item_check = _compile(items, doc) if items is not None else None
    first = len(prefix)

    def check(value: Any, path: str) -> Any:
        if type(value) is not list:
            return value
        if prefix:
            value = [prefix[i](item, _join(path, i)) if i < first else item for i, item in enumerate(value)]
        if item_check is not None:
            value = value[:first] + [item_check(item, _join(path, i)) for i, item in enumerate(value) if i >= first]
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


def _object_check(schema: dict[str, Any], doc: _Document, *, typed: bool = False) -> Check:
    properties: dict[str, Any] = schema.get("properties", {})
    required = list(schema.get("required", []))
    required_set = frozenset(required)
    additional = schema.get("additionalProperties", True)
    plan = [(name, _compile(sub, doc), _default(sub)) for name, sub in properties.items()]
    known = frozenset(properties)
    closed = additional is False
    extra_check = _compile(additional, doc) if isinstance(additional, dict) else None

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


def _default(schema: Any) -> Any:
    return schema.get("default", _MISSING) if isinstance(schema, dict) else _MISSING


def _never(value: Any, path: str) -> Any:
    raise ValidationError(path, "is not allowed here")


def _const_check(expected: Any) -> Check:
    shown = json.dumps(expected, ensure_ascii=False)

    def check(value: Any, path: str) -> Any:
        if not _deep_equal(value, expected):
            raise ValidationError(path, f"must be {shown}")
        return value

    return check


def _deep_equal(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1, 1.0 equals 1, objects and arrays compared member by member."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_deep_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_deep_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return False
    return _json_equal(a, b)


def _one_of(options: list[Check]) -> Check:
    def check(value: Any, path: str) -> Any:
        matched: list[Any] = []
        for option in options:
            try:
                matched.append(option(value, path))
            except ValidationError:
                continue
        if len(matched) != 1:
            raise ValidationError(path, f"must match exactly one of the accepted forms, matches {len(matched)}")
        return matched[0]

    return check


def _not(inner: Check) -> Check:
    def check(value: Any, path: str) -> Any:
        try:
            inner(value, path)
        except ValidationError:
            return value
        raise ValidationError(path, "matches a form that is not allowed")

    return check


def _if_then_else(condition: Check, then: Check, otherwise: Check) -> Check:
    def check(value: Any, path: str) -> Any:
        try:
            condition(value, path)  # an annotation-only outcome: what `if` normalizes is not kept
        except ValidationError:
            return otherwise(value, path)
        return then(value, path)

    return check
