"""bench/slo: building the weekly report's SLO part against a real Prometheus holding five weeks
of 1-minute history, and the original thoth slo-reporter's approach on the same data.

60 ratio SLOs (half of them with group_by) over one counter family of 120 series,
bench_requests_total{service, route, code}, backfilled with promtool:

(1) ours: build_report through PrometheusSource, the report's own code path (table, KPIs and
    two charts per SLO): wall time (target <= 10 s) and Prometheus queries (a fixed number per
    SLO, however many series it covers);
(2) baseline: the original slo-reporter's way: find each SLO's series with /api/v1/series,
    fetch every series' raw counter over the 7-day report window at a 60 s step with
    query_range, and reduce in Python (increase with counter resets, summed per group,
    SLI = good / total). It covers the 7-day SLI of the ratio SLOs only (no previous week, no
    budget period, no charts): its wall time and HTTP requests;
(3) the 7-day SLI of every SLO and group must agree between the two within 1e-3.

Run with ``python -m bench.slo`` (``make bench`` runs it). Results: bench/results/slo.json.
"""

import argparse
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import requests

from bench.common import free_port, print_table, stop, wait_for_http, write_result
from thoth_monitoring.demo.processes import backfill
from thoth_monitoring.demo.processes import start_prometheus as start_prometheus_process
from thoth_monitoring.slo_reporter.definitions import SLO
from thoth_monitoring.slo_reporter.report import Week, build_report
from thoth_monitoring.slo_reporter.sources import PrometheusSettings, PrometheusSource

END = datetime(2026, 11, 23, tzinfo=UTC)  # Monday 00:00 UTC: the end of ISO week 2026-W47
STEP = 60  # seconds between samples
WEEK = 7 * 86400
STEPS = 5 * WEEK // STEP  # 50 400 samples a series, the last one at END
START = END - timedelta(seconds=STEPS * STEP)
FAMILY = "bench_requests"
METRIC = f"{FAMILY}_total"
SERVICES = ("user-api", "management-api", "adviser", "solver", "kebechet", "amun",
            "investigator", "graph-sync", "package-extract", "provenance-checker",
            "security-indicators", "dependency-monkey")  # fmt: skip
READS = ("get", "list", "search")
WRITES = ("create", "update")
ROUTES = READS + WRITES
# Pod restarts: the service's counters start again from 0 at this sample (one in the report
# week, one in an earlier week), so both approaches must handle counter resets.
RESTARTS = {SERVICES[0]: STEPS - 3 * 1440 + 17, SERVICES[5]: STEPS - 2 * WEEK // STEP + 601}
TOLERANCE = 1e-3
TARGET_SECONDS = 10.0
HTTP_TIMEOUT = 120.0


class Clock:
    """Progress on stderr, stamped with the seconds since the bench started."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def say(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.started:7.1f} s] {message}", file=sys.stderr,
              flush=True)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.slo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seed", type=int, default=47, help="seed of the synthetic history")
    args = parser.parse_args(argv)
    promtool, binary = shutil.which("promtool"), shutil.which("prometheus")
    if promtool is None or binary is None:
        raise SystemExit("Debian's prometheus package is missing: run .ci/system-deps")
    clock = Clock()
    slos = definitions()
    root = Path(tempfile.mkdtemp(prefix="thoth-bench-slo-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        clock.say(f"generating {len(SERVICES) * len(ROUTES) * 2} series x {STEPS:,} samples ...")
        started = time.perf_counter()
        history = root / "history.om"
        series = write_history(history, args.seed)
        generate_seconds = time.perf_counter() - started
        clock.say(f"generated {history.stat().st_size / 1e6:,.0f} MB in {generate_seconds:.1f} s")

        clock.say("backfilling with promtool ...")
        started = time.perf_counter()
        backfill(promtool, history, root / "data")
        backfill_seconds = time.perf_counter() - started
        history.unlink()
        clock.say(f"backfilled in {backfill_seconds:.1f} s")

        clock.say("starting Prometheus ...")
        process, url = start_prometheus(binary, root)
        samples = loaded_samples(url, series)
        clock.say(f"Prometheus ready at {url}, all {samples:,} samples loaded")

        clock.say(f"ours: build_report for {len(slos)} SLOs ...")
        ours = run_ours(slos, url)
        clock.say(f"ours: {ours['seconds']:.2f} s, {ours['queries']} queries")

        clock.say("baseline: one range query per series ...")
        theirs: dict[tuple[str, str], float] = {}
        with requests.Session() as session:
            baseline = Baseline(url, session)
            started = time.perf_counter()
            for n, slo in enumerate(slos, 1):
                if slo.sli.ratio is not None:
                    slis = baseline.sli(slo, END)
                    theirs.update({(slo.id, group): sli for group, sli in slis.items()})
                if n % 10 == 0:
                    clock.say(f"baseline: {n}/{len(slos)} SLOs, {baseline.http_requests} requests")
            baseline_seconds = time.perf_counter() - started
        clock.say(f"baseline: {baseline_seconds:.2f} s, {baseline.http_requests} requests")
    finally:
        if process is not None:
            stop(process)
        shutil.rmtree(root, ignore_errors=True)

    covered = [slo for slo in slos if slo.sli.ratio is not None]
    difference, unmatched = compare(ours.pop("slis"), theirs, {slo.id for slo in covered})
    result: dict[str, Any] = {
        "end": END.isoformat(), "seed": args.seed,
        "slo_definitions": len(slos), "grouped_definitions": sum(bool(s.group_by) for s in slos),
        "slo_rows": ours["rows"], "series": series, "samples": samples,
        "generate_seconds": generate_seconds, "backfill_seconds": backfill_seconds,
        "ours": ours | {"target_seconds": TARGET_SECONDS,
                        "within_target": ours["seconds"] <= TARGET_SECONDS},
        "baseline": {
            "seconds": baseline_seconds, "requests": baseline.http_requests,
            "series_lookups": baseline.series_lookups, "range_queries": baseline.range_queries,
            "points": baseline.points, "slos_covered": len(covered), "rows_covered": len(theirs),
            "covers": "7-day SLI of the ratio SLOs (no previous week, budget period or charts)",
        },
        "ratios": {"seconds": baseline_seconds / ours["seconds"],
                   "requests": baseline.http_requests / ours["queries"]},
        "max_sli_difference": difference, "unmatched_rows": unmatched, "tolerance": TOLERANCE,
    }  # fmt: skip
    report(result)
    print(f"\nwritten to {write_result('slo', result)}")
    if unmatched or difference > TOLERANCE:
        print(
            f"\nFAILED: the 7-day SLIs of ours and the baseline differ by up to {difference:.3g} "
            f"(tolerance {TOLERANCE:g}); rows only one side has: {unmatched or 'none'}",
            file=sys.stderr,
        )
        return 1
    return 0


def definitions() -> list[SLO]:
    """60 ratio SLOs: four per service (all requests; per route, grouped; read routes; write
    routes grouped by route), two per route across the services (grouped by service and not)
    and two over everything."""
    reads, writes = "|".join(READS), "|".join(WRITES)
    specs: list[tuple[str, str, float, str | None, dict[str, str]]] = []
    for service in SERVICES:
        where = f'service="{service}"'
        specs += [
            (service, "requests", 0.99, None,
             {"bad": f'{METRIC}{{{where},code="500"}}', "total": f"{METRIC}{{{where}}}"}),
            (service, "routes", 0.99, "route",
             {"good": f'{METRIC}{{{where},code="200"}}', "total": f"{METRIC}{{{where}}}"}),
            (service, "reads", 0.995, None,
             {"bad": f'{METRIC}{{{where},route=~"{reads}",code="500"}}',
              "total": f'{METRIC}{{{where},route=~"{reads}"}}'}),
            (service, "writes", 0.98, "route",
             {"good": f'{METRIC}{{{where},route=~"{writes}",code="200"}}',
              "total": f'{METRIC}{{{where},route=~"{writes}"}}'}),
        ]  # fmt: skip
    for route in ROUTES:
        where = f'route="{route}"'
        ratio = {"bad": f'{METRIC}{{{where},code="500"}}', "total": f"{METRIC}{{{where}}}"}
        specs += [("platform", f"route-{route}", 0.99, None, ratio),
                  ("platform", f"route-{route}-by-service", 0.99, "service", ratio)]  # fmt: skip
    everything = {"good": f'{METRIC}{{code="200"}}', "total": METRIC}
    specs += [("platform", "all-requests", 0.995, None, everything),
              ("platform", "all-requests-by-service", 0.99, "service", everything)]  # fmt: skip
    return [
        SLO.model_validate(
            {
                "service": service,
                "name": name,
                "objective": objective,
                "group_by": group_by,
                "description": f"{service} {name}: share of requests answered without a 5xx",
                "sli": {"ratio": ratio},
            }
        )
        for service, name, objective, group_by, ratio in specs
    ]


def write_history(path: Path, seed: int) -> int:
    """Stream the OpenMetrics file series by series; return the series count.

    Per service and route: a request rate (20-120 a minute, with a daily cycle), its own error
    ratio (1e-4 to 2e-2) and up to two incidents (10 minutes to 4 hours at 20 % errors), so the
    SLIs and statuses differ; the counters of RESTARTS reset once."""
    rng = np.random.default_rng(seed)
    minutes = np.arange(1, STEPS + 1)
    daily = 1 + 0.5 * np.sin(2 * np.pi * minutes * STEP / 86400)
    first = int(START.timestamp())
    stamps = [f" {first + m * STEP}\n" for m in range(1, STEPS + 1)]
    series = 0
    with path.open("w") as out:
        out.write(f"# TYPE {FAMILY} counter\n")
        for service in SERVICES:
            for route in ROUTES:
                rate = rng.uniform(20, 120) * daily
                errors = np.full(STEPS, 10 ** rng.uniform(-4, -1.7))
                for _ in range(int(rng.integers(0, 3))):
                    begin = int(rng.integers(0, STEPS))
                    errors[begin : begin + int(rng.integers(10, 240))] = 0.2
                good, bad = rng.poisson(rate * (1 - errors)), rng.poisson(rate * errors)
                for code, increments in (("200", good), ("500", bad)):
                    values = int(rng.integers(0, 1_000_000)) + np.cumsum(increments)
                    if service in RESTARTS:
                        values[RESTARTS[service] :] -= values[RESTARTS[service] - 1]
                    prefix = f'{METRIC}{{service="{service}",route="{route}",code="{code}"}} '
                    lines = zip(values.tolist(), stamps, strict=True)
                    out.writelines(f"{prefix}{value}{stamp}" for value, stamp in lines)
                    series += 1
        out.write("# EOF\n")
    return series


def start_prometheus(binary: str, root: Path) -> tuple["subprocess.Popen[bytes]", str]:
    """Prometheus without scrape jobs over the backfilled data, once it is ready."""
    (root / "prometheus.yml").write_text("global: {scrape_interval: 1m}\n")
    port = free_port()
    process = start_prometheus_process(binary, root / "prometheus.yml", root / "data", port)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/-/ready", 120, process)
    except BaseException:
        stop(process)
        raise
    return process, url


def loaded_samples(url: str, series: int) -> int:
    """Count every stored sample, which checks the backfill and reads all the data once, so
    neither approach profits from a cache the other warmed."""
    with requests.Session() as session:
        counted = api(
            session,
            url,
            "/api/v1/query",
            {"query": f"sum(count_over_time({METRIC}[{STEPS * STEP}s]))", "time": END.timestamp()},
        )
        found = api(session, url, "/api/v1/query",
                    {"query": f"count({METRIC})", "time": END.timestamp()})  # fmt: skip
    samples, stored = int(counted["result"][0]["value"][1]), int(found["result"][0]["value"][1])
    if stored != series or samples != series * STEPS:
        raise SystemExit(f"Prometheus holds {stored} series and {samples:,} samples; expected "
                         f"{series} and {series * STEPS:,}")  # fmt: skip
    return samples


def run_ours(slos: list[SLO], url: str) -> dict[str, Any]:
    """The report as ``slo-report`` builds it (build_report: table, KPIs and both charts of every
    SLO, several SLOs at a time), without the Ceph section."""
    source = PrometheusSource(PrometheusSettings(url=url))
    week = Week.last_full(END + timedelta(days=1))
    started = time.perf_counter()
    built = build_report(slos, source, week, None, datetime.now(UTC))
    seconds = time.perf_counter() - started
    table = built.slos
    rows = zip(table["slo"], table["group"], table["sli"], strict=True)
    return {
        "seconds": seconds, "queries": source.queries,
        "queries_per_slo": source.queries / len(slos),
        "charts": sum(len(pair) for pair in built.charts.values()),
        "rows": len(table),
        "statuses": {str(k): int(v) for k, v in table["status"].value_counts().items()},
        "slis": {(slo, group): float(sli) for slo, group, sli in rows},
    }  # fmt: skip


@dataclass
class Baseline:
    """The original slo-reporter's approach: the raw counter of every series over the window,
    reduced in Python. Like the original, it looks each SLO up afresh (no cache across SLOs)."""

    url: str
    session: requests.Session
    series_lookups: int = 0
    range_queries: int = 0
    points: int = 0

    @property
    def http_requests(self) -> int:
        return self.series_lookups + self.range_queries

    def sli(self, slo: SLO, end: datetime) -> dict[str, float]:
        """The SLI of each group over the SLO's window ending at ``end``."""
        ratio = slo.sli.ratio
        assert ratio is not None, "the baseline computes ratio SLIs only"
        start = end - timedelta(seconds=slo.window)
        part = ratio.good if ratio.good is not None else ratio.bad
        assert part is not None
        sums: defaultdict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        for index, selector in enumerate((part, ratio.total)):
            for labels in self.series(selector, start, end):
                values = self.values(labels, start, end)
                sums[labels.get(slo.group_by or "", "")][index] += counter_increase(values)
        good = ratio.good is not None
        return {group: counted / total if good else 1 - counted / total
                for group, (counted, total) in sums.items() if total > 0}  # fmt: skip

    def series(self, selector: str, start: datetime, end: datetime) -> list[dict[str, str]]:
        self.series_lookups += 1
        params = {"match[]": selector, "start": start.timestamp(), "end": end.timestamp()}
        found: list[dict[str, str]] = api(self.session, self.url, "/api/v1/series", params)
        return found

    def values(self, labels: dict[str, str], start: datetime, end: datetime) -> list[float]:
        """One series' raw values at every step of the window (10 081 for a week)."""
        self.range_queries += 1
        exact = ",".join(f"{name}={json.dumps(value)}" for name, value in sorted(labels.items()))
        params = {"query": f"{{{exact}}}", "start": start.timestamp(), "end": end.timestamp(),
                  "step": STEP}  # fmt: skip
        data = api(self.session, self.url, "/api/v1/query_range", params)
        values = [float(v) for result in data["result"] for _, v in result["values"]]
        self.points += len(values)
        return values


def counter_increase(values: list[float]) -> float:
    """What a counter counted: a drop is a reset to 0, after which the new value was counted."""
    return sum(
        after - before if after >= before else after for before, after in itertools.pairwise(values)
    )


def api(session: requests.Session, url: str, path: str, params: dict[str, Any]) -> Any:
    """The ``data`` of a Prometheus HTTP API answer."""
    response = session.get(f"{url}{path}", params=params, timeout=HTTP_TIMEOUT)
    response.raise_for_status()
    body = response.json()
    if body.get("status") != "success":
        raise RuntimeError(f"{path}: {body.get('error')}")
    return body["data"]


def compare(
    ours: dict[tuple[str, str], float], theirs: dict[tuple[str, str], float], covered: set[str]
) -> tuple[float, list[str]]:
    """The largest absolute SLI difference over the SLOs the baseline covers, and the rows
    (SLO/group) only one side has."""
    mine = {key for key in ours if key[0] in covered}
    unmatched = sorted(f"{slo}/{group}" for slo, group in mine ^ theirs.keys())
    differences = [abs(ours[key] - theirs[key]) for key in mine & theirs.keys()]
    return max(differences, default=0.0), unmatched


def report(result: dict[str, Any]) -> None:
    ours, baseline = result["ours"], result["baseline"]
    print_table(
        f"{result['slo_definitions']} SLO definitions ({result['grouped_definitions']} with "
        f"group_by, {result['slo_rows']} rows) over {result['series']} series, "
        f"{result['samples']:,} samples (5 weeks at 1 min); backfill "
        f"{result['backfill_seconds']:.1f} s",
        ["approach", "covers", "seconds", "HTTP requests", "per SLO"],
        [
            ["ours", f"build_report: 7 d, previous week, 28 d budget, KPIs, {ours['charts']} "
             "charts", ours["seconds"], ours["queries"], ours["queries_per_slo"]],
            ["baseline", f"7-day SLI of the {baseline['slos_covered']} ratio SLOs only",
             baseline["seconds"], baseline["requests"],
             baseline["requests"] / baseline["slos_covered"]],
            ["  series lookups", "/api/v1/series", "", baseline["series_lookups"], ""],
            ["  range queries", f"query_range, {baseline['points']:,} points", "",
             baseline["range_queries"], ""],
        ],
    )  # fmt: skip
    ratios = result["ratios"]
    print(
        f"  baseline / ours: {ratios['seconds']:.1f}x the time, {ratios['requests']:.1f}x the "
        f"requests; ours {'within' if ours['within_target'] else 'OVER'} the "
        f"{TARGET_SECONDS:g} s target"
    )
    print(
        f"  7-day SLI, {baseline['rows_covered']} rows: max |ours - baseline| = "
        f"{result['max_sli_difference']:.3g} (tolerance {result['tolerance']:g})"
    )


if __name__ == "__main__":
    sys.exit(main())
