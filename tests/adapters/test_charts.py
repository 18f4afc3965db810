"""Charts a person can read: units on the axis, nothing clipped, a panel per metric."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from matplotlib.figure import Figure

from bot.adapters.charts import PANEL_HEIGHT_PX, compact, draw, money_tick, render_png
from core.messages import Band, Card, Chart, Reference, Series, card_from_dict, card_to_dict
from tests.support.cards import sample_chart

DAYS = tuple(date(2026, 1, 1) + timedelta(days=i) for i in range(120))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (7, "7"),
        (0.5, "0.5"),
        (950, "950"),
        (1_200, "1.2k"),
        (12_000, "12k"),
        (2e8, "200M"),
        (3.4e6, "3.4M"),
        (2e9, "2B"),
        (-45_000, "-45k"),
    ],
)
def test_counts_read_with_suffixes(value: float, text: str) -> None:
    assert compact(value) == text


@pytest.mark.parametrize(
    ("currency", "value", "text"),
    [
        ("USD", 6_000, "$6k"),
        ("USD", 382_200, "$382k"),
        ("USD", 500, "$500"),
        ("EUR", 1_250_000, "€1.2M"),
        ("USD", -4_000, "-$4k"),
        ("CHF", 2_000, "2k CHF"),
    ],
)
def test_money_reads_with_its_currency(currency: str, value: float, text: str) -> None:
    assert money_tick(currency)(value) == text


def _tick_labels(figure: Figure) -> list[str]:
    figure.canvas.draw()
    return [t.get_text() for ax in figure.axes for t in ax.get_yticklabels() if t.get_text()]


def test_a_large_count_axis_has_no_scientific_offset() -> None:
    chart = sample_chart(
        series=(Series("tokens", tuple(1e8 + 1e6 * i for i in range(len(sample_chart().days)))),),
        references=(),
    )
    figure = draw(chart)
    labels = _tick_labels(figure)
    assert labels
    assert all(label.endswith("M") for label in labels if label != "0"), labels
    assert all(ax.yaxis.get_offset_text().get_text() == "" for ax in figure.axes)


def _money_chart(**overrides: object) -> Chart:
    used = tuple(float(i * 1_500) if i < 90 else None for i in range(len(DAYS)))
    ahead = tuple(None if i < 89 else 89 * 1_500.0 + (i - 89) * 1_500 for i in range(len(DAYS)))
    fields: dict[str, object] = {
        "title": "Acme: commit used (USD)",
        "alt_text": "Commit used",
        "days": DAYS,
        "series": (Series("Used", used), Series("Projected", ahead, "dashed")),
        "bands": (
            Band(
                "Likely range",
                tuple(None if v is None else v * 0.9 for v in ahead),
                tuple(None if v is None else v * 1.1 for v in ahead),
            ),
        ),
        "references": (
            Reference("Commit", value=150_000.0),
            Reference("Today", day=DAYS[89]),
            Reference("Term ends", day=DAYS[-1]),
            Reference("Term starts", day=DAYS[0]),
            Reference("Renewal", day=DAYS[-1] + timedelta(days=30)),
        ),
        "unit": "USD",
    }
    return Chart(**(fields | overrides))  # type: ignore[arg-type]


def test_money_axis_shows_the_currency_and_every_label_is_inside_the_plot() -> None:
    figure = draw(_money_chart())
    labels = _tick_labels(figure)
    assert labels
    assert all("$" in label for label in labels if label != "$0"), labels
    (axes,) = figure.axes
    box = axes.get_window_extent()
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    texts = axes.texts
    names = {"Commit $150k", "Today", "Term ends", "Term starts", "Renewal"}
    assert {t.get_text() for t in texts} == names
    for text in texts:
        extent = text.get_window_extent(renderer)
        inside = (
            box.x0 <= extent.x0,
            extent.x1 <= box.x1,
            box.y0 <= extent.y0,
            extent.y1 <= box.y1,
        )
        assert all(inside), text.get_text()


def test_each_panel_of_a_small_multiples_chart_has_its_own_axis() -> None:
    chart = Chart(
        title="Acme: tokens, api_calls, seats per day",
        alt_text="usage",
        days=DAYS,
        series=(
            Series("tokens", tuple(2e8 for _ in DAYS)),
            Series("api_calls", tuple(3_000.0 for _ in DAYS), panel=1),
            Series("seats", tuple(12.0 for _ in DAYS), panel=2),
        ),
    )
    assert chart.panels == 3
    figure = draw(chart)
    assert [ax.get_ylabel() for ax in figure.axes] == ["tokens", "api_calls", "seats"]
    png = render_png(chart)
    assert png.startswith(b"\x89PNG")
    assert int.from_bytes(png[20:24], "big") == 320 + 2 * PANEL_HEIGHT_PX


def test_a_chart_keeps_its_bands_panels_and_unit_through_the_outbox() -> None:
    chart = _money_chart(series=(Series("Used", (1.0,) * len(DAYS), panel=1),))
    card = Card(title="t", summary="s", chart=chart)
    assert card_from_dict(card_to_dict(card)).chart == chart


def test_a_band_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="Likely range"):
        _money_chart(bands=(Band("Likely range", (1.0,), (2.0,)),))
