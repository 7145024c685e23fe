"""services/protocol.py: the protocol rules both servers share."""

from __future__ import annotations

import base64

import pytest

from services import protocol
from services.protocol import InvalidCursor, decode_cursor, encode_cursor


def test_era_of_absent_header_is_the_handshake_era() -> None:
    assert protocol.era_of(None) == "handshake"


def test_era_of_a_handshake_revision_is_the_handshake_era() -> None:
    assert all(protocol.era_of(v) == "handshake" for v in protocol.HANDSHAKE_VERSIONS)


def test_era_of_2026_07_28_is_the_stateless_era_when_served() -> None:
    served = (*protocol.HANDSHAKE_VERSIONS, protocol.STATELESS_VERSION)
    assert protocol.era_of("2026-07-28", served) == "stateless"


def test_era_of_an_unserved_revision_is_none() -> None:
    assert protocol.era_of("2026-07-28") is None
    assert protocol.era_of("2024-11-05") is None


def test_json_content_type_allows_parameters_and_case() -> None:
    assert protocol.is_json("Application/JSON; charset=utf-8")
    assert not protocol.is_json("application/vnd.api+json")
    assert not protocol.is_json("")


@pytest.mark.parametrize(
    "accept", ["application/json", "text/event-stream, application/json;q=0.9", "*/*", "application/*"]
)
def test_accepts_json_admits_json_and_wildcards(accept: str) -> None:
    assert protocol.accepts_json(accept)


def test_accepts_json_refuses_event_stream_only() -> None:
    assert not protocol.accepts_json("text/event-stream")


def test_host_allow_list_is_local_names_when_bound_locally() -> None:
    assert protocol.host_allow_list("127.0.0.1") == frozenset(protocol.LOCAL_HOSTS)


def test_host_allow_list_is_empty_on_a_routable_bind() -> None:
    assert protocol.host_allow_list("0.0.0.0") == frozenset()


def test_host_allow_list_configured_names_win() -> None:
    assert protocol.host_allow_list("127.0.0.1", ["MCP.example.com", " "]) == frozenset({"mcp.example.com"})


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1", "[::1]:9000", "LOCALHOST"])
def test_host_allowed_accepts_local_names_with_ports(host: str) -> None:
    assert protocol.host_allowed(host, frozenset(protocol.LOCAL_HOSTS))


@pytest.mark.parametrize("host", [None, "evil.example", "localhost.evil.example:80"])
def test_host_allowed_refuses_other_names_and_a_missing_header(host: str | None) -> None:
    assert not protocol.host_allowed(host, frozenset(protocol.LOCAL_HOSTS))


def test_origin_allowed_same_machine_origin_while_host_check_is_on() -> None:
    local = frozenset(protocol.LOCAL_HOSTS)
    assert protocol.origin_allowed("http://localhost:3000", allowed_origins=frozenset(), allowed_hosts=local)
    assert not protocol.origin_allowed("https://evil.example", allowed_origins=frozenset(), allowed_hosts=local)


def test_origin_allowed_configured_and_wildcard_origins() -> None:
    none: frozenset[str] = frozenset()
    configured = frozenset({"https://app.example"})
    assert protocol.origin_allowed("HTTPS://app.example", allowed_origins=configured, allowed_hosts=none)
    assert not protocol.origin_allowed("http://localhost", allowed_origins=configured, allowed_hosts=none)
    assert protocol.origin_allowed("https://any.example", allowed_origins=frozenset({"*"}), allowed_hosts=none)


def test_cursor_round_trips() -> None:
    assert decode_cursor("tools", encode_cursor("tools", 3), pages=4) == 3


def test_cursor_is_base64url_of_kind_and_page() -> None:
    assert base64.urlsafe_b64decode(encode_cursor("tools", 1)) == b"tools:1"


@pytest.mark.parametrize(
    "cursor",
    [
        encode_cursor("tools", 4),  # past the last page
        encode_cursor("tools", -1),
        encode_cursor("prompts", 1),  # another list's cursor
        "not base64!",
        base64.urlsafe_b64encode(b"tools:x").decode(),
        base64.urlsafe_b64encode(b'{"page": 1}').decode(),
        "é",
    ],
)
def test_cursor_not_issued_for_this_list_is_invalid(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor("tools", cursor, pages=4)


META = {protocol.META_PROTOCOL_VERSION: "2026-07-28", protocol.META_CLIENT_CAPABILITIES: {}}


def check(method: str, params: object, **headers: str | None) -> protocol.Rejection | None:
    merged: dict[str, str | None] = {"version_header": "2026-07-28", "method_header": method, "name_header": None}
    merged.update(headers)
    return protocol.check_stateless_request(
        method,
        params,
        version_header=merged["version_header"] or "",
        method_header=merged["method_header"],
        name_header=merged["name_header"],
    )


def test_stateless_request_with_meta_and_matching_headers_passes() -> None:
    assert check("tools/call", {"name": "echo", "_meta": META}, name_header="echo") is None


@pytest.mark.parametrize("params", [None, {}, {"_meta": []}, {"_meta": {protocol.META_PROTOCOL_VERSION: "2026-07-28"}}])
def test_stateless_request_without_full_meta_is_invalid_params(params: object) -> None:
    rejection = check("tools/list", params)
    assert rejection is not None and rejection.code == protocol.INVALID_PARAMS


@pytest.mark.parametrize(
    "headers",
    [
        {"method_header": "tools/list"},
        {"method_header": None},
        {"name_header": "other"},
        {"name_header": None},
        {"version_header": "2025-11-25"},
    ],
)
def test_stateless_request_whose_headers_disagree_with_the_body_is_header_mismatch(headers: dict[str, str]) -> None:
    rejection = check("tools/call", {"name": "echo", "_meta": META}, **{"name_header": "echo", **headers})
    assert rejection is not None and rejection.code == protocol.HEADER_MISMATCH


def test_stateless_name_header_may_be_base64_and_padded_with_whitespace() -> None:
    name = "tool ü"
    encoded = "=?base64?" + base64.b64encode(name.encode()).decode() + "?="
    assert check("tools/call", {"name": name, "_meta": META}, name_header=f" {encoded}\t") is None


def test_stateless_name_header_with_broken_base64_never_matches() -> None:
    assert protocol.decode_header_value("=?base64?!!!?=") is None
    rejection = check("tools/call", {"name": "echo", "_meta": META}, name_header="=?base64?ZWNobw?=")  # not canonical
    assert rejection is not None and rejection.code == protocol.HEADER_MISMATCH


def test_stateless_request_for_an_unserved_version_names_the_supported_and_the_requested() -> None:
    meta = {**META, protocol.META_PROTOCOL_VERSION: "2099-01-01"}
    rejection = check("tools/list", {"_meta": meta}, version_header="2099-01-01")
    assert rejection is not None and rejection.code == protocol.UNSUPPORTED_PROTOCOL_VERSION
    assert rejection.data == {"supported": list(protocol.SERVED_VERSIONS), "requested": "2099-01-01"}


def test_stateless_result_marks_every_result_and_adds_cache_hints_to_lists() -> None:
    assert protocol.stateless_result({}) == {"resultType": "complete"}
    listed = protocol.stateless_result({"tools": []}, listing=True)
    assert listed["ttlMs"] == protocol.LIST_TTL_MS and listed["cacheScope"] == protocol.LIST_CACHE_SCOPE


def test_discover_result_names_the_server_and_the_served_versions() -> None:
    result = protocol.discover_result(capabilities={"tools": {}}, server_name="s", server_version="1")
    assert result["resultType"] == "complete"
    assert "2026-07-28" in result["supportedVersions"]
    assert result["_meta"][protocol.META_SERVER_INFO] == {"name": "s", "version": "1"}


@pytest.mark.parametrize(
    ("accept", "admitted"),
    [
        ("application/json, text/event-stream", True),
        ("text/*", True),
        ("*/*;q=0.5", True),
        ("application/json", False),
        ("text/event-stream;q=0", False),
        ("text/event-stream; q=0.0, application/json", False),
        ("", False),
    ],
)
def test_accepts_sse_admits_event_streams_and_wildcards_unless_q_is_zero(accept: str, admitted: bool) -> None:
    assert protocol.accepts_sse(accept) is admitted
