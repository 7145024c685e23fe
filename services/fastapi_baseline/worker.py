"""The gunicorn worker class: uvicorn's `UvicornWorker` with a drain fix and the connection gauges.

Drain: stock uvicorn closes every idle keep-alive connection the moment shutdown starts. A request the client has
already written on such a connection is then lost (the close turns into a reset). Here an idle connection gets a
short grace in which such a request is still answered, with `Connection: close`; in-flight requests finish as before.

Gauges: once a second, on uvicorn's own tick, the worker samples its open connections and in-flight requests into
the metrics (`metrics.sample_gauges`), as the native server's workers do; nothing is counted per request.
"""

from __future__ import annotations

import sys
from typing import Any

from gunicorn.arbiter import Arbiter
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import Server
from uvicorn.workers import UvicornWorker

from services.fastapi_baseline.metrics import sample_gauges

DRAIN_IDLE_GRACE_S = 0.5


class DrainingHttpToolsProtocol(HttpToolsProtocol):
    _draining = False

    def shutdown(self) -> None:
        self._draining = True
        if self.cycle is None or self.cycle.response_complete:
            self.loop.call_later(DRAIN_IDLE_GRACE_S, self._close_when_idle)
        else:
            self.cycle.keep_alive = False

    def _close_when_idle(self) -> None:
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()
        else:
            self.cycle.keep_alive = False

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self._draining and self.cycle is not None:
            self.cycle.keep_alive = False


class SamplingServer(Server):
    """uvicorn's server, publishing the connection gauges on the tick where it refreshes its `Date` header."""

    async def on_tick(self, counter: int) -> bool:
        if counter % 10 == 0:
            state = self.server_state
            sample_gauges(open_connections=len(state.connections), in_flight=len(state.tasks))
        return await super().on_tick(counter)


class DrainingUvicornWorker(UvicornWorker):
    CONFIG_KWARGS: dict[str, Any] = {"loop": "auto", "http": DrainingHttpToolsProtocol}  # noqa: RUF012 - as in uvicorn

    async def _serve(self) -> None:
        # UvicornWorker._serve with the sampling server in place of uvicorn's.
        self.config.app = self.wsgi
        server = SamplingServer(config=self.config)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
