"""``thoth-monitoring slo-report`` as a user runs it: rules, --output, backfill, serve, errors;
and the rendered report in headless Chromium (the README's picture)."""

import re
import shutil
import signal
import subprocess
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from PIL import Image, ImageStat

from tests.support.cli import COMMAND, run
from tests.support.screenshots import screenshot
from thoth_monitoring.core.s3 import S3Settings
from thoth_monitoring.demo.processes import free_port, wait_for_http
from thoth_monitoring.slo_reporter.report import Week


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


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--week", "2026-W99"], "week '2026-W99': expected an ISO week such as 2026-W47"),
        (["--send"], "--send needs a mail section in --config"),
        (["--timezone", "Mars/Base"], "command line: timezone: unknown timezone 'Mars/Base'"),
        (["--schedule", "every monday"], "schedule 'every monday'"),
    ],
)
def test_bad_options_exit_2_saying_what_is_wrong(arguments: list[str], message: str) -> None:
    result = run("slo-report", "--prometheus-url", "http://127.0.0.1:9", *arguments)
    assert result.returncode == 2
    assert message in result.stderr


@pytest.mark.e2e  # Chromium
def test_output_renders_a_standalone_page_that_chromium_shows(
    prometheus: str, ceph: tuple[S3Settings, list[dict[str, Any]]], tmp_path: Path
) -> None:
    config = tmp_path / "report.yaml"
    config.write_text(yaml.safe_dump({"ceph": ceph[0].model_dump(mode="json"),
                                      "grafana_url": "https://grafana.example.org"}))  # fmt: skip
    output = tmp_path / "report.html"
    result = run("slo-report", "--config", str(config), "--prometheus-url", prometheus,
                 "--week", "2026-W47", "--output", str(output))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"wrote {output}: week 2026-W47, ")
    html = output.read_text()
    assert html.count('src="data:image/png;base64,') == 6 and "cid:" not in html
    assert (
        "https://grafana.example.org/d/thoth-slos/slos?from=1794787200000&amp;to=1795392000000"
        in html
    )
    image = Image.open(screenshot(output.as_uri(), tmp_path / "report.png"))
    assert image.width == 840 and image.height > 1000
    assert ImageStat.Stat(image.convert("L")).stddev[0] > 20  # text and charts, not a blank page


def test_weeks_backfills_oldest_first_into_the_store(prometheus: str, tmp_path: Path) -> None:
    result = run("slo-report", "--prometheus-url", prometheus, "--store-dir", str(tmp_path),
                 "--weeks", "3")  # fmt: skip
    assert result.returncode == 0, result.stderr
    now = datetime.now(UTC)
    labels = [Week.last_full(now, back=back).label for back in (2, 1, 0)]
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == labels
    assert "weeks: 100%" in result.stderr  # the progress bar
    for label in labels:
        folder = tmp_path / "slo-reports" / label
        assert sorted(p.name for p in folder.iterdir()) == [
            "report.csv", "report.html", "report.json", "report.txt"
        ]  # fmt: skip


@pytest.mark.e2e
def test_serve_exposes_its_schedule_and_stops_on_ctrl_c(prometheus: str) -> None:
    port = free_port()
    process = subprocess.Popen(
        [COMMAND, "slo-report", "serve", "--prometheus-url", prometheus, "--listen",
         f"127.0.0.1:{port}", "--schedule", "0 8 * * mon", "--timezone", "Europe/Prague"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", 60, process)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            body = answer.read().decode()
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    metrics = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in body.splitlines()
        if line and not line.startswith("#")
    }
    next_run = datetime.fromtimestamp(metrics["thoth_slo_report_next_run_timestamp_seconds"],
                                      ZoneInfo("Europe/Prague"))  # fmt: skip
    assert (next_run.weekday(), next_run.hour, next_run.minute) == (0, 8, 0)
    assert metrics['thoth_slo_report_runs_total{outcome="failure"}'] == 0
    assert metrics["thoth_slo_report_last_success_timestamp_seconds"] == 0
    promtool = shutil.which("promtool")
    assert promtool
    check = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True,
                           text=True, timeout=60)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr


def test_serve_remembers_last_weeks_stored_report(prometheus: str, tmp_path: Path) -> None:
    from thoth_monitoring.slo_reporter.job import ReportSettings, last_stored, run_week

    settings = ReportSettings.model_validate(
        {"prometheus": {"url": prometheus}, "store_dir": str(tmp_path)}
    )
    assert last_stored(settings) is None
    before = datetime.now(UTC)
    run_week(settings, Week.last_full(before), send_mail=False)
    stored = last_stored(settings)
    assert stored is not None and before <= stored <= datetime.now(UTC)


BROKEN_SLO = """slos:
  - service: user-api
    name: broken
    description: Invalid PromQL.
    objective: 0.99
    sli: {availability: {expr: "up{{{"}}
"""


def test_unreachable_prometheus_is_one_line_and_exit_1(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    config = tmp_path / "report.yaml"
    config.write_text(yaml.safe_dump({"prometheus": {"url": url, "retries": 0}}))
    for output in ([], ["--output", str(tmp_path / "report.html")]):
        result = run("slo-report", "--config", str(config), "--store-dir", str(tmp_path), *output)
        assert result.returncode == 1, result.stderr
        assert re.fullmatch(
            rf"slo-report: (SLO [a-z-]+, )?query `[^\n]+`: Prometheus at {url} unreachable: "
            r"\[Errno 111\] Connection refused\n",
            result.stderr,
        ), result.stderr
    assert not (tmp_path / "slo-reports").exists() and not (tmp_path / "report.html").exists()


def test_invalid_promql_names_the_slo_and_what_prometheus_said(
    prometheus: str, tmp_path: Path
) -> None:
    slos = tmp_path / "slos.yaml"
    slos.write_text(BROKEN_SLO)
    result = run("slo-report", "--slos", str(slos), "--prometheus-url", prometheus,
                 "--store-dir", str(tmp_path), "--week", "2026-W47")  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("slo-report: SLO user-api-broken, query `1 - (1 - avg (")
    assert ": Prometheus answered HTTP 400: " in result.stderr and "parse error" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_check_config_has_prometheus_parse_each_slos_queries(
    prometheus: str, tmp_path: Path
) -> None:
    slos = tmp_path / "slos.yaml"
    slos.write_text(BROKEN_SLO)
    result = run(
        "slo-report", "--check-config", "--slos", str(slos), "--prometheus-url", prometheus
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"{slos}: SLO user-api-broken, query `1 - (1 - avg (")
    assert "parse error" in result.stderr and result.stderr.count("\n") == 1

    result = run("slo-report", "--check-config", "--prometheus-url", prometheus)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"configuration is valid: 5 SLOs, PromQL checked by {prometheus}\n"

    dead = f"http://127.0.0.1:{free_port()}"
    config = tmp_path / "report.yaml"
    config.write_text(yaml.safe_dump({"prometheus": {"url": dead, "retries": 0}}))
    result = run("slo-report", "--check-config", "--slos", str(slos), "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "configuration is valid: 1 SLOs; PromQL not checked: "
        f"Prometheus at {dead} unreachable: [Errno 111] Connection refused\n"
    )


def test_check_config_refuses_a_file_without_slos(tmp_path: Path) -> None:
    slos = tmp_path / "slos.yaml"
    slos.write_text("# to be written\n")
    result = run("slo-report", "--check-config", "--slos", str(slos))
    assert result.returncode == 2
    assert (
        result.stderr
        == f"{slos}: no SLOs defined (expected a `slos:` list or OpenSLO SLO documents)\n"
    )


@pytest.mark.parametrize("store", ["ceph", "local"])
def test_an_unavailable_report_store_is_one_line_and_exit_1(
    prometheus: str, tmp_path: Path, store: str
) -> None:
    config: dict[str, Any] = {"prometheus": {"url": prometheus}}
    if store == "ceph":
        config |= {"store": "ceph", "ceph": {
            "endpoint_url": f"http://127.0.0.1:{free_port()}", "bucket": "thoth",
            "deployment": "ocp4-stage", "access_key_id": "k", "secret_access_key": "s",
            "timeout": "2s"}}  # fmt: skip
        where = "s3://thoth"
    else:
        (tmp_path / "store").write_text("a file where the store's folder should be")
        config |= {"store_dir": str(tmp_path / "store")}
        where = str(tmp_path / "store")
    (tmp_path / "report.yaml").write_text(yaml.safe_dump(config))
    result = run("slo-report", "--config", str(tmp_path / "report.yaml"), "--week", "2026-W47")
    assert result.returncode == 1, result.stderr
    said = [line for line in result.stderr.splitlines() if "event=" not in line]  # not logs
    assert len(said) == 1 and "Traceback" not in result.stderr, result.stderr
    assert said[0].startswith(f"slo-report 2026-W47: report store {where} unavailable: ")
