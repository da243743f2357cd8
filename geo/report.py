"""The printable report: ``report.html``, and ``report.pdf`` through headless Chromium.

One A4 page per unit, Vietnamese first with English alongside: the ward
verdict, key figures, a small static map (inline SVG drawn from the
geometry, in the project CRS: no tiles, no network), the verdict table of
the ward standard and of the urban-infrastructure set (criterion, value,
threshold, status, gap, source, confidence), the other sets in one line
each, the sources, the date and document of the standards, and the data
caveats (the project's note, what the standard cannot check, the data
findings about the unit).

When the project has a roadmap (a :class:`geo.progress.Progress` is passed,
as ``geo run`` does), the unit pages are followed by the roadmap progress:
every roadmap line with its status, owner and deadline, baseline, latest
value and target, the rates needed and observed and the rule applied; the
hamlets holding a criterion back; the status rules; then one small trend
chart per criterion (the SVG of :func:`geo.progress.trend_svg`, inline).

The PDF is Chromium's own print of the HTML page (``--print-to-pdf``), made
only when a Chromium or Chrome executable is found (:func:`find_chromium`);
otherwise the HTML page prints the same from any browser.
"""

from __future__ import annotations

import logging
import math
import os
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from geo.labels import (
    CONFIDENCE_LABELS,
    FINDING_LABEL_OTHER,
    FINDING_LABELS,
    INFRASTRUCTURE_LABELS,
    PROGRESS_STATUS_LABELS,
    STATUS_LABELS,
    Label,
    column_label,
    format_number_vi,
)
from geo.names import slug
from geo.pipeline import RunResult
from geo.progress import RULES, RULES_VI, SEVERITY, STATUS_COLOURS
from geo.webmap import KIND_STYLES, STATUS_COLORS

if TYPE_CHECKING:
    from geo.progress import Progress

__all__ = [
    "CHROMIUM_NAMES",
    "FIT_SCALES",
    "MAX_CAVEATS",
    "MAX_HAMLETS_SHOWN",
    "find_chromium",
    "pdf_pages",
    "read_report_meta",
    "render_report",
    "unit_map_svg",
    "write_fitted_pdf",
    "write_pdf",
    "write_report",
]

logger = logging.getLogger(__name__)

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
"""Executables tried, in order, for the PDF (``GEO_CHROMIUM`` names one explicitly)."""

MAX_CAVEATS = 6
"""Most caveat lines on a unit's page; the rest are counted (they are all in report.xlsx)."""
MAX_HAMLETS_SHOWN = 8
"""Most hamlets named per criterion in the report's hamlet view (all are in report.xlsx)."""
_MAX_TEXT = 180
"""Longest caveat or source text on a page, in characters (cut with an ellipsis)."""
_MAP_WIDTH, _MAP_HEIGHT, _MAP_PAD = 300.0, 230.0, 6.0
_PDF_TIMEOUT = 300.0
FIT_SCALES = (1.0, 0.93, 0.86, 0.8)
"""Scales tried, in order, until every unit fits on one A4 page of the PDF."""

_OPERATORS = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "is_true": ""}
_KEY_COUNTS = ("school", "kindergarten", "health_station", "market", "cultural_house")

_CSS = """
@page { size: A4; margin: 8mm 12mm 8mm 12mm; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; color: #1b1b1b; font: 7.8pt/1.25 "Noto Sans", "DejaVu Sans", "Segoe UI",
  Arial, sans-serif; }
section.unit { break-after: page; page-break-after: always; }
section.unit:last-of-type { break-after: auto; page-break-after: auto; }
@media screen {
  body { background: #e9e9e9; }
  section.unit { width: 210mm; min-height: 297mm; margin: 8mm auto; padding: 9mm 12mm;
    background: #fff; box-shadow: 0 1px 6px rgba(0,0,0,.25); }
}
.en { color: #666; font-weight: normal; font-style: italic; }
.kicker { font-size: 7.4pt; color: #555; letter-spacing: .02em; text-transform: uppercase; }
h1 { font-size: 14pt; margin: 0.6mm 0 0.4mm; }
h1 .code { font-size: 10pt; color: #666; font-weight: normal; }
h2 .en { font-size: 7.6pt; }
h2 { font-size: 9.4pt; margin: 2.1mm 0 0.7mm; border-bottom: 0.3mm solid #bbb;
  padding-bottom: 0.5mm; }
.meta { font-size: 8pt; color: #333; }
.verdict { margin: 2mm 0; padding: 1.4mm 3mm; border-left: 2.2mm solid #9a9a9a;
  background: #f1f1f1; font-size: 10pt; }
.verdict.pass { border-color: #1a9641; background: #e3f3e6; }
.verdict.fail { border-color: #d7191c; background: #fbe3e3; }
.row { display: flex; gap: 4mm; align-items: flex-start; }
.row > table { flex: 1 1 auto; }
figure { margin: 0; flex: 0 0 58mm; }
figure svg { width: 58mm; height: auto; display: block; border: 0.2mm solid #bbb; }
figcaption { font-size: 6.6pt; line-height: 1.15; color: #555; margin-top: 0.6mm; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 0.35mm 1.2mm;
  border-bottom: 0.2mm solid #ddd; }
th { font-size: 7.4pt; background: #f3f6f9; }
td.num { text-align: right; white-space: nowrap; }
table.figures td:first-child { width: 55%; }
table.figures td.num { white-space: normal; }
td.wrap { white-space: normal; }
td.ref { text-align: center; color: #444; }
ol.notes { margin: 0.8mm 0 0; padding-left: 5mm; font-size: 6.8pt; line-height: 1.15;
  color: #444; }
table.verdicts { table-layout: fixed; }
table.verdicts td { font-size: 7.4pt; }
table.sets td, table.sets th { font-size: 6.9pt; }
table.sets th { white-space: nowrap; }
table.verdicts td.src { font-size: 7pt; color: #444; }
.status { display: inline-block; padding: 0 1.4mm; border-radius: 1mm; color: #fff;
  white-space: nowrap; font-size: 7.6pt; }
.status.pass { background: #1a9641; } .status.fail { background: #d7191c; }
.status.not_assessed { background: #9a9a9a; }
ul { margin: 0; padding-left: 4.5mm; } li { margin: 0.15mm 0; }
.small { font-size: 7.4pt; color: #444; }
footer { margin-top: 1.5mm; font-size: 7pt; color: #777; border-top: 0.2mm solid #ccc;
  padding-top: 1mm; }
section.progress { break-after: page; page-break-after: always; }
section.progress:last-of-type { break-after: auto; page-break-after: auto; }
@media screen {
  section.progress { width: 210mm; min-height: 297mm; margin: 8mm auto; padding: 9mm 12mm;
    background: #fff; box-shadow: 0 1px 6px rgba(0,0,0,.25); }
}
.pstatus { display: inline-block; padding: 0 1.2mm; border-radius: 1mm; white-space: nowrap;
  font-size: 7pt; color: #fff; }
.pstatus.on_track, .pstatus.no_data { color: #1b1b1b; }
.tally .pstatus { margin-right: 1.5mm; }
table.roadmap td { font-size: 7.2pt; }
table.roadmap tr.line td { border-bottom: none; padding-bottom: 0; }
table.roadmap tr.rule td { font-size: 6.3pt; line-height: 1.15; color: #555; padding-top: 0; }
table.roadmap th { font-size: 6.9pt; }
ul.hamlets { font-size: 7pt; }
ol.rules { margin: 0.5mm 0 0; padding-left: 5mm; font-size: 7pt; }
div.trend { display: flex; gap: 4mm; align-items: flex-start; margin: 0 0 2.5mm;
  break-inside: avoid; page-break-inside: avoid; }
div.trend svg { flex: 0 0 118mm; width: 118mm; height: auto; border: 0.2mm solid #ddd; }
div.trend ul { flex: 1 1 auto; font-size: 6.8pt; padding-left: 3.5mm; }
"""


# ----------------------------------------------------------------------------- formatting


def _float(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def _decimals(unit: str, value: float) -> int:
    if unit in ("người", "hộ") or abs(value) >= 1000:
        return 0
    if unit == "%" or abs(value) >= 100:
        return 1
    return 2


def _number(value: Any, unit: str = "") -> str:
    number = _float(value)
    if not math.isfinite(number):
        return "—"
    text = format_number_vi(number, _decimals(unit, number))
    return f"{text} {unit}".strip()


def _cut(text: str, limit: int = _MAX_TEXT) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _bilingual(label: Label, *, tag: str = "span") -> str:
    return f"{escape(label.vi)} <{tag} class='en'>/ {escape(label.en)}</{tag}>"


def _status_badge(status: str) -> str:
    label = STATUS_LABELS.get(status, STATUS_LABELS["not_assessed"])
    key = status if status in STATUS_LABELS else "not_assessed"
    return f"<span class='status {key}' title='{escape(label.en)}'>{escape(label.vi)}</span>"


# ----------------------------------------------------------------------------- the small map


def _path(geometry: Any, transform: Any) -> str:
    """SVG path data of a (multi)polygon or line, in the map's pixel frame."""
    parts = []
    for part in shapely.get_parts(geometry):
        if part.geom_type == "Polygon":
            rings = [part.exterior, *part.interiors]
            for ring in rings:
                xy = transform(np.asarray(ring.coords))
                if len(xy) < 3:
                    continue
                points = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
                parts.append(f"M{points}Z")
        elif part.geom_type == "LineString":
            xy = transform(np.asarray(part.coords))
            if len(xy) >= 2:
                parts.append("M" + " ".join(f"{x:.1f},{y:.1f}" for x, y in xy))
    return "".join(parts)


def _nice_length(metres: float) -> float:
    """Return a round length (1, 2 or 5 × 10ⁿ m) no longer than ``metres``."""
    if metres <= 0:
        return 0.0
    power = 10 ** math.floor(math.log10(metres))
    return max(step * power for step in (1, 2, 5) if step * power <= metres)


def unit_map_svg(
    unit: Any,
    *,
    status: str = "not_assessed",
    neighbours: Sequence[Any] = (),
    hamlets: Sequence[Any] = (),
    points: Sequence[tuple[Any, str]] = (),
) -> str:
    """Return a small static map of one unit as an inline SVG element.

    Parameters
    ----------
    unit : shapely geometry
        The unit's polygon, in a projected CRS in metres.
    status : str
        The unit's verdict, which colours its fill as on the HTML map.
    neighbours : sequence of shapely geometries
        Other units, drawn in grey for context (clipped to the frame).
    hamlets : sequence of shapely geometries
        Hamlet boundaries inside the unit.
    points : sequence of (shapely Point, kind)
        Services, coloured by kind as on the HTML map.

    Returns
    -------
    str
        An ``<svg>`` element with a scale bar and a north arrow (grid north).
    """
    minx, miny, maxx, maxy = shapely.bounds(unit)
    width, height = max(maxx - minx, 1.0), max(maxy - miny, 1.0)
    pad = 0.06 * max(width, height)
    minx, miny, maxx, maxy = minx - pad, miny - pad, maxx + pad, maxy + pad
    width, height = maxx - minx, maxy - miny
    inner_w, inner_h = _MAP_WIDTH - 2 * _MAP_PAD, _MAP_HEIGHT - 2 * _MAP_PAD
    scale = min(inner_w / width, inner_h / height)
    off_x = _MAP_PAD + (inner_w - width * scale) / 2
    off_y = _MAP_PAD + (inner_h - height * scale) / 2

    def transform(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(
            [off_x + (xy[:, 0] - minx) * scale, off_y + (maxy - xy[:, 1]) * scale]
        )

    tolerance = 1.0 / scale  # about a pixel

    def drawn(geometry: Any) -> Any:
        # Douglas-Peucker: a ring it makes cross itself does so within a pixel, where it
        # cannot be seen; keeping the topology took 12 times as long (0.3 s for L's hamlets)
        return shapely.simplify(geometry, tolerance, preserve_topology=False)

    # the whole drawing area in map units: neighbours fill it, not only the unit's box
    view = (
        minx - off_x / scale,
        maxy - _MAP_HEIGHT / scale + off_y / scale,
        minx + (_MAP_WIDTH - off_x) / scale,
        maxy + off_y / scale,
    )
    frame = shapely.box(*view)
    out = [
        (
            f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {_MAP_WIDTH:g} {_MAP_HEIGHT:g}' "
            "role='img' aria-label='Bản đồ / map'>"
        ),
        f"<rect width='{_MAP_WIDTH:g}' height='{_MAP_HEIGHT:g}' fill='#f7fbff'/>",
    ]
    for other in neighbours:
        if other is None or not shapely.intersects(other, frame):
            continue
        clipped = drawn(shapely.clip_by_rect(other, *view))
        out.append(
            f"<path d='{_path(clipped, transform)}' fill='#ededed' stroke='#a0a0a0' "
            "stroke-width='0.6' fill-rule='evenodd'/>"
        )
    color = STATUS_COLORS.get(status, STATUS_COLORS["not_assessed"])
    outline = _path(drawn(unit), transform)
    out.append(
        f"<path d='{outline}' fill='{color}' "
        "fill-opacity='0.35' stroke='none' fill-rule='evenodd'/>"
    )
    out.extend(
        f"<path d='{_path(drawn(hamlet), transform)}' fill='none' "
        "stroke='#4d4d4d' stroke-width='0.5' stroke-dasharray='2 1.5'/>"
        for hamlet in hamlets
    )
    out.append(
        f"<path d='{outline}' fill='none' "
        "stroke='#1b1b1b' stroke-width='1.6' stroke-linejoin='round'/>"
    )
    for point, kind in points:
        if point is None or point.is_empty:
            continue
        x, y = transform(np.array([[point.x, point.y]]))[0]
        fill = KIND_STYLES.get(kind, KIND_STYLES["other"])[0]
        out.append(
            f"<circle cx='{x:.1f}' cy='{y:.1f}' r='2.4' fill='{fill}' stroke='#fff' "
            "stroke-width='0.6'/>"
        )
    length = _nice_length(width / 4)
    if length:
        bar = length * scale
        x0, y0 = _MAP_PAD + 4, _MAP_HEIGHT - _MAP_PAD - 4
        text = f"{format_number_vi(length / 1000, 1 if length < 1000 else 0)} km"
        out.append(
            f"<rect x='{x0 - 2:.1f}' y='{y0 - 11:.1f}' width='{bar + 30:.1f}' height='14' "
            "fill='#fff' fill-opacity='0.75'/>"
            f"<path d='M{x0:.1f},{y0 - 3:.1f}V{y0:.1f}H{x0 + bar:.1f}V{y0 - 3:.1f}' "
            "fill='none' stroke='#1b1b1b' stroke-width='1'/>"
            f"<text x='{x0 + bar + 3:.1f}' y='{y0:.1f}' font-size='8' fill='#1b1b1b'>"
            f"{escape(text)}</text>"
        )
    nx, ny = _MAP_WIDTH - _MAP_PAD - 10, _MAP_PAD + 4
    out.append(
        f"<path d='M{nx:.1f},{ny:.1f}l4,10h-8z' fill='#1b1b1b'/>"
        f"<text x='{nx:.1f}' y='{ny + 19:.1f}' font-size='8' text-anchor='middle' "
        "fill='#1b1b1b'>B</text>"
    )
    out.append("</svg>")
    return "".join(out)


# ----------------------------------------------------------------------------- one page


def _verdict_table(rows: Sequence[Mapping[str, Any]], footnotes: list[str]) -> str:
    """Return the verdict table; each row's source is a numbered footnote (shared ones once).

    ``rows``: the criteria rows (records) of one set for one unit. ``footnotes``
    collects the page's sources: "document, article — confidence".
    """
    columns = [
        ("Tiêu chí", "criterion", 45),
        ("Giá trị", "value", 13),
        ("Ngưỡng", "threshold", 13),
        ("Kết quả", "status", 12),
        ("Còn thiếu", "gap", 10),
        ("Nguồn", "source", 7),
    ]
    colgroup = "".join(f"<col style='width:{w}%'>" for _, _, w in columns)
    head = "".join(f"<th>{vi} <span class='en'>/ {en}</span></th>" for vi, en, _ in columns)
    body = []
    for row in rows:
        unit = str(row.get("unit_of_measure") or "")
        operator = str(row.get("operator") or "")
        if operator == "is_true":
            value = _float(row.get("value"))
            shown = "—" if not math.isfinite(value) else ("Có / yes" if value else "Không / no")
            threshold = "Có / yes"
        else:
            shown = _number(row.get("value"), unit)
            limit = _float(row.get("threshold"))
            threshold = (
                f"{_OPERATORS.get(operator, operator)} {_number(limit, unit)}"
                if math.isfinite(limit)
                else "chưa có"
            )
        status = str(row.get("status"))
        gap = _number(row.get("gap"), unit) if status == "fail" else ""
        confidence = CONFIDENCE_LABELS.get(str(row.get("confidence")), CONFIDENCE_LABELS["unknown"])
        note = f"{_cut(str(row.get('source') or ''), 120)} — {confidence.vi} / {confidence.en}"
        if note not in footnotes:
            footnotes.append(note)
        body.append(
            "<tr>"
            f"<td>{escape(str(row.get('criterion_vi') or row.get('criterion')))} "
            f"<span class='en'>/ {escape(_cut(str(row.get('criterion_en') or ''), 40))}</span></td>"
            f"<td class='num'>{escape(shown)}</td>"
            f"<td class='num wrap'>{escape(threshold)}</td>"
            f"<td>{_status_badge(status)}</td>"
            f"<td class='num'>{escape(gap)}</td>"
            f"<td class='ref'>[{footnotes.index(note) + 1}]</td>"
            "</tr>"
        )
    return (
        f"<table class='verdicts'><colgroup>{colgroup}</colgroup><tr>{head}</tr>"
        f"{''.join(body)}</table>"
    )


def _figures(result: RunResult, unit: Mapping[str, Any], hamlet_count: int) -> str:
    rows: list[tuple[str, str]] = []

    def add(column: str, value: Any, unit_of_measure: str | None = None) -> None:
        label = column_label(column)
        rows.append((_bilingual(label), escape(_number(value, unit_of_measure or label.unit))))

    add("area_km2", unit.get("area_km2"))
    if math.isfinite(_float(unit.get("official_area_km2"))):
        rows.append(
            (
                "Diện tích chính thức <span class='en'>/ official area</span>",
                escape(
                    f"{_number(unit.get('official_area_km2'), 'km²')} "
                    f"({format_number_vi(_float(unit.get('area_diff_pct')), 2, sign=True)} %)"
                ),
            )
        )
    population = _number(unit.get("population"), "người")
    source = str(unit.get("population_source") or "")
    if source and source != "none" and population != "—":
        population += f" ({source})"
    rows.append((_bilingual(column_label("population")), escape(population)))
    add("households", unit.get("households"))
    add("density_per_km2", unit.get("density_per_km2"))
    if result.hamlets is not None:
        rows.append(("Số thôn, xóm <span class='en'>/ hamlets</span>", str(hamlet_count)))
    for column in ("agricultural_share_pct", "road_km", "road_density_km_per_km2"):
        if column in unit:
            add(column, unit.get(column))
    counts = [
        f"{escape(INFRASTRUCTURE_LABELS[kind].vi)} {int(_float(unit.get(f'count_{kind}')))}"
        for kind in _KEY_COUNTS
        if math.isfinite(_float(unit.get(f"count_{kind}")))
    ]
    body = "".join(
        f"<tr><td>{label}</td><td class='num'>{value}</td></tr>" for label, value in rows
    )
    if counts:
        body += (
            f"<tr><td colspan='2'>Hạ tầng <span class='en'>/ services</span>: "
            f"{' · '.join(counts)}</td></tr>"
        )
    return f"<table class='figures'>{body}</table>"


def _set_lines(
    result: RunResult,
    rows: Mapping[str, Sequence[Mapping[str, Any]]],
    shown: Iterable[str],
    verdicts: pd.DataFrame,
) -> str:
    """One table row per other criteria set: verdict, name, status counts.

    ``rows``: the unit's criteria rows (records) by set; ``verdicts``: the
    units indexed by id.
    """
    lines = []
    for criteria_set in result.sets:
        if criteria_set.id in shown:
            continue
        own = rows.get(criteria_set.id, ())
        if not own:
            continue
        counts = Counter(row.get("status") for row in own)
        column = f"{criteria_set.family.replace('-', '_')}_verdict"
        verdict = (
            str(verdicts[column].get(own[0]["id"], "not_assessed"))
            if column in verdicts.columns
            else "not_assessed"
        )
        cells = "".join(
            f"<td class='num'>{int(counts.get(status, 0))}</td>" for status in STATUS_LABELS
        )
        lines.append(
            f"<tr title='{escape(criteria_set.name_en)}'><td>{_status_badge(verdict)}</td>"
            f"<td>{escape(criteria_set.name_vi)}</td>{cells}</tr>"
        )
    if not lines:
        return ""
    head = "".join(
        f"<th style='text-align:right;white-space:nowrap'>{escape(label.vi)}</th>"
        for label in STATUS_LABELS.values()
    )
    return (
        "<table class='verdicts sets'><colgroup><col style='width:13%'><col style='width:60%'>"
        "<col style='width:5%'><col style='width:8%'><col style='width:14%'></colgroup>"
        f"<tr><th>Kết luận</th>"
        f"<th>Bộ tiêu chí <span class='en'>/ criteria set</span></th>{head}</tr>"
        f"{''.join(lines)}</table>"
    )


def _caveats(
    result: RunResult, rows: Mapping[str, Sequence[Mapping[str, Any]]], mine: pd.DataFrame
) -> list[str]:
    """Return the page's caveats.

    ``rows``: the unit's criteria rows (records) by set; ``mine``: its findings.
    """
    items: list[str] = []
    if result.project.note:
        items.append(escape(_cut(result.project.note, 150)))
    standard = [
        row for row in rows.get(result.standard.id, ()) if row.get("status") == "not_assessed"
    ]
    if standard:
        parts = [
            f"<b>{escape(str(row.get('criterion_vi')))}</b> "
            f"({escape(_cut(str(row.get('note')), 90))})"
            for row in standard
        ]
        items.append("Chưa đánh giá <span class='en'>/ not assessed</span>: " + "; ".join(parts))
    items += [f"Ghi chú / note: {escape(_cut(note, 150))}" for note in result.standard.notes]
    findings = result.findings
    if not findings.empty:
        for row in mine.to_dict("records"):
            label = FINDING_LABELS.get(str(row.get("kind")), FINDING_LABEL_OTHER)
            items.append(f"{escape(label.vi)}: {escape(_cut(str(row.get('message'))))}")
        others = len(findings) - len(mine)
        if others:
            items.append(
                f"{others} phát hiện khác về dữ liệu của dự án (findings.csv, report.xlsx) / "
                f"{others} other data findings in the project"
            )
    return items


def _page(
    result: RunResult,
    unit: Mapping[str, Any],
    geometry: Any,
    *,
    number: int,
    total: int,
    context: Mapping[str, Any],
) -> str:
    project = result.project
    standard = result.standard
    unit_id = str(unit["id"])
    rows = context["rows"].get(unit_id, {})  # the unit's criteria rows by set
    verdict = str(unit.get("ward_verdict") or "not_assessed")
    verdict_label = STATUS_LABELS.get(verdict, STATUS_LABELS["not_assessed"])
    ward_rows = rows.get(standard.id, [])
    counts = Counter(row.get("status") for row in ward_rows)
    tally = ", ".join(
        f"{int(counts.get(status, 0))} {label.vi.lower()}"
        for status, label in STATUS_LABELS.items()
    )
    infra_sets = [s for s in result.sets if s.family == "ward-infrastructure"]
    shown = [standard.id, *(s.id for s in infra_sets)]
    footnotes: list[str] = []
    tables = [
        f"<h2 title='{escape(standard.name_en)}'>{escape(standard.name_vi)}</h2>",
        _verdict_table(ward_rows, footnotes),
    ]
    for criteria_set in infra_sets:
        own = rows.get(criteria_set.id, [])
        if own:
            tables += [
                f"<h2 title='{escape(criteria_set.name_en)}'>{escape(criteria_set.name_vi)}</h2>",
                _verdict_table(own, footnotes),
            ]
    tables.append(
        "<ol class='notes'>" + "".join(f"<li>{escape(n)}</li>" for n in footnotes) + "</ol>"
    )
    others = _set_lines(result, rows, shown, context["verdicts"])
    if others:
        tables += ["<h2>Các bộ tiêu chí khác <span class='en'>/ other criteria sets</span></h2>"]
        tables.append(others)
    neighbours = context["neighbours"](geometry)
    hamlets = context["hamlets"].get(unit_id, [])
    points = context["points"](geometry)
    svg = unit_map_svg(
        geometry, status=verdict, neighbours=neighbours, hamlets=hamlets, points=points
    )
    kinds = sorted(
        {kind for _, kind in points},
        key=lambda k: list(INFRASTRUCTURE_LABELS).index(k) if k in INFRASTRUCTURE_LABELS else 99,
    )
    legend = "".join(
        f", <span style='color:{KIND_STYLES.get(k, KIND_STYLES['other'])[0]}'>●</span> "
        f"{escape(INFRASTRUCTURE_LABELS.get(k, INFRASTRUCTURE_LABELS['other']).vi)}"
        for k in kinds
    )
    sources = []
    if project.sources:
        sources.append(escape(_cut(project.sources, 200)))
    layers = ", ".join(
        f"{escape(role)}: {escape(spec.path.name)}" for role, spec in project.layers.items()
    )
    sources.append(f"Tệp dữ liệu <span class='en'>/ data files</span>: {layers}")
    caveats = _caveats(result, rows, context["findings"].get(unit_id, context["no_findings"]))
    hidden = len(caveats) - MAX_CAVEATS
    caveat_items = caveats[:MAX_CAVEATS] + (
        [f"… và {hidden} mục khác trong report.xlsx / and {hidden} more in report.xlsx"]
        if hidden > 0
        else []
    )
    until = f" – {standard.in_force_until:%d/%m/%Y}" if standard.in_force_until is not None else ""
    return f"""
<section class="unit" id="unit-{escape(unit_id)}" data-unit="{escape(unit_id)}">
<div class="kicker">Báo cáo kiểm tra tiêu chuẩn lên phường · Ward-standard check report</div>
<h1>{escape(str(unit.get("name") or unit_id))} <span class="code">{escape(unit_id)}</span></h1>
<div class="meta">Dự án <span class="en">/ project</span>: {escape(project.name)} ·
Tiêu chuẩn áp dụng ngày <span class="en">/ standards as of</span>:
<b>{project.as_of:%d/%m/%Y}</b>: {escape(standard.document)}
(hiệu lực <span class="en">/ in force</span> {standard.in_force_from:%d/%m/%Y}{until})</div>
<div class="verdict {escape(verdict)}"><b>Kết luận: {escape(verdict_label.vi)}</b>
<span class="en">/ verdict: {escape(verdict_label.en)}</span> — {escape(tally)}</div>
<div class="row">
<div style="flex:1 1 auto"><h2 style="margin-top:0">Số liệu chính
<span class="en">/ key figures</span></h2>{_figures(result, unit, len(hamlets))}</div>
<figure>{svg}<figcaption>Xã (đậm), thôn (nét đứt), xã lân cận (xám){legend}.
{escape(project.crs.name)}</figcaption></figure>
</div>
{"".join(tables)}
<h2>Nguồn dữ liệu <span class="en">/ data sources</span></h2>
<ul class="small">{"".join(f"<li>{s}</li>" for s in sources)}</ul>
<h2>Lưu ý về dữ liệu <span class="en">/ data caveats</span></h2>
<ul class="small">{"".join(f"<li>{c}</li>" for c in caveat_items)}</ul>
<footer>Trang <span class="en">/ page</span> {number}/{total} · {escape(project.name)} ·
tạo bởi <span class="en">/ made by</span> geo ngày {context["today"]:%d/%m/%Y} ·
số liệu đầy đủ trong report.xlsx và results.gpkg</footer>
</section>"""


def _context(result: RunResult) -> dict[str, Any]:
    """Return the lookups shared by every page: neighbours, hamlets, points, rows by unit.

    The criteria rows and findings are grouped by unit once, not filtered
    out of the whole tables for each page (a hundred pages at province scale).
    """
    units = result.units.geometry.to_numpy()
    tree = shapely.STRtree(units)

    def neighbours(geometry: Any) -> list[Any]:
        minx, miny, maxx, maxy = shapely.bounds(geometry)
        pad = 0.6 * max(maxx - minx, maxy - miny)
        found = tree.query(shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad))
        return [units[i] for i in sorted(found) if not units[i].equals(geometry)]

    hamlets: dict[str, list[Any]] = {}
    if result.hamlets is not None:
        for unit_id, geometry in zip(
            result.hamlets["unit_id"].astype(str), result.hamlets.geometry, strict=True
        ):
            hamlets.setdefault(unit_id, []).append(geometry)
    infrastructure = result.infrastructure
    point_geoms = infrastructure.geometry.to_numpy() if infrastructure is not None else np.array([])
    kinds = (
        infrastructure["kind"].astype(str).to_numpy()
        if infrastructure is not None
        else np.array([])
    )
    point_tree = shapely.STRtree(point_geoms)

    def points(geometry: Any) -> list[tuple[Any, str]]:
        found = point_tree.query(geometry, predicate="intersects")
        return [(point_geoms[i], kinds[i]) for i in sorted(found)]

    criteria = result.criteria
    unit_rows = criteria.loc[criteria["level"] == "unit"]
    findings = result.findings
    unit_ids = result.units["id"].astype(str)
    features = findings["feature"].astype(str)
    findings = findings.loc[features.isin(unit_ids).to_numpy()]  # the others are on no page
    return {
        "neighbours": neighbours,
        "hamlets": hamlets,
        "points": points,
        "today": date.today(),
        "rows": _by_unit_and_set(unit_rows),
        "verdicts": result.units.set_index("id"),
        "findings": _by_key(findings, findings["feature"]),
        "no_findings": result.findings.iloc[0:0],
    }


def _by_unit_and_set(rows: pd.DataFrame) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Split criteria rows into records by unit id (as text) and set id, in order.

    Converted once for all the pages: filtering each page's table by set took
    most of a page's time.
    """
    found: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for row in _records(rows):
        found.setdefault(str(row["id"]), {}).setdefault(str(row["set"]), []).append(row)
    return found


def _by_key(frame: pd.DataFrame, key: pd.Series) -> dict[str, pd.DataFrame]:
    """Split a table by a column's text, keeping each part's rows in order."""
    return {str(k): part for k, part in frame.groupby(key.astype(str).to_numpy(), sort=False)}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in pd.DataFrame(frame).to_dict("records")]


# ----------------------------------------------------------------------------- progress


def _progress_badge(status: str) -> str:
    label = PROGRESS_STATUS_LABELS.get(status, PROGRESS_STATUS_LABELS["no_data"])
    key = status if status in PROGRESS_STATUS_LABELS else "no_data"
    return (
        f"<span class='pstatus {key}' style='background:{STATUS_COLOURS[key]}' "
        f"title='{escape(label.en)}'>{escape(label.vi)}</span>"
    )


def _day(value: Any) -> str:
    return f"{value:%d/%m/%Y}" if isinstance(value, date) else "—"


def _rate(value: Any, unit: str) -> str:
    number = _float(value)
    if not math.isfinite(number):
        return "—"
    decimals = 3 if 0 < abs(number) < 0.1 else _decimals(unit, number)
    return format_number_vi(number, decimals, sign=True)


def _target_text(line: Mapping[str, Any]) -> str:
    unit = str(line.get("unit_of_measure") or "")
    operator = _OPERATORS.get(str(line.get("operator")), str(line.get("operator") or ""))
    return f"{operator or '≥'} {_number(line.get('target'), unit)}"


def _ordered_lines(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Return the roadmap lines, most urgent first (late, at risk, …, met), then by deadline."""
    rank = {status: i for i, status in enumerate(SEVERITY)}
    ordered = table.assign(_rank=table["status"].map(rank)).sort_values(
        ["_rank", "deadline"], kind="stable"
    )
    return _records(ordered.drop(columns="_rank"))


def _roadmap_table(table: pd.DataFrame) -> str:
    columns = [
        ("Tình trạng", "status", 13),
        ("Tiêu chí · xã, thôn", "criterion · unit, hamlet", 28),
        ("Ban đầu → mới nhất", "baseline → latest", 17),
        ("Mục tiêu, hạn", "target, deadline", 13),
        ("Cần, đạt mỗi năm", "needed, observed per year", 9),
        ("Phụ trách", "owner", 20),
    ]
    colgroup = "".join(f"<col style='width:{w}%'>" for _, _, w in columns)
    head = "".join(f"<th>{vi} <span class='en'>/ {en}</span></th>" for vi, en, _ in columns)
    body = []
    for line in _ordered_lines(table):
        unit = str(line.get("unit_of_measure") or "")
        latest = _number(line.get("latest"), unit)
        if not math.isfinite(_float(line.get("latest"))):
            history = "chưa có số liệu <span class='en'>/ no figure</span>"
        elif line.get("baseline_date") == line.get("latest_date"):
            history = (
                f"{escape(latest)}<br><span class='small'>{_day(line.get('latest_date'))}</span>"
            )
        else:
            history = (
                f"{escape(_number(line.get('baseline')))} → {escape(latest)}<br>"
                f"<span class='small'>{_day(line.get('baseline_date'))} → "
                f"{_day(line.get('latest_date'))}</span>"
            )
        level = "thôn / hamlet" if line.get("level") == "hamlet" else "xã / unit"
        body.append(
            "<tr class='line'>"
            f"<td>{_progress_badge(str(line.get('status')))}</td>"
            f"<td><b>{escape(str(line.get('criterion_vi') or line.get('criterion')))}</b> "
            f"<span class='en'>/ {escape(_cut(str(line.get('criterion_en') or ''), 40))}</span>"
            f" <span class='small'>{escape(str(line.get('criterion')))}</span><br>"
            f"{escape(str(line.get('name') or ''))} <span class='small'>"
            f"({escape(str(line.get('id')))}, {level})</span></td>"
            f"<td class='wrap'>{history}</td>"
            f"<td class='wrap'>{escape(_target_text(line))}<br><b>trước / by "
            f"{_day(line.get('deadline'))}</b></td>"
            f"<td class='num'>{escape(_rate(line.get('rate_needed_per_year'), unit))}<br>"
            f"{escape(_rate(line.get('rate_observed_per_year'), unit))}</td>"
            f"<td class='wrap'>{escape(str(line.get('owner') or '?'))}</td>"
            "</tr>"
            f"<tr class='rule'><td></td><td colspan='5'>Lý do <span class='en'>/ rule</span>: "
            f"{escape(_cut(str(line.get('rule') or ''), 240))}"
            + (
                f" · Ghi chú <span class='en'>/ note</span>: "
                f"{escape(_cut(str(line.get('note')), 110))}"
                if line.get("note")
                else ""
            )
            + "</td></tr>"
        )
    return (
        f"<table class='verdicts roadmap'><colgroup>{colgroup}</colgroup><tr>{head}</tr>"
        f"{''.join(body)}</table>"
    )


def _hamlet_items(hamlets: pd.DataFrame) -> list[str]:
    """Per criterion, the hamlets short of their target, the largest shortfall first."""
    sources = {
        "hamlet line": "dòng của thôn / own line",
        "unit line": "dòng của xã / unit's line",
        "threshold": "ngưỡng / threshold",
    }
    items = []
    for criterion, group in hamlets.groupby("criterion", sort=False):
        rows = _records(group)
        first = rows[0]
        unit = str(first.get("unit_of_measure") or "")
        shown = [
            f"{escape(str(row.get('name')))} {escape(_number(row.get('latest'), unit))} "
            f"(<span class='en'>{escape(_target_text(row))}, "
            f"{escape(sources.get(str(row.get('target_from')), str(row.get('target_from'))))}"
            "</span>)"
            for row in rows[:MAX_HAMLETS_SHOWN]
        ]
        more = len(rows) - MAX_HAMLETS_SHOWN
        if more > 0:
            shown.append(
                f"… và {more} thôn khác <span class='en'>/ and {more} more</span> "
                "(progress-hamlets.csv, report.xlsx)"
            )
        items.append(
            f"<li><b>{escape(str(first.get('criterion_vi') or criterion))}</b> "
            f"<span class='small'>{escape(str(criterion))}</span>: {len(rows)} thôn chưa đạt "
            f"<span class='en'>/ hamlets short</span>: {'; '.join(shown)}</li>"
        )
    return items


def _trend_blocks(progress: Progress) -> list[str]:
    """One block per criterion: its trend chart (inline SVG) and its lines in words."""
    charts = progress.trends()
    blocks = []
    for criterion, svg in charts.items():
        lines = progress.table.loc[progress.table["criterion"] == criterion]
        items = "".join(
            f"<li>{_progress_badge(str(line.get('status')))} "
            f"{escape(str(line.get('name') or line.get('id')))}: "
            f"{escape(_target_text(line))} trước <span class='en'>/ by</span> "
            f"<b>{_day(line.get('deadline'))}</b>; phụ trách <span class='en'>/ owner</span>: "
            f"{escape(str(line.get('owner') or '?'))}</li>"
            for line in _records(lines)
        )
        inline = svg.strip()
        if inline.startswith("<?xml"):  # an <svg> element inline: no XML declaration
            inline = inline.split("?>", 1)[1].strip()
        blocks.append(
            f"<div class='trend' data-criterion='{escape(criterion)}'>{inline}"
            f"<ul>{items}</ul></div>"
        )
    return blocks


def _progress_sections(result: RunResult, progress: Progress) -> str:
    """Return the progress pages: lines, hamlets holding a criterion back, rules; trends."""
    table = progress.table
    dates = [
        f"{date.fromisoformat(str(d)[:10]):%d/%m/%Y}"
        for d in progress.snapshots["as_of"]
        if str(d)[:10] <= progress.as_of.isoformat()
    ]
    counts = table["status"].value_counts()
    tally = " ".join(
        f"{_progress_badge(status)} {int(counts.get(status, 0))}"
        for status in PROGRESS_STATUS_LABELS
    )
    root = result.project.root
    files = ", ".join(
        escape(_relative(path, root)) for path in (progress.roadmap_file, progress.history_file)
    )
    snapshots = (
        f"{len(dates)} lần chụp số liệu <span class='en'>/ snapshots</span>: {', '.join(dates)}"
        if dates
        else "chưa có lần chụp số liệu <span class='en'>/ no snapshot yet</span>"
    )
    hamlets = _hamlet_items(progress.hamlets)
    hamlet_block = (
        "<h2>Thôn, xóm chưa đạt mục tiêu <span class='en'>/ hamlets holding a criterion back"
        f"</span></h2><ul class='hamlets'>{''.join(hamlets)}</ul>"
        if hamlets
        else ""
    )
    rules = "".join(
        f"<li>{_progress_badge(status)} {escape(RULES_VI[status])} "
        f"<span class='en'>/ {escape(RULES[status])}</span></li>"
        for status in ("no_data", "met", "late", "on_track", "at_risk")
    )
    header = f"""<div class="kicker">Theo dõi lộ trình · Roadmap follow-up</div>
<div class="meta">Dự án <span class="en">/ project</span>: {escape(result.project.name)} ·
đánh giá ngày <span class="en">/ as of</span> <b>{progress.as_of:%d/%m/%Y}</b> ·
{snapshots} · {files}</div>"""
    first = f"""
<section class="progress" id="progress">
{header}
<h1>Tiến độ lộ trình <span class="code">/ roadmap progress</span></h1>
<div class="tally">{tally}</div>
<h2>Các dòng lộ trình, việc gấp nhất trước <span class="en">/ roadmap lines, most urgent
first</span></h2>
{_roadmap_table(table)}
{hamlet_block}
<h2>Quy tắc xếp tình trạng, theo thứ tự <span class="en">/ status rules, in this order</span></h2>
<ol class="rules">{rules}</ol>
<div class="small">Cần mỗi năm: từ ngày đánh giá đến hạn; đạt mỗi năm: từ ban đầu đến mới nhất
(năm 365,25 ngày) <span class="en">/ needed per year: from the assessment to the deadline;
observed: baseline to latest</span>. Đầy đủ <span class="en">/ in full</span>: progress.csv,
progress-hamlets.csv, report.xlsx.</div>
</section>"""
    second = f"""
<section class="progress trends" id="trends">
{header}
<h2>Xu hướng theo tiêu chí <span class="en">/ trends by criterion</span></h2>
<p class="small">● số liệu từng lần chụp <span class="en">/ snapshot</span> · nét đứt: xu hướng
đến hạn <span class="en">/ dashed: trend to the deadline</span> · ◇ mục tiêu tại hạn
<span class="en">/ target at the deadline</span></p>
{"".join(_trend_blocks(progress))}
</section>"""
    return first + second


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return str(path)


def render_report(
    result: RunResult,
    *,
    scale: float = 1.0,
    progress: Progress | None = None,
    units_shown: bool = True,
) -> str:
    """Return the printable report as one self-contained HTML document.

    Parameters
    ----------
    result : RunResult
        A finished run.
    scale : float, default 1
        Zoom of every unit page's content (below 1 to fit long pages on A4).
    progress : Progress, optional
        The project's roadmap progress (:func:`geo.progress.find_progress`):
        adds ``<section class="progress">`` pages after the units. Without
        it (no roadmap) there are none.
    units_shown : bool, default True
        False leaves the unit pages out (to count the progress pages alone).

    Returns
    -------
    str
        HTML with one ``<section class="unit">`` per unit, each printed on
        one A4 page (``break-after: page``), then, with ``progress``, the
        roadmap lines (status, owner, deadline, rule) and one trend chart per
        criterion. The ``<head>`` names the project, its slug and the date of
        the standards in ``<meta name="geo-…">`` tags (read back by
        :func:`read_report_meta`).
    """
    project = result.project
    units = result.units
    pages = []
    if units_shown:
        context = _context(result)
        pages = [
            _page(result, unit, geometry, number=number, total=len(units), context=context)
            for number, (unit, geometry) in enumerate(
                zip(_records(units), units.geometry, strict=True), start=1
            )
        ]
    if progress is not None:
        pages.append(_progress_sections(result, progress))
    title = f"{project.name}: báo cáo kiểm tra tiêu chuẩn phường ({project.as_of:%d/%m/%Y})"
    meta = {
        "geo-project": project.name,
        "geo-slug": slug(project.name),
        "geo-as-of": project.as_of.isoformat(),
        "geo-standard": f"{result.standard.name_vi} ({result.standard.document})",
        "geo-units": str(len(units)),
    }
    if progress is not None:
        meta["geo-progress-lines"] = str(len(progress.table))
    tags = "".join(
        f'<meta name="{name}" content="{escape(value)}">' for name, value in meta.items()
    )
    return (
        '<!DOCTYPE html>\n<html lang="vi">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n{tags}\n<style>{_CSS}</style>\n"
        + (f"<style>section.unit {{ zoom: {scale:g}; }}</style>\n" if scale != 1.0 else "")
        + "</head>\n<body>"
        + "".join(pages)
        + "\n</body>\n</html>\n"
    )


class _MetaParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "meta":
            values = dict(attrs)
            name, content = values.get("name"), values.get("content")
            if name and name.startswith("geo-") and content is not None:
                self.meta[name] = content


def read_report_meta(path: str | Path) -> dict[str, str]:
    """Return the ``geo-…`` meta tags of a ``report.html`` (project, slug, as-of, units)."""
    parser = _MetaParser()
    with Path(path).open(encoding="utf-8") as handle:
        for line in handle:
            parser.feed(line)
            if "</head>" in line:
                break
    return parser.meta


# ----------------------------------------------------------------------------- PDF


def find_chromium() -> str | None:
    """Return the Chromium (or Chrome) executable, or None when there is none.

    ``GEO_CHROMIUM`` names one explicitly (an empty value turns the PDF off).
    """
    explicit = os.environ.get("GEO_CHROMIUM")
    if explicit is not None:
        return shutil.which(explicit) if explicit else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def write_pdf(html_path: str | Path, pdf_path: str | Path, *, chromium: str | None = None) -> str:
    """Print an HTML file to PDF with headless Chromium.

    Parameters
    ----------
    html_path : str or Path
        The page (``report.html``); it must not need the network.
    pdf_path : str or Path
        The PDF to write.
    chromium : str, optional
        The executable (default :func:`find_chromium`).

    Returns
    -------
    str
        Empty when the PDF was written; otherwise why not (no Chromium, or
        Chromium failed), and no file is written.
    """
    executable = chromium or find_chromium()
    if executable is None:
        return "Chromium not found (install chromium, or set GEO_CHROMIUM)"
    html_path, pdf_path = Path(html_path).resolve(), Path(pdf_path).resolve()
    with tempfile.TemporaryDirectory(prefix="geo-chromium-") as profile:
        command = [
            executable,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
            "--proxy-server=127.0.0.1:9",  # the page needs no network: refuse any request
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            "--print-to-pdf-no-header",
            f"--print-to-pdf={pdf_path}",
            html_path.as_uri(),
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=_PDF_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            pdf_path.unlink(missing_ok=True)
            return f"Chromium failed: {error}"
    if done.returncode != 0 or not pdf_path.is_file() or pdf_path.stat().st_size == 0:
        pdf_path.unlink(missing_ok=True)
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        return f"Chromium failed (exit {done.returncode}): {lines[-1] if lines else ''}".strip()
    return ""


def pdf_pages(path: str | Path) -> int:
    """Count the pages of a PDF written by Chromium (its page objects are not compressed)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", Path(path).read_bytes()))


def write_report(
    result: RunResult,
    html_path: Path,
    pdf_path: Path | None = None,
    *,
    progress: Progress | None = None,
) -> str:
    """Write ``report.html`` and, when asked and possible, ``report.pdf``.

    ``progress`` (the project's roadmap progress) adds the progress pages.

    Returns
    -------
    str
        Empty when everything asked for was written; otherwise why the PDF was not.
    """
    html_path.write_text(render_report(result, progress=progress), encoding="utf-8")
    if pdf_path is None:
        return ""
    return write_fitted_pdf(result, html_path, pdf_path, progress=progress)


def _progress_page_count(result: RunResult, progress: Progress, folder: Path) -> int | str:
    """Pages the progress sections print on alone (they do not scale), or why not known."""
    html = folder / "progress-pages.html"
    pdf = folder / "progress-pages.pdf"
    html.write_text(render_report(result, progress=progress, units_shown=False), encoding="utf-8")
    reason = write_pdf(html, pdf)
    return reason or pdf_pages(pdf)


def write_fitted_pdf(
    result: RunResult, html_path: Path, pdf_path: Path, *, progress: Progress | None = None
) -> str:
    """Print ``report.html`` to ``report.pdf``, one page per unit (then the progress pages).

    When a unit's page overflows, the report is rendered again at a smaller
    scale (:data:`FIT_SCALES`) and ``html_path`` is rewritten with the one
    that fitted, so a browser prints it the same way. With ``progress``
    (which ``html_path`` must hold too), the progress pages are printed once
    alone first, to know how many of the pages are theirs.

    Returns
    -------
    str
        Empty when the PDF was written; otherwise why not (and no PDF is left).
    """
    units = len(result.units)
    expected = units
    if progress is not None:
        with tempfile.TemporaryDirectory(prefix="geo-report-") as folder:
            extra = _progress_page_count(result, progress, Path(folder))
        if isinstance(extra, str):
            logger.warning("report.pdf not written: %s", extra)
            return extra
        expected += extra
    pages = 0
    for scale in FIT_SCALES:
        if scale != 1.0:
            html_path.write_text(
                render_report(result, scale=scale, progress=progress), encoding="utf-8"
            )
        reason = write_pdf(html_path, pdf_path)
        if reason:
            logger.warning("report.pdf not written: %s", reason)
            return reason
        pages = pdf_pages(pdf_path)
        if pages <= expected:
            return ""
        logger.info("report.pdf: %d pages for %d units at scale %.2f", pages, units, scale)
    logger.warning("report.pdf: some units take more than one page (%d pages)", pages)
    return ""
