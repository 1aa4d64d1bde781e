"""One weekly report from start to finish — read the sources, render, store, send once — and the
scheduler that runs it every week while serving its own ``/metrics``."""

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from prometheus_client import CollectorRegistry, Counter, Gauge
from pydantic import field_validator, model_validator

from thoth_monitoring.core import service
from thoth_monitoring.core.s3 import S3Settings
from thoth_monitoring.core.service import Service
from thoth_monitoring.core.settings import CommandSettings
from thoth_monitoring.slo_reporter.command import DEFAULT_LISTEN
from thoth_monitoring.slo_reporter.definitions import DEFAULT_SLOS, load_slos
from thoth_monitoring.slo_reporter.kebechet import KebechetSettings
from thoth_monitoring.slo_reporter.mail import MailSettings, build_message, send
from thoth_monitoring.slo_reporter.render import (
    render_csv,
    render_html,
    render_json,
    render_kebechet_csv,
    render_text,
    subject,
)
from thoth_monitoring.slo_reporter.report import (
    Report,
    Week,
    adviser_section,
    build_report,
    kebechet_section,
)
from thoth_monitoring.slo_reporter.sources import PrometheusSettings, PrometheusSource
from thoth_monitoring.slo_reporter.store import (
    SENT_MARKER,
    LocalStore,
    ReportStore,
    S3Store,
    SendInProgress,
)

log = logging.getLogger(__name__)


class ReportSettings(CommandSettings):
    """Every option of ``slo-report``; nested sections come from the config file."""

    slos: Path = DEFAULT_SLOS
    prometheus: PrometheusSettings = PrometheusSettings()
    ceph: S3Settings | None = None
    kebechet: KebechetSettings | None = None  # without it, no Kebechet section
    store: Literal["local", "ceph"] = "local"
    store_dir: Path = Path(".")
    mail: MailSettings | None = None
    grafana_url: str | None = None
    timezone: str = "UTC"
    schedule: str = "0 8 * * mon"
    listen: str = DEFAULT_LISTEN

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r} (expected e.g. Europe/Prague)") from None
        return value

    @model_validator(mode="after")
    def _schedule_and_store(self) -> "ReportSettings":
        try:
            CronTrigger.from_crontab(self.schedule, timezone=self.timezone)
        except ValueError as error:
            raise ValueError(f"schedule {self.schedule!r}: {error}") from None
        if self.store == "ceph" and self.ceph is None:
            raise ValueError("store: ceph needs a ceph section")
        kebechet = self.kebechet
        if (
            kebechet is not None
            and kebechet.store is None
            and kebechet.s3 is None
            and self.ceph is None
        ):
            raise ValueError("kebechet: needs store (a folder), s3, or the report's ceph section")
        return self

    def report_store(self) -> ReportStore:
        if self.store == "ceph":
            assert self.ceph is not None
            return S3Store(self.ceph)
        return LocalStore(self.store_dir)


@dataclass(frozen=True)
class Outcome:
    week: str
    stored: list[str]  # report.html first
    sent: bool
    summary: str  # the e-mail's subject
    already_sent: bool = False
    sending_elsewhere: str = ""  # another run is sending it: who and since when
    partial: bool = False  # an optional section was unavailable (see Report.partial)

    @property
    def mail(self) -> str:
        """What became of the e-mail, in a few words, and whether the report is partial."""
        if self.sent:
            said = "sent"
        elif self.already_sent:
            said = "already sent; --force resends"
        elif self.sending_elsewhere:
            said = f"not sent: {self.sending_elsewhere}"
        else:
            said = "not sent"
        partial = "; partial: a section is unavailable, see the report" if self.partial else ""
        return said + partial


class SendFailed(Exception):
    """The report was stored but the e-mail could not be delivered."""


def build(settings: ReportSettings, week: Week) -> Report:
    source = PrometheusSource(settings.prometheus)
    adviser = None if settings.ceph is None else adviser_section(settings.ceph, week)
    kebechet = (
        None
        if settings.kebechet is None
        else kebechet_section(settings.kebechet, settings.ceph, week)
    )
    return build_report(
        load_slos(settings.slos), source, week, adviser, datetime.now(UTC), kebechet
    )


def write_html(settings: ReportSettings, week: Week, output: Path) -> Report:
    """Render the stand-alone HTML (charts embedded) to ``output``; nothing stored or sent."""
    report = build(settings, week)
    output.parent.mkdir(parents=True, exist_ok=True)
    LocalStore.atomic_write(output, render_html(report, settings.grafana_url, "inline").encode())
    return report


def run_week(settings: ReportSettings, week: Week, send_mail: bool, force: bool = False) -> Outcome:
    """Build, store (HTML, text, CSV, JSON; the Kebechet table as ``kebechet.csv``) and, if
    asked, send once: a ``sent.json`` marker beside the stored report stops a second send unless
    ``force``, and the store's send lock makes check, send and marker one step, so of runs racing
    exactly one sends. A failed send raises ``SendFailed`` after the report is stored."""
    if send_mail and settings.mail is None:
        raise ValueError("sending needs a mail section in the configuration")
    report = build(settings, week)
    store = settings.report_store()
    text = render_text(report, settings.grafana_url)
    files = [
        ("report.html", render_html(report, settings.grafana_url, "inline"), "text/html"),
        ("report.txt", text, "text/plain"),
        ("report.csv", render_csv(report), "text/csv"),
        ("report.json", render_json(report), "application/json"),
    ]
    kebechet = render_kebechet_csv(report)
    if kebechet is not None:
        files.append(("kebechet.csv", kebechet, "text/csv"))
    stored = [store.put(week.label, name, body.encode(), kind) for name, body, kind in files]
    if not send_mail:
        return Outcome(week.label, stored, False, subject(report), partial=report.partial)
    assert settings.mail is not None
    try:
        with store.sending(week.label, force):
            if store.get(week.label, SENT_MARKER) is not None and not force:
                log.info("already_sent", extra={"week": week.label})
                return Outcome(week.label, stored, False, subject(report), already_sent=True,
                               partial=report.partial)  # fmt: skip
            html = render_html(report, settings.grafana_url, "cid")
            message = build_message(report, settings.mail, subject(report), text, html)
            try:
                send(message, settings.mail)
            except Exception as error:
                raise SendFailed(
                    f"report stored at {stored[0]}, but sending failed: {error!r}"
                ) from error
            marker = {"sent": datetime.now(UTC).isoformat(), "message_id": message["Message-ID"],
                      "to": settings.mail.to, "cc": settings.mail.cc}  # fmt: skip
            store.put(week.label, SENT_MARKER, json.dumps(marker).encode(), "application/json")
    except SendInProgress as error:
        log.info("send_in_progress", extra={"week": week.label, "holder": str(error)})
        return Outcome(week.label, stored, False, subject(report), sending_elsewhere=str(error),
                       partial=report.partial)  # fmt: skip
    return Outcome(week.label, stored, True, subject(report), partial=report.partial)


class ReporterMetrics:
    """What ``slo-report serve`` exposes for a "weekly report missed" alert."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.last_success = Gauge(
            "thoth_slo_report_last_success_timestamp_seconds",
            "When the last weekly report was built, stored and (if configured) sent.",
            registry=self.registry,
        )
        self.runs = Counter(
            "thoth_slo_report_runs",
            "Report runs by outcome; partial: stored and sent without an optional section.",
            ["outcome"],
            registry=self.registry,
        )
        self.duration = Gauge(
            "thoth_slo_report_duration_seconds",
            "How long the last report run took.",
            registry=self.registry,
        )
        self.next_run = Gauge(
            "thoth_slo_report_next_run_timestamp_seconds",
            "When the scheduler runs the report next.",
            registry=self.registry,
        )
        for outcome in ("success", "partial", "failure"):
            self.runs.labels(outcome)


async def serve(settings: ReportSettings) -> None:
    """Run the report on the cron schedule (in ``timezone``) for the week just ended."""
    metrics = ReporterMetrics()
    trigger = CronTrigger.from_crontab(settings.schedule, timezone=settings.timezone)
    scheduler = AsyncIOScheduler(timezone=settings.timezone)

    async def scheduled() -> None:
        week = Week.last_full(datetime.now(UTC), settings.timezone)
        started = time.monotonic()
        try:
            outcome = await asyncio.to_thread(run_week, settings, week, settings.mail is not None)
        except Exception as error:
            metrics.runs.labels("failure").inc()
            log.error("report_failed", extra={"week": week.label, "error": repr(error)})
        else:
            metrics.runs.labels("partial" if outcome.partial else "success").inc()
            metrics.last_success.set(time.time())
            log.info(
                "report_done",
                extra={
                    "week": week.label,
                    "stored": outcome.stored[0],
                    "sent": outcome.sent,
                    "partial": outcome.partial,
                },
            )
        finally:
            metrics.duration.set(time.monotonic() - started)
            _set_next_run(scheduler, metrics)

    last = await asyncio.to_thread(last_stored, settings)
    if last is not None:
        metrics.last_success.set(last.timestamp())
    scheduler.add_job(scheduled, trigger, id="weekly-report", max_instances=1, coalesce=True,
                      misfire_grace_time=3600)  # fmt: skip
    app = Service("slo reporter", metrics.registry).app()
    scheduler.start()
    _set_next_run(scheduler, metrics)
    try:
        await service.serve(
            app, settings.listen, schedule=settings.schedule, timezone=settings.timezone
        )
    finally:
        scheduler.shutdown(wait=False)


def last_stored(settings: ReportSettings) -> datetime | None:
    """When the report of the last full week was generated, if it is in the store: a restarted
    ``serve`` does not forget it (and alert as if it were missed)."""
    week = Week.last_full(datetime.now(UTC), settings.timezone)
    try:
        stored = settings.report_store().get(week.label, "report.json")
    except Exception as error:  # a store outage must not stop the scheduler from starting
        log.warning("store_unreadable", extra={"error": repr(error)})
        return None
    return None if stored is None else datetime.fromisoformat(json.loads(stored)["generated"])


def _set_next_run(scheduler: AsyncIOScheduler, metrics: ReporterMetrics) -> None:
    job = scheduler.get_job("weekly-report")
    if job is not None and job.next_run_time is not None:
        metrics.next_run.set(job.next_run_time.timestamp())
