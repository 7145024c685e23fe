"""The native server's resources, prompts and completion methods: JSON-RPC routes over the shared logic.

`CatalogueMethods` adapts services/tools/features.py (which both servers use, so both answer alike) to the native
method table: one route per method and era, each turning a request into the response bytes and its metric labels, the
same `Answer` shape services/mcp_server/methods.py routes produce. The 2026-07-28 routes answer in that era's form
(`resultType`; `ttlMs`/`cacheScope` on lists and on resources/read; -32602 for an unknown resource). Only methods of
what is registered are routed, and only their capabilities advertised. Nothing here is on the tools/call path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.mcp_server import jsonrpc
from services.mcp_server.jsonrpc import RpcError
from services.protocol import stateless_result
from services.tools.features import CACHEABLE_METHODS, CatalogueError, Features
from services.tools.registry import ToolRegistry
from services.tools.reply import Reply, pending

# The route answer of services/mcp_server/methods.py: response bytes, tool label (""), outcome label.
Answer = tuple[bytes, str, str]
Route = Callable[[jsonrpc.Request], Reply[Answer]]
# A method's handler: the request's params and whether the request speaks the 2026-07-28 era, to the result.
Handler = Callable[[dict[str, Any], bool], Reply[dict[str, Any]]]


class CatalogueMethods:
    """The resources/prompts/completion routes of one worker, for the handshake era and for 2026-07-28."""

    def __init__(self, registry: ToolRegistry, *, page_size: int) -> None:
        features = Features(registry.resources, registry.prompts, page_size=page_size)
        self.capabilities = features.capabilities
        handlers: dict[str, Handler] = {
            "resources/list": lambda p, _: features.list_resources(p.get("cursor")),
            "resources/templates/list": lambda p, _: features.list_resource_templates(p.get("cursor")),
            "resources/read": lambda p, stateless: features.read_resource(p.get("uri"), stateless=stateless),
            "prompts/list": lambda p, _: features.list_prompts(p.get("cursor")),
            "prompts/get": lambda p, _: features.get_prompt(p.get("name"), p.get("arguments")),
            "completion/complete": lambda p, _: features.complete(p.get("ref"), p.get("argument"), p.get("context")),
        }
        self.routes: dict[str, Route] = {m: _route(handlers[m], False, False) for m in features.methods}
        self.stateless_routes: dict[str, Route] = {
            m: _route(handlers[m], True, m in CACHEABLE_METHODS) for m in features.methods
        }


def _route(handler: Handler, stateless: bool, cacheable: bool) -> Route:
    def route(request: jsonrpc.Request) -> Reply[Answer]:
        try:
            result = handler(request.params or {}, stateless)
        except CatalogueError as ex:
            raise RpcError(ex.code, ex.message, ex.data) from None
        if pending(result):
            return _later(result, request.id, stateless, cacheable)
        return _encode(request.id, result, stateless, cacheable), "", "ok"

    return route


async def _later(result: Any, id_: jsonrpc.Id, stateless: bool, cacheable: bool) -> Answer:
    """An answer that waited for a registered coroutine; its refusal is encoded here, after the await, under the
    outcome "rpc_error", from which methods.py takes the error's code to set the 2026-07-28 HTTP status (a -32602
    after an await is 400, as one raised at once; tests/protocol_details/test_failing_resource.py)."""
    try:
        value = await result
    except CatalogueError as ex:
        return jsonrpc.encode_error(id_, ex.code, ex.message, ex.data), "", "rpc_error"
    return _encode(id_, value, stateless, cacheable), "", "ok"


def _encode(id_: jsonrpc.Id, result: dict[str, Any], stateless: bool, cacheable: bool) -> bytes:
    return jsonrpc.encode_result(id_, stateless_result(result, listing=cacheable) if stateless else result)
