"""bench/faults: the attacks of issue [F] kept as a permanent suite.

Each scenario starts the real components it attacks (the receiver app with the GitHub stand-in,
the exporters on a dedicated Debian PostgreSQL, Prometheus, moto's S3 server, aiosmtpd), injects
its faults and returns one ``Row``: what was tried, what happened, and whether that is what the
project promises. ``Size`` picks the short version (``tests/faults``, seconds) or the full one
(``python -m bench.faults``, ``make bench``).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Size = Literal["short", "full"]


@dataclass(frozen=True)
class Row:
    name: str
    inputs: str
    outcome: str
    passed: bool

    def __str__(self) -> str:
        return f"{self.name} | {self.inputs} | {self.outcome} | {'PASS' if self.passed else 'FAIL'}"


Scenario = Callable[[Size], Row]


def scenarios() -> dict[str, Scenario]:
    """Every scenario by name, in the order the table prints them."""
    from bench.faults import exporter, fuzz, injection, receiver, report, secrecy

    found: dict[str, Scenario] = {}
    for module in (fuzz, receiver, injection, exporter, report, secrecy):
        found.update(module.SCENARIOS)
    return found
