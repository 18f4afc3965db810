"""Draw a :class:`~core.messages.Chart` as a PNG image.

Uses matplotlib's Agg canvas on a private :class:`~matplotlib.figure.Figure`, never
pyplot: no global state, safe from any thread. matplotlib is imported when a chart
is drawn, so importing this module stays cheap.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from core.messages import Chart, Reference, Series

if TYPE_CHECKING:
    from matplotlib.axes import Axes

DPI = 100
REFERENCE_COLOUR = "0.4"
REFERENCE_STYLE: dict[str, Any] = {"color": REFERENCE_COLOUR, "linewidth": 1.0}
LINE_STYLES = {"solid": "-", "dashed": "--", "dotted": ":"}
BAR_WIDTH_DAYS = 0.8


def render_png(chart: Chart, *, width_px: int = 800, height_px: int = 320) -> bytes:
    """Draw the chart and return it as PNG bytes of exactly ``width_px`` x ``height_px``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI, layout="tight")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_title(chart.title)
    if chart.days:
        _draw(axes, chart)
    else:
        _draw_empty(axes)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _draw(axes: Axes, chart: Chart) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    x = _date_numbers(chart.days)
    if chart.kind == "bar":
        _draw_bars(axes, x, chart.series)
    else:
        _draw_lines(axes, x, chart.series)
    for reference in chart.references:
        _draw_reference(axes, reference)
    axes.xaxis_date()
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    axes.set_ylabel(chart.y_label)
    axes.grid(visible=True, axis="y", alpha=0.3)
    if len(chart.series) > 1 or chart.references:
        axes.legend(fontsize="small")


def _date_numbers(days: Sequence[date]) -> list[float]:
    """Convert days to matplotlib's date numbers (days since its epoch)."""
    from matplotlib.dates import date2num

    return [float(n) for n in date2num(days)]  # type: ignore[no-untyped-call]


def _draw_lines(axes: Axes, x: list[float], series: tuple[Series, ...]) -> None:
    """Draw one line per series; None values leave gaps."""
    marker = "o" if len(x) == 1 else ""
    for s in series:
        values = [math.nan if v is None else v for v in s.values]
        axes.plot(x, values, LINE_STYLES[s.style], label=s.name, marker=marker)
    axes.margins(x=0)


def _draw_bars(axes: Axes, x: list[float], series: tuple[Series, ...]) -> None:
    """Draw bars per day, stacking the series; None counts as nothing."""
    bottoms = [0.0] * len(x)
    for s in series:
        heights = [0.0 if v is None else v for v in s.values]
        axes.bar(x, heights, BAR_WIDTH_DAYS, bottom=bottoms, label=s.name)
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]


def _draw_reference(axes: Axes, reference: Reference) -> None:
    """Draw a labelled dashed horizontal line at a value, or dotted vertical one at a day."""
    label = reference.label
    if reference.value is not None:
        axes.axhline(reference.value, linestyle="--", label=label, **REFERENCE_STYLE)
        axes.annotate(
            label,
            (1.0, reference.value),
            xycoords=("axes fraction", "data"),
            ha="right",
            va="bottom",
            color=REFERENCE_COLOUR,
            fontsize="small",
        )
    if reference.day is not None:
        (day,) = _date_numbers([reference.day])
        axes.axvline(day, linestyle=":", label=label, **REFERENCE_STYLE)
        axes.annotate(
            label,
            (day, 1.0),
            xycoords=("data", "axes fraction"),
            ha="right",
            va="top",
            rotation=90,
            color=REFERENCE_COLOUR,
            fontsize="small",
        )


def _draw_empty(axes: Axes) -> None:
    axes.text(0.5, 0.5, "No data", ha="center", va="center", transform=axes.transAxes)
    axes.set_axis_off()
