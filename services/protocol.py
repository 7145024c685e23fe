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
from collections.abc import Iterable
from typing import Literal

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
