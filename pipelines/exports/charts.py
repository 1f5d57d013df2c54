"""The summary's charts: their figures (pure), drawn as Excel's own charts in the workbook and as
inline SVG in the HTML page.

Excel, WPS and LibreOffice draw a native chart from cells the sheet holds, so the workbook carries
each chart's small table beside it and the reader can read the exact figures or restyle the chart.
The HTML page draws the same figures as SVG a browser renders. Neither needs a plotting library
or a CJK font: the reader's own software sets the text.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import polars as pl

# Excel's default palette, in order: the same colour for a series in the workbook and the page
PALETTE = (
    "#4472C4", "#ED7D31", "#A5A5A5", "#FFC000", "#5B9BD5", "#70AD47", "#264478", "#9E480E",
    "#636363", "#997300", "#255E91", "#43682B", "#698ED0", "#F1975A", "#B7B7B7", "#FFCD33",
    "#7CAFDD", "#8CC168", "#327DC2", "#D26012",
)  # fmt: skip


@dataclass(frozen=True)
class Chart:
    """One chart's figures: a value per category for each series."""

    name: str  # the chart's heading (also its place in the order of the sheet and the page)
    title: str
    kind: str  # "stacked_bars" (horizontal, stacked), "lines", "columns"
    category_label: str
    categories: list[str]
    series: dict[str, list[float]]
    axis_label: str | None = None
    share: bool = False  # values are shares: the axis runs 0–1


def chart_figures(
    listing: pl.DataFrame, trend: pl.DataFrame, rule_rates: pl.DataFrame | None
) -> list[Chart]:
    """Warnings by township and rule, the month-over-month trend, confirmation by rule."""
    found: list[Chart] = []
    if listing.height:
        counts = listing.group_by(["township", "rule"]).len()
        townships = counts["township"].unique().sort(nulls_last=True).to_list()
        rules = counts["rule"].unique().sort().to_list()
        by_pair = {(t, r): n for t, r, n in counts.iter_rows()}
        found.append(
            Chart(
                name="乡镇×规则",
                title="本月预警：乡镇 × 规则",
                kind="stacked_bars",
                category_label="乡镇",
                categories=[_label(t) for t in townships],
                series={r: [by_pair.get((t, r), 0) for t in townships] for r in rules},
                axis_label="预警条数",
            )
        )
    if trend.height:
        found.append(
            Chart(
                name="逐月趋势",
                title="逐月趋势",
                kind="lines",
                category_label="月份",
                categories=[_label(m) for m in trend["月份"].to_list()],
                series={c: trend[c].to_list() for c in ("清单行数", "新增")},
            )
        )
    if rule_rates is not None:
        answered = rule_rates.filter(pl.col("已核实") > 0)
        if answered.height:
            found.append(
                Chart(
                    name="规则属实占比",
                    title="各规则核实属实占比（累计）",
                    kind="columns",
                    category_label="预警代码",
                    categories=[_label(r) for r in answered["预警代码"].to_list()],
                    series={"属实占比": answered["属实占比"].fill_null(0).to_list()},
                    share=True,
                )
            )
    return found


def _label(value: object) -> str:
    return "（空）" if value is None else str(value)


# -- the workbook ------------------------------------------------------------------------------


def add_chart_sheet(workbook, sheet_name: str, charts: list[Chart], clean) -> None:
    """A sheet holding, for each chart, its heading, Excel's own chart, and below it the table the
    chart is drawn from (categories down, series across). `clean`: how a text cell is written."""
    sheet = workbook.add_worksheet(sheet_name)
    bold = workbook.add_format({"bold": True})
    header = workbook.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1})
    sheet.set_column(0, 0, 14)
    row = 0
    for chart in charts:
        sheet.write_string(row, 0, clean(chart.name), bold)
        top = row + 1 + _rows_for(chart) + 1  # the table's header row, below the chart
        sheet.write_string(top, 0, clean(chart.category_label), header)
        for col, series in enumerate(chart.series, start=1):
            sheet.write_string(top, col, clean(series), header)
        for n, category in enumerate(chart.categories, start=1):
            sheet.write_string(top + n, 0, clean(category))
            for col, values in enumerate(chart.series.values(), start=1):
                sheet.write_number(top + n, col, values[n - 1])
        last = top + len(chart.categories)
        sheet.insert_chart(row + 1, 0, _native(workbook, sheet_name, chart, top, last))
        row = last + 3


def _rows_for(chart: Chart) -> int:
    """Sheet rows (20 px each) the chart's height covers."""
    return _pixel_height(chart) // 20 + 1


def _pixel_height(chart: Chart) -> int:
    if chart.kind == "stacked_bars":
        return max(288, 22 * len(chart.categories) + 90)
    return 288


def _native(workbook, sheet_name: str, chart: Chart, top: int, last: int):
    kind = {
        "stacked_bars": ("bar", "stacked"),
        "lines": ("line", None),
        "columns": ("column", None),
    }
    chart_type, subtype = kind[chart.kind]
    native = workbook.add_chart({"type": chart_type, **({"subtype": subtype} if subtype else {})})
    for col in range(1, len(chart.series) + 1):
        colour = PALETTE[(col - 1) % len(PALETTE)]
        style = (
            {"line": {"color": colour}, "marker": {"type": "circle", "fill": {"color": colour},
                                                   "border": {"color": colour}}}
            if chart.kind == "lines"
            else {"fill": {"color": colour}, "border": {"none": True}, "gap": 60}
        )  # fmt: skip
        spec = {
            "name": [sheet_name, top, col],
            "categories": [sheet_name, top + 1, 0, last, 0],
            "values": [sheet_name, top + 1, col, last, col],
            **style,
        }
        native.add_series(spec)
    native.set_title({"name": chart.title, "name_font": {"size": 12}})
    value_axis = {"name": chart.axis_label} if chart.axis_label else {}
    if chart.share:
        value_axis |= {"min": 0, "max": 1, "num_format": "0%"}
    if chart.kind == "stacked_bars":
        native.set_x_axis(value_axis)
        # the first township on top, as the table reads; the value axis stays below the bars
        native.set_y_axis({"reverse": True, "crossing": "max"})
    else:
        native.set_y_axis(value_axis)
    native.set_legend({"position": "bottom"} if len(chart.series) > 1 else {"none": True})
    native.set_size({"width": 720, "height": _pixel_height(chart)})
    return native


# -- the page ----------------------------------------------------------------------------------

_FONT = "font-family:sans-serif;font-size:12px"


def svg(chart: Chart) -> str:
    """The chart as an inline SVG element (text escaped; the browser sets the Chinese)."""
    if chart.kind == "stacked_bars":
        return _svg_stacked_bars(chart)
    return _svg_vertical(chart)


def _svg_open(width: int, height: int, chart: Chart) -> list[str]:
    return [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"role='img' aria-label='{html.escape(chart.title)}' style='{_FONT}'>",
        f"<text x='{width / 2:.0f}' y='18' text-anchor='middle' font-size='14'>"
        f"{html.escape(chart.title)}</text>",
    ]


def _legend(chart: Chart, x: int, y: int) -> list[str]:
    if len(chart.series) < 2:
        return []
    parts = []
    for n, series in enumerate(chart.series):
        left = x + (n % 8) * 90
        top = y + (n // 8) * 18
        parts.append(
            f"<rect x='{left}' y='{top}' width='10' height='10' fill='{PALETTE[n % len(PALETTE)]}'/>"
            f"<text x='{left + 14}' y='{top + 9}'>{html.escape(series)}</text>"
        )
    return parts


def _legend_rows(chart: Chart) -> int:
    return 0 if len(chart.series) < 2 else (len(chart.series) + 7) // 8


def _axis(value: float, share: bool) -> tuple[float, float]:
    """The value axis's end and tick step: 0–1 by quarters for a share; for a count, a whole round
    step (1, 2, 2.5 or 5 × 10^k, about a fifth of `value`) and its least multiple at or above
    `value`."""
    if share:
        return 1.0, 0.25
    if value <= 0:
        return 1.0, 1.0
    rough = value / 5
    power = 10 ** math.floor(math.log10(rough))
    step = max(1.0, float(next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= rough)))
    step = float(math.ceil(step))
    return math.ceil(value / step) * step, step


def _ticks(top: float, step: float) -> list[float]:
    return [round(k * step, 12) for k in range(int(round(top / step)) + 1)]


def _svg_stacked_bars(chart: Chart) -> str:
    left, right, bar = 130, 30, 18
    plot_width = 560
    top_pad = 34
    height = top_pad + len(chart.categories) * (bar + 4) + 40 + _legend_rows(chart) * 18
    width = left + plot_width + right
    totals = [sum(v[i] for v in chart.series.values()) for i in range(len(chart.categories))]
    top, step = _axis(max(totals, default=0), chart.share)
    parts = _svg_open(width, height, chart)
    for i, category in enumerate(chart.categories):
        y = top_pad + i * (bar + 4)
        parts.append(
            f"<text x='{left - 6}' y='{y + bar - 5}' text-anchor='end'>{html.escape(category)}</text>"
        )
        x = float(left)
        for n, values in enumerate(chart.series.values()):
            w = plot_width * values[i] / top
            if w > 0:
                parts.append(
                    f"<rect x='{x:.1f}' y='{y}' width='{w:.1f}' height='{bar}' "
                    f"fill='{PALETTE[n % len(PALETTE)]}'><title>{html.escape(category)} "
                    f"{html.escape(list(chart.series)[n])}: {values[i]:g}</title></rect>"
                )
            x += w
    axis_y = top_pad + len(chart.categories) * (bar + 4)
    parts.append(
        f"<line x1='{left}' y1='{axis_y}' x2='{left + plot_width}' y2='{axis_y}' stroke='#999'/>"
    )
    for tick in _ticks(top, step):
        x = left + plot_width * tick / top
        parts.append(f"<text x='{x:.0f}' y='{axis_y + 14}' text-anchor='middle'>{tick:g}</text>")
    if chart.axis_label:
        parts.append(
            f"<text x='{left + plot_width / 2:.0f}' y='{axis_y + 30}' text-anchor='middle'>"
            f"{html.escape(chart.axis_label)}</text>"
        )
    parts += _legend(chart, left, axis_y + 38)
    parts.append("</svg>")
    return "".join(parts)


def _svg_vertical(chart: Chart) -> str:
    left, right, top_pad, plot_height = 50, 20, 34, 220
    slot = max(28, min(70, 640 // max(len(chart.categories), 1)))
    width = left + slot * len(chart.categories) + right
    height = top_pad + plot_height + 50 + _legend_rows(chart) * 18
    peak = max((v for values in chart.series.values() for v in values), default=0)
    top, step = _axis(peak, chart.share)
    base = top_pad + plot_height
    parts = _svg_open(max(width, 260), height, chart)
    for tick in _ticks(top, step):
        y = base - plot_height * tick / top
        label = f"{tick:.0%}" if chart.share else f"{tick:g}"
        parts.append(
            f"<line x1='{left}' y1='{y:.0f}' x2='{width - right}' y2='{y:.0f}' stroke='#eee'/>"
            f"<text x='{left - 4}' y='{y + 4:.0f}' text-anchor='end'>{label}</text>"
        )
    for i, category in enumerate(chart.categories):
        x = left + slot * i + slot / 2
        parts.append(
            f"<text x='{x:.0f}' y='{base + 16}' text-anchor='middle'>{html.escape(category)}</text>"
        )
    for n, (series, values) in enumerate(chart.series.items()):
        colour = PALETTE[n % len(PALETTE)]
        points = [
            (left + slot * i + slot / 2, base - plot_height * v / top) for i, v in enumerate(values)
        ]
        if chart.kind == "columns":
            for (x, y), v in zip(points, values, strict=True):
                parts.append(
                    f"<rect x='{x - slot * 0.3:.1f}' y='{y:.1f}' width='{slot * 0.6:.1f}' "
                    f"height='{base - y:.1f}' fill='{colour}'><title>{v:g}</title></rect>"
                )
        else:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(
                f"<polyline points='{path}' fill='none' stroke='{colour}' stroke-width='2'/>"
            )
            parts += [
                f"<circle cx='{x:.1f}' cy='{y:.1f}' r='3' fill='{colour}'>"
                f"<title>{html.escape(series)}: {v:g}</title></circle>"
                for (x, y), v in zip(points, values, strict=True)
            ]
    parts.append(f"<line x1='{left}' y1='{base}' x2='{width - right}' y2='{base}' stroke='#999'/>")
    parts += _legend(chart, left, base + 30)
    parts.append("</svg>")
    return "".join(parts)
