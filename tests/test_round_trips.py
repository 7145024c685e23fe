"""services/round_trips.py: the 2026-07-28 era's peer answers a tool's questions from the retried request (and the
answers of earlier rounds the signed state carries), asks again what is still open, and refuses what the client
did not declare or answered out of shape; run here with the conformance fixtures, in process."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.protocol import INVALID_PARAMS, MISSING_CLIENT_CAPABILITY
from services.request_state import RequestStateSigner, new_key, parse_keys
from services.round_trips import RoundTrip, RoundTripRefused, check_answer, refusal
from services.tools.conformance_mrtr import conformance_mrtr
from services.tools.context import NO_DATABASE, InputRequest, InputRequired, RequestRefused, ToolContext, ToolError
from services.tools.features import CatalogueError, Features

SIGNER = RequestStateSigner(parse_keys(new_key()))
EVERYTHING = {"sampling": {}, "elicitation": {}, "roots": {"listChanged": True}}
NAME = {"action": "accept", "content": {"name": "Alice"}}


def _call(tool: str, capabilities: dict[str, Any] = EVERYTHING, **params: Any) -> dict[str, Any]:
    """One tools/call round in process: the result's text, or the InputRequiredResult, or the refusal."""
    meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}
    meta["io.modelcontextprotocol/clientCapabilities"] = capabilities
    full = {"name": tool, "arguments": {}, "_meta": meta, **params}
    try:
        trip = RoundTrip(SIGNER, method="tools/call", target=tool, arguments={}, params=full)
    except RoundTripRefused as ex:
        return {"error": ex.rejection}
    registered = conformance_mrtr.get(tool)
    assert registered is not None
    try:
        result = asyncio.run(registered.invoke({}, ToolContext(NO_DATABASE, 1, trip.peer, trip.capabilities)))  # type: ignore[arg-type]
    except InputRequired as signal:
        return trip.input_required(signal)
    except RequestRefused as refused:
        return {"error": refusal(refused)}
    assert not result.is_error, result.content
    return {"text": result.content[0]["text"]}


def test_a_first_round_asks_and_the_retry_completes() -> None:
    first = _call("test_input_required_result_elicitation")
    assert first["resultType"] == "input_required"
    assert first["inputRequests"]["user_name"]["method"] == "elicitation/create"
    done = _call(
        "test_input_required_result_elicitation",
        inputResponses={"user_name": NAME},
        requestState=first["requestState"],
    )
    assert done == {"text": "Hello, Alice!"}


def test_three_rounds_carry_the_first_answer_in_the_state() -> None:
    first = _call("test_input_required_result_multi_round")
    second = _call(
        "test_input_required_result_multi_round", inputResponses={"step1": NAME}, requestState=first["requestState"]
    )
    assert list(second["inputRequests"]) == ["step2"]
    assert second["requestState"] != first["requestState"]
    color = {"action": "accept", "content": {"color": "blue"}}
    third = _call(
        "test_input_required_result_multi_round", inputResponses={"step2": color}, requestState=second["requestState"]
    )
    assert third == {"text": "Alice's favorite color is blue."}


def test_the_round_state_comes_back_to_the_tool() -> None:
    first = _call("test_input_required_result_request_state")
    ok = {"action": "accept", "content": {"ok": True}}
    done = _call(
        "test_input_required_result_request_state", inputResponses={"confirm": ok}, requestState=first["requestState"]
    )
    assert done["text"].startswith("state-ok")


def test_a_missing_answer_is_asked_again_and_extra_answers_are_ignored() -> None:
    again = _call("test_input_required_result_elicitation", inputResponses={"wrong_key": NAME})
    assert list(again["inputRequests"]) == ["user_name"]
    done = _call("test_input_required_result_elicitation", inputResponses={"user_name": NAME, "extra": {"x": 1}})
    assert done == {"text": "Hello, Alice!"}


def test_only_the_missing_questions_of_several_are_asked_again() -> None:
    partial = _call("test_input_required_result_multiple_inputs", inputResponses={"user_name": NAME})
    assert set(partial["inputRequests"]) == {"greeting", "client_roots"}
    sampled = {"role": "assistant", "content": {"type": "text", "text": "Hi"}, "model": "m"}
    roots = {"roots": [{"uri": "file:///work"}]}
    done = _call(
        "test_input_required_result_multiple_inputs",
        inputResponses={"greeting": sampled, "client_roots": roots},
        requestState=partial["requestState"],
    )
    assert done == {"text": "Hi Alice (roots: file:///work)"}


@pytest.mark.parametrize(
    "answer",
    [
        12345,
        None,
        {"action": "maybe"},
        {"action": "accept"},
        {"action": "accept", "content": {"name": 7}},
        {"action": "accept", "content": {"nom": "Alice"}},
    ],
)
def test_an_answer_that_does_not_fit_its_question_is_invalid_params(answer: Any) -> None:
    refused = _call("test_input_required_result_elicitation", inputResponses={"user_name": answer})["error"]
    assert refused.code == INVALID_PARAMS
    assert "user_name" in refused.message


@pytest.mark.parametrize("responses", [None, [], "answers"])
def test_input_responses_that_are_not_an_object_are_invalid_params(responses: Any) -> None:
    assert _call("test_input_required_result_elicitation", inputResponses=responses)["error"].code == INVALID_PARAMS


def test_a_tampered_state_is_invalid_params_with_its_reason() -> None:
    first = _call("test_input_required_result_tampered_state")
    refused = _call("test_input_required_result_tampered_state", requestState=first["requestState"] + "-TAMPERED")
    assert refused["error"].code == INVALID_PARAMS
    assert refused["error"].data == {"reason": "signature"}


def test_a_state_of_another_tool_is_refused() -> None:
    first = _call("test_input_required_result_elicitation")
    refused = _call("test_input_required_result_tampered_state", requestState=first["requestState"])
    assert refused["error"].data == {"reason": "other_request"}


def test_a_question_for_an_undeclared_capability_is_missing_client_capability() -> None:
    refused = _call("test_missing_capability", capabilities={"elicitation": {}})["error"]
    assert refused.code == MISSING_CLIENT_CAPABILITY
    assert refused.data == {"requiredCapabilities": {"sampling": {}}}


def test_a_tool_asks_only_what_the_client_declared() -> None:
    asked = _call("test_input_required_result_capabilities", capabilities={"sampling": {}})
    assert [r["method"] for r in asked["inputRequests"].values()] == ["sampling/createMessage"]
    assert _call("test_input_required_result_capabilities", capabilities={})["text"].endswith("nothing to ask.")


def test_logging_without_a_stream_is_dropped_and_the_call_completes() -> None:
    assert _call("test_logging_tool")["text"].startswith("Logged two info messages")


def test_a_prompt_asks_first_and_renders_on_the_retry() -> None:
    features = Features(conformance_mrtr.resources, conformance_mrtr.prompts, page_size=10)
    name = "test_input_required_result_prompt"

    def get(**params: Any) -> Any:
        full = {"name": name, "_meta": {"io.modelcontextprotocol/clientCapabilities": {"elicitation": {}}}, **params}
        trip = RoundTrip(SIGNER, method="prompts/get", target=name, arguments=None, params=full)
        try:
            return asyncio.run(
                features.get_prompt(name, None, ToolContext(NO_DATABASE, 1, trip.peer, trip.capabilities))
            )  # type: ignore[arg-type]
        except InputRequired as signal:
            return trip.input_required(signal)

    first = get()
    assert list(first["inputRequests"]) == ["user_context"]
    answer = {"action": "accept", "content": {"context": "billing"}}
    done = get(inputResponses={"user_context": answer}, requestState=first["requestState"])
    assert done["messages"][0]["content"]["text"] == "Answer the next question using this context: billing."


def test_a_prompt_that_asks_has_no_way_to_ask_without_a_round_trip_peer() -> None:
    features = Features(conformance_mrtr.resources, conformance_mrtr.prompts, page_size=10)
    with pytest.raises(CatalogueError) as refused:
        asyncio.run(features.get_prompt("test_input_required_result_prompt", None))  # type: ignore[arg-type]
    assert refused.value.code == INVALID_PARAMS
    assert "needs input from the client" in refused.value.message


def test_an_accepted_elicitation_may_leave_out_content_when_nothing_is_required() -> None:
    optional = InputRequest("elicitation/create", {"message": "Anything?", "requestedSchema": {"type": "object"}})
    assert check_answer("extra", optional, {"action": "accept"}) == {"action": "accept"}
    with pytest.raises(RequestRefused, match="must be an object"):
        check_answer("extra", optional, {"action": "accept", "content": "yes"})


def test_a_request_and_a_task_refuse_an_undeclared_capability_by_the_one_rule() -> None:
    from services.tasks import MemoryTaskStore, TaskPeer, TaskService

    question = {"q": InputRequest("sampling/createMessage", {"messages": [], "maxTokens": 8})}
    trip_peer = RoundTrip(SIGNER, method="tools/call", target="t", arguments={}, params={}).peer
    task_peer = TaskPeer(TaskService(MemoryTaskStore()), "task-1", {"elicitation": {}})
    refused = []
    for peer in (trip_peer, task_peer):
        with pytest.raises(RequestRefused) as caught:
            asyncio.run(peer.ask(question))
        refused.append(caught.value)
    assert [r.capability for r in refused] == ["sampling", "sampling"]
    assert refused[0].message.startswith("This tool needs the client's 'sampling' capability (sampling/createMessage)")
    assert refused[1].message.startswith("This tool needs the client's 'sampling' capability (sampling/createMessage)")
    assert refused[0].message.endswith("_meta['io.modelcontextprotocol/clientCapabilities'] does not declare")
    assert refused[1].message.endswith("the request that started the task does not declare")
    for peer in (trip_peer, task_peer):
        with pytest.raises(ToolError, match="A tool may ask the client only"):
            asyncio.run(peer.ask({"q": InputRequest("ping", {})}))
