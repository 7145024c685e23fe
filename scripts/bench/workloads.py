"""The benchmark's request bodies: one per tool, payload sizes from the cost post (0.5–2 KB), and a realistic mix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson


@dataclass(frozen=True)
class Workload:
    name: str
    bodies: tuple[bytes, ...]
    uses_db: bool
    unique_key: bool = False  # the write tool: each request needs a fresh idempotency key

    def lua(self, path: Path) -> Path:
        """A wrk script sending the bodies in rotation (with a per-request idempotency key for writes)."""
        quoted = ", ".join("[==[" + b.decode() + "]==]" for b in self.bodies)
        script = [
            'wrk.method = "POST"',
            'wrk.headers["Content-Type"] = "application/json"',
            'wrk.headers["Accept"] = "application/json, text/event-stream"',
            f"local bodies = {{{quoted}}}",
            "local i = 0",
            "local tid = tostring(math.random(1, 1000000000))",
            "request = function()",
            "  i = i + 1",
            "  local body = bodies[(i % #bodies) + 1]",
        ]
        if self.unique_key:
            script.append('  body = string.gsub(body, "KEY", tid .. "-" .. i)')
        script += ["  return wrk.format(nil, nil, nil, body)", "end"]
        path.write_text("\n".join(script) + "\n")
        return path

    def raw_requests(self, port: int) -> bytes:
        """Complete HTTP requests separated by NUL bytes, for the open-loop generator (fixed keys: reads only)."""
        requests = []
        for body in self.bodies:
            head = (
                f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                f"Accept: application/json, text/event-stream\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            requests.append(head + body)
        return b"\0".join(requests)


def call(name: str, arguments: dict[str, object], id_: int = 1) -> bytes:
    return orjson.dumps(
        {"jsonrpc": "2.0", "id": id_, "method": "tools/call", "params": {"name": name, "arguments": arguments}}
    )


def _echo(size: int) -> Workload:
    return Workload(f"echo_{size}", (call("echo", {"message": "hello", "payload_bytes": size}),), uses_db=False)


ECHO_512, ECHO_1K, ECHO_2K = _echo(512), _echo(1024), _echo(2048)
CPU = Workload("hash_chain", (call("hash_chain", {"text": "mcpstack", "rounds": 200}),), uses_db=False)
READ = Workload(
    "get_customer", tuple(call("get_customer", {"customer_id": 1 + (i * 7919) % 10000}) for i in range(64)), True
)
SEARCH = Workload(
    "search_documents",
    tuple(call("search_documents", {"query": f"sku{1 + (i * 131) % 4000}", "limit": 5}) for i in range(64)),
    True,
)
WRITE = Workload(
    "send_notification",
    (
        call(
            "send_notification",
            {"customer_id": 42, "channel": "email", "message": "order shipped", "idempotency_key": "bench-KEY"},
        ),
    ),
    True,
    unique_key=True,
)
# The cost post's traffic: mostly reads and searches, some payload-sized answers, a few writes.
MIX = Workload(
    "mix",
    READ.bodies[:8] + SEARCH.bodies[:6] + ECHO_1K.bodies * 4 + CPU.bodies * 1,
    True,
)
ALL = {w.name: w for w in (ECHO_512, ECHO_1K, ECHO_2K, CPU, READ, SEARCH, WRITE, MIX)}
