"""The fault and fuzz suite of bench/faults in its short version: each scenario attacks the real
components and must keep the project's promises (the row says what was tried and what broke)."""

import pytest

from bench.faults import scenarios

SCENARIOS = scenarios()


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_fault_scenario_keeps_its_promise(name: str) -> None:
    row = SCENARIOS[name]("short")
    assert row.passed, str(row)
