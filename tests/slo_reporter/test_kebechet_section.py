"""The report's Kebechet delivery section, from a knowledge store written here by hand: every
number below is worked out in the comments, not by the indicators."""

import csv
import json
import re
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support.prometheus import REPORT_WEEK as WEEK
from thoth_monitoring.core.config import ConfigError, validate
from thoth_monitoring.core.s3 import S3Settings
from thoth_monitoring.demo.processes import free_port
from thoth_monitoring.repo_metrics.knowledge import (
    Backend,
    Knowledge,
    KnowledgeStore,
    LocalBackend,
    PullRequest,
    S3Backend,
    State,
)
from thoth_monitoring.slo_reporter.job import ReportSettings, build, run_week
from thoth_monitoring.slo_reporter.render import elapsed, render_html, render_json, render_text
from thoth_monitoring.slo_reporter.report import Report
from thoth_monitoring.slo_reporter.sources import PrometheusSettings

KEBECHET = "khebhut[bot]"
UPDATE = "Automatic update of dependencies by Kebechet"
HOSTILE = "<script>alert(1)</script> @sesheta [link](http://evil) #123"


def pull(
    number: int,
    created: str,
    title: str = UPDATE,
    closed: str | None = None,
    merged: str | None = None,
    author: str = KEBECHET,
) -> PullRequest:
    """A pull request; times are 2026-11-<created>, open unless closed."""
    at = {name: f"2026-{day}:00Z" if day else None for name, day in
          (("created", created), ("closed", closed), ("merged", merged))}  # fmt: skip
    return PullRequest(number, title, author, author.endswith("[bot]"), [],
                       "closed" if closed else "open", at["created"] or "",
                       at["closed"] or at["created"] or "", at["closed"], at["merged"])  # fmt: skip


# The report week 2026-W47 is [11-16, 11-23), the week before [11-09, 11-16).
REPOSITORIES = [
    Knowledge("thoth-station/alpha", {p.number: p for p in [
        pull(1, "10-01T00"),  # open 53 days at the week's end
        pull(2, "11-10T00", closed="11-12T12", merged="11-12T12"),  # week before: merged, 2.5 d
        pull(3, "11-11T00", closed="11-13T00"),  # week before: rejected
        pull(4, "11-16T06", closed="11-16T12", merged="11-16T12"),  # merged in 6 h
        pull(5, "11-14T00", closed="11-17T18", merged="11-17T18"),  # merged in 3.75 d
        pull(6, "11-17T00", closed="11-19T00"),  # rejected
        pull(7, "11-02T00"),  # reopened: open again, closed_at None; 21 days old
        pull(8, "11-18T00", title="Release of version 2.0.0"),  # open, never reviewed
        pull(9, "11-20T00", title=HOSTILE),  # unknown manager, kind other; open 3 days
        pull(10, "11-17T00", closed="11-18T00", merged="11-18T00", author="ghost"),  # not Kebechet
    ]}, state=State(first_seen="2026-10-01T00:00:00Z")),
    Knowledge("thoth-station/beta", {p.number: p for p in [
        pull(1, "11-19T00", title="Release of version 0.1.0", closed="11-21T12",
             merged="11-21T12"),  # merged in 2.5 d; Kebechet's first here: adopted this week
        pull(2, "11-22T12"),  # open half a day: the fifth open one, past oldest_open: 4
    ]}, state=State(first_seen="2026-11-10T00:00:00Z")),
    Knowledge("thoth-station/gamma", state=State(first_seen="2026-10-20T00:00:00Z")),
    Knowledge("thoth-station/delta", state=State(first_seen="2026-11-17T09:00:00Z")),  # adopted
    Knowledge("thoth-station/later", state=State(first_seen="2026-11-25T00:00:00Z")),  # after
]  # fmt: skip


def fill(backend: Backend) -> None:
    store = KnowledgeStore(backend)
    for knowledge in REPOSITORIES:
        store.save(knowledge)


def report_of(prometheus: str, kebechet: dict[str, Any], **settings: Any) -> Report:
    return build(
        ReportSettings(
            prometheus=PrometheusSettings(url=prometheus), kebechet=kebechet, **settings
        ),
        WEEK,
    )


def section_text(html: str) -> str:
    """The HTML section as its words, tags left out."""
    section = html[html.index("Kebechet delivery") : html.index("Built from")]
    return " ".join(re.sub(r"<[^>]+>", " ", section).split())


def test_delivery_per_manager_with_the_week_before_oldest_open_and_adoption(
    prometheus: str, tmp_path: Path
) -> None:
    fill(LocalBackend(tmp_path))
    report = report_of(prometheus, {"store": str(tmp_path), "oldest_open": 4})
    assert not report.partial
    html, text = section_text(render_html(report)), render_text(report)
    # update: opened 4, 6, beta 2 (week before 2, 3, 5); merged 4, 5 (2); rejected 6 (3);
    # ratio 2/3 (1/2); median of 6 h and 3.75 d is 2 d (2.5 d)
    assert "update 3 3, +0 2 1, +1 1 1, +0 66.7% 50.0%, +16.67 pp 2 d 2.5 d" in html
    # version: opened alpha 8 and beta 1, merged beta 1 in 2.5 d; nothing the week before
    assert "version 2 0, +2 1 0, +1 0 0, +0 100.0% n/a, n/a 2.5 d n/a" in html
    assert "unknown 1 0, +1 0 0, +0 0 0, +0 n/a n/a, n/a n/a n/a" in html
    # total: median of 6 h, 2.5 d, 3.75 d is 2.5 d; ratio 3/4 (1/2)
    assert "Total 6 3, +3 3 1, +2 1 1, +0 75.0% 50.0%, +25.00 pp 2.5 d 2.5 d" in html
    assert (
        html.index("update") < html.index("version") < html.index("unknown") < html.index("Total")
    )
    assert "ghost" not in html
    # open at 11-23: alpha 1 (53 d), 7 (21 d), 8 (5 d), 9 (3 d); beta 2 is the fifth
    oldest = re.findall(r"thoth-station/(\w+) (\d+): .*? ([\d.]+) d", html.split("Oldest")[1])
    assert oldest == [("alpha", "1", "53.0"), ("alpha", "7", "21.0"), ("alpha", "8", "5.0"),
                      ("alpha", "9", "3.0")]  # fmt: skip
    assert "Adoption: 4 repositories" in html  # alpha, beta, gamma, delta; later came after
    assert "2 added this week: thoth-station/beta, thoth-station/delta." in html
    lines = text.splitlines()
    start = lines.index("KEBECHET DELIVERY (this week / the week before / change)")
    assert lines[start + 1 : start + 3] == [
        "- update: opened 3 / 3 / +0, merged 2 / 1 / +1, rejected 1 / 1 / +0",
        "    delivery ratio 66.7% / 50.0% / +16.67 pp, median time to merge 2 d / 2.5 d",
    ]
    assert lines[start + 7 : start + 9] == [
        "- TOTAL: opened 6 / 3 / +3, merged 3 / 1 / +2, rejected 1 / 1 / +0",
        "    delivery ratio 75.0% / 50.0% / +25.00 pp, median time to merge 2.5 d / 2.5 d",
    ]
    assert (
        "- thoth-station/alpha 1: Automatic update of dependencies by Kebechet (open 53.0 d)"
        in lines
    )
    assert (
        "Adoption: 4 repositories at the week's end, 2 added this week: thoth-station/beta, "
        "thoth-station/delta" in lines
    )
    dataset = json.loads(render_json(report))["kebechet"]
    total = dataset["managers"][-1]
    assert (total["manager"], total["opened"], total["merged"], total["rejected"]) == (
        "total",
        6,
        3,
        1,
    )
    assert total["delivery_ratio"] == 0.75 and total["median_merge_seconds"] == 216000
    assert dataset["adopted"] == ["thoth-station/beta", "thoth-station/delta"]


def test_titles_from_github_are_rendered_inert(prometheus: str, tmp_path: Path) -> None:
    fill(LocalBackend(tmp_path))
    report = report_of(prometheus, {"store": str(tmp_path)})
    html, text = render_html(report), render_text(report)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    assert "evil" not in "".join(re.findall(r"<a [^>]*>", html))  # no link made of it
    for part in (html, text):
        # shown as written, with a word joiner where a mention, a reference or a link would be
        assert "@\u2060sesheta" in part and "#\u2060123" in part and "http:\u2060//evil" in part
        assert "@sesheta" not in part and "#123" not in part and "http://evil" not in part


def test_a_corrupt_document_makes_the_section_unavailable_and_is_left_alone(
    prometheus: str, tmp_path: Path
) -> None:
    fill(LocalBackend(tmp_path))
    corrupt = tmp_path / "repo-metrics/thoth-station/beta/pull_requests.json"
    corrupt.write_text("{")
    report = report_of(prometheus, {"store": str(tmp_path)})
    assert report.partial
    reason = (
        f"the knowledge store ({tmp_path}) could not be read: 1 document(s) in {tmp_path} could "
        "not be read, e.g. repo-metrics/thoth-station/beta/pull_requests.json"
    )
    assert f"Unavailable: {reason}" in render_text(report)
    assert f"<b>Unavailable:</b> {reason}." in render_html(report)
    assert len(json.loads(render_json(report))["slos"]) == 6  # the rest is all there
    assert corrupt.read_text() == "{"  # repo-metrics sets it aside, not the report


def test_an_empty_store_has_no_data_yet_and_no_section_without_settings(
    prometheus: str, tmp_path: Path
) -> None:
    report = report_of(prometheus, {"store": str(tmp_path)})
    assert not report.partial
    assert f"No data yet: the knowledge store ({tmp_path}) holds no repository" in render_text(
        report
    )
    assert "No data yet" in render_html(report)
    without = build(ReportSettings(prometheus=PrometheusSettings(url=prometheus)), WEEK)
    assert without.kebechet is None
    assert "KEBECHET" not in render_text(without) and "Kebechet delivery" not in render_html(
        without
    )


def test_the_store_on_s3_and_an_s3_outage(
    prometheus: str, s3_endpoint: str, tmp_path: Path
) -> None:
    ceph = S3Settings(endpoint_url=s3_endpoint, bucket=f"kebechet-{uuid.uuid4().hex[:8]}",
                      deployment="ocp4-stage")  # fmt: skip
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(
        Bucket=ceph.bucket
    )
    fill(S3Backend(ceph))
    # with neither store nor s3 the section reads the report's ceph section
    report = report_of(prometheus, {}, ceph=ceph)
    html = section_text(render_html(report))
    assert f"From {S3Backend(ceph).describe()}." in html  # where repo-metrics writes
    assert "Total 6 3, +3 3 1, +2 1 1, +0 75.0% 50.0%, +25.00 pp 2.5 d 2.5 d" in html
    dead = ceph.model_copy(update={"endpoint_url": f"http://127.0.0.1:{free_port()}",
                                   "timeout": 2.0})  # fmt: skip
    report = report_of(prometheus, {"s3": dead.model_dump()})
    assert report.partial
    assert "Unavailable: the knowledge store (s3://" in render_text(report)
    assert "could not be read: repo-metrics: Could not connect" in render_text(report)


@pytest.mark.parametrize(
    ("kebechet", "problem"),
    [
        ({"s3": {"bucket": "thoth", "deployment": "ocp4"}},
         "kebechet.s3.endpoint_url: Field required"),
        ({"store": "a", "s3": {"endpoint_url": "http://x", "bucket": "b", "deployment": "d"}},
         "kebechet: give store (a folder) or s3, not both"),
        ({}, "kebechet: needs store (a folder), s3, or the report's ceph section"),
        ({"store": "a", "oldest_open": -1},
         "kebechet.oldest_open: Input should be greater than or equal to 0"),
        ({"store": "a", "owner": "x"}, "kebechet.owner: Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_the_kebechet_section_is_validated_with_located_errors(
    kebechet: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        validate(ReportSettings, {"kebechet": kebechet}, "report.yaml")
    assert str(caught.value) == f"report.yaml: {problem}"


def test_the_weekly_dataset_holds_the_kebechet_table(prometheus: str, tmp_path: Path) -> None:
    fill(LocalBackend(tmp_path / "knowledge"))
    settings = ReportSettings(prometheus=PrometheusSettings(url=prometheus), store_dir=tmp_path,
                              kebechet={"store": str(tmp_path / "knowledge")})  # fmt: skip
    outcome = run_week(settings, WEEK, send_mail=False)
    assert [Path(path).name for path in outcome.stored] == [
        "report.html", "report.txt", "report.csv", "report.json", "kebechet.csv",
    ]  # fmt: skip
    rows = list(csv.DictReader(Path(outcome.stored[-1]).read_text().splitlines()))
    assert [row["manager"] for row in rows] == ["update", "version", "unknown", "total"]
    update = rows[0]
    assert (update["opened"], update["previous_opened"], update["change_opened"]) == ("3", "3", "0")
    assert (update["merged"], update["rejected"], update["median_merge_seconds"]) == (
        "2", "1", "172800.0",
    )  # fmt: skip
    assert rows[-1]["delivery_ratio"] == "0.75" and rows[-1]["previous_delivery_ratio"] == "0.5"


def test_times_to_merge_are_in_human_units() -> None:
    assert [elapsed(s) for s in (None, 2400, 5400, 21600, 2 * 86400 - 1, 172800, 216000)] == [
        "n/a", "40 min", "1.5 h", "6 h", "48 h", "2 d", "2.5 d",
    ]  # fmt: skip
