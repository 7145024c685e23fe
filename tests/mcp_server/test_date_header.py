"""The native server's `Date` header (RFC 9110, section 6.6.1: an origin server with a clock must send one): on every
response, in IMF-fixdate form, formatted once a second rather than per request."""

from __future__ import annotations

import asyncio
import email.utils
import re
import time
from pathlib import Path

import pytest

from services.mcp_server.wire import HttpRequest, Response, WireLimits, WireServer, date_header
from tests.mcp_server.test_wire import BROKEN, BUSY, OK, FakeTransport, _awaiting, _settle, request
from tests.support import build_request, native_server, raw_request

IMF_FIXDATE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$"
)
RFC_EXAMPLE_S = 784111777  # RFC 9110's example: Sun, 06 Nov 1994 08:49:37 GMT


class FakeWallClock:
    def __init__(self, now_s: float) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


def _dates(transport: FakeTransport) -> list[str]:
    found = []
    for chunk in transport.written:
        head = chunk.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        found += [line.split(":", 1)[1].strip() for line in head.split("\r\n")[1:] if line.lower().startswith("date:")]
    return found


def test_the_date_line_is_imf_fixdate_as_in_the_rfcs_example() -> None:
    assert date_header(RFC_EXAMPLE_S) == b"date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"


@pytest.mark.parametrize(
    "moment_s",
    [0, 951782400, 951868799, 1709164800, 1767225599, 1798761600, RFC_EXAMPLE_S + 0.999],  # leap days, year ends
)
def test_the_date_line_agrees_with_the_standard_library_on_any_day(moment_s: float) -> None:
    expected = email.utils.formatdate(int(moment_s), usegmt=True)
    assert date_header(moment_s) == f"date: {expected}\r\n".encode()


def test_every_kind_of_response_carries_the_date_including_errors_and_the_503() -> None:
    async def scenario() -> tuple[list[int], list[str]]:
        gate: asyncio.Future[Response] = asyncio.get_running_loop().create_future()

        def handler(req: HttpRequest) -> Response | object:
            if req.path == b"/boom":
                raise RuntimeError("crash")
            if req.path == b"/wait":
                return _awaiting(gate)
            return OK

        server = WireServer(
            handler,
            WireLimits(max_in_flight=1, max_body_bytes=10, request_timeout_s=30.0),
            overloaded=BUSY,
            internal_error=BROKEN,
            wall_clock=FakeWallClock(RFC_EXAMPLE_S),
        )
        transports = []
        for data in (
            request("/ok"),
            request("/boom"),
            request("/ok", body=b"x" * 11),  # 413
            b"GARBAGE\r\n\r\n",  # 400
        ):
            conn, transport = server.protocol_factory(), FakeTransport()
            conn.connection_made(transport)
            conn.data_received(data)
            transports.append(transport)
        waiting, waiting_t = server.protocol_factory(), FakeTransport()
        waiting.connection_made(waiting_t)
        waiting.data_received(request("/wait"))
        overloaded, overloaded_t = server.protocol_factory(), FakeTransport()
        overloaded.connection_made(overloaded_t)
        overloaded.data_received(request("/ok"))  # the one in-flight slot is taken: 503
        gate.set_result(OK)
        await _settle()
        stalled, stalled_t = server.protocol_factory(), FakeTransport()
        stalled.connection_made(stalled_t)
        stalled.data_received(b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n{")
        server.tick(31.0)  # 408
        transports += [waiting_t, overloaded_t, stalled_t]
        return [s for t in transports for s in t.statuses()], [d for t in transports for d in _dates(t)]

    statuses, dates = asyncio.run(scenario())
    assert statuses == [200, 500, 413, 400, 200, 503, 408]
    assert dates == ["Sun, 06 Nov 1994 08:49:37 GMT"] * len(statuses)


def test_the_date_is_formatted_when_the_sweeper_sees_a_new_second_not_per_request() -> None:
    clock = FakeWallClock(RFC_EXAMPLE_S)
    server = WireServer(lambda req: OK, WireLimits(), overloaded=BUSY, internal_error=BROKEN, wall_clock=clock)
    conn, transport = server.protocol_factory(), FakeTransport()
    conn.connection_made(transport)
    conn.data_received(request())
    clock.now_s = RFC_EXAMPLE_S + 0.9
    server.tick(1.0)  # same second: nothing to renew
    line = server.date
    clock.now_s = RFC_EXAMPLE_S + 61.0
    conn.data_received(request())  # no tick yet: still the date the sweeper last set
    server.tick(2.0)
    conn.data_received(request())
    assert server.date is not line
    assert _dates(transport) == [
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:50:38 GMT",
    ]


def test_a_real_server_sends_a_current_date_on_every_status_it_answers(tmp_path: Path) -> None:
    echo = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": "m"}},
    }
    requests = {
        200: build_request(echo),
        202: build_request({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        400: build_request(b"{not json"),
        403: build_request(echo, host="evil.example"),
        404: build_request(method="GET", path="/nowhere"),
        405: build_request(method="GET"),
        406: build_request(echo, headers={"Accept": "text/html"}),
        413: build_request(b"x" * 2048),
        415: build_request(echo, headers={"Content-Type": "text/plain"}),
    }
    with native_server(tmp_path, database_url=None, env={"MCP_MAX_BODY_BYTES": "1024"}) as server:
        replies = {status: raw_request(server.port, data) for status, data in requests.items()}
    now = time.time()
    assert {status: reply.status for status, reply in replies.items()} == {status: status for status in requests}
    for status, reply in replies.items():
        value = reply.headers.get("date", "")
        assert IMF_FIXDATE.match(value), (status, value)
        sent = email.utils.parsedate_to_datetime(value).timestamp()
        assert now - 10 <= sent <= now + 1, (status, value)
