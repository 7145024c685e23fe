"""The peer of a tool that takes a ToolContext (services/tools/context.py, DeferredPeer): the native server builds a
request's stream and peer only when the tool talks to its client, once per request at most, and never shares one
between requests. In process: McpMethods with a counting peer factory, both eras."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from services.mcp_server.jsonrpc import Request
from services.mcp_server.methods import McpMethods, ServerInfo
from services.mcp_server.metrics import Metrics
from services.protocol import META_CLIENT_CAPABILITIES, META_PROTOCOL_VERSION, STATELESS_VERSION
from services.tools.context import NO_DATABASE, LogLevel, Peer, ToolContext
from services.tools.registry import ToolRegistry
from services.tools.reply import pending

registry = ToolRegistry()


@registry.tool()
async def reads_only(ctx: ToolContext, n: int) -> dict[str, Any]:
    """Uses its context's database handle only, as the reference catalogue's database tools do."""
    return {"n": n, "db": ctx.db is NO_DATABASE}


@registry.tool()
async def reports(ctx: ToolContext, n: int) -> dict[str, Any]:
    """Reports progress twice and logs once."""
    await ctx.peer.progress(1, 2)
    await ctx.peer.progress(2, 2)
    await ctx.peer.log("info", {"n": n})
    return {"n": n}


class RecordingPeer:
    def __init__(self, request_id: Any) -> None:
        self.request_id = request_id
        self.sent: list[tuple[str, Any]] = []

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        self.sent.append(("progress", progress))

    async def log(self, level: LogLevel, data: Any, logger: str | None = None) -> None:
        self.sent.append(("log", data))

    async def ask(self, requests: Any, state: str | None = None) -> dict[str, Any]:
        raise AssertionError("not asked here")

    @property
    def round_state(self) -> str | None:
        return None


class CountingPeers:
    """The transport's peer factory, counting the peers it builds (one list per request id)."""

    def __init__(self) -> None:
        self.built: dict[Any, list[RecordingPeer]] = {}

    def __call__(self, request: Request, channel: Any) -> Peer:
        peer = RecordingPeer(request.id)
        self.built.setdefault(request.id, []).append(peer)
        return peer


def _methods(peers: CountingPeers) -> McpMethods:
    return McpMethods(registry=registry, info=ServerInfo("t", "1"), db=NO_DATABASE, metrics=Metrics(), peers=peers)


async def _run(methods: McpMethods, era: str, id_: int, tool: str) -> Any:
    params: dict[str, Any] = {"name": tool, "arguments": {"n": id_}}
    if era == STATELESS_VERSION:
        params["_meta"] = {META_PROTOCOL_VERSION: STATELESS_VERSION, META_CLIENT_CAPABILITIES: {}}
        reply: Any = methods.handle_stateless(Request(id_, "tools/call", params), object())
    else:
        reply = methods.handle(Request(id_, "tools/call", params), object())
    answer = await reply if pending(reply) else reply
    return orjson.loads(answer if isinstance(answer, bytes) else answer[1])  # (code, body) in the 2026-07-28 era


def test_a_context_tool_that_never_talks_to_its_client_gets_no_peer_built_in_either_era() -> None:
    peers = CountingPeers()
    methods = _methods(peers)

    async def scenario() -> list[Any]:
        return [await _run(methods, era, i, "reads_only") for i, era in enumerate(("2025-11-25", STATELESS_VERSION))]

    answers = asyncio.run(scenario())
    assert [a["result"]["structuredContent"] for a in answers] == [{"n": 0, "db": True}, {"n": 1, "db": True}]
    assert peers.built == {}


def test_a_context_tool_that_reports_gets_one_peer_of_its_own_request_in_either_era() -> None:
    peers = CountingPeers()
    methods = _methods(peers)

    async def scenario() -> None:
        for i, era in enumerate(("2025-11-25", STATELESS_VERSION, "2025-11-25", STATELESS_VERSION)):
            answer = await _run(methods, era, i, "reports")
            assert answer["result"]["structuredContent"] == {"n": i}

    asyncio.run(scenario())
    assert sorted(peers.built) == [0, 1, 2, 3]
    for request_id, built in peers.built.items():
        assert len(built) == 1  # built once, however many messages the tool sent
        assert built[0].request_id == request_id  # each request its own peer: nothing shared between requests
        assert built[0].sent == [("progress", 1), ("progress", 2), ("log", {"n": request_id})]
