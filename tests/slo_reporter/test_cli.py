"""``thoth-monitoring slo-report rules`` as a user runs it."""

from pathlib import Path

from tests.exporters.test_cli import run


def test_rules_command_writes_a_rule_file_promtool_accepts(tmp_path: Path) -> None:
    output = tmp_path / "slo.yaml"
    result = run("slo-report", "rules", "--output", str(output))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"wrote {output}: rules for 5 SLOs\n"
    assert "alert: ThothSLOBudgetBurnFast" in output.read_text()


def test_invalid_definitions_exit_2_with_the_field(tmp_path: Path) -> None:
    slos = tmp_path / "slos.yaml"
    slos.write_text("slos:\n  - service: Bad Name\n    name: x\n    description: d\n"
                    "    objective: 0.9\n    sli: {availability: {expr: up}}\n")  # fmt: skip
    result = run("slo-report", "rules", "--slos", str(slos), "--output", str(tmp_path / "o"))
    assert result.returncode == 2
    assert f"{slos}: slos.0.service: String should match pattern" in result.stderr
