"""The HTTP side every long-running command shares."""

from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder


@asynccontextmanager
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
    """An aiohttp handler for ``/metrics``: content negotiation (OpenMetrics or text) and, when
    ``state`` is given, a body cache kept until ``state()`` changes."""
    cache: dict[str, bytes] = {}
    cached_state: list[Hashable] = [object()]

    async def handle(request: web.Request) -> web.Response:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        current = object() if state is None else state()
        if current != cached_state[0]:
            cache.clear()
            cached_state[0] = current
        body = cache.get(content_type)
        if body is None:
            body = cache[content_type] = encoder(registry)
        return web.Response(body=body, headers={"Content-Type": content_type})

    return handle
