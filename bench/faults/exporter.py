"""metrics-exporter against a database that stops, hangs (SIGSTOP) or locks the table a metric
reads, and against a metric whose query returns text: the failure shows in the self metrics
within the configured timeouts, ``/metrics`` keeps answering, and collection recovers."""

import asyncio
import contextlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import aiohttp
import psycopg
from prometheus_client.parser import text_string_to_metric_families

from bench.faults import Row, Size
from thoth_monitoring.demo.debian_postgres import DebianPostgres, debian_cluster, frozen
from thoth_monitoring.demo.processes import free_port
from thoth_monitoring.exporters.metrics.collection import CLIENT_GRACE_SECONDS
from thoth_monitoring.exporters.metrics.service import MetricsExporterSettings, serve

SELF = "thoth_metrics_exporter"
TIMEOUT = 1.0
PROBE_INTERVAL = 1.0
# The promise: a query is answered or given up within the timeout plus the client's grace, as
# the exporter's own collection_duration_seconds shows (a second's margin for a busy machine).
DEADLINE_SECONDS = TIMEOUT + CLIENT_GRACE_SECONDS + 1
DETECT_SECONDS = 30.0
RECOVER_SECONDS = 30.0
METRICS = """
metrics:
  fault_rows:
    type: gauge
    help: Rows of the table the scenario locks.
    sql: SELECT count(*) AS value FROM fault_table
  fault_constant:
    type: gauge
    help: A query that reads no table.
    sql: SELECT 1 AS value
"""
TEXT_METRICS = """
  fault_text_now:
    type: gauge
    help: A value column holding a timestamp.
    sql: SELECT now() AS value
  fault_text_word:
    type: gauge
    help: A value column holding a word.
    sql: SELECT 'many' AS value
  fault_text_array:
    type: gauge
    help: A value column holding an array.
    sql: SELECT ARRAY[1, 2] AS value
"""
Samples = dict[tuple[str, str], float]


@dataclass
class Fault:
    name: str
    what: str
    apply: Callable[[DebianPostgres], Callable[[], None]]  # applies the fault, returns the undo
    database_down: bool  # the probe should see it
    failing: tuple[str, ...]  # the metrics whose collection should fail (a stopped server's wait)


def _stop(server: DebianPostgres) -> Callable[[], None]:
    server.stop()
    return server.start


def _freeze(server: DebianPostgres) -> Callable[[], None]:
    stack = contextlib.ExitStack()
    stack.enter_context(frozen(server))
    return stack.close


def _lock(server: DebianPostgres) -> Callable[[], None]:
    conn = psycopg.connect(server.url(), connect_timeout=10)
    conn.execute("LOCK TABLE fault_table IN ACCESS EXCLUSIVE MODE")
    return conn.close  # rolls the transaction back


FAULTS = {
    "database-stopped": Fault("database stopped", "pg_ctl stop, then start", _stop, True, ()),
    "database-hung": Fault(
        "database hung",
        "SIGSTOP every server process, then SIGCONT",
        _freeze,
        True,
        ("fault_rows", "fault_constant"),
    ),
    "table-locked": Fault(
        "table locked",
        "ACCESS EXCLUSIVE lock held on the metric's table",
        _lock,
        False,
        ("fault_rows",),
    ),
}


@dataclass
class Scraper:
    url: str
    session: aiohttp.ClientSession
    service: "asyncio.Task[None]"
    answers: list[int] = field(default_factory=list)

    async def start(self) -> None:
        """Wait for the first answer (the scrapes before it do not count)."""
        await self.until(lambda samples: bool(samples), 30)
        self.answers.clear()

    async def scrape(self) -> Samples:
        try:
            async with self.session.get(self.url, timeout=aiohttp.ClientTimeout(total=5)) as r:
                self.answers.append(r.status)
                text = await r.text()
        except (aiohttp.ClientError, TimeoutError):
            self.answers.append(0)
            return {}
        return {
            (sample.name, sample.labels.get("metric", "")): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    async def until(self, condition: Callable[[Samples], bool], seconds: float) -> float | None:
        """Seconds until a scrape meets ``condition``, or None if none did in time."""
        started = time.monotonic()
        while time.monotonic() - started < seconds and not self.service.done():
            if condition(await self.scrape()):
                return time.monotonic() - started
            await asyncio.sleep(0.25)
        return None


def _success(samples: Samples, metric: str) -> float:
    return samples.get((f"{SELF}_last_success_timestamp_seconds", metric), 0.0)


def _errors(samples: Samples, metric: str) -> float:
    return samples.get((f"{SELF}_collection_errors_total", metric), 0.0)


def _settings(folder: Path, url: str, metrics: str) -> MetricsExporterSettings:
    (folder / "metrics.yaml").write_text(metrics)
    return MetricsExporterSettings.model_validate({
        "listen": f"127.0.0.1:{free_port()}", "database_url": url,
        "metrics": [str(folder / "metrics.yaml")], "include_default_metrics": False,
        "interval": TIMEOUT, "timeout": TIMEOUT, "probe_interval": PROBE_INTERVAL, "jitter": 0,
    })  # fmt: skip


def exporter_fault(name: str) -> Callable[[Size], Row]:
    fault = FAULTS[name]

    def scenario(size: Size) -> Row:
        return asyncio.run(_exporter_fault(fault, 1 if size == "short" else 3))

    scenario.__name__ = name.replace("-", "_")
    return scenario


async def _exporter_fault(fault: Fault, cycles: int) -> Row:
    problems: list[str] = []
    timings: list[str] = []
    with debian_cluster() as server, tempfile.TemporaryDirectory() as folder:
        settings = _settings(Path(folder), server.url(), METRICS)
        task = asyncio.create_task(serve(settings))
        async with aiohttp.ClientSession() as session:
            scraper = Scraper(f"http://{settings.listen}/metrics", session, task)
            await scraper.start()
            if await scraper.until(lambda s: _success(s, "fault_rows") > 0, 30) is None:
                problems.append("never collected before the fault")
            for _ in range(cycles):
                before = await scraper.scrape()
                undo = await asyncio.to_thread(fault.apply, server)
                detected = await scraper.until(
                    partial(_detected, fault, before, time.time()), DETECT_SECONDS
                )
                durations = await _failed_durations(scraper, fault)
                await asyncio.to_thread(undo)
                recovered = await scraper.until(partial(_recovered, time.time()), RECOVER_SECONDS)
                if detected is None:
                    problems.append(f"not reported within {DETECT_SECONDS:g}s")
                if any(seconds > DEADLINE_SECONDS for seconds in durations):
                    problems.append(f"a failed collection took {max(durations):.1f}s")
                if recovered is None:
                    problems.append(f"not recovered within {RECOVER_SECONDS:g}s")
                took = ", ".join(f"{seconds:.1f}s" for seconds in durations) or "-"
                timings.append(f"reported after {_seconds(detected)} (failed collections took "
                               f"{took}), recovered after {_seconds(recovered)}")  # fmt: skip
        alive = not task.done()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    if not alive:
        problems.append("the exporter stopped")
    answered = sum(status == 200 for status in scraper.answers)
    if answered != len(scraper.answers):
        problems.append(f"/metrics failed {len(scraper.answers) - answered} scrapes")
    outcome = "; ".join(timings) + f"; /metrics {answered}/{len(scraper.answers)} scrapes 200"
    if problems:
        outcome += " -- " + ", ".join(dict.fromkeys(problems))
    return Row(f"metrics-exporter: {fault.name}",
               f"{fault.what}; x{cycles}; timeout {TIMEOUT:g}s, deadline {DEADLINE_SECONDS:g}s",
               outcome, not problems)  # fmt: skip


def _recovered(removed: float, samples: Samples) -> bool:
    up = samples.get((f"{SELF}_database_up", "")) == 1
    return up and _success(samples, "fault_rows") > removed


def _detected(fault: Fault, before: Samples, applied: float, samples: Samples) -> bool:
    """The database shows as down exactly when it is gone, the metrics that cannot be
    collected as failed; under a lock, the metric reading no table still succeeds."""
    down = samples.get((f"{SELF}_database_up", "")) == 0
    failed = all(_errors(samples, name) > _errors(before, name) for name in fault.failing)
    if fault.database_down:
        return down and failed
    return failed and not down and _success(samples, "fault_constant") > applied


async def _failed_durations(scraper: Scraper, fault: Fault) -> list[float]:
    """How long the failed collections took, by the exporter's own account."""
    samples = await scraper.scrape()
    return [samples.get((f"{SELF}_collection_duration_seconds", name), 0.0)
            for name in fault.failing]  # fmt: skip


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def text_values(size: Size) -> Row:
    return asyncio.run(_text_values(3 if size == "short" else 10))


async def _text_values(cycles: int) -> Row:
    """A metric returning text fails alone; the process and the other metrics carry on."""
    problems: list[str] = []
    broken = ("fault_text_now", "fault_text_word", "fault_text_array")
    with debian_cluster() as server, tempfile.TemporaryDirectory() as folder:
        settings = _settings(Path(folder), server.url(), METRICS + TEXT_METRICS)
        task = asyncio.create_task(serve(settings))
        async with aiohttp.ClientSession() as session:
            scraper = Scraper(f"http://{settings.listen}/metrics", session, task)
            await scraper.start()
            for _ in range(cycles):  # each cycle: one more success of the good metrics
                done = await scraper.until(partial(_both_collected, time.time()), 30)
                if done is None:
                    problems.append("the other metrics stopped")
                    break
            last = await scraper.scrape()
        alive = not task.done()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    failing = [name for name in broken if _errors(last, name) > 0 and _success(last, name) == 0]
    if not alive:
        problems.append("the exporter stopped")
    if len(failing) != len(broken):
        problems.append(f"not reported as failing: {sorted(set(broken) - set(failing))}")
    answered = sum(status == 200 for status in scraper.answers)
    if answered != len(scraper.answers):
        problems.append(f"/metrics failed {len(scraper.answers) - answered} scrapes")
    outcome = (f"{len(failing)}/{len(broken)} reported failing, the others collected "
               f"{cycles}x; /metrics {answered}/{len(scraper.answers)} scrapes 200")  # fmt: skip
    if problems:
        outcome += " -- " + ", ".join(dict.fromkeys(problems))
    return Row("metrics-exporter: text values", "values now(), 'many', ARRAY[1, 2]; interval 1s",
               outcome, not problems)  # fmt: skip


def _both_collected(since: float, samples: Samples) -> bool:
    return min(_success(samples, "fault_constant"), _success(samples, "fault_rows")) > since


SCENARIOS = {name: exporter_fault(name) for name in FAULTS} | {"text-values": text_values}
