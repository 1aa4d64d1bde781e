"""What both exporters keep about a recurring job, and the jittered loop that repeats it."""

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(kw_only=True)
class RunStatus:
    """The outcome of a job's runs so far (served as self metrics)."""

    attempted: bool = False
    last_success: float | None = None
    last_duration: float | None = None
    errors_total: int = 0
    last_error: str | None = None

    def record(self, duration: float, now: float, error: str | None = None) -> None:
        self.attempted = True
        self.last_duration = duration
        self.last_error = error
        if error is None:
            self.last_success = now
        else:
            self.errors_total += 1


async def repeat(
    action: Callable[[], Awaitable[object]],
    interval: float,
    jitter: float,
    rng: random.Random,
    before_each: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """Run ``action`` now-ish and then every ``interval`` ± ``jitter`` share, until cancelled.

    The first run waits a random share of the jitter too (at most 5 s), so jobs that start
    together spread out.
    """
    await asyncio.sleep(rng.uniform(0, min(interval * jitter, 5.0)))
    while True:
        if before_each is not None:
            await before_each()
        await action()
        await asyncio.sleep(interval * rng.uniform(1 - jitter, 1 + jitter))
