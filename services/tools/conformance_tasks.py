"""The conformance suite's fixtures for the tasks extension (scenarios tasks-*): the tools it calls by name, with the
task support its scenarios describe (services/tasks.py, `supports_tasks`).

In the conformance pack only (`MCP_TOOL_PACKS=reference,conformance`). A task-supporting tool runs as a task when the
client's request declares `io.modelcontextprotocol/tasks`, and as an ordinary call otherwise; `failing_job` requires
the extension.
"""

from __future__ import annotations

import asyncio
from typing import Any

from services.tasks import supports_tasks
from services.tools.context import InputRequest, RequestRefused, ToolContext, ToolError
from services.tools.registry import ToolRegistry

conformance_tasks = ToolRegistry()

MAX_SECONDS = 100.0
TASK_TOOL_TIMEOUT_S = 120.0  # above MAX_SECONDS: slow_compute's own sleep never trips its deadline


@conformance_tasks.tool()
def greet(name: str) -> str:
    """Greets someone; never a task (conformance: the synchronous tool of the tasks scenarios).

    Args:
        name: Who to greet.
    """
    return f"Hello, {name}!"


@conformance_tasks.tool(timeout_s=TASK_TOOL_TIMEOUT_S)
@supports_tasks("optional")
async def slow_compute(seconds: float, label: str = "") -> str:
    """Waits `seconds`, then answers; a task when the client declares the tasks extension.

    Args:
        seconds: How long the computation takes (0 to 100).
        label: A label repeated in the answer.
    """
    if not 0 <= seconds <= MAX_SECONDS:
        raise ToolError(f"seconds must be between 0 and {MAX_SECONDS:g}, not {seconds:g}.")
    await asyncio.sleep(seconds)
    return f"Computed {label or 'result'} after {seconds:g} s."


@conformance_tasks.tool(timeout_s=TASK_TOOL_TIMEOUT_S)
@supports_tasks("required")
async def failing_job() -> str:
    """Fails after about a second with a tool error; runs only as a task."""
    await asyncio.sleep(1.0)
    raise ToolError("failing_job failed on purpose (a conformance fixture): the tool ran and reported an error.")


@conformance_tasks.tool(timeout_s=TASK_TOOL_TIMEOUT_S)
@supports_tasks("optional")
async def protocol_error_job() -> str:
    """Fails at the protocol level (a JSON-RPC error, not a tool error); a task when the client declares the tasks
    extension, which then ends `failed`."""
    await asyncio.sleep(0)
    raise RequestRefused("protocol_error_job refuses every request at the protocol level (a conformance fixture).")


def _confirmation(message: str) -> InputRequest:
    schema = {"type": "object", "properties": {"confirm": {"type": "boolean"}}, "required": ["confirm"]}
    return InputRequest("elicitation/create", {"mode": "form", "message": message, "requestedSchema": schema})


def _confirmed(answer: Any) -> bool:
    if not isinstance(answer, dict) or answer.get("action") != "accept":
        return False
    content = answer.get("content")
    return isinstance(content, dict) and content.get("confirm") is True


@conformance_tasks.tool(timeout_s=TASK_TOOL_TIMEOUT_S)
@supports_tasks("optional")
async def confirm_delete(filename: str, ctx: ToolContext) -> str:
    """Asks the user to confirm, then "deletes" the file (nothing is deleted: a conformance fixture).

    Args:
        filename: The file to delete.
    """
    answers = await ctx.peer.ask({"confirm": _confirmation(f"Delete {filename}?")})
    if _confirmed(answers["confirm"]):
        return f"Deleted {filename}."
    return f"Kept {filename}: the deletion was not confirmed."


@conformance_tasks.tool(timeout_s=TASK_TOOL_TIMEOUT_S)
@supports_tasks("optional")
async def multi_input(ctx: ToolContext) -> str:
    """Asks two questions at once (a name and a confirmation), then answers with both."""
    name_schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    answers = await ctx.peer.ask(
        {
            "name": InputRequest(
                "elicitation/create", {"mode": "form", "message": "Your name?", "requestedSchema": name_schema}
            ),
            "confirm": _confirmation("Go ahead?"),
        }
    )
    name = answers["name"].get("content", {}).get("name") if isinstance(answers["name"], dict) else None
    return f"name={name!s}, confirmed={_confirmed(answers['confirm'])}"


@conformance_tasks.tool(timeout_s=TASK_TOOL_TIMEOUT_S)
@supports_tasks("required", input_first=True)
async def test_tool_with_task(ctx: ToolContext) -> str:
    """Asks the user's name as part of the request (multi-round-trip), then greets them from a task (conformance
    scenario tasks-mrtr-composition)."""
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    answers = await ctx.peer.ask(
        {
            "user_name": InputRequest(
                "elicitation/create", {"mode": "form", "message": "What is your name?", "requestedSchema": schema}
            )
        }
    )
    answer = answers["user_name"]
    name = answer.get("content", {}).get("name") if isinstance(answer, dict) else None
    await asyncio.sleep(0.2)  # the part that runs in the task
    return f"Hello, {name or 'stranger'}! (the name was gathered before the task was created)"
