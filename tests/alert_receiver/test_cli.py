"""``thoth-monitoring alert-receiver`` as a user runs it: render, check-config, dry run."""

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.alerts import payload
from tests.support.cli import COMMAND, run
from thoth_monitoring.demo.processes import free_port, wait_for_http


def test_render_prints_title_labels_and_body(tmp_path: Path) -> None:
    path = tmp_path / "payload.json"
    path.write_text(json.dumps(payload()))
    result = run("alert-receiver", "render", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        "title: [CRITICAL] ThothDatabaseUnreachable: The knowledge-graph database does not answer."
    )
    assert "labels: thoth-alert\n" in result.stdout
    assert "| alertname | ThothDatabaseUnreachable |" in result.stdout


def test_check_config_requires_webhook_credentials(tmp_path: Path) -> None:
    config = tmp_path / "receiver.yaml"
    config.write_text("default_repo: thoth-station/thoth-application\n")
    result = run("alert-receiver", "--config", str(config), "--check-config")
    assert result.returncode == 2
    assert "webhook credentials are required" in result.stderr
    config.write_text("default_repo: not-a-repo\nauth_disabled: true\n")
    result = run("alert-receiver", "--config", str(config), "--check-config")
    assert "default_repo: expected owner/name of a GitHub repository" in result.stderr


@pytest.mark.e2e
def test_dry_run_logs_github_calls_instead_of_making_them(tmp_path: Path) -> None:
    port = free_port()
    token = tmp_path / "token"
    token.write_text("s3cret")
    process = subprocess.Popen(
        [COMMAND, "alert-receiver", "--dry-run", "--listen", f"127.0.0.1:{port}",
         "--default-repo", "thoth-station/thoth-application",
         "--bearer-token-file", str(token), "--data-dir", str(tmp_path / "state")],
        env={k: v for k, v in os.environ.items() if k != "GITHUB_TOKEN"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for_http(f"http://127.0.0.1:{port}/readyz", 30, process)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/alerts", data=json.dumps(payload()).encode(),
            headers={"Authorization": "Bearer s3cret", "Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read()) == {"outcome": "queued"}
        wait_for_metric(port, 'thoth_alert_receiver_notifications_total{outcome="created"} 1.0')
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert "event=dry_run call=create_issue repo=thoth-station/thoth-application" in stderr
    assert "s3cret" not in stderr


def wait_for_metric(port: int, line: str) -> None:
    deadline = time.monotonic() + 30
    while line not in (text := _get(f"http://127.0.0.1:{port}/metrics")):
        assert time.monotonic() < deadline, f"no {line!r} in:\n{text}"
        time.sleep(0.1)


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


def test_check_config_locates_a_bad_state_url_without_echoing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "receiver.yaml"
    config.write_text(
        "default_repo: thoth-station/thoth-application\nauth_disabled: true\n"
        "listen: 127.0.0.1:9703\nstate_url: ${STATE_URL}\n"
    )
    monkeypatch.setenv("STATE_URL", "mysql://user:hunter2@db/state")
    monkeypatch.setenv("GITHUB_TOKEN", "t")
    result = run("alert-receiver", "--config", str(config), "--check-config")
    assert result.returncode == 2
    assert "state_url" in result.stderr and "not a PostgreSQL URL" in result.stderr
    assert "hunter2" not in result.stderr
    result = run("alert-receiver", "--config", str(config), "--check-config",
                 "--state-url", "postgresql://u@db/state", "--replica", "pod-0")  # fmt: skip
    assert result.returncode == 0, result.stderr
