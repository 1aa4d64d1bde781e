"""PNG charts for the report, drawn with Pillow: a line per group over time, percent on the
y axis, dates on the x axis, the reported week shaded, a legend. A report has two charts per
SLO, so drawing must be cheap: this takes a few milliseconds a chart where matplotlib took over
a hundred (the report's build time for 60 SLOs was dominated by it). Lines are drawn at twice
the size and scaled down, which smooths them.
"""

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT, SCALE = 640, 240, 2
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 24, 24
PALETTE = ("#0969da", "#e16f24", "#1a7f37", "#8250df", "#bf3989", "#1b7c83", "#9a6700", "#57606a")
AXIS, GRID, TEXT = "#57606a", "#eaeef2", "#1f2328"
SHADE, SHADE_EDGE = "#fff1c2", "#eac54f"  # the reported week
DAY = 86400.0


@dataclass(frozen=True)
class Line:
    """A horizontal reference line (an objective, zero)."""

    value: float
    colour: str
    label: str | None = None
    dashed: bool = False


Span = tuple[datetime, datetime]


def sli_chart(rolling: pd.DataFrame, objective: float, title: str, week: Span) -> bytes:
    """The 24-hour SLI per group against the objective."""
    values = rolling["sli"].dropna()
    low = min(float(values.min()) if len(values) else objective, objective)
    bottom = max(0.0, low - (1 - objective))
    line = Line(objective, "#cf222e", f"objective {objective:.2%}", dashed=True)
    return _chart(title, rolling, "sli", (bottom, 1.0), [line], week)


def burndown_chart(burndown: pd.DataFrame, title: str, week: Span) -> bytes:
    """The share of the error budget left through the budget period, per group."""
    values = burndown["remaining"].dropna()
    low = min(float(values.min()) if len(values) else 0.0, 0.0)
    return _chart(title, burndown, "remaining", (low, 1.0), [Line(0.0, AXIS)], week)


def _chart(
    title: str,
    frame: pd.DataFrame,
    column: str,
    span: tuple[float, float],
    lines: list[Line],
    week: Span,
) -> bytes:
    image = Image.new("RGB", (WIDTH * SCALE, HEIGHT * SCALE), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=10 * SCALE)
    times = _seconds(frame["time"])
    start, end = (times.min(), times.max()) if len(times) else (0.0, DAY)
    low, high = span
    if high - low < 1e-9:
        low -= 0.01
    box = (LEFT * SCALE, TOP * SCALE, (WIDTH - RIGHT) * SCALE, (HEIGHT - BOTTOM) * SCALE)

    def x(t: float) -> float:
        return box[0] + (t - start) / max(end - start, 1.0) * (box[2] - box[0])

    def y(v: float) -> float:
        return box[3] - (v - low) / (high - low) * (box[3] - box[1])

    shaded = max(week[0].timestamp(), start), min(week[1].timestamp(), end)
    if shaded[0] < shaded[1]:  # labelled in place: the legend is full with many groups
        draw.rectangle((x(shaded[0]), box[1], x(shaded[1]), box[3]), fill=SHADE,
                       outline=SHADE_EDGE, width=SCALE)  # fmt: skip
        draw.text((x(shaded[1]) - 4 * SCALE, box[1] + 4 * SCALE), "reported week", fill=AXIS,
                  font=font, anchor="rt")  # fmt: skip

    step = _nice_step(high - low)
    decimals = max(0, -math.floor(math.log10(step * 100) + 1e-9))
    for tick in np.arange(math.ceil(low / step) * step, high + step / 1000, step):
        draw.line([(box[0], y(tick)), (box[2], y(tick))], fill=GRID, width=SCALE)
        label = f"{tick * 100:.{decimals}f}%"
        draw.text((box[0] - 4 * SCALE, y(tick)), label, fill=AXIS, font=font, anchor="rm")
    first_midnight = math.ceil(start / DAY) * DAY
    for day in np.arange(first_midnight, end + 1, 7 * DAY):
        draw.line([(x(day), box[1]), (x(day), box[3])], fill=GRID, width=SCALE)
        label = pd.Timestamp(day, unit="s").strftime("%d %b")
        near_edge = min(x(day) - box[0], box[2] - x(day)) < 24 * SCALE  # keep labels inside
        anchor = ("lt" if x(day) - box[0] < box[2] - x(day) else "rt") if near_edge else "mt"
        draw.text((x(day), box[3] + 4 * SCALE), label, fill=AXIS, font=font, anchor=anchor)
    legend: list[tuple[str, str]] = []
    for index, (group, rows) in enumerate(frame.groupby("group", sort=True)):
        colour = PALETTE[index % len(PALETTE)]
        points = zip(_seconds(rows["time"]), rows[column].to_numpy(dtype=float), strict=True)
        for segment in _segments([(x(t), y(v)) for t, v in points]):
            draw.line(segment, fill=colour, width=2 * SCALE, joint="curve")
        if group:
            legend.append((str(group), colour))
    for line in lines:
        _horizontal(draw, (box[0], box[2]), y(line.value), line)
        if line.label:
            legend.append((line.label, line.colour))
    draw.rectangle(box, outline=AXIS, width=SCALE)
    draw.text((box[0], 6 * SCALE), title, fill=TEXT, font=font)
    _legend(draw, font, legend, (box[0] + 6 * SCALE, box[3] - 6 * SCALE))
    small = image.resize((WIDTH, HEIGHT), Image.Resampling.BOX)
    buffer = io.BytesIO()
    small.save(buffer, format="PNG")
    return buffer.getvalue()


def _seconds(times: "pd.Series[pd.Timestamp]") -> "np.ndarray[Any, np.dtype[np.float64]]":
    """Unix seconds of tz-aware timestamps."""
    nanoseconds = times.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]").astype("int64")
    seconds: np.ndarray[Any, np.dtype[np.float64]] = nanoseconds / 1e9
    return seconds


def _nice_step(span: float) -> float:
    """A round tick step giving about five ticks over ``span``."""
    raw = span / 5
    magnitude: float = 10.0 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)


def _segments(points: list[tuple[float, float]]) -> list[list[tuple[float, float]]]:
    """The polyline split where values are missing (NaN)."""
    segments: list[list[tuple[float, float]]] = [[]]
    for point in points:
        if math.isnan(point[1]):
            segments.append([])
        else:
            segments[-1].append(point)
    return [segment for segment in segments if len(segment) > 1]


def _horizontal(
    draw: ImageDraw.ImageDraw, span: tuple[float, float], at: float, line: Line
) -> None:
    dash = 8 * SCALE if line.dashed else span[1] - span[0]
    for left in np.arange(span[0], span[1], 2 * dash if line.dashed else dash):
        draw.line([(left, at), (min(left + dash, span[1]), at)], fill=line.colour, width=SCALE)


def _legend(
    draw: ImageDraw.ImageDraw,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    entries: Sequence[tuple[str, str]],
    origin: tuple[float, float],
) -> None:
    """Entries left to right along the bottom of the plot, each a colour swatch and its label."""
    left, baseline = origin
    for label, colour in entries:
        draw.line([(left, baseline - 5 * SCALE), (left + 14 * SCALE, baseline - 5 * SCALE)],
                  fill=colour, width=2 * SCALE)  # fmt: skip
        draw.text((left + 18 * SCALE, baseline), label, fill=TEXT, font=font, anchor="ls")
        left += 18 * SCALE + draw.textlength(label, font=font) + 12 * SCALE
