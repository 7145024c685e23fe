"""Argument constraints: ours and annotated_types' give the same schema, and pydantic enforces ours the same way."""

from __future__ import annotations

from typing import Annotated, Any

import annotated_types as at
import pytest
from pydantic import TypeAdapter, ValidationError

from services.tools import constraints as c
from services.tools.typeschema import SchemaError, schema_for

PAIRS: list[tuple[Any, Any, Any]] = [
    (int, c.Ge(1), at.Ge(1)),
    (int, c.Gt(1), at.Gt(1)),
    (float, c.Le(2.5), at.Le(2.5)),
    (float, c.Lt(2.5), at.Lt(2.5)),
    (int, c.MultipleOf(3), at.MultipleOf(3)),
    (str, c.MinLen(2), at.MinLen(2)),
    (str, c.MaxLen(4), at.MaxLen(4)),
    (list[int], c.MinLen(1), at.MinLen(1)),
    (list[int], c.MaxLen(3), at.MaxLen(3)),
]


@pytest.mark.parametrize(("base", "ours", "theirs"), PAIRS, ids=[repr(p[1]) + "-" + repr(p[0]) for p in PAIRS])
def test_our_constraint_gives_the_same_json_schema_as_annotated_types(base: Any, ours: Any, theirs: Any) -> None:
    assert schema_for(Annotated[base, ours], closed_objects=True) == schema_for(
        Annotated[base, theirs], closed_objects=True
    )


SAMPLES: dict[Any, list[Any]] = {
    int: [-3, 0, 1, 2, 3, 6, 7],
    float: [-1.0, 2.4, 2.5, 2.6],
    str: ["", "a", "ab", "abcd", "abcde"],
    list[int]: [[], [1], [1, 2, 3], [1, 2, 3, 4]],
}


@pytest.mark.parametrize(("base", "ours", "theirs"), PAIRS, ids=[repr(p[1]) + "-" + repr(p[0]) for p in PAIRS])
def test_pydantic_accepts_and_refuses_the_same_values_with_ours_as_with_annotated_types(
    base: Any, ours: Any, theirs: Any
) -> None:
    with_ours, with_theirs = TypeAdapter(Annotated[base, ours]), TypeAdapter(Annotated[base, theirs])
    for value in SAMPLES[base]:
        assert _accepts(with_ours, value) == _accepts(with_theirs, value), value


def _accepts(adapter: TypeAdapter[Any], value: Any) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


def test_a_constraint_on_a_type_it_cannot_bound_is_a_definition_error() -> None:
    with pytest.raises(SchemaError, match="does not apply"):
        schema_for(Annotated[str, c.Ge(1)], closed_objects=True)
    with pytest.raises(TypeError, match="cannot constrain"):
        TypeAdapter(Annotated[bool, c.MaxLen(1)])


def test_constraints_are_immutable_values() -> None:
    bound = c.Le(5)
    assert bound == c.Le(5) and bound != c.Ge(5) and hash(bound) == hash(c.Le(5))
    assert repr(bound) == "Le(5)"
    with pytest.raises(AttributeError):
        bound.value = 6  # type: ignore[misc]
    with pytest.raises(TypeError):
        c.Ge("1")  # type: ignore[arg-type]
