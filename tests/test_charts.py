"""The summary's charts: their figures, Excel's own charts over the cells that hold them, and the
SVG of the HTML page."""

from __future__ import annotations

import re
import zipfile
from xml.etree import ElementTree

import openpyxl
import polars as pl

from pipelines.exports.charts import add_chart_sheet, chart_figures, svg
from pipelines.exports.township import clean_text, fixed_workbook

SVG = "{http://www.w3.org/2000/svg}"


def _listing() -> pl.DataFrame:
    rows = [("东桥镇", "YB01")] * 3 + [("东桥镇", "JY02")] + [("木厂镇", "JY02")] * 2
    rows += [("<b>镇&", "ZJ01"), (None, "YB01")]
    return pl.DataFrame(rows, schema=["township", "rule"], orient="row")


TREND = pl.DataFrame({"月份": ["2026-08", "2026-09", "2026-10"], "清单行数": [5, 9, 7],
                      "新增": [5, 4, 2]})  # fmt: skip
RATES = pl.DataFrame({"预警代码": ["YB01", "JY02", "ZJ01"], "已核实": [3, 0, 2],
                      "属实占比": [0.5, None, None]})  # fmt: skip


def test_figures_count_each_township_and_rule():
    charts = chart_figures(_listing(), TREND, RATES)
    assert [c.name for c in charts] == ["乡镇×规则", "逐月趋势", "规则属实占比"]
    by_rule = charts[0]
    # townships sorted (a missing one last, labelled), every rule a series, zeros where none
    assert by_rule.categories == ["<b>镇&", "东桥镇", "木厂镇", "（空）"]
    assert by_rule.series == {
        "JY02": [0, 1, 2, 0],
        "YB01": [0, 3, 0, 1],
        "ZJ01": [1, 0, 0, 0],
    }
    assert sum(map(sum, by_rule.series.values())) == _listing().height
    assert charts[1].series == {"清单行数": [5, 9, 7], "新增": [5, 4, 2]}
    # only rules with answers, an unknown share as 0
    assert charts[2].categories == ["YB01", "ZJ01"] and charts[2].series == {"属实占比": [0.5, 0]}


def test_nothing_to_draw_gives_no_chart():
    empty = pl.DataFrame(schema={"township": pl.String, "rule": pl.String})
    assert chart_figures(empty, TREND.clear(), None) == []
    assert [c.name for c in chart_figures(empty, TREND, RATES.clear())] == ["逐月趋势"]


def _cell_range(reference: str) -> tuple[str, list[str]]:
    """A reference such as 图表!$B$3:$B$6 as its sheet and its cells, row by row."""
    sheet, cells = reference.replace("$", "").split("!")
    first, last = cells.split(":") if ":" in cells else (cells, cells)
    (c0, r0), (c1, r1) = (re.fullmatch(r"([A-Z]+)(\d+)", x).groups() for x in (first, last))
    columns = [chr(c) for c in range(ord(c0), ord(c1) + 1)]  # one-letter columns here
    return sheet.strip("'"), [f"{c}{r}" for r in range(int(r0), int(r1) + 1) for c in columns]


def test_workbook_charts_read_the_figures_from_their_cells(tmp_path):
    charts = chart_figures(_listing(), TREND, RATES)
    path = tmp_path / "s.xlsx"
    workbook = fixed_workbook(path, None)
    add_chart_sheet(workbook, "图表", charts, clean_text)
    workbook.close()

    sheet = openpyxl.load_workbook(path)["图表"]
    assert len(sheet._charts) == 3
    with zipfile.ZipFile(path) as archive:
        xml = [archive.read(f"xl/charts/chart{n}.xml").decode() for n in (1, 2, 3)]
    for chart, text in zip(charts, xml, strict=True):
        categories = re.findall(r"<c:cat>.*?<c:f>(.*?)</c:f>", text, re.S)
        values = re.findall(r"<c:val>.*?<c:f>(.*?)</c:f>", text, re.S)
        names = re.findall(r"<c:tx>.*?<c:f>(.*?)</c:f>", text, re.S)
        assert len(values) == len(names) == len(categories) == len(chart.series)
        for name_ref, cat_ref, val_ref, (series, figures) in zip(
            names, categories, values, chart.series.items(), strict=True
        ):
            _, [name_cell] = _cell_range(name_ref)
            assert sheet[name_cell].value == series
            where, cells = _cell_range(cat_ref)
            assert where == "图表"
            assert [sheet[c].value for c in cells] == chart.categories
            _, cells = _cell_range(val_ref)
            assert [sheet[c].value for c in cells] == figures
    assert '<c:barDir val="bar"/>' in xml[0] and "stacked" in xml[0]
    assert "<c:lineChart>" in xml[1]
    assert '<c:max val="1"/>' in xml[2]  # a share runs 0–1


def test_chart_cells_stay_text(tmp_path):
    listing = pl.DataFrame({"township": ["=1+1", "\x1b[31m镇"], "rule": ["YB01", "YB01"]})
    path = tmp_path / "s.xlsx"
    workbook = fixed_workbook(path, None)
    add_chart_sheet(workbook, "图表", chart_figures(listing, TREND.clear(), None), clean_text)
    workbook.close()
    sheet = openpyxl.load_workbook(path)["图表"]
    header = next(c.row for c in sheet["A"] if c.value == "乡镇")  # the table below the chart
    cells = {sheet.cell(row, 1).value: sheet.cell(row, 1) for row in (header + 1, header + 2)}
    assert set(cells) == {"=1+1", "镇"}  # the escape sequence cleaned out
    assert cells["=1+1"].data_type == "s"  # a string, never a formula


def texts_of(root) -> list[str]:
    return [t.text for t in root.iter(f"{SVG}text")]


def test_svg_draws_one_bar_per_figure_and_escapes_text():
    charts = chart_figures(_listing(), TREND, RATES)
    for chart in charts:
        root = ElementTree.fromstring(svg(chart))  # well-formed XML, text escaped
        texts = [t.text for t in root.iter(f"{SVG}text")]
        assert chart.title in texts
        assert set(chart.categories) <= set(texts)
    stacked = ElementTree.fromstring(svg(charts[0]))
    bars = [r for r in stacked.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    nonzero = sum(1 for values in charts[0].series.values() for v in values if v)
    assert len(bars) == nonzero
    # a township's bars follow one another and add up to its total, in proportion to the others
    widths: dict[str, float] = {}
    ends: dict[str, float] = {}
    for bar in bars:
        township = bar.find(f"{SVG}title").text.rsplit(" ", 2)[0]
        x, width = float(bar.get("x")), float(bar.get("width"))
        assert township not in ends or abs(x - ends[township]) < 0.11
        ends[township] = x + width
        widths[township] = widths.get(township, 0) + width
    assert widths["东桥镇"] == 2 * widths["木厂镇"]
    # the value axis: whole counts from 0, reaching the largest total
    ticks = [float(t) for t in texts_of(stacked) if re.fullmatch(r"\d+(\.\d+)?", t or "")]
    assert ticks[0] == 0 and all(t == int(t) for t in ticks) and ticks[-1] >= 4
    columns = ElementTree.fromstring(svg(charts[2]))
    heights = [float(r.get("height")) for r in columns.iter(f"{SVG}rect")]
    assert heights[0] > 0 and heights[1] == 0  # YB01 at 50 %, ZJ01 at 0
    lines = ElementTree.fromstring(svg(charts[1]))
    assert len(list(lines.iter(f"{SVG}polyline"))) == 2
    assert len(list(lines.iter(f"{SVG}circle"))) == 6
