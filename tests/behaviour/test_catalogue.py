"""Resources, prompts and completion over raw HTTP and through the official Python client, on both servers, in both
eras.

The servers run the conformance pack (`MCP_TOOL_PACKS=reference,conformance`: two resources, a template, five prompts,
completion of one argument) with one entry per page (`MCP_PAGE_SIZE=1`), so every list is paged. The default
catalogue registers none of them: the capabilities stay unadvertised and the methods unknown there.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from mcp import Client, MCPError
from mcp.types import BlobResourceContents, PromptReference, TextResourceContents

from services import protocol
from services.tools.conformance import PNG_BASE64
from tests.support import HttpReply, ServerProcess, rpc, server_process

META = {protocol.META_PROTOCOL_VERSION: "2026-07-28", protocol.META_CLIENT_CAPABILITIES: {}}
PACK = {"MCP_TOOL_PACKS": "reference,conformance", "MCP_PAGE_SIZE": "1"}
PROMPTS = [
    "test_simple_prompt",
    "test_prompt_with_arguments",
    "test_prompt_with_embedded_resource",
    "test_prompt_with_image",
    "test_input_required_result_prompt",  # services/tools/conformance_mrtr.py: asks the client first (2026-07-28)
]


@pytest.fixture(scope="module")
def native_catalogue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with server_process("native", tmp_path_factory.mktemp("catalogue-native"), database_url=None, env=PACK) as s:
        yield s


@pytest.fixture(scope="module")
def fastapi_catalogue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with server_process("fastapi", tmp_path_factory.mktemp("catalogue-fastapi"), database_url=None, env=PACK) as s:
        yield s


@pytest.fixture(params=["native", "fastapi"])
def catalogue(request: pytest.FixtureRequest) -> ServerProcess:
    server: ServerProcess = request.getfixturevalue(f"{request.param}_catalogue")
    return server


def call(server: ServerProcess, method: str, params: dict[str, Any] | None = None) -> HttpReply:
    """A handshake-era request."""
    return rpc(server.port, method, params, id_=3)


def call_stateless(server: ServerProcess, method: str, params: dict[str, Any], name: str | None = None) -> HttpReply:
    """A 2026-07-28 request, its headers repeating the body."""
    headers = {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": method}
    if name is not None:
        headers["Mcp-Name"] = name
    return rpc(server.port, method, {**params, "_meta": META}, id_=4, headers=headers)


def result(reply: HttpReply) -> dict[str, Any]:
    assert reply.status == 200, reply.body
    body = reply.json()
    assert "result" in body, body
    answer: dict[str, Any] = body["result"]
    return answer


def error(reply: HttpReply) -> dict[str, Any]:
    body = reply.json()
    assert "error" in body, body
    found: dict[str, Any] = body["error"]
    return found


def every_page(server: ServerProcess, method: str, key: str) -> tuple[list[dict[str, Any]], int]:
    """All entries of a paged list, and how many pages it took."""
    entries: list[dict[str, Any]] = []
    params: dict[str, Any] = {}
    for pages in range(1, 20):
        page = result(call(server, method, params))
        entries += page[key]
        if "nextCursor" not in page:
            return entries, pages
        params = {"cursor": page["nextCursor"]}
    raise AssertionError(f"{method} did not end within 20 pages")


def test_initialize_advertises_resources_prompts_and_completions(catalogue: ServerProcess) -> None:
    params = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
    capabilities = result(call(catalogue, "initialize", params))["capabilities"]
    assert capabilities["resources"] == {"subscribe": False, "listChanged": False}
    assert capabilities["prompts"] == {"listChanged": False}
    assert capabilities["completions"] == {}


def test_resource_lists_are_paged_in_registration_order(catalogue: ServerProcess) -> None:
    resources, pages = every_page(catalogue, "resources/list", "resources")
    assert [r["uri"] for r in resources] == ["test://static-text", "test://static-binary", "test://watched-resource"]
    assert pages == 3
    assert all(r["name"] and r["description"] and r["mimeType"] for r in resources)
    templates, _ = every_page(catalogue, "resources/templates/list", "resourceTemplates")
    assert [t["uriTemplate"] for t in templates] == ["test://template/{id}/data"]


def test_prompt_list_is_paged_with_argument_descriptions(catalogue: ServerProcess) -> None:
    prompts, pages = every_page(catalogue, "prompts/list", "prompts")
    assert [p["name"] for p in prompts] == PROMPTS
    assert pages == len(PROMPTS)  # one per page
    with_arguments = prompts[1]
    assert with_arguments["arguments"] == [
        {"name": "arg1", "description": "First test argument.", "required": True},
        {"name": "arg2", "description": "Second test argument.", "required": True},
    ]


def test_a_cursor_from_another_list_is_invalid_params(catalogue: ServerProcess) -> None:
    cursor = result(call(catalogue, "prompts/list"))["nextCursor"]
    refused = error(call(catalogue, "resources/list", {"cursor": cursor}))
    assert (refused["code"], refused["message"]) == (protocol.INVALID_PARAMS, "resources/list: invalid cursor")


def test_resources_read_answers_text_binary_and_template_contents(catalogue: ServerProcess) -> None:
    text = result(call(catalogue, "resources/read", {"uri": "test://static-text"}))["contents"]
    assert text == [
        {
            "uri": "test://static-text",
            "mimeType": "text/plain",
            "text": "This is the content of the static text resource.",
        }
    ]
    binary = result(call(catalogue, "resources/read", {"uri": "test://static-binary"}))["contents"][0]
    assert (binary["mimeType"], binary["blob"]) == ("image/png", PNG_BASE64)
    assert base64.b64decode(binary["blob"]).startswith(b"\x89PNG")
    templated = result(call(catalogue, "resources/read", {"uri": "test://template/123/data"}))["contents"][0]
    assert templated["uri"] == "test://template/123/data"
    assert json.loads(templated["text"]) == {"id": "123", "templateTest": True, "data": "Data for ID: 123"}


def test_unknown_resource_is_resource_not_found_with_its_uri_in_the_handshake_era(catalogue: ServerProcess) -> None:
    refused = error(call(catalogue, "resources/read", {"uri": "test://missing"}))
    assert refused["code"] == protocol.RESOURCE_NOT_FOUND
    assert refused["data"] == {"uri": "test://missing"}
    # A template's variable never spans a path segment, so this URI matches no template either.
    assert error(call(catalogue, "resources/read", {"uri": "test://template/1/2/data"}))["code"] == -32002


def test_unknown_resource_is_invalid_params_with_its_uri_in_2026_07_28(catalogue: ServerProcess) -> None:
    reply = call_stateless(catalogue, "resources/read", {"uri": "test://missing"}, name="test://missing")
    assert reply.status == 400
    refused = error(reply)
    assert (refused["code"], refused["data"]) == (protocol.INVALID_PARAMS, {"uri": "test://missing"})


def test_prompts_get_substitutes_arguments_and_embeds_content(catalogue: ServerProcess) -> None:
    params = {"name": "test_prompt_with_arguments", "arguments": {"arg1": "hello", "arg2": "world"}}
    messages = result(call(catalogue, "prompts/get", params))["messages"]
    assert messages == [
        {"role": "user", "content": {"type": "text", "text": "Prompt with arguments: arg1='hello', arg2='world'"}}
    ]
    params = {"name": "test_prompt_with_embedded_resource", "arguments": {"resourceUri": "test://x"}}
    embedded = result(call(catalogue, "prompts/get", params))["messages"][0]["content"]
    assert embedded["type"] == "resource"
    assert embedded["resource"]["uri"] == "test://x"
    image = result(call(catalogue, "prompts/get", {"name": "test_prompt_with_image"}))["messages"][0]["content"]
    assert (image["type"], image["mimeType"], image["data"]) == ("image", "image/png", PNG_BASE64)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"name": "no_such_prompt"}, "Unknown prompt: no_such_prompt"),
        (
            {"name": "test_prompt_with_arguments", "arguments": {"arg1": "a"}},
            "Prompt 'test_prompt_with_arguments' needs the argument(s) arg2",
        ),
        (
            {"name": "test_simple_prompt", "arguments": {"extra": "x"}},
            "Prompt 'test_simple_prompt' has no argument 'extra' (accepted: none)",
        ),
        (
            {"name": "test_prompt_with_arguments", "arguments": {"arg1": "a", "arg2": 2}},
            "Prompt 'test_prompt_with_arguments': argument 'arg2' must be a string",
        ),
        ({"name": 5}, "prompts/get: params need a string name and an object of string arguments"),
    ],
)
def test_prompts_get_refusals_are_invalid_params_with_a_helpful_text(
    catalogue: ServerProcess, params: dict[str, Any], message: str
) -> None:
    refused = error(call(catalogue, "prompts/get", params))
    assert (refused["code"], refused["message"]) == (protocol.INVALID_PARAMS, message)


def test_completion_offers_values_by_prefix_for_prompts_and_templates(catalogue: ServerProcess) -> None:
    params: dict[str, Any] = {
        "ref": {"type": "ref/prompt", "name": "test_prompt_with_arguments"},
        "argument": {"name": "arg1", "value": "pa"},
    }
    assert result(call(catalogue, "completion/complete", params)) == {
        "completion": {"values": ["paris", "park", "party"], "total": 3, "hasMore": False}
    }
    params = {
        "ref": {"type": "ref/resource", "uri": "test://template/{id}/data"},
        "argument": {"name": "id", "value": "1"},
    }
    assert result(call(catalogue, "completion/complete", params))["completion"]["values"] == ["1", "123"]
    params["argument"] = {"name": "nope", "value": ""}
    refused = error(call(catalogue, "completion/complete", params))
    assert refused["code"] == protocol.INVALID_PARAMS
    assert refused["message"] == "Resource template 'test://template/{id}/data' has no argument 'nope'"


def test_both_servers_refuse_malformed_catalogue_requests_with_the_same_error(
    native_catalogue: ServerProcess, fastapi_catalogue: ServerProcess
) -> None:
    bad: list[tuple[str, dict[str, Any] | None]] = [
        ("resources/read", None),
        ("resources/read", {"uri": 7}),
        ("resources/list", {"cursor": 1}),
        ("resources/templates/list", {"cursor": "bm9wZQ=="}),
        ("prompts/get", {"name": "test_simple_prompt", "arguments": []}),
        ("completion/complete", {"ref": {"type": "ref/other"}, "argument": {"name": "a", "value": "b"}}),
        ("completion/complete", {"ref": {"type": "ref/prompt", "name": "test_simple_prompt"}}),
        (
            "completion/complete",
            {"ref": {"type": "ref/prompt", "name": "nope"}, "argument": {"name": "a", "value": ""}},
        ),
    ]
    for method, params in bad:
        native = call(native_catalogue, method, params)
        fastapi = call(fastapi_catalogue, method, params)
        assert (native.status, native.json()) == (fastapi.status, fastapi.json()), (method, params)
        assert error(native)["code"] == protocol.INVALID_PARAMS, (method, params)


def test_stateless_era_lists_and_reads_carry_result_type_and_cache_hints(catalogue: ServerProcess) -> None:
    hints = {"resultType": "complete", "ttlMs": protocol.LIST_TTL_MS, "cacheScope": protocol.LIST_CACHE_SCOPE}
    for method in ("resources/list", "resources/templates/list", "prompts/list"):
        listed = result(call_stateless(catalogue, method, {}))
        assert {k: listed[k] for k in hints} == hints, method
    read = result(call_stateless(catalogue, "resources/read", {"uri": "test://static-text"}, name="test://static-text"))
    assert {k: read[k] for k in hints} == hints
    got = result(call_stateless(catalogue, "prompts/get", {"name": "test_simple_prompt"}, name="test_simple_prompt"))
    assert got["resultType"] == "complete"
    assert "ttlMs" not in got
    discovered = result(call_stateless(catalogue, "server/discover", {}))["capabilities"]
    # extensions: the conformance pack's task-supporting tools bring the tasks extension (docs/tasks.md)
    assert set(discovered) == {"tools", "resources", "prompts", "completions", "extensions"}
    assert set(discovered["extensions"]) == {"io.modelcontextprotocol/tasks"}


def test_default_catalogue_advertises_and_routes_no_resources_or_prompts(server: ServerProcess) -> None:
    params = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
    capabilities = result(call(server, "initialize", params))["capabilities"]
    assert set(capabilities) - {"logging"} == {"tools"}  # logging: served in the handshake era, catalogue or not
    for method in ("resources/list", "resources/read", "prompts/list", "prompts/get", "completion/complete"):
        assert error(call(server, method, {}))["code"] == protocol.METHOD_NOT_FOUND, method


async def _browse(url: str, mode: str) -> dict[str, Any]:
    """Everything the official client reads of the catalogue, every list followed to its last page."""
    seen: dict[str, Any] = {"resources": [], "prompts": []}
    async with Client(url, mode=mode) as client:  # type: ignore[arg-type]
        cursor: str | None = None
        while True:
            resources = await client.list_resources(cursor=cursor)
            seen["resources"] += [str(r.uri) for r in resources.resources]
            if not (cursor := resources.next_cursor):
                break
        while True:
            prompts = await client.list_prompts(cursor=cursor)
            seen["prompts"] += [p.name for p in prompts.prompts]
            if not (cursor := prompts.next_cursor):
                break
        templates = await client.list_resource_templates()
        seen["templates"] = [t.uri_template for t in templates.resource_templates]
        text = (await client.read_resource("test://static-text")).contents[0]
        seen["text"] = text.text if isinstance(text, TextResourceContents) else None
        blob = (await client.read_resource("test://static-binary")).contents[0]
        seen["blob"] = blob.blob if isinstance(blob, BlobResourceContents) else None
        templated = (await client.read_resource("test://template/7/data")).contents[0]
        seen["templated"] = templated.text if isinstance(templated, TextResourceContents) else None
        prompt = await client.get_prompt("test_prompt_with_arguments", {"arg1": "a", "arg2": "b"})
        seen["prompt"] = prompt.messages[0].content.model_dump(exclude_none=True)
        completion = await client.complete(
            PromptReference(type="ref/prompt", name="test_prompt_with_arguments"), {"name": "arg1", "value": "par"}
        )
        seen["completion"] = completion.completion.values
        try:
            await client.read_resource("test://missing")
        except MCPError as ex:
            seen["missing"] = (ex.code, ex.data)
        seen["version"] = client.protocol_version
    return seen


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
def test_official_client_lists_reads_gets_and_completes_on_both_servers(catalogue: ServerProcess, mode: str) -> None:
    seen = asyncio.run(_browse(catalogue.url, mode))
    assert seen["version"] == ("2025-11-25" if mode == "legacy" else "2026-07-28")
    assert seen["resources"] == ["test://static-text", "test://static-binary", "test://watched-resource"]
    assert seen["prompts"] == PROMPTS
    assert seen["templates"] == ["test://template/{id}/data"]
    assert seen["text"] == "This is the content of the static text resource."
    assert seen["blob"] == PNG_BASE64
    assert json.loads(seen["templated"])["id"] == "7"
    assert seen["prompt"] == {"type": "text", "text": "Prompt with arguments: arg1='a', arg2='b'"}
    assert seen["completion"] == ["paris", "park", "party"]
    code = protocol.RESOURCE_NOT_FOUND if mode == "legacy" else protocol.INVALID_PARAMS
    assert seen["missing"] == (code, {"uri": "test://missing"})
