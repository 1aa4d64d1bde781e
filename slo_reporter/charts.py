"""PNG charts for the report (matplotlib, no display): small, legible in a mail client, one line
per group."""

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

WIDTH, HEIGHT, DPI = 6.4, 2.4, 100


def sli_chart(rolling: pd.DataFrame, objective: float, title: str) -> bytes:
    """The 24-hour SLI per group against the objective."""
    figure, axes = plt.subplots(figsize=(WIDTH, HEIGHT), dpi=DPI)
    try:
        _lines(axes, rolling, "sli")
        axes.axhline(objective, color="#cf222e", linestyle="--", linewidth=1,
                     label=f"objective {objective:.2%}")  # fmt: skip
        low = rolling["sli"].min() if rolling["sli"].notna().any() else objective
        axes.set_ylim(max(0.0, min(low, objective) - (1 - objective)), 1.0005)
        return _finish(figure, axes, title)
    finally:
        plt.close(figure)


def burndown_chart(burndown: pd.DataFrame, title: str) -> bytes:
    """The share of the error budget left through the budget period, per group."""
    figure, axes = plt.subplots(figsize=(WIDTH, HEIGHT), dpi=DPI)
    try:
        _lines(axes, burndown, "remaining")
        axes.axhline(0, color="#57606a", linewidth=0.8)
        return _finish(figure, axes, title)
    finally:
        plt.close(figure)


def _lines(axes: Axes, frame: pd.DataFrame, column: str) -> None:
    for group, rows in frame.groupby("group", sort=True):
        axes.plot(rows["time"], rows[column], linewidth=1.2, label=str(group) or None)


def _finish(figure: Figure, axes: Axes, title: str) -> bytes:
    axes.set_title(title, fontsize=9, loc="left")
    axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))  # type: ignore[no-untyped-call]
    axes.tick_params(labelsize=7)
    axes.grid(alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize=6, loc="lower left", ncol=4, frameon=False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
