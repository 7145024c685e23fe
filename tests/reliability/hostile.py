"""Hostile input for the MCP endpoint: hypothesis strategies per family, a raw-socket exchange, and the checks every
answer must pass.

A case is the bytes one client writes on one connection, with how many responses they may and must get. The
exchange reads what the server answers (parsed by httptools' response parser, so a malformed answer is caught) until
it has them all, the server closes, or a deadline passes. Every answer must be a valid HTTP/1.1 response, never a
5xx, with a JSON-RPC body where one is due, and without internals (tracebacks, file paths, exception class names,
library names) that the request itself did not contain. Only 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import struct
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httptools
from hypothesis import strategies as st

from services.protocol import SERVED_VERSIONS, STATELESS_VERSION
from services.tools.packs import load_packs

MCP = "/mcp"
HOST = "127.0.0.1"
TOOLS = {tool.name: tool.descriptor()["inputSchema"] for tool in load_packs(("reference",))}
METHODS = ("initialize", "ping", "tools/list", "tools/call", "server/discover", "resources/list", "prompts/list")
JSON_RPC_ID = (str, int)


@dataclass(frozen=True)
class Case:
    family: str
    data: bytes
    min_responses: int = 1  # a well-framed request must be answered
    max_responses: int = 1  # more than this is a desynchronised stream (request smuggling)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Exchange:
    answers: list[Answer]
    closed: bool  # the server closed the connection
    malformed: str | None = None  # the server's bytes were not valid HTTP
    elapsed_s: float = 0.0


# -- building requests ------------------------------------------------------------------------------------------------


def http_request(
    body: bytes,
    *,
    headers: list[tuple[str, str]] | None = None,
    method: str = "POST",
    path: str = MCP,
    content_length: bool = True,
) -> bytes:
    """One request; the default headers are those of a correct MCP client, `headers` replace or add to them."""
    merged: dict[str, str] = {
        "Host": HOST,
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
    }
    extra: list[tuple[str, str]] = []
    for name, value in headers or []:
        if name in merged:
            merged[name] = value
        else:
            extra.append((name, value))
    lines = [f"{method} {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in merged.items() if v != "\0omit"]
    lines += [f"{k}: {v}" for k, v in extra]
    if content_length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body


def message(method: Any = "ping", params: Any = None, id_: Any = 1) -> dict[str, Any]:
    out: dict[str, Any] = {"jsonrpc": "2.0", "id": id_, "method": method}
    if params is not None:
        out["params"] = params
    return out


def dumps(value: Any) -> bytes:
    """JSON text of a generated value (the standard library's: integers of any size, unlike orjson)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


# -- strategies, one per family ---------------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=25,
)
ids = st.one_of(st.integers(-(2**63), 2**63), st.text(max_size=20))


def _post(family: str, body: bytes, **kwargs: Any) -> Case:
    return Case(family, http_request(body, **kwargs))


@st.composite
def malformed_json(draw: st.DrawFn) -> Case:
    valid = dumps(message("tools/call", {"name": "echo", "arguments": {"message": draw(st.text(max_size=30))}}))
    body = draw(
        st.one_of(
            st.binary(max_size=512),
            st.integers(0, len(valid) - 1).map(lambda n: valid[:n]),  # truncated
            st.text(max_size=200).map(lambda t: t.encode()),
            st.sampled_from([b"{", b"}", b"[", b'{"jsonrpc":"2.0",}', b"{'a':1}", b"NaN", b"\x00", b"{}{}", b"1 2"]),
            st.tuples(st.just(valid), st.binary(min_size=1, max_size=20)).map(lambda p: p[0] + p[1]),  # trailing junk
        )
    )
    return _post("malformed JSON", body)


INVALID_UTF8 = [b"\xff", b"\xfe", b"\xc0\x80", b"\xc3", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xf4\x90\x80\x80", b"\x80"]


@st.composite
def invalid_utf8(draw: st.DrawFn) -> Case:
    text = dumps(message("tools/call", {"name": "echo", "arguments": {"message": "abcdef"}}))
    where = draw(st.integers(0, len(text)))
    bad = draw(st.lists(st.sampled_from(INVALID_UTF8), min_size=1, max_size=3))
    if draw(st.booleans()):  # inside a string, where a lenient parser might let it through
        where = text.index(b"abcdef") + draw(st.integers(0, 6))
    body = text[:where] + b"".join(bad) + text[where:]
    encoding = draw(st.sampled_from(["", "utf-16", "utf-16-le", "utf-32"]))
    if encoding:  # valid JSON, wrong encoding
        body = dumps(message("ping")).decode().encode(encoding)
    return _post("invalid UTF-8 and other encodings", body)


@st.composite
def wrong_types(draw: st.DrawFn) -> Case:
    fields: dict[str, Any] = {
        "jsonrpc": draw(st.one_of(st.just("2.0"), json_values)),
        "id": draw(st.one_of(ids, json_values)),
        "method": draw(st.one_of(st.sampled_from(METHODS), json_values)),
        "params": draw(
            st.one_of(json_values, st.dictionaries(st.sampled_from(["name", "arguments", "_meta"]), json_values))
        ),
    }
    dropped = draw(st.sets(st.sampled_from(list(fields))))
    body = dumps({k: v for k, v in fields.items() if k not in dropped})
    answers = 0 if "id" in dropped else 1  # a notification (no id) may get 202 and no body
    return Case("wrong types", http_request(body), min_responses=min(answers, 1))


@st.composite
def huge_and_deep(draw: st.DrawFn) -> Case:
    kind = draw(
        st.sampled_from(["deep arrays", "deep objects", "long string", "big number", "many keys", "wide array"])
    )
    if kind == "deep arrays":
        depth = draw(st.integers(1, 200_000))
        inner = b"[" * depth + b"]" * depth
    elif kind == "deep objects":
        depth = draw(st.integers(1, 50_000))
        inner = b'{"a":' * depth + b"1" + b"}" * depth
    elif kind == "long string":
        inner = dumps("x" * draw(st.integers(0, 1_000_000)))
    elif kind == "big number":
        inner = b"9" * draw(st.integers(1, 100_000)) + draw(st.sampled_from([b"", b".5", b"e999999", b"e-999999"]))
    elif kind == "many keys":
        inner = dumps({str(i): i for i in range(draw(st.integers(0, 60_000)))})
    else:
        inner = dumps(list(range(draw(st.integers(0, 150_000)))))
    where = draw(st.sampled_from(["arguments", "params", "id"]))
    if where == "arguments":
        body = (
            b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":'
            + inner
            + b"}}}"
        )
    elif where == "params":
        body = b'{"jsonrpc":"2.0","id":1,"method":"ping","params":' + inner + b"}"
    else:
        body = b'{"jsonrpc":"2.0","id":' + inner + b',"method":"ping"}'
    return Case("huge and deeply nested values", http_request(body))


@st.composite
def batches(draw: st.DrawFn) -> Case:
    items = draw(
        st.lists(st.one_of(st.builds(message, st.sampled_from(METHODS), st.none(), ids), json_values), max_size=40)
    )
    return _post("batch arrays", dumps(items))


@st.composite
def unknown_methods(draw: st.DrawFn) -> Case:
    if draw(st.booleans()):
        body = message(
            draw(st.text(max_size=300)),
            draw(st.one_of(st.none(), st.dictionaries(st.text(max_size=8), json_values, max_size=3))),
        )
    else:
        name = draw(
            st.one_of(st.text(max_size=300), st.sampled_from([n.upper() for n in TOOLS] + [n + " " for n in TOOLS]))
        )
        body = message(
            "tools/call",
            {"name": name, "arguments": draw(st.dictionaries(st.text(max_size=8), json_values, max_size=3))},
        )
    return _post("unknown methods and tools", dumps(body))


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid for the JSON Schema subset the tool registry derives from type hints (object, string, integer,
    number, boolean, array; enum, lengths, bounds, required); anything else in a schema fails loudly here."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        return st.text(min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 300), 300))
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        return st.floats(schema.get("minimum"), schema.get("maximum"), allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {})), max_size=10)
    if kind == "object":
        properties = schema.get("properties", {})
        required = set(schema.get("required", ()))
        return st.fixed_dictionaries(
            {k: from_schema(v) for k, v in properties.items() if k in required},
            optional={k: from_schema(v) for k, v in properties.items() if k not in required},
        )
    raise ValueError(f"no strategy for the schema {schema}")


TOOL_ARGUMENTS = {name: from_schema(schema) for name, schema in TOOLS.items()}


@st.composite
def tool_arguments(draw: st.DrawFn) -> Case:
    name = draw(st.sampled_from(sorted(TOOLS)))
    arguments: Any = draw(TOOL_ARGUMENTS[name])
    mutation = draw(st.sampled_from(["none", "drop", "add", "retype", "replace all", "out of range"]))
    if mutation == "drop" and arguments:
        arguments.pop(draw(st.sampled_from(sorted(arguments))))
    elif mutation == "add":
        arguments[draw(st.text(max_size=20))] = draw(json_values)
    elif mutation == "retype" and arguments:
        arguments[draw(st.sampled_from(sorted(arguments)))] = draw(json_values)
    elif mutation == "replace all":
        arguments = draw(json_values)
    elif mutation == "out of range":
        for key, spec in TOOLS[name]["properties"].items():
            if spec.get("type") == "integer":
                arguments[key] = draw(st.sampled_from([-1, 0, 2**31, 2**63, -(2**63) - 1, 10**30]))
    family = "tool arguments from inputSchema" + ("" if mutation == "none" else ", mutated")
    return _post(family, dumps(message("tools/call", {"name": name, "arguments": arguments})))


_header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)
_any_header_value = st.one_of(
    _header_text, st.text(st.characters(min_codepoint=0x80, max_codepoint=0xFF), max_size=20), st.just("")
)


@st.composite
def bad_headers(draw: st.DrawFn) -> Case:
    headers: list[tuple[str, str]] = []
    choices = {
        "Content-Type": st.one_of(
            st.sampled_from(
                [
                    "text/plain",
                    "application/json; charset=utf-16",
                    "application/jsonx",
                    "",
                    "\0omit",
                    "application/ld+json",
                    "multipart/form-data; boundary=x",
                    "APPLICATION/JSON",
                ]
            ),
            _any_header_value,
        ),
        "Accept": st.one_of(
            st.sampled_from(["text/html", "text/event-stream", "*/*", "", "application/*;q=0"]), _any_header_value
        ),
        "MCP-Protocol-Version": st.one_of(
            st.sampled_from([*SERVED_VERSIONS, "2099-01-01", "", "2025-11-25 "]), _any_header_value
        ),
        "Origin": st.one_of(
            st.sampled_from(["http://evil.example", "null", "http://127.0.0.1", "file://"]), _any_header_value
        ),
        "Host": st.one_of(
            st.sampled_from(["evil.example", "127.0.0.1:1", "localhost", "[::1]", "", "\0omit", "a" * 300]),
            _any_header_value,
        ),
        "Mcp-Method": st.one_of(
            st.sampled_from(["ping", "tools/call", "=?base64?cGluZw==?=", "=?base64?!!?="]), _any_header_value
        ),
        "Mcp-Name": st.one_of(st.sampled_from(["echo", "=?base64?ZWNobw==?=", "=?base64?ZWNobw?="]), _any_header_value),
    }
    for name in draw(st.sets(st.sampled_from(sorted(choices)), min_size=1)):
        headers.append((name, draw(choices[name])))
    stateless = draw(st.booleans())
    params: dict[str, Any] = {"name": "echo", "arguments": {"message": "m"}}
    if stateless:
        params["_meta"] = {
            "io.modelcontextprotocol/protocolVersion": STATELESS_VERSION,
            "io.modelcontextprotocol/clientCapabilities": {},
        }
    body = dumps(message(draw(st.sampled_from(["tools/call", "ping", "tools/list"])), params))
    data = http_request(body, headers=headers)
    # A header value with bytes outside visible ASCII may be refused by the parser (400) or passed on.
    return Case("bad headers", data)


@st.composite
def oversized(draw: st.DrawFn) -> Case:
    kind = draw(st.sampled_from(["body", "declared body", "one header", "many headers", "URL"]))
    if kind == "body":
        body = (
            b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"'
            + b"x" * draw(st.integers(1_048_400, 1_200_000))
            + b'"}}'
        )
        return _post("oversized bodies and headers", body)
    if kind == "declared body":
        size = draw(st.integers(1_048_577, 2**62))
        data = http_request(b"", content_length=False, headers=[("Content-Length", str(size))])
        return Case("oversized bodies and headers", data, min_responses=1)
    if kind == "one header":
        return _post(
            "oversized bodies and headers", b"{}", headers=[("X-Big", "a" * draw(st.integers(16_000, 70_000)))]
        )
    if kind == "many headers":
        count = draw(st.integers(95, 400))
        return _post("oversized bodies and headers", b"{}", headers=[(f"X-H{i}", "v") for i in range(count)])
    path = "/mcp?" + "a" * draw(st.integers(8_000, 40_000))
    return _post("oversized bodies and headers", b"{}", path=path)


PING_BODY = dumps(message("ping"))


@st.composite
def smuggling(draw: st.DrawFn) -> Case:
    body = PING_BODY
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    te = draw(
        st.sampled_from(
            [
                "chunked",
                " chunked",
                "chunked ",
                "xchunked",
                "chunked, identity",
                "identity, chunked",
                "CHUNKED",
                "chunked\x0b",
                "gzip, chunked",
            ]
        )
    )
    cl = draw(st.sampled_from([str(len(body)), str(len(chunked)), "0", "+5", "-1", "5, 5", "1e3", " 5", "0x10"]))
    kind = draw(st.sampled_from(["CL and TE", "two CL", "TE only", "bad chunk", "obs-fold", "bare LF", "NUL"]))
    head = f"POST {MCP} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
    if kind == "CL and TE":
        order = draw(st.booleans())
        lines = [f"Content-Length: {cl}", f"Transfer-Encoding: {te}"]
        data = (head + "\r\n".join(lines if order else lines[::-1]) + "\r\n\r\n").encode() + chunked
    elif kind == "two CL":
        data = (head + f"Content-Length: {len(body)}\r\nContent-Length: {cl}\r\n\r\n").encode() + body
    elif kind == "TE only":
        data = (head + f"Transfer-Encoding: {te}\r\n\r\n").encode() + chunked
    elif kind == "bad chunk":
        size = draw(st.sampled_from([b"zz", b"-1", b"ffffffffffffffffff", b"5;ext=\x00", b"", b"0x5", b"5 5"]))
        data = (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + size + b"\r\n" + body + b"\r\n0\r\n\r\n"
    elif kind == "obs-fold":
        data = (head + f"Content-Length:\r\n {len(body)}\r\n\r\n").encode() + body
    elif kind == "bare LF":
        data = head.replace("\r\n", "\n").encode() + f"Content-Length: {len(body)}\n\n".encode() + body
    else:
        data = (head + f"Content-Length: {len(body)}\r\nX-A: a\x00b\r\n\r\n").encode() + body
    tail = draw(st.sampled_from([b"", b"GET /smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"]))
    # Whatever the framing, one connection may get at most one answer per request it could hold.
    return Case("request smuggling", data + tail, min_responses=0, max_responses=1 + (tail != b""))


@st.composite
def pipelined_garbage(draw: st.DrawFn) -> Case:
    good = draw(st.integers(1, 6))
    data = b"".join(http_request(dumps(message("ping", None, i))) for i in range(good))
    garbage = draw(
        st.one_of(
            st.binary(min_size=1, max_size=300), st.sampled_from([b"\r\n\r\n", b"GET", b"HTTP/1.1 200 OK\r\n\r\n"])
        )
    )
    return Case("pipelined garbage", data + garbage, min_responses=good, max_responses=good + 1)


FAMILIES: dict[str, Callable[[], st.SearchStrategy[Case]]] = {
    "malformed JSON": malformed_json,
    "invalid UTF-8 and other encodings": invalid_utf8,
    "wrong types": wrong_types,
    "huge and deeply nested values": huge_and_deep,
    "batch arrays": batches,
    "unknown methods and tools": unknown_methods,
    "tool arguments from inputSchema": tool_arguments,
    "bad headers": bad_headers,
    "oversized bodies and headers": oversized,
    "request smuggling": smuggling,
    "pipelined garbage": pipelined_garbage,
}


# -- exchanging and checking ------------------------------------------------------------------------------------------


class _Responses:
    """httptools response-parser callbacks, collecting complete responses."""

    def __init__(self) -> None:
        self.done: list[Answer] = []
        self.parser: Any = None
        self._status = 0
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []

    def on_headers_complete(self) -> None:
        self._status = self.parser.get_status_code()

    def on_message_begin(self) -> None:
        self._headers = {}
        self._body = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self.done.append(Answer(self._status, self._headers, b"".join(self._body)))


def exchange(port: int, case: Case, *, timeout_s: float = 8.0, settle_s: float = 0.15) -> Exchange:
    """Write the case on a new connection and read the answers (see the module docstring)."""
    started = time.monotonic()
    collected = _Responses()
    parser = collected.parser = httptools.HttpResponseParser(collected)
    closed = False
    malformed: str | None = None
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
    # Close with a reset: a hundred thousand connections must not pile up in TIME_WAIT on the client's ports.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    try:
        # Refused before the whole request was written (413 at the headers): read what the server said.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(case.data)
        while len(collected.done) < case.max_responses:
            remaining = timeout_s - (time.monotonic() - started)
            if remaining <= 0:
                break
            if len(collected.done) >= case.min_responses:
                # What was due has come; a request left incomplete would only get its 408 at the request timeout.
                remaining = min(remaining, settle_s)
            sock.settimeout(remaining)
            try:
                chunk = sock.recv(262144)
            except TimeoutError:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            try:
                parser.feed_data(chunk)
            except httptools.HttpParserError as ex:
                malformed = f"invalid HTTP from the server: {ex!r}"
                break
    finally:
        sock.close()
    return Exchange(collected.done, closed, malformed, time.monotonic() - started)


# Every repetition is bounded: a body may be a megabyte of one word, and `\w+\.py` would backtrack over it for ever.
LEAK_PATTERNS = [
    re.compile(rb"Traceback \(most recent call last\)"),
    re.compile(rb'File "[^"\n]{1,300}", line \d+'),
    re.compile(rb"(/work/|/usr/lib/python|site-packages|\.venv/|\b\w{1,64}\.py\b)"),
    re.compile(rb"\b[A-Z][A-Za-z]{0,60}(Error|Exception|Warning)\b"),
    re.compile(rb"\b(asyncpg|pydantic|pydantic_core|starlette|uvicorn|httptools|orjson|gunicorn)\b"),
    re.compile(rb"<(function|object|coroutine|bound method) [^>]{0,300}>"),
]


def leaks(body: bytes, request: bytes) -> list[str]:
    """Internals in a response body that the request did not bring (an echo of client input is not a leak)."""
    found = []
    for pattern in LEAK_PATTERNS:
        for match in pattern.finditer(body):
            if match.group(0) not in request:
                found.append(match.group(0).decode("latin-1"))
    return found


def problems(case: Case, result: Exchange) -> list[str]:
    """What is wrong with the server's answers to this case (empty: all good)."""
    found: list[str] = []
    if result.malformed:
        found.append(result.malformed)
    count = len(result.answers)
    if count > case.max_responses:
        found.append(f"{count} responses to a stream that holds at most {case.max_responses} requests")
    if count < case.min_responses:
        how = "closed the connection" if result.closed else f"neither answered nor closed in {result.elapsed_s:.1f} s"
        found.append(f"{count} responses where {case.min_responses} were due: the server {how}")
    for answer in result.answers:
        found.extend(answer_problems(answer, case.data))
    return found


def answer_problems(answer: Answer, request: bytes) -> list[str]:
    found: list[str] = []
    if not 200 <= answer.status < 500:
        found.append(f"status {answer.status}")
    if answer.status == 202:
        if answer.body:
            found.append("a 202 with a body")
        return found
    if not answer.headers.get("content-type", "").startswith("application/json"):
        found.append(f"content-type {answer.headers.get('content-type')!r} on a status {answer.status}")
    try:
        body = response_json(answer.body)
    except ValueError:
        return [*found, f"a body that is not JSON: {answer.body[:120]!r}"]
    found.extend(json_rpc_problems(body))
    leaked = leaks(answer.body, request)
    if leaked:
        found.append(f"internals in the body: {leaked[:3]}")
    return found


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def response_json(raw: bytes) -> Any:
    """A response body as JSON, strictly (UTF-8, no NaN or Infinity), keeping integers exact: an id such as
    99999999999999999999 echoed back is an integer, which orjson would read as a float (it stops at 64 bits)."""
    return json.loads(raw.decode("utf-8"), parse_constant=_no_constant)


def json_rpc_problems(body: Any) -> list[str]:
    if not isinstance(body, dict) or body.get("jsonrpc") != "2.0" or "id" not in body:
        return [f"not a JSON-RPC response: {str(body)[:120]}"]
    if body["id"] is not None and not isinstance(body["id"], JSON_RPC_ID):
        return [f"id of type {type(body['id']).__name__}"]
    if ("result" in body) == ("error" in body):
        return ["a response must hold exactly one of result and error"]
    if "error" in body:
        error = body["error"]
        if (
            not isinstance(error, dict)
            or type(error.get("code")) is not int
            or not isinstance(error.get("message"), str)
        ):
            return [f"a malformed error object: {str(error)[:120]}"]
    return []


@dataclass
class FamilyTally:
    """What one family sent to one server and what came back."""

    sent: int = 0
    answers: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    slowest_s: float = 0.0

    def add(self, result: Exchange, found: list[str], case: Case) -> None:
        self.sent += 1
        self.answers += len(result.answers)
        self.statuses.update(a.status for a in result.answers)
        self.slowest_s = max(self.slowest_s, result.elapsed_s)
        if found and len(self.failures) < 5:
            self.failures.append(f"{found[:3]} for {case.data[:300]!r}")

    def as_json(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "answers": self.answers,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "failures": self.failures,
            "slowest_s": round(self.slowest_s, 3),
        }
