"""Captured log records as the services print them (logfmt), for assertions on lines."""

import pytest

from thoth_monitoring.core.logs import LogfmtFormatter


def logged(caplog: pytest.LogCaptureFixture, event: str) -> list[str]:
    """Every captured ``event`` record as its logfmt line."""
    formatter = LogfmtFormatter()
    return [formatter.format(r) for r in caplog.records if r.getMessage() == event]
