"""The tasks extension in process (services/tasks.py): creation and gating, the inlined result, cancellation of the
running tool, input requests answered by tasks/update, expiry, the caps and hostile task ids. Memory store and a fake
clock; the PostgreSQL store across workers and processes is in test_tasks_postgres.py."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from services.protocol import INTERNAL_ERROR, INVALID_PARAMS, MISSING_CLIENT_CAPABILITY, SERVER_OVERLOADED
from services.tasks import (
    TASKS_EXTENSION,
    MemoryTaskStore,
    PostgresTaskStore,
    TaskError,
    TaskLimits,
    TaskService,
    supports_tasks,
    task_support,
)
from services.tools.context import NO_DATABASE, InputRequest, InputRequired, Peer

DECLARED = {"_meta": {"io.modelcontextprotocol/clientCapabilities": {"extensions": {TASKS_EXTENSION: {}}}}}
WAIT_S = 5.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def service(limits: TaskLimits | None = None, clock: Clock | None = None) -> TaskService:
    return TaskService(MemoryTaskStore(clock or Clock()), limits, answer_poll_s=0.001)


def params(task_id: str, **more: Any) -> dict[str, Any]:
    return {**DECLARED, "taskId": task_id, **more}


def done(result: dict[str, Any]) -> Callable[[Peer], Awaitable[dict[str, Any]]]:
    async def execution(peer: Peer) -> dict[str, Any]:
        return result

    return execution


async def settled(tasks: TaskService, task_id: str, status: str) -> dict[str, Any]:
    """tasks/get until the task has `status` (bounded by WAIT_S)."""
    async with asyncio.timeout(WAIT_S):
        while True:
            got = await tasks.get(params(task_id))
            if got["status"] == status:
                return got
            await asyncio.sleep(0.001)


def refusal(call: Callable[[], Any]) -> TaskError:
    with pytest.raises(TaskError) as caught:
        call()
    return caught.value


def test_task_support_is_declared_on_the_function_and_forbidden_by_default() -> None:
    @supports_tasks("required")
    def needs_a_task() -> None: ...

    def plain() -> None: ...

    assert task_support(needs_a_task) == "required"
    assert task_support(plain) == "forbidden"


def test_task_is_created_only_when_the_request_declares_the_extension() -> None:
    tasks = service()
    assert tasks.wants_task("optional", DECLARED) is True
    assert tasks.wants_task("optional", {"_meta": {}}) is False
    assert tasks.wants_task("forbidden", DECLARED) is False
    # extensions must be an object naming the extension: a string containing its name is not a declaration
    spoofed = {"_meta": {"io.modelcontextprotocol/clientCapabilities": {"extensions": TASKS_EXTENSION}}}
    assert tasks.wants_task("optional", spoofed) is False


def test_required_task_tool_without_the_extension_is_refused_with_missing_capability() -> None:
    error = refusal(lambda: service().wants_task("required", {"_meta": {}}))
    assert error.code == MISSING_CLIENT_CAPABILITY
    assert error.data == {"requiredCapabilities": {"extensions": {TASKS_EXTENSION: {}}}}


def test_task_methods_without_the_extension_are_refused_with_missing_capability() -> None:
    tasks = service()
    for method in ("tasks/get", "tasks/update", "tasks/cancel"):
        handler = tasks.handler(method)
        error = refusal(lambda: handler({"taskId": "x", "inputResponses": {}, "_meta": {}}, None))  # noqa: B023
        assert error.code == MISSING_CLIENT_CAPABILITY, method


def test_completed_task_inlines_the_tool_result_and_create_result_is_flat() -> None:
    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        tasks = service()
        created = await tasks.start(done({"content": [{"type": "text", "text": "hi"}]}), {})
        return created, await settled(tasks, created["taskId"], "completed")

    created, got = asyncio.run(scenario())
    assert created["resultType"] == "task" and created["status"] == "working"
    assert {"result", "error", "inputRequests", "task", "requestState"}.isdisjoint(created)
    assert created["ttlMs"] == TaskLimits().ttl_ms and created["createdAt"].endswith("Z")
    assert got["resultType"] == "complete"
    assert got["result"] == {"content": [{"type": "text", "text": "hi"}]}
    assert "error" not in got


def test_task_ids_are_distinct_and_carry_192_random_bits() -> None:
    async def scenario() -> list[str]:
        tasks = service(TaskLimits(max_running=500, max_stored=500))
        return [(await tasks.start(done({"content": []}), {}))["taskId"] for _ in range(500)]

    ids = asyncio.run(scenario())
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 32 and i.replace("-", "").replace("_", "").isalnum() for i in ids)


def test_cancel_stops_the_running_tool_and_the_task_settles_cancelled() -> None:
    stopped = asyncio.Event()

    async def forever(peer: Peer) -> dict[str, Any]:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            stopped.set()
            raise
        raise AssertionError("unreachable")

    async def scenario() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        tasks = service()
        task_id = (await tasks.start(forever, {}))["taskId"]
        await asyncio.sleep(0)  # the tool starts
        ack = await tasks.cancel(params(task_id))
        await asyncio.wait_for(stopped.wait(), WAIT_S)
        got = await tasks.get(params(task_id))
        again = await tasks.cancel(params(task_id))  # terminal: the same ack
        return ack, got, again

    ack, got, again = asyncio.run(scenario())
    assert ack == {"resultType": "complete"} and again == {"resultType": "complete"}
    assert got["status"] == "cancelled" and "result" not in got


def test_input_requests_are_answered_by_update_one_key_at_a_time() -> None:
    async def asks(peer: Peer) -> dict[str, Any]:
        question = InputRequest("elicitation/create", {"mode": "form", "message": "?", "requestedSchema": {}})
        answers = await peer.ask({"a": question, "b": question})
        text = f"{answers['a']['content']['v']}{answers['b']['content']['v']}"
        return {"content": [{"type": "text", "text": text}]}

    async def scenario() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        tasks = service()
        task_id = (await tasks.start(asks, {"elicitation": {}}))["taskId"]
        waiting = await settled(tasks, task_id, "input_required")
        first, second = sorted(waiting["inputRequests"])
        answer = {"action": "accept", "content": {"v": 1}}
        await tasks.update(params(task_id, inputResponses={first: answer, "never-asked": {"v": 9}}))
        partial = await tasks.get(params(task_id))
        await tasks.update(params(task_id, inputResponses={second: {"action": "accept", "content": {"v": 2}}}))
        return waiting, partial, await settled(tasks, task_id, "completed")

    waiting, partial, completed = asyncio.run(scenario())
    assert waiting["inputRequests"][sorted(waiting["inputRequests"])[0]]["method"] == "elicitation/create"
    assert partial["status"] == "input_required" and len(partial["inputRequests"]) == 1
    assert completed["result"]["content"][0]["text"] == "12"


def test_a_question_needing_an_undeclared_capability_fails_the_task_with_missing_capability() -> None:
    async def asks(peer: Peer) -> dict[str, Any]:
        await peer.ask({"q": InputRequest("sampling/createMessage", {"messages": [], "maxTokens": 1})})
        raise AssertionError("unreachable")

    async def scenario() -> dict[str, Any]:
        tasks = service()
        task_id = (await tasks.start(asks, {"elicitation": {}}))["taskId"]
        return await settled(tasks, task_id, "failed")

    failed = asyncio.run(scenario())
    assert failed["error"]["code"] == MISSING_CLIENT_CAPABILITY and "result" not in failed


def test_expired_task_is_answered_as_unknown() -> None:
    clock = Clock()

    async def scenario() -> TaskError:
        tasks = service(TaskLimits(ttl_ms=60_000), clock)
        task_id = (await tasks.start(done({"content": []}), {}))["taskId"]
        await settled(tasks, task_id, "completed")
        clock.now += 59.9
        await tasks.get(params(task_id))  # still there just before its TTL
        clock.now += 0.2
        with pytest.raises(TaskError) as caught:
            await tasks.get(params(task_id))
        return caught.value

    assert asyncio.run(scenario()).code == INVALID_PARAMS


def test_work_still_running_at_its_ttl_is_stopped() -> None:
    stopped = asyncio.Event()

    async def forever(peer: Peer) -> dict[str, Any]:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            stopped.set()
            raise
        raise AssertionError("unreachable")

    async def scenario() -> int:
        tasks = TaskService(MemoryTaskStore(), TaskLimits(ttl_ms=50))  # the real clock: a 50 ms TTL
        await tasks.start(forever, {})
        await asyncio.wait_for(stopped.wait(), WAIT_S)
        await asyncio.sleep(0)  # the runner records the end and leaves
        return tasks.running

    assert asyncio.run(scenario()) == 0


def test_running_cap_refuses_new_tasks_with_server_overloaded() -> None:
    async def forever(peer: Peer) -> dict[str, Any]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def scenario() -> TaskError:
        tasks = service(TaskLimits(max_running=2, max_stored=10))
        await tasks.start(forever, {})
        await tasks.start(forever, {})
        with pytest.raises(TaskError) as caught:
            await tasks.start(forever, {})
        return caught.value

    error = asyncio.run(scenario())
    assert error.code == SERVER_OVERLOADED and "2 tasks" in error.message


def test_the_ceiling_makes_room_once_old_records_expire() -> None:
    clock = Clock()

    async def forever(peer: Peer) -> dict[str, Any]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def scenario() -> tuple[TaskError, dict[str, Any]]:
        limits = TaskLimits(ttl_ms=1_000, max_running=2, max_stored=2)
        busy = service(limits, clock)
        tasks = TaskService(busy.store, limits)  # another service on the same records, none running
        for _ in range(2):
            await busy.start(forever, {})  # unfinished: nothing makes room but their expiry
        with pytest.raises(TaskError) as caught:
            await tasks.start(forever, {})
        clock.now += 1.0
        return caught.value, await tasks.start(done({"content": []}), {})

    error, created = asyncio.run(scenario())
    assert error.code == SERVER_OVERLOADED and "at most 2 tasks in all" in error.message
    assert created["resultType"] == "task"


def test_result_over_the_size_cap_fails_the_task_with_a_clear_error() -> None:
    async def scenario() -> dict[str, Any]:
        tasks = service(TaskLimits(max_result_bytes=1_000))
        big = {"content": [{"type": "text", "text": "x" * 2_000}]}
        return await settled(tasks, (await tasks.start(done(big), {}))["taskId"], "failed")

    failed = asyncio.run(scenario())
    assert "over this server's limit of 1000 bytes" in failed["error"]["message"]
    assert "result" not in failed


@pytest.mark.parametrize(
    "task_id",
    ["", "x" * 65, "' OR 1=1 --", "../../etc/passwd", "\x00", "é" * 10, "tasks-conformance-nonexistent-12345"],
)
def test_hostile_or_unknown_task_ids_are_answered_as_unknown_tasks(task_id: str) -> None:
    async def scenario() -> list[int]:
        tasks = service()
        await tasks.start(done({"content": []}), {})
        codes = []
        for method in ("tasks/get", "tasks/update", "tasks/cancel"):
            with pytest.raises(TaskError) as caught:
                await tasks.handler(method)(params(task_id, inputResponses={}), None)
            codes.append(caught.value.code)
        return codes

    assert asyncio.run(scenario()) == [INVALID_PARAMS] * 3


@pytest.mark.parametrize("task_id", [None, 7, ["a"], {"a": 1}])
def test_task_id_that_is_not_a_string_is_invalid_params(task_id: Any) -> None:
    error = refusal(lambda: service().get(params("unused") | {"taskId": task_id}))
    assert error.code == INVALID_PARAMS and "taskId must be a string" in error.message


def test_update_without_an_object_of_responses_is_invalid_params() -> None:
    error = refusal(lambda: service().update(params("t", inputResponses=[1])))
    assert error.code == INVALID_PARAMS and "inputResponses" in error.message


def test_limits_refuse_nonsense_values() -> None:
    with pytest.raises(ValueError, match="ttl_ms must be positive"):
        TaskLimits(ttl_ms=0)
    with pytest.raises(ValueError, match="max_running must not exceed max_stored"):
        TaskLimits(max_running=5, max_stored=4)


class RequestAnswers:
    """A request's multi-round-trip peer (services/round_trips.py) reduced to its rule: answers it carries, else
    InputRequired for the questions still open."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self._answers = answers

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        return None

    async def log(self, level: str, data: Any, logger: str | None = None) -> None:
        return None

    async def ask(self, requests: Any, state: str | None = None) -> dict[str, Any]:
        missing = {key: request for key, request in requests.items() if key not in self._answers}
        if missing:
            raise InputRequired(missing, state)
        return {key: self._answers[key] for key in requests}

    @property
    def round_state(self) -> str | None:
        return None


async def _asks_name_then_works(peer: Peer) -> dict[str, Any]:
    answers = await peer.ask({"user_name": InputRequest("elicitation/create", {"message": "Name?"})})
    await asyncio.sleep(0)
    return {"content": [{"type": "text", "text": f"Hello, {answers['user_name']}!"}]}


def test_input_first_tool_asks_in_the_request_then_becomes_a_task_with_the_answer() -> None:
    async def scenario() -> tuple[InputRequired, dict[str, Any], dict[str, Any], int]:
        tasks = service()
        with pytest.raises(InputRequired) as first_round:
            await tasks.start_after_input(_asks_name_then_works, RequestAnswers({}), {})
        stored_after_first_round = len(tasks.store._records)  # type: ignore[attr-defined]
        created = await tasks.start_after_input(_asks_name_then_works, RequestAnswers({"user_name": "Alice"}), {})
        return (
            first_round.value,
            created,
            await settled(tasks, created["taskId"], "completed"),
            stored_after_first_round,
        )

    first_round, created, completed, stored = asyncio.run(scenario())
    assert list(first_round.requests) == ["user_name"] and stored == 0  # no task before the answers
    assert created["resultType"] == "task" and "requestState" not in created and "inputRequests" not in created
    assert completed["result"]["content"][0]["text"] == "Hello, Alice!"


def test_input_first_tool_that_never_asks_still_answers_with_a_completed_task() -> None:
    async def quiet(peer: Peer) -> dict[str, Any]:
        return {"content": [{"type": "text", "text": "quiet"}]}

    async def scenario() -> dict[str, Any]:
        tasks = service()
        created = await tasks.start_after_input(quiet, RequestAnswers({}), {})
        return await settled(tasks, created["taskId"], "completed")

    assert asyncio.run(scenario())["result"]["content"][0]["text"] == "quiet"


def test_an_unreachable_store_is_internal_error_with_a_clear_message() -> None:
    async def scenario() -> list[TaskError]:
        tasks = TaskService(PostgresTaskStore(NO_DATABASE))  # every query raises DatabaseUnavailable
        errors = []
        for attempt in (
            lambda: tasks.start(done({"content": []}), {}),
            lambda: tasks.get(params("some-task")),
            lambda: tasks.update(params("some-task", inputResponses={})),
            lambda: tasks.cancel(params("some-task")),
        ):
            with pytest.raises(TaskError) as caught:
                await attempt()
            errors.append(caught.value)
        return errors

    for error in asyncio.run(scenario()):
        assert error.code == INTERNAL_ERROR and "cannot be reached" in error.message
