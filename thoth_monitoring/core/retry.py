"""The one retry policy: a bounded number of attempts (the caller's loop), exponential backoff
capped at a maximum, and jitter so that clients failing together do not retry together.

Which errors are retryable is named where the call is made (``GitHubError.retryable``, SMTP 4xx,
a failed probe). A write that may have been applied (a timeout or 5xx after the request was sent)
is never repeated by a retry: the caller re-reads state and decides again.
"""

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    initial: float = 1.0
    maximum: float = 30.0
    jitter: float = 0.2  # each wait is shortened by a random share up to this
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failure in a row (1, 2, …)."""
        base = min(self.initial * 2.0 ** (failures - 1), self.maximum)
        return base * (1 - self.jitter * self.rng.random())
