"""The report as an HTML e-mail body, a text/plain twin, a CSV and a JSON document.

HTML is rendered by jinja2 (autoescape, StrictUndefined) with a single ``<style>`` block that
css-inline moves into ``style`` attributes, since many mail clients drop ``<style>``. Charts are
``cid:`` references for the e-mail and ``data:`` URIs for the stand-alone file. Text from
GitHub (pull request titles) goes through ``inert``: shown as written, but no mail client or
chat it is pasted into makes a link or a mention of it.
"""

import base64
import json
import math
from dataclasses import asdict
from typing import Any, Literal
from urllib.parse import urlencode

import css_inline
import jinja2
import pandas as pd

from thoth_monitoring.core.resources import package_file
from thoth_monitoring.core.text import plain as inert
from thoth_monitoring.slo_reporter.adviser import (
    AdviserRuns,
    by_integration,
    recommendation_types,
    top_errors,
)
from thoth_monitoring.slo_reporter.compute import STATUS_ORDER, Status
from thoth_monitoring.slo_reporter.kebechet import KebechetSection
from thoth_monitoring.slo_reporter.report import Report, Unavailable

TEMPLATES = package_file(__package__, "templates")
SLO_DASHBOARD_UID = "thoth-slos"
STATUS_TEXT: dict[Status, str] = {
    "breached": "breached", "at_risk": "at risk", "invalid": "invalid", "no_data": "no data",
    "too_few_events": "too few events", "met": "met",
}  # fmt: skip
STATUS_COLOUR: dict[Status, str] = {
    "breached": "#cf222e", "at_risk": "#9a6700", "invalid": "#8250df", "no_data": "#57606a",
    "too_few_events": "#6e7781", "met": "#1a7f37",
}  # fmt: skip
Images = Literal["cid", "inline"]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def percent(value: Any, digits: int = 2) -> str:
    return "n/a" if _missing(value) else f"{value * 100:.{digits}f}%"


def points(value: Any) -> str:
    """A change of a ratio, in percentage points."""
    # adding 0.0 turns a rounded -0.0 into 0.0, so a tiny drop does not show as "-0.00"
    return "n/a" if _missing(value) else f"{round(value * 100, 2) + 0.0:+.2f} pp"


def relative(value: Any) -> str:
    return "n/a" if _missing(value) else f"{value * 100:+.2f}%"


def number(value: Any, signed: bool = False) -> str:
    if _missing(value):
        return "n/a"
    return f"{value:+,.0f}" if signed else f"{value:,.0f}"


def times(value: Any) -> str:
    return "n/a" if _missing(value) else f"{value:.2f}\N{MULTIPLICATION SIGN}"


def duration(minutes: Any) -> str:
    """Budget minutes as ``-1 h 05 min``; negative when the budget is overspent."""
    if _missing(minutes):
        return "n/a"
    sign = "-" if minutes < 0 else ""
    whole = round(abs(minutes))
    days, rest = divmod(whole, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{sign}{days} d {hours:02d} h"
    return f"{sign}{hours} h {mins:02d} min" if hours else f"{sign}{mins} min"


def days(seconds: float) -> str:
    return f"{seconds / 86400:g} d"


def hours(seconds: float) -> str:
    """A report window: ``7 d``, or ``167 h`` for a week with a clock change."""
    return days(seconds) if seconds % 86400 == 0 else f"{seconds / 3600:g} h"


def elapsed(seconds: Any) -> str:
    """A time to merge in the unit a reader thinks in: ``40 min``, ``6 h``, ``2.5 d``."""
    if _missing(seconds):
        return "n/a"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f}".removesuffix(".0") + " h"
    return f"{seconds / 86400:.1f}".removesuffix(".0") + " d"


def budget_lines(row: dict[str, Any]) -> list[str]:
    """The error budget of one SLO row in words, the same in the HTML and the text part:
    what is left of the period's allowance, in time and (for event SLIs) failures; how much of
    it this week burned and, while burning faster than sustainable, when it runs out."""
    period, allowed = days(row["budget_period_seconds"]), duration(row["budget_allowed_minutes"])
    left, minutes = row["budget_remaining"], row["budget_remaining_minutes"]
    if _missing(left):
        lines = [f"budget left: n/a ({allowed} allowed per {period})"]
    elif left >= 0:
        lines = [f"budget left: {percent(left, 1)} ({duration(minutes)} of {allowed} allowed "
                 f"per {period})"]  # fmt: skip
    else:
        lines = [f"budget left: {percent(left, 1)} (overspent by {duration(-minutes)}; "
                 f"{allowed} allowed per {period})"]  # fmt: skip
    if not _missing(row["budget_allowed_events"]):
        lines.append(f"failures: {number(row['budget_spent_events'])} of "
                     f"{number(row['budget_allowed_events'])} allowed per {period}")  # fmt: skip
    share, exhaustion = row["week_budget_share"], row["budget_exhaustion_seconds"]
    if not _missing(share):
        burned = f"this week burned {percent(share, 1)} of it"
        if not _missing(exhaustion):
            burned += f"; at this rate it runs out in {duration(exhaustion / 60)}"
        lines.append(burned)
    return lines


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html.j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(percent=percent, points=points, relative=relative, number=number,
                               times=times, duration=duration, days=days, hours=hours,
                               elapsed=elapsed, inert=inert)  # fmt: skip
    environment.globals.update(STATUS_TEXT=STATUS_TEXT, STATUS_COLOUR=STATUS_COLOUR,
                               STATUS_ORDER=list(STATUS_ORDER), missing=_missing,
                               budget_lines=budget_lines)  # fmt: skip
    return environment


def grafana_link(grafana_url: str, report: Report, slo_id: str | None = None) -> str:
    """The SLO dashboard over the report's week (and one SLO, when given)."""
    query = {"from": int(report.week.start.timestamp() * 1000),
             "to": int(report.week.end.timestamp() * 1000)}  # fmt: skip
    if slo_id is not None:
        query["var-slo"] = slo_id  # type: ignore[assignment]
    return f"{grafana_url.rstrip('/')}/d/{SLO_DASHBOARD_UID}/slos?{urlencode(query)}"


def _context(report: Report, grafana_url: str | None) -> dict[str, Any]:
    return {
        "report": report,
        "week": report.week,
        "counts": report.counts(),
        "slos": report.slos.to_dict("records"),
        "kpis": report.kpis.to_dict("records"),
        "alerts": report.alerts.to_dict("records"),
        "definitions": {slo.id: slo for slo in report.definitions},
        "grafana": (lambda slo_id=None: grafana_link(grafana_url, report, slo_id))
        if grafana_url
        else None,
        "adviser": _adviser(report.adviser),
        "kebechet": _kebechet(report.kebechet),
    }


def _kebechet(section: KebechetSection | Unavailable | None) -> dict[str, Any] | None:
    """The Kebechet section; ``unavailable`` holds the reason when the store failed."""
    if section is None:
        return None
    if isinstance(section, Unavailable):
        return {"unavailable": section.reason}
    return {"unavailable": None} | asdict(section)


def _adviser(adviser: AdviserRuns | Unavailable | None) -> dict[str, Any] | None:
    """The adviser section's numbers; ``unavailable`` holds the reason when Ceph failed."""
    if adviser is None:
        return None
    if isinstance(adviser, Unavailable):
        return {"unavailable": adviser.reason}
    return {
        "unavailable": None,
        "runs": len(adviser.runs),
        "errors": int(adviser.runs["error"].sum()) if len(adviser.runs) else 0,
        "unreadable": adviser.unreadable,
        "integrations": by_integration(adviser.runs).to_dict("records"),
        "top_errors": top_errors(adviser.runs).to_dict("records"),
        "recommendation_types": recommendation_types(adviser.runs).to_dict("records"),
    }


def subject(report: Report) -> str:
    counts = report.counts()
    parts = [f"{count} {STATUS_TEXT[name]}" for name, count in counts.items() if count]
    partial = " (partial: a section is unavailable)" if report.partial else ""
    return f"Thoth SLO report {report.week.label}: " + ", ".join(parts) + partial


def render_html(report: Report, grafana_url: str | None = None, images: Images = "cid") -> str:
    charts = {chart.cid: chart.png for pair in report.charts.values() for chart in pair}

    def image(cid: str) -> str:
        if images == "cid":
            return f"cid:{cid}"
        return "data:image/png;base64," + base64.b64encode(charts[cid]).decode()

    template = _environment().get_template("report.html.j2")
    html = template.render(_context(report, grafana_url), image=image, subject=subject(report))
    return css_inline.CSSInliner(load_remote_stylesheets=False).inline(html)


def render_text(report: Report, grafana_url: str | None = None) -> str:
    template = _environment().get_template("report.txt.j2")
    return template.render(_context(report, grafana_url), subject=subject(report))


def render_csv(report: Report) -> str:
    """The SLO table, one row per SLO and group, with a header row."""
    return report.slos.to_csv(index=False)


def render_kebechet_csv(report: Report) -> str | None:
    """The Kebechet section's table (one row per manager, then the totals; this week's numbers,
    ``previous_…`` and ``change_…``); None without the section's numbers."""
    if not isinstance(report.kebechet, KebechetSection):
        return None
    return pd.DataFrame(report.kebechet.managers).to_csv(index=False)


def render_json(report: Report) -> str:
    context = _context(report, None)
    document = {
        "week": report.week.label,
        "start": report.week.start.isoformat(),
        "end": report.week.end.isoformat(),
        "generated": report.generated.isoformat(),
        "prometheus_queries": report.queries,
        "partial": report.partial,
        "summary": context["counts"],
        "slos": _plain(context["slos"]),
        "kpis": _plain(context["kpis"]),
        "alerts": _plain(context["alerts"]),
        "adviser": _plain(context["adviser"]),
        "kebechet": _plain(context["kebechet"]),
    }
    return json.dumps(document, indent=2, default=str)


def _plain(value: Any) -> Any:
    """JSON-ready: NaN becomes null, numpy scalars become Python numbers, tuples lists."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        value = value.item()
    return None if _missing(value) or value is pd.NaT else value
