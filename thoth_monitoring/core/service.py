"""The skeleton every long-running command serves with: a landing page, ``/healthz``,
``/readyz``, ``/metrics``, start-up logging, and a clean stop on SIGTERM or SIGINT.

``/metrics`` is prometheus-client's aiohttp handler (content negotiation, gzip, ``name[]``
filtering); a service whose exposition only changes when its collections do passes ``state``
and gets the encoded body cached until ``state()`` changes, so a scrape costs a lookup.
"""

import asyncio
import contextlib
import gzip
import html
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.aiohttp import make_aiohttp_handler
from prometheus_client.exposition import choose_encoder

log = logging.getLogger(__name__)


def _always() -> bool:
    return True


@dataclass
class Service:
    """What one long-running command serves; ``app()`` adds the endpoints every service has."""

    name: str
    registry: CollectorRegistry
    state: Callable[[], Hashable] | None = None  # see make_metrics_handler
    ready: Callable[[], bool] = _always
    not_ready: str = "starting"  # /readyz's answer (503) until ready() holds
    status: Callable[[], list[tuple[str, str]]] | None = None  # rows for the landing page
    routes: Sequence[web.RouteDef] = field(default_factory=tuple)
    client_max_size: int = 1024**2

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.client_max_size)
        app.router.add_get("/", self._landing)
        app.router.add_get("/healthz", _healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", make_metrics_handler(self.registry, self.state))
        app.router.add_routes(self.routes)
        return app

    async def _landing(self, request: web.Request) -> web.Response:
        links = " · ".join(f"<a href='{path}'>{path}</a>" for path in _LINKS)
        rows = "".join(
            f"<tr><td>{html.escape(name)}</td><td>{html.escape(value)}</td></tr>"
            for name, value in (self.status() if self.status is not None else [])
        )
        table = f"<table>{rows}</table>" if rows else ""
        body = (
            f"<!doctype html><title>thoth {self.name}</title>"
            f"<h1>thoth {self.name}</h1><p>{links}</p>{table}"
        )
        return web.Response(text=body, content_type="text/html")

    async def _readyz(self, request: web.Request) -> web.Response:
        if self.ready():
            return web.Response(text="ready\n")
        return web.Response(status=503, text=f"{self.not_ready}\n")


_LINKS = ("/metrics", "/healthz", "/readyz")


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


async def serve(
    app: web.Application, listen: str, work: Awaitable[object] | None = None, **fields: object
) -> None:
    """Serve ``app`` on ``listen``, log where (with ``fields``), and run ``work`` (or nothing)
    until cancelled."""
    async with http_server(app, listen):
        log.info("listening", extra={"address": listen, **fields})
        await (work if work is not None else asyncio.Event().wait())


def run_until_stopped(main: Coroutine[Any, Any, object]) -> int:
    """Run a service until SIGTERM or SIGINT, either of which stops it cleanly (exit 0)."""

    async def guarded() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, task.cancel)
        try:
            await main
        except asyncio.CancelledError:
            log.info("stopped")

    with contextlib.suppress(KeyboardInterrupt):  # a SIGINT before the handlers are in place
        asyncio.run(guarded())
    return 0


@contextlib.asynccontextmanager
async def http_server(app: web.Application, listen: str) -> AsyncIterator[None]:
    """Serve ``app`` on ``listen`` (``host:port``; an empty host means every address)."""
    host, _, port = listen.rpartition(":")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host or "0.0.0.0", int(port)).start()
        yield
    finally:
        await runner.cleanup()


def make_metrics_handler(
    registry: CollectorRegistry, state: Callable[[], Hashable] | None = None
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """An aiohttp handler for ``/metrics``: prometheus-client's, or, when ``state`` is given, one
    that keeps each encoding of the whole body until ``state()`` changes (a ``name[]`` filter
    still goes to prometheus-client's)."""
    filtered = make_aiohttp_handler(registry)
    if state is None:
        return filtered
    cache: dict[tuple[str, bool], bytes] = {}
    cached_state: list[Hashable] = [object()]

    async def handle(request: web.Request) -> web.StreamResponse:
        if "name[]" in request.query:
            return await filtered(request)
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        zipped = "gzip" in request.headers.get("Accept-Encoding", "")
        current = state()
        if current != cached_state[0]:
            cache.clear()
            cached_state[0] = current
        body = cache.get((content_type, zipped))
        if body is None:
            plain = cache.get((content_type, False)) or encoder(registry)
            cache[(content_type, False)] = plain
            body = cache[(content_type, zipped)] = gzip.compress(plain) if zipped else plain
        headers = {"Content-Type": content_type}
        if zipped:
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=body, headers=headers)

    return handle
