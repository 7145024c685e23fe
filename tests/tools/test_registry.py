"""The tool decorator: schemas from type hints, results and the one error mapping."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Literal, NotRequired

import pytest
from annotated_types import Ge, Le, MaxLen
from typing_extensions import TypedDict

from services.tools.context import NO_DATABASE, DatabaseUnavailable, ToolContext, ToolError
from services.tools.registry import ToolRegistry, ToolResult, build_tool

CTX = ToolContext(NO_DATABASE)


def _run(outcome: object) -> ToolResult:
    if isinstance(outcome, ToolResult):
        return outcome
    return asyncio.run(outcome)  # type: ignore[arg-type]


class Point(TypedDict):
    x: int
    label: NotRequired[str]


@dataclass
class Reading:
    value: float
    unit: str = "C"


def test_input_schema_comes_from_type_hints_defaults_and_docstring() -> None:
    def f(
        name: Annotated[str, MaxLen(10)],
        count: Annotated[int, Ge(1), Le(5)] = 2,
        mode: Literal["a", "b"] = "a",
        tags: list[str] | None = None,
        point: Point | None = None,
    ) -> Point:
        """Do a thing.

        Args:
            name: Who.
            count: How many,
                at most five.
        """
        return {"x": count}

    tool = build_tool(f)
    schema = tool.input_schema
    assert tool.description == "Do a thing."
    assert schema["required"] == ["name"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["name"] == {"type": "string", "maxLength": 10, "description": "Who."}
    assert schema["properties"]["count"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 5,
        "description": "How many, at most five.",
        "default": 2,
    }
    assert schema["properties"]["mode"] == {"type": "string", "enum": ["a", "b"], "default": "a"}
    assert schema["properties"]["tags"]["anyOf"] == [{"type": "array", "items": {"type": "string"}}, {"type": "null"}]
    assert tool.output_schema == {
        "type": "object",
        "properties": {"x": {"type": "integer"}, "label": {"type": "string"}},
        "required": ["x"],
    }


def test_object_results_carry_structured_content_and_the_same_json_as_text() -> None:
    def reading() -> Reading:
        """Read."""
        return Reading(21.5)

    result = _run(build_tool(reading).invoke({}, CTX))
    assert result.structured == {"value": 21.5, "unit": "C"}
    assert result.content == ({"type": "text", "text": '{"value":21.5,"unit":"C"}'},)


def test_non_object_results_are_wrapped_with_an_output_schema() -> None:
    def total(values: list[int]) -> int:
        """Sum."""
        return sum(values)

    tool = build_tool(total)
    assert tool.output_schema == {
        "type": "object",
        "properties": {"result": {"type": "integer"}},
        "required": ["result"],
    }
    assert _run(tool.invoke({"values": [1, 2]}, CTX)).structured == {"result": 3}


def test_context_parameter_is_injected_and_not_in_the_schema() -> None:
    seen: list[ToolContext] = []

    async def uses_db(ctx: ToolContext, n: int) -> str:
        """Use the database."""
        seen.append(ctx)
        return str(n)

    tool = build_tool(uses_db)
    assert list(tool.input_schema["properties"]) == ["n"]
    assert _run(tool.invoke({"n": 3}, CTX)).content[0]["text"] == "3"
    assert seen == [CTX]


def test_failures_become_is_error_results_without_internals() -> None:
    async def business() -> str:
        """B."""
        raise ToolError("customer 5 is closed; choose an open customer")

    async def database() -> str:
        """D."""
        raise DatabaseUnavailable("connection refused to 10.0.0.5:5432")

    async def crash() -> str:
        """C."""
        raise KeyError("SELECT secret FROM internal")

    async def slow() -> str:
        """S."""
        await asyncio.sleep(5)
        return "late"

    cases = {
        business: "customer 5 is closed",
        database: "could not reach its database",
        crash: "internal error",
        slow: "did not finish within 0.05 s",
    }
    for fn, expected in cases.items():
        result = _run(build_tool(fn, timeout_s=0.05).invoke({}, CTX))
        assert result.is_error
        text = result.content[0]["text"]
        assert expected in text
        assert "SELECT" not in text and "10.0.0.5" not in text and "Traceback" not in text


def test_bad_definitions_fail_at_registration() -> None:
    def no_doc(x: int) -> str:
        return ""

    def untyped(x) -> str:  # type: ignore[no-untyped-def]
        """U."""
        return ""

    with pytest.raises(TypeError, match="docstring"):
        build_tool(no_doc)
    with pytest.raises(TypeError, match="annotation"):
        build_tool(untyped)
    with pytest.raises(ValueError, match="must match"):
        build_tool(lambda: "x", name="has space", description="d")
    registry = ToolRegistry()
    registry.add(build_tool(no_doc, name="dup", description="d"))
    with pytest.raises(ValueError, match="twice"):
        registry.add(build_tool(no_doc, name="dup", description="d"))


def test_a_call_cancelled_for_another_reason_stays_cancelled() -> None:
    async def slow() -> str:
        """S."""
        await asyncio.sleep(5)
        return "late"

    async def scenario() -> None:
        call = asyncio.ensure_future(build_tool(slow, timeout_s=10).invoke({}, CTX))  # type: ignore[arg-type]
        await asyncio.sleep(0.01)
        call.cancel()  # e.g. the server shutting down: not a timeout, must not turn into a result
        with pytest.raises(asyncio.CancelledError):
            await call

    asyncio.run(scenario())


def test_deadlines_cancel_only_the_calls_past_theirs() -> None:
    async def nap(seconds: float) -> str:
        """N."""
        await asyncio.sleep(seconds)
        return "done"

    async def scenario() -> list[ToolResult]:
        tool = build_tool(nap, timeout_s=0.2)
        return list(await asyncio.gather(*(tool.invoke({"seconds": s}, CTX) for s in (0.01, 1.0, 0.05))))  # type: ignore[arg-type]

    fast, slow, fast_too = asyncio.run(scenario())
    assert not fast.is_error and not fast_too.is_error
    assert slow.is_error and "did not finish within 0.2 s" in slow.content[0]["text"]
