"""The MCP protocol rules both servers share, written once: revisions and their era, error codes, media types, the
Host/Origin policy (DNS-rebinding protection) and the pagination cursor format.

Dependency-free (standard library only) and free of I/O: the native server (`services/mcp_server/`) and the FastAPI
baseline (`services/fastapi_baseline/`) each apply these rules with their own request handling. Nothing here knows
HTTP framing, JSON-RPC envelopes or tools. Public source: the Model Context Protocol specification,
<https://modelcontextprotocol.io/specification>, over JSON-RPC 2.0 <https://www.jsonrpc.org/specification>.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, NamedTuple

# -- revisions --------------------------------------------------------------------------------------------------

HANDSHAKE_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")  # the handshake era (initialize), newest first
LATEST_HANDSHAKE_VERSION = HANDSHAKE_VERSIONS[0]
STATELESS_VERSION = "2026-07-28"  # no initialize: server/discover, _meta on every request, Mcp-Method/Mcp-Name

Era = Literal["handshake", "stateless"]


def era_of(version: str | None, served: Iterable[str] = HANDSHAKE_VERSIONS) -> Era | None:
    """The era a request speaks, from its `MCP-Protocol-Version` header (`None`: absent), or `None` when that
    revision is not among `served`. An absent header is the handshake era: a 2025-03-26 client does not send it."""
    if version is None:
        return "handshake"
    if version not in served:
        return None
    return "stateless" if version == STATELESS_VERSION else "handshake"


# -- error codes (JSON-RPC 2.0, then MCP) --------------------------------------------------------------------------

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_OVERLOADED = -32000  # the implementation-defined server error range
HEADER_MISMATCH = -32020  # 2026-07-28: Mcp-Method/Mcp-Name disagree with the body
MISSING_CLIENT_CAPABILITY = -32021  # 2026-07-28: the request needs a capability the client did not declare
UNSUPPORTED_PROTOCOL_VERSION = -32022  # 2026-07-28; also the answer to an unserved MCP-Protocol-Version header
# resources/read of an unknown URI in the handshake era; the 2026-07-28 era answers INVALID_PARAMS (SEP-2164), both
# with `data: {"uri": …}`.
RESOURCE_NOT_FOUND = -32002

# Bounded echoes of client input in error messages (never more than this many characters).
ECHO_METHOD_CHARS = 100
ECHO_TOOL_CHARS = 128
ECHO_VERSION_CHARS = 40

# -- media types ---------------------------------------------------------------------------------------------------

JSON = "application/json"
EVENT_STREAM = "text/event-stream"
_JSON_ACCEPTED = frozenset((JSON, "application/*", "*/*"))


def media_type(value: str) -> str:
    """The bare media type of a Content-Type or Accept entry: parameters dropped, lower case."""
    return value.split(";", 1)[0].strip().lower()


def is_json(content_type: str) -> bool:
    """Whether a request's Content-Type is `application/json` (parameters such as `charset` allowed)."""
    return media_type(content_type) == JSON


def accepts_json(accept: str) -> bool:
    """Whether an Accept header admits a JSON response (`application/json`, `application/*` or `*/*`)."""
    return any(media_type(part) in _JSON_ACCEPTED for part in accept.split(","))


_SSE_ACCEPTED = frozenset(("text/event-stream", "text/*", "*/*"))


def accepts_sse(accept: str) -> bool:
    """Whether an Accept header admits a `text/event-stream` response (wildcards included; `q=0` refuses it)."""
    for part in accept.split(","):
        media, _, params = part.partition(";")
        if media.strip().lower() in _SSE_ACCEPTED and not _q_zero(params):
            return True
    return False


def _q_zero(params: str) -> bool:
    """Whether media-type parameters carry `q=0` (the type is not acceptable)."""
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value.strip()) == 0
            except ValueError:
                return False
    return False


# -- Host and Origin (DNS-rebinding protection) --------------------------------------------------------------------

LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]", "::1")


def host_allow_list(bind_host: str, configured: Iterable[str] = ()) -> frozenset[str]:
    """Host names (without port) accepted in the Host header; empty means no check.

    Configured names win; a server bound to a local address accepts only local names (a page the user visits cannot
    reach it through DNS rebinding); bound to a routable address behind a load balancer, there is no check."""
    names = frozenset(h.strip().lower() for h in configured if h.strip())
    if names:
        return names
    return frozenset(LOCAL_HOSTS) if bind_host in LOCAL_HOSTS else frozenset()


def host_name(host: str) -> str:
    """A Host header's name without its port (`[::1]:8000` -> `[::1]`), lower case."""
    name = host.strip().lower()
    if name.startswith("["):
        return name[: name.find("]") + 1]
    return name.rsplit(":", 1)[0] if ":" in name else name


def host_allowed(host: str | None, allowed_hosts: frozenset[str]) -> bool:
    """Whether a request with this Host header (None: absent) may be served; call only when the list is not empty."""
    return host is not None and host_name(host) in allowed_hosts


def origin_allowed(origin: str, *, allowed_origins: frozenset[str], allowed_hosts: frozenset[str]) -> bool:
    """Whether a request carrying this `Origin` may reach the MCP endpoint (a request without one always may).

    Allowed: the configured origins (lower case; `*` for any) and, while the Host check is on, same-machine origins."""
    text = origin.strip().lower()
    if "*" in allowed_origins or text in allowed_origins:
        return True
    return bool(allowed_hosts) and host_allowed(text.split("://", 1)[-1], allowed_hosts)


def loopback_peer(address: str | None) -> bool:
    """Whether a connection's peer address is this machine (127.0.0.0/8, ::1, an IPv4-mapped loopback). `/metrics`
    answers only such peers unless configured otherwise: the instance's metrics bridge and local tools scrape over
    loopback, and a load balancer's or anyone else's connection is not loopback, however the path is encoded."""
    if not address:
        return False
    import ipaddress  # here: asked only by a /metrics request

    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return (mapped or ip).is_loopback


HOST_REFUSED = "Forbidden: Host not allowed"  # 403, error INVALID_REQUEST, id null
ORIGIN_REFUSED = "Forbidden: Origin not allowed"  # 403, error INVALID_REQUEST, id null

# -- pagination ----------------------------------------------------------------------------------------------------


class InvalidCursor(ValueError):
    """A cursor this server did not issue for this list (answered with INVALID_PARAMS)."""


def encode_cursor(kind: str, page: int) -> str:
    """The opaque `nextCursor` for page `page` of the list `kind` ("tools", ...): base64url of `<kind>:<page>`.

    One format for both servers, so a client moved between them by a cutover can go on paging."""
    return base64.urlsafe_b64encode(f"{kind}:{page}".encode()).decode()


def decode_cursor(kind: str, cursor: str, pages: int) -> int:
    """The page a cursor of the list `kind` points to; raises InvalidCursor unless it is one of `pages` pages."""
    try:
        found, _, raw_page = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii").partition(":")
        page = int(raw_page)
    except (ValueError, UnicodeError, binascii.Error):
        raise InvalidCursor(cursor) from None
    if found != kind or not 0 <= page < pages:
        raise InvalidCursor(cursor)
    return page


# initialize needs these params (2025-11-25 schema, InitializeRequestParams); without them it is INVALID_PARAMS.
INITIALIZE_PARAMS_INVALID = (
    "initialize: params need protocolVersion (string), capabilities (object) and clientInfo (object)"
)

# -- the stateless era (2026-07-28) ---------------------------------------------------------------------------------

SERVED_VERSIONS = (STATELESS_VERSION, *HANDSHAKE_VERSIONS)  # both eras on one endpoint, newest first
META_PROTOCOL_VERSION = "io.modelcontextprotocol/protocolVersion"
META_CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
META_SERVER_INFO = "io.modelcontextprotocol/serverInfo"
META_LOG_LEVEL = "io.modelcontextprotocol/logLevel"
"""2026-07-28: the lowest level of `notifications/message` the client wants for this request (no level: none)."""
# The body parameter a method's `Mcp-Name` header must repeat.
NAME_PARAMS = {
    "tools/call": "name",
    "prompts/get": "name",
    "resources/read": "uri",
    # the tasks extension (SEP-2663, "Streamable HTTP: Routing Headers"): Mcp-Name carries the task id
    "tasks/get": "taskId",
    "tasks/update": "taskId",
    "tasks/cancel": "taskId",
}
# Handshake-era methods that do not exist in the stateless era (answered as unknown methods there).
HANDSHAKE_ONLY_METHODS = frozenset(("initialize", "ping", "logging/setLevel"))
DISCOVER_METHOD = "server/discover"  # the stateless era's only method of its own
# How long a client may reuse a list result, and for whom: the tool list is fixed per release and the same for every
# caller; a minute bounds how long a client keeps the old list after a cutover to a release with other tools.
LIST_TTL_MS = 60_000
LIST_CACHE_SCOPE = "public"

# In the stateless era a JSON-RPC error's code decides the HTTP status (the rest are 200).
STATELESS_ERROR_STATUS = {
    PARSE_ERROR: 400,
    INVALID_REQUEST: 400,
    INVALID_PARAMS: 400,
    HEADER_MISMATCH: 400,
    MISSING_CLIENT_CAPABILITY: 400,
    UNSUPPORTED_PROTOCOL_VERSION: 400,
    METHOD_NOT_FOUND: 404,
}


class Rejection(NamedTuple):
    """A request refused before its method runs: the JSON-RPC error to answer, with HTTP status 400."""

    code: int
    message: str
    data: Any = None


def unsupported_version(requested: str) -> Rejection:
    """The answer to a revision this server does not serve (`MCP-Protocol-Version` or `_meta`)."""
    return Rejection(
        UNSUPPORTED_PROTOCOL_VERSION,
        f"Unsupported protocol version: {requested[:ECHO_VERSION_CHARS]}",
        {"supported": list(SERVED_VERSIONS), "requested": requested[:ECHO_VERSION_CHARS]},
    )


def decode_header_value(value: str | None) -> str | None:
    """An `Mcp-Name`/`Mcp-Method` header value without surrounding whitespace (RFC 9110, section 5.5), or the UTF-8
    text of a `=?base64?…?=` value (None when that does not decode, so a corrupt header never matches a body value)."""
    if value is None:
        return None
    value = value.strip(" \t")
    if not (value.startswith("=?base64?") and value.endswith("?=") and len(value) >= 11):
        return value
    payload = value[9:-2]
    try:
        decoded = base64.b64decode(payload, validate=True)
        if base64.b64encode(decoded).decode("ascii") != payload:  # only the canonical form
            return None
        return decoded.decode("utf-8")
    except (binascii.Error, UnicodeError):
        return None


_META_MISSING = Rejection(
    INVALID_PARAMS, f"params._meta must carry {META_PROTOCOL_VERSION!r} and {META_CLIENT_CAPABILITIES!r}"
)


def check_stateless_request(
    method: str, params: Any, *, version_header: str, method_header: str | None, name_header: str | None
) -> Rejection | None:
    """The checks of a 2026-07-28 request before its method runs, from its raw `MCP-Protocol-Version`, `Mcp-Method`
    and `Mcp-Name` header values (`check_stateless_decoded` has the rules)."""
    return check_stateless_decoded(
        method,
        params,
        version_header=version_header.strip(" \t"),
        method_header=decode_header_value(method_header),
        name_header=decode_header_value(name_header),
    )


def check_stateless_decoded(
    method: str, params: Any, *, version_header: str, method_header: str | None, name_header: str | None
) -> Rejection | None:
    """The checks of a 2026-07-28 request before its method runs, first failure wins: `params._meta` carries the
    protocol version and client capabilities (else INVALID_PARAMS); the `MCP-Protocol-Version`, `Mcp-Method` and,
    for a named method, `Mcp-Name` headers repeat the body (else HEADER_MISMATCH); the version is served (else
    UNSUPPORTED_PROTOCOL_VERSION). The header values come stripped and decoded (`decode_header_value`), so a
    server may decode each distinct value once. Every request of the era runs this: it is written for the common
    case, which raises nothing."""
    try:
        meta = params["_meta"]
        version = meta[META_PROTOCOL_VERSION]
        meta[META_CLIENT_CAPABILITIES]  # only its presence is checked
    except (KeyError, TypeError):  # no params or no _meta, _meta not an object, a field missing
        return _META_MISSING
    if version_header != version:
        return Rejection(HEADER_MISMATCH, "MCP-Protocol-Version header does not match params._meta")
    if method_header != method:
        return Rejection(HEADER_MISMATCH, "Mcp-Method header does not match the request's method")
    name_param = NAME_PARAMS.get(method)
    if name_param is not None:
        name = params.get(name_param)
        if name is not None and name_header != name:
            return Rejection(HEADER_MISMATCH, f"Mcp-Name header does not match params.{name_param}")
    if version != STATELESS_VERSION:
        return unsupported_version(str(version))
    return None


def stateless_result(result: dict[str, Any], *, listing: bool = False) -> dict[str, Any]:
    """A method's result as the stateless era sends it: `resultType` always ("complete" unless the result names its
    own, e.g. an InputRequiredResult's "input_required"), `ttlMs`/`cacheScope` on lists."""
    extra: dict[str, Any] = {"resultType": result.get("resultType", "complete")}
    if listing:
        extra["ttlMs"] = LIST_TTL_MS
        extra["cacheScope"] = LIST_CACHE_SCOPE
    return {**result, **extra}


def discover_result(
    *, capabilities: dict[str, Any], server_name: str, server_version: str, instructions: str | None = None
) -> dict[str, Any]:
    """The `server/discover` result."""
    result: dict[str, Any] = {"resultType": "complete", "supportedVersions": list(SERVED_VERSIONS)}
    result["capabilities"] = capabilities
    if instructions:
        result["instructions"] = instructions
    result["ttlMs"] = LIST_TTL_MS
    result["cacheScope"] = LIST_CACHE_SCOPE
    result["_meta"] = {META_SERVER_INFO: {"name": server_name, "version": server_version}}
    return result


# -- tool parameters mirrored into headers (2026-07-28: `x-mcp-header`, `Mcp-Param-{Name}`) ----------------------

PARAM_HEADER_KEYWORD = "x-mcp-header"
PARAM_HEADER_PREFIX = "mcp-param-"  # header names compared in lower case (RFC 9110: field names are case-insensitive)
PARAM_HEADER_TYPES = frozenset(("string", "integer", "boolean"))
_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_SAFE_INTEGER = 2**53 - 1  # JavaScript's safe range: the only integers a header may mirror


class ParamHeader(NamedTuple):
    """One `x-mcp-header` annotation of a tool's inputSchema: the header (`mcp-param-<name>`, lower case), the chain of
    `properties` keys leading to the argument, and the argument's type (string, integer or boolean)."""

    header: str
    path: tuple[str, ...]
    kind: str


def param_headers(input_schema: Any) -> tuple[ParamHeader, ...]:
    """The `x-mcp-header` annotations of a tool's inputSchema, checked against the transport specification's
    constraints (a header-name token, unique case-insensitively, on a string, integer or boolean property reachable
    from the root through `properties` keys only); raises ValueError naming the first violation. A tool whose
    annotation is invalid would be dropped by every conforming client, so it is refused at registration."""
    found: list[ParamHeader] = []
    _walk_param_headers(input_schema, (), True, found)
    seen: set[str] = set()
    for spec in found:
        if spec.header in seen:
            raise ValueError(
                f"x-mcp-header {spec.header[len(PARAM_HEADER_PREFIX) :]!r} is used twice (case-insensitively)"
            )
        seen.add(spec.header)
    return tuple(found)


def _walk_param_headers(schema: Any, path: tuple[str, ...], reachable: bool, found: list[ParamHeader]) -> None:
    if isinstance(schema, list):
        for item in schema:
            _walk_param_headers(item, path, False, found)
        return
    if not isinstance(schema, dict):
        return
    if PARAM_HEADER_KEYWORD in schema:
        name = schema[PARAM_HEADER_KEYWORD]
        where = ".".join(path) or "the root"
        if not reachable or not path:
            raise ValueError(f"x-mcp-header at {where}: only on a property reached through `properties` keys alone")
        if not isinstance(name, str) or not name or not set(name) <= _TCHAR:
            raise ValueError(f"x-mcp-header {name!r} at {where}: must be a non-empty HTTP header-name token")
        kind = schema.get("type")
        if kind not in PARAM_HEADER_TYPES:
            raise ValueError(
                f"x-mcp-header {name!r} at {where}: the property must be of type string, integer or boolean"
            )
        found.append(ParamHeader(PARAM_HEADER_PREFIX + name.lower(), path, kind))
    for key, sub in schema.items():
        if key in ("const", "enum", "default", "examples"):  # values, not schemas
            continue
        if key == "properties" and isinstance(sub, dict):
            for prop, prop_schema in sub.items():
                _walk_param_headers(prop_schema, (*path, prop), reachable, found)
        elif key != PARAM_HEADER_KEYWORD:
            _walk_param_headers(sub, path, False, found)


def _param_value(arguments: Any, path: tuple[str, ...]) -> Any:
    value = arguments
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _header_matches(text: str, value: Any, kind: str) -> bool:
    if kind == "boolean":
        return type(value) is bool and text == ("true" if value else "false")
    if kind == "integer":
        if type(value) is bool or not isinstance(value, int | float):
            return False
        try:
            number = float(text) if any(c in text for c in ".eE") else int(text, 10)
        except ValueError:
            return False
        return abs(value) <= _SAFE_INTEGER and number == value  # compared as numbers: 42.0 and 42 agree
    return isinstance(value, str) and text == value


def check_param_headers(
    specs: tuple[ParamHeader, ...], arguments: Any, header: Callable[[str], str | None]
) -> Rejection | None:
    """The `Mcp-Param-{Name}` headers of a 2026-07-28 tools/call against its arguments, for a tool that declares
    `x-mcp-header` parameters (`param_headers`); `header` reads a request header by its lower-case name (None:
    absent). An argument given in the body needs its header, carrying the same value (decoded from `=?base64?…?=`
    when so wrapped; integers compared as numbers); a null or absent argument needs none, and a header without its
    argument mismatches. Every failure is HEADER_MISMATCH (HTTP 400), as are a header with characters outside visible
    ASCII, space and tab and a wrapped value that is not canonical Base64."""
    for spec in specs:
        raw = header(spec.header)
        value = _param_value(arguments, spec.path)
        shown = "Mcp-Param-" + spec.header[len(PARAM_HEADER_PREFIX) :]
        if raw is None:
            if value is None:
                continue
            return Rejection(HEADER_MISMATCH, f"{shown} header is required: arguments.{'.'.join(spec.path)} is set")
        if any(not (" " <= c <= "~" or c == "\t") for c in raw):
            return Rejection(HEADER_MISMATCH, f"{shown} header contains characters outside visible ASCII")
        text = decode_header_value(raw)
        if text is None:
            return Rejection(HEADER_MISMATCH, f"{shown} header is not valid =?base64?…?= (canonical Base64 of UTF-8)")
        if value is None or not _header_matches(text, value, spec.kind):
            return Rejection(HEADER_MISMATCH, f"{shown} header does not match arguments.{'.'.join(spec.path)}")
    return None


def param_headers_by_tool(tools: Iterable[tuple[str, Any]]) -> dict[str, tuple[ParamHeader, ...]]:
    """The tools, as (name, inputSchema) pairs, that mirror parameters into headers, with their annotations: what a
    server's 2026-07-28 tools/call checks (`check_call_param_headers`). Usually empty."""
    return {name: specs for name, schema in tools if (specs := param_headers(schema))}


def check_call_param_headers(
    by_tool: Mapping[str, tuple[ParamHeader, ...]], params: Any, header: Callable[[str], str | None]
) -> Rejection | None:
    """`check_param_headers` for a 2026-07-28 tools/call's params, when the named tool is in `by_tool`
    (`param_headers_by_tool`); None for any other tool or malformed params (the method refuses those itself)."""
    try:
        specs = by_tool.get(params["name"])
        arguments = params.get("arguments")
    except (KeyError, TypeError, AttributeError):
        return None
    return None if specs is None else check_param_headers(specs, arguments, header)


# -- JSON numbers ------------------------------------------------------------------------------------------------------
# The one rule of both servers (docs/protocol.md, "Numbers"), that of orjson, the native server's parser:
# - integers within 64 bits (-2^63 to 2^64 - 1) are exact;
# - an integer beyond 64 bits is the nearest double (as JavaScript's JSON.parse reads it), except the id, which
#   JSON-RPC lets be any integer and which is echoed exactly (services/mcp_server/jsonrpc.py reads it again);
#   RFC 8259, section 6: "good interoperability can be achieved by implementations that expect no more precision or
#   range than [IEEE 754 binary64] provide";
# - a number beyond a double (`1e999`) and the NaN / Infinity literals (not JSON) make the body a parse error (-32700).
# orjson does all of this itself, so the native server's hot path checks nothing more. The baseline's parsers
# (pydantic's, the standard library's) read every integer exactly and 1e999 as infinity, so the baseline reads a body
# that may hold such a number (`may_exceed_double`) again with `strict_json`.

INT64_MIN, UINT64_MAX = -(2**63), 2**64 - 1
_MAX_DOUBLE_INT = int(1.7976931348623157e308)
# Only a number with a positive exponent, a run of 19 digits (an integer beyond 64 bits has at least 19), or a literal
# can fall under the rule. The prefilter maps digits to 0 and E to e (one C pass) and looks for those shapes with
# substring tests, about three times cheaper than a regular expression; a match inside a string only costs the strict
# reading.
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789E", b"000000000e")
_DIGIT_RUN = b"0" * 19


def may_exceed_double(body: bytes) -> bool:
    """Whether `body` might hold a number the rule reads otherwise than an exact parser (an integer beyond 64 bits, a
    number beyond a double, a NaN/Infinity literal): then read it with strict_json."""
    shape = body.translate(_DIGITS_AS_ZERO)
    return b"0e0" in shape or b"0e+0" in shape or _DIGIT_RUN in shape or b"NaN" in body or b"Infinity" in body


def strict_json(text: str | bytes) -> Any:
    """`json.loads` under the rule above: json.JSONDecodeError for a number beyond a double or NaN/Infinity; an
    integer beyond 64 bits read as the nearest double, but for a top-level `id`, which keeps its exact value."""
    wide: list[int] = []

    def int64_or_double(digits: str) -> int | float:
        value = int(digits)
        if INT64_MIN <= value <= UINT64_MAX:
            return value
        if abs(value) > _MAX_DOUBLE_INT:
            raise json.JSONDecodeError("number beyond a double", digits, 0)
        wide.append(value)
        return float(value)

    value = json.loads(text, parse_float=_finite_float, parse_int=int64_or_double, parse_constant=_not_a_number)
    if wide and type(value) is dict and type(value.get("id")) is float:
        exact = [number for number in wide if float(number) == value["id"]]
        if exact:  # the id was written as an integer (a float literal id is not recorded: it stays a float)
            value["id"] = exact[0]
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise json.JSONDecodeError("number beyond a double", text, 0)
    return value


def _not_a_number(text: str) -> Any:
    raise json.JSONDecodeError(f"{text} is not JSON", text, 0)
