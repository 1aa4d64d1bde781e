"""A report missing an optional section: an S3 outage leaves the adviser section out with its
reason, and the report is still built, stored and sent, with the partial exit status."""

import json
from pathlib import Path

import yaml

from tests.support.cli import run
from tests.support.prometheus import REPORT_WEEK as WEEK
from thoth_monitoring.demo.processes import free_port
from thoth_monitoring.demo.smtp import Handler, smtp_server
from thoth_monitoring.slo_reporter.job import ReporterMetrics


def test_s3_outage_gives_a_partial_report_stored_and_sent(prometheus: str, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    handler = Handler()
    with smtp_server(handler) as port:
        config = tmp_path / "report.yaml"
        config.write_text(yaml.safe_dump({
            "ceph": {"endpoint_url": dead, "bucket": "thoth", "deployment": "ocp4-stage",
                     "timeout": "2s"},
            "store": "local", "store_dir": str(tmp_path),
            "mail": {"host": "127.0.0.1", "port": port, "security": "none",
                     "sender": "slo-report@example.org", "to": ["sre@example.org"]},
        }))  # fmt: skip
        result = run("slo-report", "--config", str(config), "--prometheus-url", prometheus,
                     "--week", WEEK.label, "--send")  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert "partial: a section is unavailable" in result.stdout
    assert "Traceback" not in result.stderr
    folder = tmp_path / "slo-reports" / WEEK.label
    document = json.loads((folder / "report.json").read_text())
    assert document["partial"] is True
    reason = document["adviser"]["unavailable"]
    assert reason.startswith(f"Ceph ({dead}) could not be read: Could not connect")
    assert len(document["slos"]) == 6  # the SLO table is all there
    assert f"Unavailable: {reason}" in (folder / "report.txt").read_text()
    assert "<b>Unavailable:</b>" in (folder / "report.html").read_text()
    assert (folder / "sent.json").exists()
    [mail] = handler.received
    assert mail.message["Subject"].endswith("(partial: a section is unavailable)")


def test_partial_runs_are_counted_apart_from_successes() -> None:
    registry = ReporterMetrics().registry
    for outcome in ("success", "partial", "failure"):
        assert registry.get_sample_value("thoth_slo_report_runs_total", {"outcome": outcome}) == 0
