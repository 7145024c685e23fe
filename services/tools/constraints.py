"""Constraints on tool arguments, written in the signature: `count: Annotated[int, Ge(1), Le(50)] = 5`.

They mean what the annotated_types classes of the same names mean, and the schema derivation accepts either kind.
These exist because importing annotated_types costs about 8 ms of the native server's cold start (it builds some 25
dataclasses at import); seven small classes cost nothing. Pydantic (the FastAPI baseline, the SDK reference server)
reads them through `__get_pydantic_core_schema__`, so every server enforces the same bounds.
"""

from __future__ import annotations

from typing import Any, ClassVar


class Constraint:
    """One bound on an argument. Immutable; equal when of the same kind and value."""

    __slots__ = ("value",)
    json_keyword: ClassVar[str]  # for strings; arrays use `array_keyword` where it differs
    array_keyword: ClassVar[str | None] = None
    core_key: ClassVar[str]  # the pydantic-core schema key
    _core_types: ClassVar[frozenset[str]]

    value: int | float

    def __init__(self, value: int | float) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{type(self).__name__} takes a number, got {value!r}")
        object.__setattr__(self, "value", value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.value == self.value

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.value))

    def keyword_for(self, json_type: Any) -> str | None:
        """The JSON Schema keyword of this bound on a value of `json_type`, or None if it does not apply."""
        if self.array_keyword is not None:
            return {"string": self.json_keyword, "array": self.array_keyword}.get(json_type)
        return self.json_keyword if json_type in ("integer", "number") else None

    def __get_pydantic_core_schema__(self, source_type: Any, handler: Any) -> Any:
        schema = dict(handler(source_type))
        if schema.get("type") not in self._core_types:
            raise TypeError(f"{self!r} cannot constrain {source_type!r}")
        schema[self.core_key] = self.value
        return schema


_NUMBERS = frozenset({"int", "float"})
_SIZED = frozenset({"str", "bytes", "list", "tuple", "set", "frozenset", "dict"})


class Ge(Constraint):
    """value >= bound"""

    __slots__ = ()
    json_keyword, core_key, _core_types = "minimum", "ge", _NUMBERS


class Gt(Constraint):
    """value > bound"""

    __slots__ = ()
    json_keyword, core_key, _core_types = "exclusiveMinimum", "gt", _NUMBERS


class Le(Constraint):
    """value <= bound"""

    __slots__ = ()
    json_keyword, core_key, _core_types = "maximum", "le", _NUMBERS


class Lt(Constraint):
    """value < bound"""

    __slots__ = ()
    json_keyword, core_key, _core_types = "exclusiveMaximum", "lt", _NUMBERS


class MultipleOf(Constraint):
    """value is a multiple of the bound"""

    __slots__ = ()
    json_keyword, core_key, _core_types = "multipleOf", "multiple_of", _NUMBERS


class MinLen(Constraint):
    """at least this many characters (strings) or items (arrays)"""

    __slots__ = ()
    json_keyword, array_keyword, core_key, _core_types = "minLength", "minItems", "min_length", _SIZED


class MaxLen(Constraint):
    """at most this many characters (strings) or items (arrays)"""

    __slots__ = ()
    json_keyword, array_keyword, core_key, _core_types = "maxLength", "maxItems", "max_length", _SIZED
