"""The whole weekly report against real servers: the backfilled Prometheus of conftest.py, Ceph
as moto's S3 server (adviser documents in, the stored report out) and aiosmtpd for the mail."""

import asyncio
import csv
import io
import json
import multiprocessing
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support.prometheus import REPORT_WEEK as WEEK
from thoth_monitoring.core.s3 import S3Settings
from thoth_monitoring.demo.smtp import PASSWORD, USER, Handler, self_signed, smtp_server
from thoth_monitoring.slo_reporter.job import ReportSettings, SendFailed, build, run_week

TO = ["sre@example.org", "team@example.org"]
CC = ["stakeholders@example.org"]


def settings_for(prometheus: str, ceph: S3Settings, port: int, **mail: Any) -> ReportSettings:
    """Report settings storing on ``ceph``, where earlier tests' reports are removed first."""
    client = boto3.client("s3", endpoint_url=ceph.endpoint_url, region_name="us-east-1")
    listed = client.list_objects_v2(Bucket=ceph.bucket, Prefix="data/slo-reports/")
    for item in listed.get("Contents", []):
        client.delete_object(Bucket=ceph.bucket, Key=item["Key"])
    return ReportSettings.model_validate({
        "prometheus": {"url": prometheus},
        "ceph": ceph.model_dump(mode="json"),
        "store": "ceph",
        "grafana_url": "https://grafana.example.org",
        "mail": {"host": "127.0.0.1", "port": port, "security": "none",
                 "sender": "slo-report@example.org", "to": TO, "cc": CC, "backoff": 0.01} | mail,
    })  # fmt: skip


def stored(settings: ReportSettings, name: str) -> bytes:
    data = settings.report_store().get(WEEK.label, name)
    assert data is not None, name
    return data


def test_report_stored_on_ceph_and_mailed_once(
    prometheus: str, ceph: tuple[S3Settings, list[dict[str, Any]]]
) -> None:
    handler = Handler()
    with smtp_server(handler) as port:
        settings = settings_for(prometheus, ceph[0], port)
        first = run_week(settings, WEEK, send_mail=True)
        again = run_week(settings, WEEK, send_mail=True)
        forced = run_week(settings, WEEK, send_mail=True, force=True)
    assert (first.sent, again.sent, again.already_sent, forced.sent) == (True, False, True, True)
    assert len(handler.received) == 2
    assert first.stored[0] == f"s3://{ceph[0].bucket}/data/slo-reports/2026-W47/report.html"

    mail = handler.received[0]
    assert sorted(mail.recipients) == sorted(TO + CC)
    assert mail.envelope_from == "slo-report@example.org"
    message = mail.message
    summary = "2 breached, 1 at risk, 2 no data, 1 met"
    assert message["Subject"] == f"Thoth SLO report 2026-W47: {summary}"
    assert message["To"] == ", ".join(TO) and message["Cc"] == ", ".join(CC)
    assert_mime_structure(message, charts=2 * 3)  # latency and freshness: no data

    # the stored files: CSV with a header row, JSON with the same numbers
    rows = list(csv.DictReader(io.StringIO(stored(settings, "report.csv").decode())))
    assert len(rows) == 6 and rows[0]["status"] == "breached"
    document = json.loads(stored(settings, "report.json"))
    assert document["summary"] == {"breached": 2, "at_risk": 1, "invalid": 0, "no_data": 2,
                                   "too_few_events": 0, "met": 1}  # fmt: skip
    requests = next(row for row in document["slos"] if row["slo"] == "user-api-requests")
    assert requests["sli"] == pytest.approx(0.95)
    assert json.loads(stored(settings, "sent.json"))["to"] == TO

    # the adviser section, against the documents written for the week
    week_documents = ceph[1]
    adviser = document["adviser"]
    assert adviser["runs"] == len(week_documents)
    assert adviser["errors"] == sum(d["result"]["error"] for d in week_documents)
    assert len(adviser["unreadable"]) == 1 and adviser["unreadable"][0].endswith("-badbad")
    integrations = Counter(
        d["metadata"]["arguments"]["thoth-adviser"]["metadata"]["source_type"] or "unknown"
        for d in week_documents
    )
    assert {row["integration"]: row["runs"] for row in adviser["integrations"]} == integrations
    messages = Counter(d["result"]["error_msg"] for d in week_documents if d["result"]["error"])
    assert {row["message"]: row["runs"] for row in adviser["top_errors"]} == dict(
        messages.most_common(5)
    )
    kinds = Counter(
        d["result"]["parameters"]["recommendation_type"].upper() for d in week_documents
    )
    assert {r["recommendation_type"]: r["runs"] for r in adviser["recommendation_types"]} == kinds


def assert_mime_structure(message: EmailMessage, charts: int) -> None:
    """alternative(text/plain, related(text/html, image/png x charts)); every cid resolves."""
    assert message.get_content_type() == "multipart/alternative"
    text, related = list(message.iter_parts())
    assert text.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html, *images = list(related.iter_parts())
    assert html.get_content_type() == "text/html"
    assert [image.get_content_type() for image in images] == ["image/png"] * charts
    content_ids = {image["Content-ID"].strip("<>") for image in images}
    body = html.get_content()
    assert set(re.findall(r'src="cid:([^"]+)"', body)) == content_ids
    assert all(image.get_content().startswith(b"\x89PNG") for image in images)
    assert "<script" not in body and not re.search(r'src="https?:', body)
    assert "<style" not in body  # inlined into style attributes
    assert 'style="' in body
    plain = text.get_content()
    assert "[breached] user-api-requests" in plain and "95.000%" in plain


def test_failed_send_is_retried_then_reported_and_the_report_kept(
    prometheus: str, ceph: tuple[S3Settings, list[dict[str, Any]]]
) -> None:
    handler = Handler(refusals=["451 4.3.0 try again later"])
    with smtp_server(handler) as port:
        settings = settings_for(prometheus, ceph[0], port)
        assert run_week(settings, WEEK, send_mail=True).sent  # one transient refusal, retried
    assert len(handler.received) == 1

    handler = Handler(refusals=["554 5.7.1 rejected"] * 5)
    with smtp_server(handler) as port:
        settings = settings_for(prometheus, ceph[0], port)
        with pytest.raises(SendFailed, match=r"report stored at s3://.*554"):
            run_week(settings, WEEK, send_mail=True)
        assert handler.refusals == ["554 5.7.1 rejected"] * 4  # permanent: tried once
    assert stored(settings, "report.html").startswith(b"<!DOCTYPE html>")
    assert settings.report_store().get(WEEK.label, "sent.json") is None
    assert settings.report_store().get(WEEK.label, "sending.json") is None  # a later run may send
    handler = Handler()
    with smtp_server(handler) as port:
        assert settings.mail is not None
        mail = settings.mail.model_copy(update={"port": port})
        assert run_week(settings.model_copy(update={"mail": mail}), WEEK, send_mail=True).sent
    assert len(handler.received) == 1


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_and_login(
    security: str, prometheus: str, ceph: tuple[S3Settings, list[dict[str, Any]]], tmp_path: Path
) -> None:
    certificate = self_signed(tmp_path)
    handler = Handler()
    with smtp_server(handler, security, certificate) as port:
        settings = settings_for(
            prometheus, ceph[0], port, security=security, username=USER, password=PASSWORD,
            ca_file=str(certificate[0]),
        )  # fmt: skip
        assert run_week(settings, WEEK, send_mail=True).sent
    assert len(handler.received) == 1


@dataclass
class SlowHandler(Handler):
    """An SMTP server that takes a while to accept a message, as real ones do: the window in
    which racing runs used to find no sent marker yet."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.2)
        return await super().handle_DATA(server, session, envelope)


RUNS, TRIALS = 5, 3


@pytest.mark.parametrize("store", ["local", "ceph"])
def test_concurrent_sends_mail_exactly_once(
    store: str,
    prometheus: str,
    ceph: tuple[S3Settings, list[dict[str, Any]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """RUNS processes released together into the send step of the same week, TRIALS times: one
    mail each time, and every other run says why it did not send."""
    handler = SlowHandler()
    with smtp_server(handler) as port:
        settings = settings_for(prometheus, ceph[0], port)
        report = build(settings, WEEK)  # once, from the real Prometheus; each run stores it
        monkeypatch.setattr(
            "thoth_monitoring.slo_reporter.job.build", lambda settings, week: report
        )
        for trial in range(TRIALS):
            if store == "local":
                folder = tmp_path / str(trial)
                settings = settings.model_copy(update={"store": "local", "store_dir": folder})
            else:
                settings = settings_for(prometheus, ceph[0], port)  # no marker from the last trial
            outcomes = race(settings, RUNS)
            assert len(handler.received) == trial + 1, outcomes
            assert sorted(outcomes)[-1] == "sent" and outcomes.count("sent") == 1, outcomes
            assert all(o == "already sent; --force resends" or o.startswith("not sent: ")
                       for o in outcomes if o != "sent"), outcomes  # fmt: skip
            assert settings.report_store().get(WEEK.label, "sent.json") is not None


def race(settings: ReportSettings, runs: int) -> list[str]:
    """``run_week`` with sending in ``runs`` forked processes started at the same moment; what
    each said about the mail."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(runs)
    answers = context.Queue()

    def one_run() -> None:
        barrier.wait(timeout=30)
        try:
            answers.put(run_week(settings, WEEK, send_mail=True).mail)
        except Exception as error:
            answers.put(f"failed: {error!r}")

    processes = [context.Process(target=one_run) for _ in range(runs)]
    for process in processes:
        process.start()
    outcomes = [answers.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    return outcomes


def test_a_live_claim_stops_a_send_an_expired_one_is_taken_over(
    prometheus: str, ceph: tuple[S3Settings, list[dict[str, Any]]]
) -> None:
    handler = Handler()
    with smtp_server(handler) as port:
        settings = settings_for(prometheus, ceph[0], port)
        store = settings.report_store()
        now = datetime.now(UTC)

        def claim(expires: datetime) -> None:
            body = {"owner": "elsewhere/1/x", "claimed": now.isoformat(),
                    "expires": expires.isoformat()}  # fmt: skip
            store.put(WEEK.label, "sending.json", json.dumps(body).encode(), "application/json")

        claim(now + timedelta(minutes=30))
        held = run_week(settings, WEEK, send_mail=True)
        assert not held.sent and held.sending_elsewhere.startswith("elsewhere/1/x has been sending")
        assert handler.received == []
        forced = run_week(settings, WEEK, send_mail=True, force=True)
        assert forced.sent and len(handler.received) == 1
        assert store.get(WEEK.label, "sending.json") is None  # released after the send

        settings = settings_for(prometheus, ceph[0], port)
        claim(now - timedelta(seconds=1))  # its sender died an hour ago
        assert run_week(settings, WEEK, send_mail=True).sent
        assert len(handler.received) == 2
        assert store.get(WEEK.label, "sending.json") is None
