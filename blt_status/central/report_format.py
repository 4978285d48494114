"""The progress report as text, CSV, JSON, a self-contained HTML file or a PDF.

Text, HTML and PDF print numbers the Indonesian way (``1.234.567``, ``56,6 %``) through
:mod:`blt_status.i18n`; CSV and JSON keep plain numbers for machines. HTML and PDF carry the
same tables and three pictures drawn with matplotlib (headless Agg): payouts per day with the
cumulative line, progress per payout mode, and a tile-grid map of the 38 provinces coloured by
the share collected (``data/province_tiles.csv``). Every picture states the data version and
time. The HTML embeds its pictures as ``data:`` PNGs and links to nothing: it works offline.
"""

from __future__ import annotations

import base64
import csv
import functools
import html
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from blt_status.central.report import COUNT_KEYS, WIB, Report, ReportRow
from blt_status.i18n import N_, _, current_lang, format_number, format_percent
from blt_status.present import mode_label

__all__ = ["FORMATS", "ProvinceTile", "province_tiles", "render", "render_charts"]

FORMATS = ("table", "csv", "json", "html", "pdf")
_LEVEL_WORDS = {"provinsi": N_("Province"), "kabupaten": N_("Regency/city"),
                "kecamatan": N_("District"), "desa": N_("Village"), "titik": N_("Payout point")}
_HEADERS = (N_("Code"), N_("Name"), N_("Recipients"), N_("Entitled (Rp)"), N_("Collected"),
            N_("% collected"), N_("Collected (Rp)"), N_("Held"), N_("Returned"), N_("Pending"),
            N_("Flagged"))


@dataclass(frozen=True)
class ProvinceTile:
    code: str
    row: int
    col: int
    label: str


@functools.cache
def province_tiles() -> tuple[ProvinceTile, ...]:
    """The tile grid: one square per province (``data/province_tiles.csv``)."""
    path = resources.files("blt_status") / "data" / "province_tiles.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    return tuple(ProvinceTile(row["kode"], int(row["row"]), int(row["col"]), row["label"])
                 for row in csv.DictReader(lines))


def stamp(report: Report) -> str:
    """``Data version 7 · as of 2025-11-24 10:00 WIB`` (on every chart and the map)."""
    when = report.as_of.astimezone(WIB).strftime("%Y-%m-%d %H:%M WIB")
    return _("Data version {version} · as of {time}").format(version=report.version, time=when)


def title(report: Report) -> str:
    level = _(_LEVEL_WORDS[report.level])
    where = f"{report.total.name} ({report.total.code})" if report.region else report.total.name
    return _("Payout progress per {level}: {where}").format(level=level.lower(), where=where)


@functools.cache
def _separators(lang: str) -> tuple[str, str]:
    """The language's thousands and decimal separators, as :func:`format_number` uses them."""
    sample = format_number(1234.5, lang, decimals=1)
    return sample[1], sample[-2]


def _formats(lang: str) -> tuple[Callable[[int], str], Callable[[float], str]]:
    """:func:`format_number` for whole numbers and :func:`format_percent` with one decimal in
    ``lang``, fast enough for 80,000-row tables (the language looked up once per table)."""
    thousands, decimal = _separators(lang)
    suffix = " %" if lang == "id" else "%"

    def whole(value: int) -> str:
        return f"{value:,}".replace(",", thousands)

    def share(fraction: float) -> str:
        text = f"{fraction * 100:,.1f}".replace(",", "\0").replace(".", decimal)
        return text.replace("\0", thousands) + suffix

    return whole, share


def _int(value: int) -> str:
    return _formats(current_lang())[0](value)


def _share(fraction: float) -> str:
    return _formats(current_lang())[1](fraction)


def _cells_of(rows: list[ReportRow]) -> list[list[str]]:
    whole, share = _formats(current_lang())
    return [[row.code, row.name, whole(row.recipients), whole(row.entitled),
             whole(row.collected), share(row.share), whole(row.collected_amount),
             whole(row.held), whole(row.returned), whole(row.pending), whole(row.flagged)]
            for row in rows]


def _cells(row: ReportRow) -> list[str]:
    return _cells_of([row])[0]


def _total_row(report: Report) -> ReportRow:
    total = ReportRow("", _("Total"))
    total.add(report.total)
    return total


def _mode_rows(report: Report) -> list[list[str]]:
    lang = current_lang()
    return [[mode_label(mode.mode, lang), format_number(mode.recipients),
             format_number(mode.collected), format_percent(mode.share),
             format_number(mode.collected_amount)] for mode in report.modes]


_MODE_HEADERS = (N_("Mode"), N_("Recipients"), N_("Collected"), N_("% collected"),
                 N_("Collected (Rp)"))
_DAY_HEADERS = (N_("Date"), N_("Collected"), N_("Cumulative"))


def _day_rows(report: Report) -> list[list[str]]:
    return [[day.date.isoformat(), format_number(day.collected), format_number(day.cumulative)]
            for day in report.days]


# -- text --------------------------------------------------------------------------------------


def _text_table(headers: list[str], rows: list[list[str]], numeric_from: int) -> list[str]:
    widths = [max(len(headers[i]), *(len(row[i]) for row in rows)) if rows else len(headers[i])
              for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.rjust(widths[i]) if i >= numeric_from else cell.ljust(widths[i])
                         for i, cell in enumerate(cells)).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return [line(headers), rule, *(line(row) for row in rows)]


def render_table(report: Report) -> str:
    out = [title(report), stamp(report), ""]
    body = _cells_of(report.rows)
    table = _text_table([_(h) for h in _HEADERS], [*body, _cells(_total_row(report))], 2)
    out += [*table[:-1], table[1], table[-1]]
    out += ["", _("Progress by payout mode")]
    out += _text_table([_(h) for h in _MODE_HEADERS], _mode_rows(report), 1)
    out += ["", _("Collected per day (WIB)")]
    out += (_text_table([_(h) for h in _DAY_HEADERS], _day_rows(report), 1)
            if report.days else [_("No payouts yet.")])
    return "\n".join(out) + "\n"


# -- csv and json --------------------------------------------------------------------------------


def render_csv(report: Report) -> str:
    """One line per row and a last ``TOTAL`` line; plain numbers, share as a fraction."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["level", "code", "name", *COUNT_KEYS, "share_collected"])
    for row in [*report.rows, report.total]:
        code = row.code if row is not report.total else "TOTAL"
        writer.writerow([report.level, code, row.name, *(getattr(row, key) for key in COUNT_KEYS),
                         f"{row.share:.4f}"])
    return buffer.getvalue()


def render_json(report: Report) -> str:
    return json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n"


# -- charts ------------------------------------------------------------------------------------


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    _pyplot().close(figure)
    return buffer.getvalue()


def _share_colour(share: float) -> tuple[float, float, float, float]:
    from matplotlib import colormaps

    colour: tuple[float, float, float, float] = colormaps["RdYlGn"](0.1 + 0.8 * share)
    return colour


def map_png(report: Report) -> bytes:
    """The tile-grid map: one square per province, coloured by the share collected."""
    plt = _pyplot()
    tiles = province_tiles()
    columns = max(tile.col for tile in tiles) + 1
    rows = max(tile.row for tile in tiles) + 1
    figure, axes = plt.subplots(figsize=(9.0, 4.2))
    for tile in tiles:
        share = report.provinces.get(tile.code)
        colour = _share_colour(share) if share is not None else (0.88, 0.88, 0.88, 1.0)
        axes.add_patch(plt.Rectangle((tile.col, rows - tile.row - 1), 0.94, 0.94,
                                     facecolor=colour, edgecolor="white"))
        label = tile.label if share is None else f"{tile.label}\n{format_percent(share)}"
        axes.text(tile.col + 0.47, rows - tile.row - 0.53, label, ha="center", va="center",
                  fontsize=6.2, color="black")
    axes.set_xlim(-0.1, columns + 0.1)
    axes.set_ylim(-0.1, rows + 0.1)
    axes.set_aspect("equal")
    axes.axis("off")
    figure.suptitle(_("Share collected per province"), fontsize=11)
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    scale = ScalarMappable(Normalize(-12.5, 112.5), colormaps["RdYlGn"])
    bar = figure.colorbar(scale, ax=axes, orientation="horizontal", fraction=0.04, pad=0.02,
                          shrink=0.4, ticks=[0, 25, 50, 75, 100])
    bar.ax.set_xlim(0, 100)
    bar.ax.tick_params(labelsize=7)
    bar.set_label(_("% collected"), fontsize=7)
    figure.text(0.01, 0.01, stamp(report) + " · " + _("grey: no recipients"), fontsize=7)
    figure.tight_layout(rect=(0, 0.03, 1, 0.95))
    return _png(figure)


def days_png(report: Report) -> bytes:
    """Payouts per day (bars) and cumulative (line)."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(9.0, 3.4))
    dates = [day.date for day in report.days]
    axes.bar(dates, [day.collected for day in report.days], color="#2b7bba",
             label=_("Collected per day"))
    other = axes.twinx()
    other.plot(dates, [day.cumulative for day in report.days], color="#d95f02", marker="o",
               label=_("Cumulative"))
    axes.set_title(_("Collected per day and cumulative"), fontsize=11)
    axes.set_ylabel(_("per day"))
    other.set_ylabel(_("cumulative"))
    from matplotlib.ticker import MaxNLocator

    for side in (axes, other):
        side.yaxis.set_major_locator(MaxNLocator(integer=True))
        side.yaxis.set_major_formatter(lambda value, _pos: format_number(value))
    if not dates:
        axes.text(0.5, 0.5, _("No payouts yet."), transform=axes.transAxes, ha="center")
    figure.autofmt_xdate()
    figure.text(0.01, 0.01, stamp(report), fontsize=7)
    figure.tight_layout(rect=(0, 0.04, 1, 1))
    return _png(figure)


def modes_png(report: Report) -> bytes:
    """Share collected per payout mode."""
    plt = _pyplot()
    lang = current_lang()
    figure, axes = plt.subplots(figsize=(9.0, 2.4))
    labels = [mode_label(mode.mode, lang) for mode in report.modes]
    shares = [mode.share * 100 for mode in report.modes]
    bars = axes.barh(labels, shares, color=[_share_colour(mode.share) for mode in report.modes])
    for bar, mode in zip(bars, report.modes, strict=True):
        axes.text(min(bar.get_width() + 1, 88), bar.get_y() + bar.get_height() / 2,
                  f"{format_percent(mode.share)} ({format_number(mode.collected)}/"
                  f"{format_number(mode.recipients)})", va="center", fontsize=8)
    axes.set_xlim(0, 100)
    axes.invert_yaxis()
    axes.set_title(_("Share collected per payout mode"), fontsize=11)
    figure.text(0.01, 0.01, stamp(report), fontsize=7)
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    return _png(figure)


def render_charts(report: Report) -> dict[str, bytes]:
    """``{"map", "days", "modes"}`` -> PNG bytes."""
    return {"map": map_png(report), "days": days_png(report), "modes": modes_png(report)}


# -- html --------------------------------------------------------------------------------------

_CSS = """
body{font-family:DejaVu Sans,Arial,sans-serif;margin:1.5em;color:#222;max-width:1100px}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em}
th,td{padding:.25em .5em;border-bottom:1px solid #ddd}
th{background:#f0f0f0;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.total td{font-weight:bold;border-top:2px solid #888}img{max-width:100%}.stamp{color:#666}
"""
_ONLOAD = ("window.addEventListener('load',function(){var n=0;document.querySelectorAll('img')"
           ".forEach(function(i){if(i.complete&&i.naturalWidth>0)n++});"
           "document.body.setAttribute('data-images-loaded',String(n))});")


def _html_table(headers: list[str], rows: list[list[str]], numeric_from: int,
                total: list[str] | None = None) -> str:
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in headers)

    def tr(cells: list[str], css: str = "") -> str:
        tds = "".join(f'<td class="n">{html.escape(c)}</td>' if i >= numeric_from
                      else f"<td>{html.escape(c)}</td>" for i, c in enumerate(cells))
        return f'<tr class="{css}">{tds}</tr>' if css else f"<tr>{tds}</tr>"

    body = "".join(tr(row) for row in rows) + (tr(total, "total") if total else "")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(name: str, png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img id="{name}" alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def render_html(report: Report) -> str:
    charts = render_charts(report)
    lang = current_lang()
    parts = [
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">',
        f"<title>{html.escape(title(report))}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title(report))}</h1>",
        f'<p class="stamp">{html.escape(stamp(report))}</p>',
        f"<p>{html.escape(_summary(report))}</p>",
        f"<h2>{html.escape(_('Map'))}</h2>", _img("map", charts["map"], _("Map")),
        f"<h2>{html.escape(_(_LEVEL_WORDS[report.level]))}</h2>",
        _html_table([_(h) for h in _HEADERS], _cells_of(report.rows), 2,
                    _cells(_total_row(report))),
        f"<h2>{html.escape(_('Collected per day and cumulative'))}</h2>",
        _img("chart-days", charts["days"], _("Collected per day and cumulative")),
        _html_table([_(h) for h in _DAY_HEADERS], _day_rows(report), 1),
        f"<h2>{html.escape(_('Progress by payout mode'))}</h2>",
        _img("chart-modes", charts["modes"], _("Progress by payout mode")),
        _html_table([_(h) for h in _MODE_HEADERS], _mode_rows(report), 1),
        f"<script>{_ONLOAD}</script></body></html>",
    ]
    return "\n".join(parts) + "\n"


def _summary(report: Report) -> str:
    total = report.total
    return _("{collected} of {recipients} recipients have collected ({share}); Rp{amount} of "
             "Rp{entitled} disbursed; {held} held, {returned} returned, {flagged} flagged.").format(
        collected=format_number(total.collected), recipients=format_number(total.recipients),
        share=format_percent(total.share), amount=format_number(total.collected_amount),
        entitled=format_number(total.entitled), held=format_number(total.held),
        returned=format_number(total.returned), flagged=format_number(total.flagged))


# -- pdf ---------------------------------------------------------------------------------------


def _font_path() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


def render_pdf(report: Report) -> bytes:
    """The same content as the HTML: title, stamp, summary, map, tables, charts (A4 landscape)."""
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    charts = render_charts(report)
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_creation_date(report.as_of)
    pdf.add_font("DejaVu", "", str(_font_path()))
    pdf.add_font("DejaVu", "B", str(_font_path().with_name("DejaVuSans-Bold.ttf")))
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 14)
    pdf.multi_cell(0, 8, title(report), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 9)
    pdf.cell(0, 6, stamp(report), new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 5, _summary(report), new_x="LMARGIN", new_y="NEXT")
    pdf.image(io.BytesIO(charts["map"]), w=230)

    def table(headers: list[str], rows: list[list[str]], numeric_from: int,
              total: list[str] | None = None) -> None:
        pdf.set_font("DejaVu", "", 7)
        aligns = tuple("RIGHT" if i >= numeric_from else "LEFT" for i in range(len(headers)))
        with pdf.table(text_align=aligns, line_height=4.2,
                       headings_style=FontFace(emphasis="BOLD", fill_color=(235, 235, 235)),
                       ) as grid:
            for cells in [headers, *rows, *([total] if total else [])]:
                grid.row(cells)

    pdf.add_page()
    pdf.set_font("DejaVu", "B", 11)
    pdf.cell(0, 7, _(_LEVEL_WORDS[report.level]), new_x="LMARGIN", new_y="NEXT")
    table([_(h) for h in _HEADERS], _cells_of(report.rows), 2,
          _cells(_total_row(report)))
    pdf.add_page()
    pdf.image(io.BytesIO(charts["days"]), w=230)
    pdf.image(io.BytesIO(charts["modes"]), w=230)
    table([_(h) for h in _MODE_HEADERS], _mode_rows(report), 1)
    if report.days:
        pdf.ln(3)
        table([_(h) for h in _DAY_HEADERS], _day_rows(report), 1)
    return bytes(pdf.output())


def render(report: Report, fmt: str) -> bytes:
    """The report in ``fmt`` as bytes (UTF-8 for the text formats)."""
    if fmt == "pdf":
        return render_pdf(report)
    text = {"table": render_table, "csv": render_csv, "json": render_json,
            "html": render_html}[fmt](report)
    return text.encode("utf-8")
