"""Draw a :class:`~core.messages.Chart` as a PNG image a person can read.

Uses matplotlib's Agg canvas on a private :class:`~matplotlib.figure.Figure`, never
pyplot: no global state, safe from any thread, nothing kept after the call (so a
long-running web process does not grow with every chart). matplotlib is imported
when a chart is drawn, so importing this module stays cheap.

What a reader gets: money with its currency symbol and thousands separators,
counts with k/M/B suffixes (never an axis of "2.0" with "1e8" in the corner),
shaded ranges, reference lines labelled inside the plot, and one panel per
metric when a chart has several.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from core.messages import Band, Chart, Reference, Series

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DPI = 100
PANEL_HEIGHT_PX = 150  # each extra panel of a small-multiples chart adds this much height
REFERENCE_COLOUR = "0.35"
REFERENCE_STYLE: dict[str, Any] = {"color": REFERENCE_COLOUR, "linewidth": 1.0}
LINE_STYLES = {"solid": "-", "dashed": "--", "dotted": ":"}
BAR_WIDTH_DAYS = 0.8
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "AUD": "A$"}
SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))


def compact(value: float) -> str:
    """A count as people write it on a chart: 950, 1.2k, 12k, 3.4M, 2B."""
    size = abs(value)
    if size < 1_000:
        return f"{value:,.0f}" if size >= 10 or value == int(value) else f"{value:.1f}"
    for scale, suffix in SUFFIXES:
        if size >= scale:
            scaled = value / scale
            text = f"{scaled:.1f}" if abs(scaled) < 10 else f"{scaled:,.0f}"
            return text.removesuffix(".0") + suffix
    return f"{value:,.0f}"  # pragma: no cover - every size >= 1,000 has a suffix


def money_tick(currency: str) -> Callable[[float], str]:
    """Amounts on an axis: $6,000, $1.2M, -$450k; unknown currencies as '1.2M CHF'."""
    symbol = CURRENCY_SYMBOLS.get(currency.upper())

    def tick(value: float) -> str:
        sign = "-" if value < 0 else ""
        body = compact(abs(value))
        return f"{sign}{symbol}{body}" if symbol else f"{sign}{body} {currency}".strip()

    return tick


def value_formatter(unit: str) -> Callable[[float], str]:
    """How the chart's values read: money for a currency code, compact counts otherwise."""
    return money_tick(unit) if len(unit) == 3 and unit.isalpha() and unit.isupper() else compact


def render_png(chart: Chart, *, width_px: int = 800, height_px: int | None = None) -> bytes:
    """Draw the chart and return it as PNG bytes of ``width_px`` x ``height_px``.

    The height defaults to 320 px, plus :data:`PANEL_HEIGHT_PX` for each extra panel.
    """
    figure = draw(chart, width_px=width_px, height_px=height_px)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    figure.clear()
    return buffer.getvalue()


def draw(chart: Chart, *, width_px: int = 800, height_px: int | None = None) -> Figure:
    """The chart on a private figure (what :func:`render_png` saves)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = chart.panels if chart.days else 1
    height = height_px or 320 + PANEL_HEIGHT_PX * (panels - 1)
    figure = Figure(figsize=(width_px / DPI, height / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]
    figure.suptitle(chart.title)
    if chart.days:
        _draw(list(axes), chart)
    else:
        _draw_empty(axes[0])
    return figure


def _draw(panels: list[Axes], chart: Chart) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.ticker import FuncFormatter

    x = _date_numbers(chart.days)
    fmt = value_formatter(chart.unit)
    for band in chart.bands:
        _draw_band(panels[0], x, band)
    for index, axes in enumerate(panels):
        series = tuple(s for s in chart.series if s.panel == index)
        if chart.kind == "bar":
            _draw_bars(axes, x, series)
        else:
            _draw_lines(axes, x, series)
        axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: fmt(v)))
        axes.grid(visible=True, axis="y", alpha=0.3)
        axes.margins(y=0.1)  # room for the labels of lines at the top or bottom
        axes.set_xlim(*_x_range(x, chart.references))
        if len(panels) > 1 and series:
            axes.set_ylabel(series[0].name, fontsize="small")
        elif chart.y_label:
            axes.set_ylabel(chart.y_label)
    for reference in chart.references:
        _draw_reference(panels[0], reference, fmt)
    last = panels[-1]
    last.xaxis_date()
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    last.xaxis.set_major_locator(locator)
    last.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    _legend(panels[0], chart)


def _x_range(x: list[float], references: Sequence[Reference]) -> tuple[float, float]:
    """The days drawn, widened to every marked day so no reference falls off the plot."""
    marked = _date_numbers([r.day for r in references if r.day is not None])
    return min([*x, *marked]) - 0.5, max([*x, *marked]) + 0.5


def _legend(axes: Axes, chart: Chart) -> None:
    """One legend, for the first panel, when there is more than one thing to tell apart."""
    first = [s for s in chart.series if s.panel == 0]
    if len(first) > 1 or chart.bands or len(chart.series) > len(first):
        axes.legend(fontsize="small", loc="best", framealpha=0.85)


def _date_numbers(days: Sequence[date]) -> list[float]:
    """Convert days to matplotlib's date numbers (days since its epoch)."""
    from matplotlib.dates import date2num

    return [float(n) for n in date2num(days)]  # type: ignore[no-untyped-call]


def _draw_lines(axes: Axes, x: list[float], series: tuple[Series, ...]) -> None:
    """Draw one line per series; None values leave gaps."""
    singles = sum(v is not None for s in series for v in s.values) <= len(series)
    marker = "o" if len(x) == 1 or singles else ""
    for s in series:
        values = [math.nan if v is None else v for v in s.values]
        axes.plot(x, values, LINE_STYLES[s.style], label=s.name, marker=marker)


def _draw_bars(axes: Axes, x: list[float], series: tuple[Series, ...]) -> None:
    """Draw bars per day, stacking the series; None counts as nothing."""
    bottoms = [0.0] * len(x)
    for s in series:
        heights = [0.0 if v is None else v for v in s.values]
        axes.bar(x, heights, BAR_WIDTH_DAYS, bottom=bottoms, label=s.name)
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]


def _draw_band(axes: Axes, x: list[float], band: Band) -> None:
    """Shade between lower and upper where both are known."""
    lower = [math.nan if v is None else v for v in band.lower]
    upper = [math.nan if v is None else v for v in band.upper]
    where = [lo == lo and hi == hi for lo, hi in zip(lower, upper, strict=True)]  # not NaN
    axes.fill_between(x, lower, upper, where=where, alpha=0.18, label=band.name, linewidth=0)


def _draw_reference(axes: Axes, reference: Reference, fmt: Callable[[float], str]) -> None:
    """A dashed horizontal line at a value or a dotted vertical one at a day, labelled
    inside the plot so no label is clipped at the figure's edge."""
    label = reference.label
    if reference.value is not None:
        axes.axhline(reference.value, linestyle="--", **REFERENCE_STYLE)
        axes.annotate(
            f"{label} {fmt(reference.value)}" if label else fmt(reference.value),
            (0.01, reference.value),
            xycoords=("axes fraction", "data"),
            xytext=(0, 2),
            textcoords="offset points",
            ha="left",
            va="bottom",
            color=REFERENCE_COLOUR,
            fontsize="small",
        )
    if reference.day is not None:
        (day,) = _date_numbers([reference.day])
        left, right = axes.get_xlim()
        axes.axvline(day, linestyle=":", **REFERENCE_STYLE)
        # Put the label on the side of the line with more room, never past the plot.
        on_left = (day - left) > (right - day)
        axes.annotate(
            label,
            (day, 0.02),
            xycoords=("data", "axes fraction"),
            xytext=(-3 if on_left else 3, 0),
            textcoords="offset points",
            ha="right" if on_left else "left",
            va="bottom",
            color=REFERENCE_COLOUR,
            fontsize="small",
        )


def _draw_empty(axes: Axes) -> None:
    axes.text(0.5, 0.5, "No data", ha="center", va="center", transform=axes.transAxes)
    axes.set_axis_off()
