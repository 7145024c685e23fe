"""The gunicorn worker class: uvicorn's `UvicornWorker` with one change to how it drains on SIGTERM.

Stock uvicorn closes every idle keep-alive connection the moment shutdown starts. A request the client has already
written on such a connection is then lost (the close turns into a reset). Here an idle connection gets a short grace
in which such a request is still answered, with `Connection: close`; in-flight requests finish as before.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.workers import UvicornWorker

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


class DrainingUvicornWorker(UvicornWorker):
    CONFIG_KWARGS: dict[str, Any] = {"loop": "auto", "http": DrainingHttpToolsProtocol}  # noqa: RUF012 - as in uvicorn
