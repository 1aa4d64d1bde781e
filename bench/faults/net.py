"""Serving an aiohttp app on a free loopback port, and raw HTTP/1.1 requests that may carry
bytes no well-behaved client would send."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from thoth_monitoring.core.service import http_server
from thoth_monitoring.demo.processes import free_port

NO_ANSWER = 0
ANSWER_SECONDS = 30


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1; yields its base URL."""
    port = free_port()
    async with http_server(app, f"127.0.0.1:{port}"):
        yield f"http://127.0.0.1:{port}"


@dataclass(frozen=True)
class Answer:
    status: int  # NO_ANSWER when the server closed or timed out without a status line
    body: bytes


async def raw_request(
    base_url: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes
) -> Answer:
    """POST ``body`` with exactly these headers (plus Host, Content-Length, Connection); no
    answer within ``ANSWER_SECONDS`` counts as none."""
    host, port = base_url.removeprefix("http://").split(":")
    lines = [f"POST {path} HTTP/1.1".encode(), b"Host: " + host.encode(),
             b"Content-Length: " + str(len(body)).encode(), b"Connection: close"]  # fmt: skip
    lines += [name + b": " + value for name, value in headers]
    request = b"\r\n".join(lines) + b"\r\n\r\n" + body
    try:
        async with asyncio.timeout(ANSWER_SECONDS):
            reader, writer = await asyncio.open_connection(host, int(port))
            try:
                writer.write(request)
                with contextlib.suppress(OSError):  # the server may answer before reading it all
                    await writer.drain()
                answer = await reader.read()
            finally:
                writer.close()
    except (TimeoutError, OSError):
        return Answer(NO_ANSWER, b"")
    status_line, _, rest = answer.partition(b"\r\n")
    parts = status_line.split()
    if len(parts) < 2 or not parts[1].isdigit():
        return Answer(NO_ANSWER, answer)
    return Answer(int(parts[1]), rest.partition(b"\r\n\r\n")[2])
