"""JSON Schema (2020-12 subset that draft-07 validators also read) derived from Python type hints.

Supported: str, int, float, bool, None, list[T], tuple[T, ...], dict[str, T], Literal[...], Enum, unions/Optional,
TypedDict, dataclasses, and `Annotated[T, …]` with constraints (Ge, Gt, Le, Lt, MultipleOf, MinLen, MaxLen) from
`services.tools.constraints` or from annotated_types (those and Len, Interval), or a plain string as the
description. Anything else is a definition error at import time, not a surprise at call time.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import re
import sys
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

import typing_extensions as tx
from typing_extensions import get_type_hints, is_typeddict

from services.tools.constraints import Constraint

JsonSchema = dict[str, Any]
_NOT_REQUIRED: tuple[Any, ...] = (typing.NotRequired, tx.NotRequired)

_PRIMITIVES: dict[Any, JsonSchema] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
}


class SchemaError(TypeError):
    """A type hint that cannot be expressed as a tool schema."""


def schema_for(tp: Any, *, closed_objects: bool) -> JsonSchema:
    """The JSON Schema of `tp`; `closed_objects` forbids unknown keys in nested objects (input schemas)."""
    if tp in _PRIMITIVES:
        return dict(_PRIMITIVES[tp])
    if tp is Any or tp is object:
        return {}
    origin = get_origin(tp)
    if origin is tx.Annotated:
        base, *metadata = get_args(tp)
        schema = schema_for(base, closed_objects=closed_objects)
        for item in metadata:
            _apply_metadata(schema, item)
        return schema
    if origin is Literal or origin is tx.Literal:
        values = list(get_args(tp))
        schema = {"enum": values}
        kinds = {type(v) for v in values}
        if len(kinds) == 1 and next(iter(kinds)) in _PRIMITIVES:
            schema = {**_PRIMITIVES[next(iter(kinds))], "enum": values}
        return schema
    if origin in (Union, types.UnionType):
        members = [schema_for(arg, closed_objects=closed_objects) for arg in get_args(tp)]
        simple = [m.get("type") for m in members if set(m) == {"type"}]
        if len(simple) == len(members):
            return {"type": simple}
        return {"anyOf": members}
    if origin in (list, tuple, set, frozenset, typing.Sequence) or tp in (list, tuple):
        args = get_args(tp)
        if origin is tuple and args and (len(args) != 2 or args[1] is not Ellipsis):
            raise SchemaError(f"fixed-length tuples are not supported: {tp!r}")
        items = schema_for(args[0], closed_objects=closed_objects) if args else {}
        schema = {"type": "array", "items": items}
        if origin in (set, frozenset):
            schema["uniqueItems"] = True
        return schema
    if origin in (dict, typing.Mapping) or tp is dict:
        args = get_args(tp)
        if args and args[0] is not str:
            raise SchemaError(f"object keys must be str: {tp!r}")
        schema = {"type": "object"}
        if args and args[1] is not Any:
            schema["additionalProperties"] = schema_for(args[1], closed_objects=closed_objects)
        return schema
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [member.value for member in tp]}
    if is_typeddict(tp):
        hints = get_type_hints(tp, include_extras=True)
        required = sorted(k for k in hints if k in tp.__required_keys__ and get_origin(hints[k]) not in _NOT_REQUIRED)
        return _object(
            {k: schema_for(_strip_required(v), closed_objects=closed_objects) for k, v in hints.items()},
            required,
            closed=closed_objects,
        )
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hints = get_type_hints(tp, include_extras=True)
        fields = dataclasses.fields(tp)
        required = [
            f.name for f in fields if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        return _object(
            {f.name: schema_for(hints[f.name], closed_objects=closed_objects) for f in fields},
            required,
            closed=closed_objects,
        )
    raise SchemaError(f"unsupported type in a tool signature: {tp!r}")


def is_object_type(tp: Any) -> bool:
    """Whether values of `tp` are JSON objects with known keys (TypedDict or dataclass)."""
    return is_typeddict(tp) or (dataclasses.is_dataclass(tp) and isinstance(tp, type))


def _object(properties: dict[str, JsonSchema], required: list[str], *, closed: bool) -> JsonSchema:
    schema: JsonSchema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if closed:
        schema["additionalProperties"] = False
    return schema


def _strip_required(tp: Any) -> Any:
    origin = get_origin(tp)
    if origin in (typing.Required, typing.NotRequired, tx.Required, tx.NotRequired):
        return get_args(tp)[0]
    return tp


def _apply_metadata(schema: JsonSchema, item: Any) -> None:
    if isinstance(item, str):
        schema["description"] = item
        return
    if isinstance(item, Constraint):
        keyword = item.keyword_for(schema.get("type"))
        if keyword is None:
            raise SchemaError(f"{item!r} does not apply to a value of type {schema.get('type')!r}")
        schema[keyword] = item.value
        return
    # annotated_types is looked up, not imported (cold start): its objects exist only once it has been imported.
    at: Any = sys.modules.get("annotated_types")
    if at is None or not isinstance(item, at.BaseMetadata | at.GroupedMetadata):
        raise SchemaError(f"unsupported Annotated metadata in a tool signature: {item!r}")
    is_number = schema.get("type") in ("integer", "number")
    if isinstance(item, at.Interval):
        for part in item:
            _apply_metadata(schema, part)
    elif isinstance(item, at.Ge):
        schema["minimum"] = item.ge
    elif isinstance(item, at.Gt):
        schema["exclusiveMinimum"] = item.gt
    elif isinstance(item, at.Le):
        schema["maximum"] = item.le
    elif isinstance(item, at.Lt):
        schema["exclusiveMaximum"] = item.lt
    elif isinstance(item, at.MultipleOf) and is_number:
        schema["multipleOf"] = item.multiple_of
    elif isinstance(item, at.Len):
        lo, hi = ("minLength", "maxLength") if schema.get("type") == "string" else ("minItems", "maxItems")
        if item.min_length:
            schema[lo] = item.min_length
        if item.max_length is not None:
            schema[hi] = item.max_length
    elif isinstance(item, at.MinLen | at.MaxLen):
        _apply_metadata(schema, at.Len(getattr(item, "min_length", 0), getattr(item, "max_length", None)))
    else:
        raise SchemaError(f"unsupported Annotated metadata in a tool signature: {item!r}")


_ARGS_HEADER = re.compile(r"^\s*(Args|Arguments|Parameters):\s*$")
_ARG_LINE = re.compile(r"^\s+(\w+)(?:\s*\([^)]*\))?:\s*(.*)$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """(summary, per-argument descriptions) from a Google-style docstring."""
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    summary: list[str] = []
    params: dict[str, str] = {}
    current: str | None = None
    in_args = False
    for line in lines:
        if _ARGS_HEADER.match(line):
            in_args, current = True, None
            continue
        if in_args:
            if line and not line[0].isspace():
                in_args = False  # another section (Returns:, Raises:) ends the arguments
            else:
                match = _ARG_LINE.match(line)
                if match and (current is None or len(line) - len(line.lstrip()) <= 4):
                    current = match.group(1)
                    params[current] = match.group(2).strip()
                elif current and line.strip():
                    params[current] = (params[current] + " " + line.strip()).strip()
                continue
        if not in_args and not params:
            summary.append(line)
    text = "\n".join(summary).strip()
    for section in ("Returns:", "Raises:", "Yields:"):
        text = text.split(section)[0].strip()
    return text, params
