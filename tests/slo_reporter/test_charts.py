"""The report's PNG charts: the reported week is shaded, and nothing else is."""

import io
from datetime import UTC, datetime, timedelta

import pandas as pd
from PIL import Image

from slo_reporter import charts

END = datetime(2026, 11, 23, tzinfo=UTC)
WEEK = (END - timedelta(days=7), END)


def shaded_columns(png: bytes) -> list[float]:
    """Per pixel column of the plot, the share of its pixels in the reported week's colour."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    shade = Image.new("RGB", (1, 1), charts.SHADE).getpixel((0, 0))
    plot_top, plot_bottom = charts.TOP + 2, charts.HEIGHT - charts.BOTTOM - 2
    return [
        sum(image.getpixel((x, y)) == shade for y in range(plot_top, plot_bottom))
        / (plot_bottom - plot_top)
        for x in range(charts.LEFT + 2, charts.WIDTH - charts.RIGHT - 2)
    ]


def test_the_reported_week_is_shaded_on_both_charts() -> None:
    times = pd.date_range(END - timedelta(days=28), END, freq="h", tz="UTC")
    sli = pd.DataFrame({"group": "", "time": times, "sli": 0.999})
    left = pd.DataFrame({"group": "", "time": times, "remaining": 0.5})
    for png in (charts.sli_chart(sli, 0.99, "SLI", WEEK),
                charts.burndown_chart(left, "budget", WEEK)):  # fmt: skip
        columns = shaded_columns(png)
        # the plot spans 28 days: its last quarter is the week, shaded but for lines and text
        width = len(columns)
        assert all(share == 0 for share in columns[: int(width * 0.74)])
        assert all(share > 0.5 for share in columns[int(width * 0.76) :])
