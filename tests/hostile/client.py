"""A small keep-alive MCP client for the hostile tests: JSON-RPC over one HTTP/1.1 connection (http.client, so a
chunked SSE answer is read whole), handshake era, with a session when the server keeps them. 127.0.0.1 only."""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from typing import Any

import orjson

HANDSHAKE = "2025-11-25"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


class Client:
    def __init__(self, port: int, *, timeout_s: float = 10.0) -> None:
        self.port = port
        self.session: str | None = None
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)

    def close(self) -> None:
        self._conn.close()

    def send(self, body: Any, *, method: str = "POST", headers: dict[str, str | None] | None = None) -> Answer:
        merged: dict[str, str | None] = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": HANDSHAKE,
            "Mcp-Session-Id": self.session,
        }
        merged.update(headers or {})
        data = None if body is None else body if isinstance(body, bytes) else orjson.dumps(body)
        self._conn.request(method, "/mcp", body=data, headers={k: v for k, v in merged.items() if v is not None})
        reply = self._conn.getresponse()
        return Answer(reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read())

    def request(self, method: str, params: dict[str, Any] | None = None, id_: Any = 1) -> Answer:
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": id_, "method": method}
        if params is not None:
            message["params"] = params
        return self.send(message)

    def initialize(self, capabilities: dict[str, Any] | None = None) -> str:
        params = {"protocolVersion": HANDSHAKE, "capabilities": capabilities or {}, "clientInfo": {"name": "au"}}
        params["clientInfo"] = {"name": "hostile", "version": "1"}
        answer = self.request("initialize", params, id_=0)
        assert answer.status == 200, answer
        self.session = answer.headers["mcp-session-id"]
        return self.session


def error_of(answer: Answer) -> tuple[int, str]:
    """The JSON-RPC error's code and message (an AssertionError when the answer is no error)."""
    error = answer.json().get("error")
    assert isinstance(error, dict), answer
    return error["code"], error["message"]
