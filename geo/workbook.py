"""The run's workbook, ``report.xlsx``: every table of a run, labelled, for Excel.

Sheets (:data:`SHEETS`), Vietnamese names:

========================  ==================================================================
Tổng hợp                  one row per unit: its verdict per criteria set, the figures and
                          statuses of the ward standard's criteria, the margin that decides it
Tiến độ                   with a roadmap (``roadmap.csv``): every roadmap line judged against
                          the history (``progress.csv``): baseline, latest, target, deadline,
                          owner, rate needed and observed, status and the rule applied
Tiến độ theo thôn         with a roadmap: the hamlets holding a criterion back
                          (``progress-hamlets.csv``)
Tiêu chí                  every row of ``criteria.csv`` (with the status in Vietnamese)
Chỉ tiêu xã               the units' indicators (``units.csv``)
Chỉ tiêu thôn             the hamlets' indicators (``hamlets.csv``; headers only without hamlets)
Đóng góp của thôn         each hamlet's share of its commune's gap (``contributions.csv``)
Chất lượng dữ liệu        repairs, coverage findings, unmatched names, area mismatches
Nguồn                     the project, every data file, every criteria set and threshold with
                          its document, article, dates and confidence
Từ điển dữ liệu           every column of every sheet and every field of ``results.gpkg``
========================  ==================================================================

Each sheet has three header rows: Vietnamese label (with the unit), English
label, and the column's code as in the CSV files. Header rows and the id and
name columns are frozen, every table has filters, numbers have formats
(``#,##0``, ``#,##0.00``, ``0.0``: Excel shows them with the reader's
separators), and statuses are coloured as on the map (Đạt green, Chưa đạt
red, Chưa đánh giá grey) by conditional formatting; progress statuses too
(Đạt mục tiêu green, Đúng tiến độ light green, Có nguy cơ chậm amber, Trễ hạn
red, Chưa có dữ liệu grey). The two progress sheets are there only when the
project has a roadmap and the caller passes its :class:`geo.progress.Progress`
(``geo run`` does); the sources sheet then also names the roadmap, the
history and the status rules.

The workbook reads back with pandas, the codes as column names::

    pd.read_excel("report.xlsx", sheet_name="Tiêu chí", header=2)

or :func:`read_workbook` for every sheet at once.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd
from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped]
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # type: ignore[import-untyped]
from openpyxl.formatting.rule import CellIsRule  # type: ignore[import-untyped]
from openpyxl.styles import Alignment, Font, PatternFill  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]
from openpyxl.utils.datetime import to_excel  # type: ignore[import-untyped]
from openpyxl.worksheet.worksheet import Worksheet  # type: ignore[import-untyped]

from geo import criteria as crit
from geo.labels import (
    COLUMN_LABELS,
    FINDING_LABEL_OTHER,
    FINDING_LABELS,
    INFRASTRUCTURE_LABELS,
    PROGRESS_STATUS_LABELS,
    STATUS_LABELS,
    Label,
    column_label,
)
from geo.pipeline import RunResult
from geo.progress import RULES, RULES_VI
from geo.qgis_style import GPKG_FIELDS, GPKG_LAYERS

if TYPE_CHECKING:
    from geo.progress import Progress

__all__ = [
    "HEADER_ROWS",
    "PROGRESS_FILLS",
    "PROGRESS_SHEETS",
    "SHEETS",
    "column_labels",
    "progress_sources",
    "rank_units",
    "read_workbook",
    "sources_table",
    "summary_table",
    "workbook_tables",
    "write_workbook",
]

SHEETS: dict[str, Label] = {
    "summary": Label("Tổng hợp", "Summary"),
    "progress": Label("Tiến độ", "Roadmap progress"),
    "progress_hamlets": Label("Tiến độ theo thôn", "Hamlets holding a criterion back"),
    "criteria": Label("Tiêu chí", "Criteria"),
    "units": Label("Chỉ tiêu xã", "Unit indicators"),
    "hamlets": Label("Chỉ tiêu thôn", "Hamlet indicators"),
    "contributions": Label("Đóng góp của thôn", "Hamlet contributions"),
    "quality": Label("Chất lượng dữ liệu", "Data quality"),
    "sources": Label("Nguồn", "Sources"),
    "dictionary": Label("Từ điển dữ liệu", "Data dictionary"),
}
"""Sheet key → sheet name (``vi``, the name in the workbook) and its English name."""

PROGRESS_SHEETS = ("progress", "progress_hamlets")
"""Sheets written only when the project has a roadmap (a :class:`geo.progress.Progress`)."""

HEADER_ROWS = 3
"""Header rows of every sheet: Vietnamese label, English label, column code."""

STATUS_FILLS: dict[str, tuple[str, str]] = {
    "pass": ("D5EDD9", "1A6B34"),
    "fail": ("F8D3D3", "A01416"),
    "not_assessed": ("E6E6E6", "505050"),
}
"""Status → (fill, font) colours of the conditional formatting: light tints of the map's."""

PROGRESS_FILLS: dict[str, tuple[str, str]] = {
    "met": ("D5EDD9", "1A6B34"),
    "on_track": ("EAF5D5", "3B6B12"),
    "at_risk": ("FDE3C3", "8A4500"),
    "late": ("F8D3D3", "A01416"),
    "no_data": ("E6E6E6", "505050"),
}
"""Progress status → (fill, font) colours: met and on track green, at risk amber, late red."""

_PROGRESS_LABELS: dict[str, Label] = {
    "id": Label("Mã xã / thôn", "Unit or hamlet code"),
    "name": Label("Tên xã / thôn", "Unit or hamlet name"),
    "status": Label("Tình trạng tiến độ", "Progress status"),
    "status_vi": Label("Tình trạng tiến độ (tiếng Việt)", "Progress status (Vietnamese)"),
}
_SHEET_LABELS: dict[str, dict[str, Label]] = {
    "progress": _PROGRESS_LABELS,
    "progress_hamlets": {
        **_PROGRESS_LABELS,
        "id": Label("Mã thôn", "Hamlet code"),
        "name": Label("Tên thôn", "Hamlet name"),
        "owner": Label("Phụ trách (của dòng lộ trình)", "Responsible (of the roadmap line)"),
        "deadline": Label("Hạn (của dòng lộ trình)", "Deadline (of the roadmap line)"),
    },
}
"""Labels of the columns that mean something else on a sheet than in the other tables."""

# Labels of columns that geo.labels does not define (yet).
_LABELS: dict[str, Label] = {
    "id": COLUMN_LABELS["id"],
    "family": Label("Nhóm tiêu chí", "Criteria family"),
    "set": Label("Bộ tiêu chí", "Criteria set"),
    "value": Label("Giá trị", "Value"),
    "threshold": Label("Ngưỡng", "Threshold"),
    "unit_of_measure": Label("Đơn vị tính", "Unit of measure"),
    "gap": Label("Còn thiếu", "Gap (missing to the threshold)"),
    "ratio": Label("Tỷ lệ so với ngưỡng", "Value ÷ threshold"),
    "source": Label("Nguồn (văn bản, điều khoản)", "Source (document, article)"),
    "confidence": Label("Độ tin cậy của nguồn", "Confidence of the source"),
    "status_vi": Label("Kết quả (tiếng Việt)", "Status (Vietnamese)"),
    "confidence_vi": Label("Độ tin cậy (tiếng Việt)", "Confidence (Vietnamese)"),
    "contribution": Label("Phần đóng góp vào mức thiếu", "Contribution to the gap"),
    "share_of_gap_pct": Label("Tỷ trọng trong mức thiếu", "Share of the gap", "%"),
    "layer": Label("Lớp dữ liệu", "Layer"),
    "feature": Label("Đối tượng", "Feature"),
    "kind": Label("Loại", "Kind"),
    "kind_vi": Label("Loại (tiếng Việt)", "Kind (Vietnamese)"),
    "kind_en": Label("Loại (tiếng Anh)", "Kind (English)"),
    "message": Label("Nội dung", "Message"),
    "hamlet_area_km2": Label("Tổng diện tích các thôn", "Sum of hamlet areas", "km²"),
    "hamlet_area_diff_pct": Label(
        "Chênh lệch tổng diện tích thôn so với xã", "Hamlet areas vs unit area", "%"
    ),
    "official_area_km2": Label("Diện tích chính thức", "Official area", "km²"),
    "area_diff_km2": Label("Chênh lệch với diện tích chính thức", "Difference to official", "km²"),
    "area_diff_pct": Label("Chênh lệch với diện tích chính thức", "Difference to official", "%"),
    "residential_km2": Label("Diện tích đất ở", "Residential land", "km²"),
    "density_per_residential_km2": Label(
        "Mật độ dân số trên đất ở", "Density on residential land", "người/km²"
    ),
    "residential_m2_per_person": Label("Đất ở bình quân", "Residential land per person", "m²"),
    "fail_count": Label("Số tiêu chí chưa đạt", "Criteria not met"),
    "not_assessed_count": Label("Số tiêu chí chưa đánh giá", "Criteria not assessed"),
    "margin_pct": Label(
        "Mức đạt thấp nhất so với ngưỡng", "Smallest margin to a threshold (− = short)", "%"
    ),
    "decisive_criterion": Label("Tiêu chí quyết định", "Deciding criterion"),
    "rank": Label("Thứ hạng", "Rank"),
    # sources sheet
    "section": Label("Mục", "Section"),
    "name_vi": Label("Tên", "Name (Vietnamese)"),
    "name_en": Label("Tên tiếng Anh", "Name (English)"),
    "document": Label("Văn bản / tệp", "Document / file"),
    "article": Label("Điều khoản", "Article"),
    "in_force": Label("Hiệu lực từ", "In force from", "ngày"),
    "repealed": Label("Hết hiệu lực", "In force until", "ngày"),
    "detail": Label("Chi tiết", "Details"),
    # dictionary sheet
    "sheet": Label("Trang tính / lớp", "Sheet / layer"),
    "column": Label("Mã cột", "Column code"),
    "label_vi": Label("Tên cột", "Label (Vietnamese)"),
    "label_en": Label("Tên cột tiếng Anh", "Label (English)"),
    "unit": Label("Đơn vị", "Unit"),
    "description": Label("Mô tả", "Description"),
}

_DESCRIPTIONS: dict[str, str] = {
    "level": "unit = xã / phường, hamlet = thôn / xóm / tổ dân phố",
    "set": "bộ tiêu chí đang có hiệu lực vào ngày áp dụng / criteria set in force on the date",
    "operator": ">=, >, <=, < or is_true (có / không)",
    "status": "pass = Đạt, fail = Chưa đạt, not_assessed = Chưa đánh giá",
    "gap": "lượng còn thiếu để đạt ngưỡng, theo đơn vị của tiêu chí / missing to the threshold",
    "ratio": "giá trị ÷ ngưỡng / value ÷ threshold",
    "confidence": "verified: đã kiểm chứng trong văn bản; secondary: nguồn thứ cấp; unknown",
    "note": "lý do chưa đánh giá, số liệu cần bổ sung / why not assessed, what to supply",
    "population_source": "layers.units, a table, or the sum of hamlets",
    "margin_pct": "(giá trị − ngưỡng) ÷ ngưỡng của tiêu chí sát ngưỡng nhất; âm = còn thiếu",
    "contribution": "(T·D_h − s·N_h) / ΣD: the hamlet's signed part of its commune's gap",
}

_PROGRESS_DESCRIPTIONS: dict[str, str] = {
    "status": "; ".join(
        f"{status} = {PROGRESS_STATUS_LABELS[status].vi}: {RULES_VI[status]} / {RULES[status]}"
        for status in ("no_data", "met", "late", "on_track", "at_risk")
    )
    + " (quy tắc áp dụng theo thứ tự này / rules applied in this order)",
    "status_vi": "tình trạng tiến độ bằng tiếng Việt / the progress status in Vietnamese",
    "rule": "quy tắc đã áp dụng cho dòng, kèm số liệu / the rule applied, with its figures",
    "level": "unit = xã / phường, hamlet = thôn / xóm / tổ dân phố",
    "baseline": "giá trị sớm nhất trong lịch sử (history.sqlite) / earliest value on record",
    "latest": "giá trị mới nhất đến ngày đánh giá / most recent value up to the assessment date",
    "snapshots": "số lần chụp có giá trị / snapshots holding a value for the line",
    "rate_needed_per_year": (
        "(mục tiêu − mới nhất) ÷ số năm từ ngày đánh giá đến hạn / change per year needed "
        "from the assessment date to the deadline (0 when met)"
    ),
    "rate_observed_per_year": (
        "(mới nhất − ban đầu) ÷ số năm giữa hai lần chụp / change per year from baseline to "
        "latest (empty with one snapshot)"
    ),
    "projected": (
        "giá trị mới nhất kéo dài đến hạn theo tốc độ đã đạt / the latest value extended to "
        "the deadline at the observed rate"
    ),
    "owner": "cơ quan, người phụ trách (roadmap.csv) / responsible body or official",
    "note": "ghi chú của lộ trình / the roadmap's note",
    "target_from": (
        "hamlet line = dòng lộ trình của thôn; unit line = dòng của xã; threshold = ngưỡng "
        "của tiêu chí / the target is the hamlet's own line's, else its unit's, else the threshold"
    ),
    "shortfall": "|mục tiêu − mới nhất| / how far the hamlet's latest value is from its target",
    "line_status": (
        "tình trạng của dòng lộ trình cho mục tiêu / status of the roadmap line the target "
        "comes from (empty for a threshold)"
    ),
}
_SHEET_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "progress": _PROGRESS_DESCRIPTIONS,
    "progress_hamlets": _PROGRESS_DESCRIPTIONS,
}


# ----------------------------------------------------------------------------- labels


def _known(column: str) -> Label | None:
    label = column_label(column)
    return None if (label.vi == column and label.en == column) else label


def _access_label(column: str) -> Label | None:
    for prefix, suffix, vi, en, unit in (
        ("dist_", "_m", "Khoảng cách bình quân đến", "Mean distance to", "m"),
        ("netdist_", "_m", "Khoảng cách theo đường đến", "Mean road distance to", "m"),
        ("share_within_", "_pct", "Tỷ lệ dân gần", "Share of people near", "%"),
        ("netshare_within_", "_pct", "Tỷ lệ dân gần (theo đường)", "Share near (by road)", "%"),
    ):
        if column.startswith(prefix) and column.endswith(suffix):
            kind = column[len(prefix) : -len(suffix)]
            base = INFRASTRUCTURE_LABELS.get(kind, Label(kind, kind))
            return Label(f"{vi} {base.vi.lower()}", f"{en} {base.en.lower()}", unit)
    return None


def column_labels(result: RunResult) -> dict[str, Label]:
    """Return a bilingual label for every column a run writes, tables and GeoPackage.

    Labels come from :mod:`geo.labels` first; indicators read by a criterion
    are named after it (``school_land_m2_per_person``: the criterion's name
    and unit), and each ``status_<criterion>`` / ``gap_<criterion>`` field of
    ``results.gpkg`` after its criterion.

    Parameters
    ----------
    result : RunResult

    Returns
    -------
    dict of str to Label
    """
    labels: dict[str, Label] = {}
    for criteria_set in result.sets:
        for criterion in criteria_set.criteria:
            if _known(criterion.indicator) is None:
                unit = "" if criterion.operator == "is_true" else criterion.unit_of_measure
                labels.setdefault(
                    criterion.indicator, Label(criterion.name_vi, criterion.name_en, unit)
                )
            labels.setdefault(
                criterion.id,
                Label(
                    criterion.name_vi,
                    criterion.name_en,
                    "" if criterion.operator == "is_true" else criterion.unit_of_measure,
                ),
            )
            key = criterion.id.replace(".", "_").replace("-", "_")
            labels[f"status_{key}"] = Label(
                f"Kết quả: {criterion.name_vi}", f"Status: {criterion.name_en}"
            )
            labels[f"gap_{key}"] = Label(
                f"Còn thiếu: {criterion.name_vi}",
                f"Gap: {criterion.name_en}",
                "" if criterion.operator == "is_true" else criterion.unit_of_measure,
            )
    frames = [result.units, result.hamlets, result.criteria, result.findings]
    columns = {c for frame in frames if frame is not None for c in frame.columns}
    for column in columns | set(_LABELS):
        if column in labels:
            continue
        known = _known(column)
        found = known or _LABELS.get(column) or _access_label(column)
        if found is not None:
            labels[column] = found
    for fields in GPKG_FIELDS.values():
        for column, label in fields.items():
            labels.setdefault(column, label)
    return labels


def _label(labels: Mapping[str, Label], column: str) -> Label:
    return labels.get(column) or column_label(column)


# ----------------------------------------------------------------------------- tables


def _status_vi(status: Any) -> str:
    label = STATUS_LABELS.get(str(status))
    return label.vi if label else ""


def _margin(row: Mapping[str, Any]) -> float:
    """Signed margin of a judged criterion in % of its threshold (negative: short)."""
    ratio = row.get("ratio")
    if row.get("status") == "not_assessed" or ratio is None or not math.isfinite(ratio):
        return math.nan
    if row.get("operator") in (">=", ">"):
        return (float(ratio) - 1.0) * 100.0
    if row.get("operator") in ("<=", "<"):
        return (1.0 - float(ratio)) * 100.0
    return math.nan


def summary_table(result: RunResult) -> pd.DataFrame:
    """Return one row per unit: key figures, verdict per set, the ward criteria that decide it.

    Columns: ``id``, ``name``, ``area_km2``, ``population``, ``households``,
    ``density_per_km2``, ``population_source``; ``<family>_verdict_vi`` per
    criteria set (Vietnamese label); for each unit-level criterion of the
    ward standard its value (column ``<criterion id>``), status
    (``<criterion id>_status``, in Vietnamese) and gap
    (``<criterion id>_gap``); ``fail_count`` and ``not_assessed_count`` over
    every unit-level criterion; ``margin_pct``, the smallest margin of a
    judged ward criterion to its threshold (negative: short by that share),
    and ``decisive_criterion``, the criterion with that margin.

    Parameters
    ----------
    result : RunResult

    Returns
    -------
    pandas.DataFrame
    """
    units = result.units
    keep = [
        c
        for c in (
            "id",
            "name",
            "area_km2",
            "population",
            "households",
            "density_per_km2",
            "population_source",
        )
        if c in units.columns
    ]
    table = pd.DataFrame(units[keep]).reset_index(drop=True)
    rows = result.criteria.loc[result.criteria["level"] == "unit"]
    for criteria_set in sorted(result.sets, key=lambda s: (s.family != "ward", s.family)):
        column = f"{criteria_set.family.replace('-', '_')}_verdict"
        if column in units.columns:
            table[f"{column}_vi"] = [_status_vi(v) for v in units[column]]
    standard = rows.loc[rows["set"] == result.standard.id]
    for criterion in result.standard.criteria:
        if not criterion.applies_to("unit"):
            continue
        by_id = standard.loc[standard["criterion"] == criterion.id].set_index("id")
        table[criterion.id] = table["id"].map(by_id["value"]).astype("float64")
        table[f"{criterion.id}_status"] = [_status_vi(v) for v in table["id"].map(by_id["status"])]
        if criterion.operator != "is_true":
            table[f"{criterion.id}_gap"] = table["id"].map(by_id["gap"]).astype("float64")
    counts = rows.groupby(["id", "status"]).size().unstack(fill_value=0)
    for status, column in (("fail", "fail_count"), ("not_assessed", "not_assessed_count")):
        series = counts[status] if status in counts.columns else pd.Series(dtype="int64")
        table[column] = table["id"].map(series).fillna(0).astype("int64")
    margins = standard.assign(
        margin=[_margin({str(k): v for k, v in r.items()}) for r in standard.to_dict("records")]
    )
    margins = margins.dropna(subset=["margin"]).sort_values(["id", "margin"])
    first = margins.groupby("id").head(1).set_index("id")
    table["margin_pct"] = table["id"].map(first["margin"]).astype("float64")
    table["decisive_criterion"] = table["id"].map(first["criterion"]).fillna("")
    return table


def rank_units(result: RunResult) -> pd.DataFrame:
    """Rank the units by how far they are from the ward standard, furthest first.

    Units are ordered by their smallest margin to a ward threshold
    (``margin_pct`` of :func:`summary_table`: the most short first, then those
    that pass by the least), then by the number of criteria not met; units
    with nothing judged come last.

    Parameters
    ----------
    result : RunResult

    Returns
    -------
    pandas.DataFrame
        :func:`summary_table` sorted, with ``rank`` (1 = furthest) first.

    Examples
    --------
    >>> ranked = rank_units(geo.run(geo.load_project("layers/thai-nguyen-2025")))  # doctest: +SKIP
    >>> ranked[["rank", "name", "margin_pct", "decisive_criterion"]].head()  # doctest: +SKIP
    """
    table = summary_table(result)
    table = table.sort_values(
        ["margin_pct", "fail_count", "id"], ascending=[True, False, True], na_position="last"
    ).reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _threshold_text(criterion: crit.Criterion, variants: Mapping[str, str | None]) -> str:
    if criterion.operator == "is_true":
        return "có / yes"
    if criterion.threshold_from:
        factor = f"{criterion.threshold_factor:g} × " if criterion.threshold_factor != 1 else ""
        return f"{criterion.operator} {factor}{criterion.threshold_from}"
    value, reason = criterion.threshold_for(variants)
    if value is None:
        return f"? ({reason})"
    text = f"{criterion.operator} {value:g} {criterion.unit_of_measure}".strip()
    if isinstance(criterion.threshold, dict):
        text += f" ({criterion.variant} = {variants.get(criterion.variant or '')})"
    return text


def sources_table(result: RunResult) -> pd.DataFrame:
    """Return the sources: project, data files, criteria sets and every threshold's source.

    Data sources are given as the project file states them (``sources``):
    licences and vintages are not invented where the project does not name
    them.

    Parameters
    ----------
    result : RunResult

    Returns
    -------
    pandas.DataFrame
        Columns ``section``, ``id``, ``name_vi``, ``name_en``, ``document``,
        ``article``, ``in_force``, ``repealed``, ``confidence``,
        ``threshold``, ``detail``. Sections: ``project``, ``data``,
        ``layer``, ``table``, ``inputs``, ``set``, ``criterion``.
    """
    project = result.project
    root = project.root
    rows: list[dict[str, Any]] = []

    def add(section: str, ident: str, **values: Any) -> None:
        rows.append({"section": section, "id": ident, **values})

    settings = ", ".join(
        f"{key} = {value}"
        for key, value in (
            ("province", project.province),
            ("crs", project.crs.to_string()),
            ("as_of", project.as_of.isoformat()),
            ("ward_of", project.ward_of),
            ("region", project.region),
            ("urban_class", project.urban_class),
        )
        if value
    )
    add(
        "project",
        project.name,
        name_vi="Dự án",
        name_en="Project",
        document=_relative(project.file, root),
        detail=settings,
    )
    add(
        "data",
        "sources",
        name_vi="Nguồn dữ liệu (theo tệp dự án)",
        name_en="Data sources (as the project file states them)",
        document=_relative(project.file, root),
        detail=project.sources or "(không ghi / not stated)",
    )
    if project.note:
        add(
            "data",
            "note",
            name_vi="Lưu ý về dữ liệu",
            name_en="Data caveat",
            document=_relative(project.file, root),
            detail=project.note,
        )
    if (root / "SOURCES.md").is_file():
        add(
            "data",
            "SOURCES.md",
            name_vi="Nguồn và giấy phép từng tệp",
            name_en="Source and licence of each file",
            document="SOURCES.md",
        )
    for role, spec in project.layers.items():
        fields = ", ".join(f"{k} = {v}" for k, v in spec.fields.items())
        add(
            "layer",
            role,
            name_vi=f"Lớp {role}",
            name_en=f"Layer {role}",
            document=_relative(spec.path, root) + (f" ({spec.layer})" if spec.layer else ""),
            detail=fields,
        )
    for name, table in project.tables.items():
        columns = ", ".join(f"{k} = {v}" for k, v in table.columns.items())
        add(
            "table",
            name,
            name_vi=f"Bảng {name} (nối vào {table.joins})",
            name_en=f"Table {name} (joined to {table.joins})",
            document=_relative(table.path, root) + (f" ({table.sheet})" if table.sheet else ""),
            detail=f"key = {table.key_column}, match = {table.match}; {columns}",
        )
    if project.inputs is not None:
        add(
            "inputs",
            "inputs",
            name_vi="Bảng số liệu bổ sung",
            name_en="Inputs table",
            document=_relative(project.inputs, root),
        )
    for criteria_set in result.sets:
        add(
            "set",
            criteria_set.id,
            name_vi=criteria_set.name_vi,
            name_en=criteria_set.name_en,
            document=criteria_set.document,
            article=criteria_set.path.name,
            in_force=criteria_set.in_force_from,
            repealed=criteria_set.in_force_until,
            detail="; ".join(criteria_set.notes),
        )
    for criteria_set in result.sets:
        for criterion in criteria_set.criteria:
            source = criterion.source
            details = [
                text
                for text in (
                    criterion.note,
                    source.note,
                    source.url,
                    f"[override: {criterion.overridden_by}]" if criterion.overridden_by else "",
                )
                if text
            ]
            add(
                "criterion",
                criterion.id,
                name_vi=criterion.name_vi,
                name_en=criterion.name_en,
                document=source.document,
                article=source.article,
                in_force=source.in_force,
                repealed=source.repealed,
                confidence=criterion.confidence,
                threshold=_threshold_text(criterion, project.variants),
                detail="; ".join(details),
            )
    header = [
        "section",
        "id",
        "name_vi",
        "name_en",
        "document",
        "article",
        "in_force",
        "repealed",
        "confidence",
        "threshold",
        "detail",
    ]
    return pd.DataFrame(rows, columns=pd.Index(header))


def _quality_table(result: RunResult) -> pd.DataFrame:
    findings = pd.DataFrame(result.findings).copy()
    labels = [FINDING_LABELS.get(str(k), FINDING_LABEL_OTHER) for k in findings["kind"]]
    position = list(findings.columns).index("kind") + 1
    findings.insert(position, "kind_vi", [label.vi for label in labels])
    return findings


def _criteria_table(result: RunResult) -> pd.DataFrame:
    table = pd.DataFrame(result.criteria).copy()
    position = list(table.columns).index("status") + 1
    table.insert(position, "status_vi", [_status_vi(s) for s in table["status"]])
    return table


def _zones_table(zones: Any, columns: Iterable[str]) -> pd.DataFrame:
    if zones is None:
        return pd.DataFrame(columns=list(columns))
    return pd.DataFrame(zones.drop(columns=zones.geometry.name)).reset_index(drop=True)


def progress_sources(progress: Progress, root: Path) -> pd.DataFrame:
    """Return the sources sheet's rows about progress: roadmap, history and the status rules.

    Sections ``roadmap`` (the roadmap file, its lines and the date of the
    assessment), ``history`` (the history file and its snapshots) and
    ``rule`` (one row per status, in the order the rules apply).
    """
    dates = [str(d) for d in progress.snapshots["as_of"] if str(d) <= progress.as_of.isoformat()]
    counts = progress.table["status"].value_counts()
    tally = ", ".join(f"{s} {int(counts.get(s, 0))}" for s in PROGRESS_STATUS_LABELS)
    rows: list[dict[str, Any]] = [
        {
            "section": "roadmap",
            "id": "roadmap",
            "name_vi": "Lộ trình: mục tiêu, hạn, người phụ trách",
            "name_en": "Roadmap: targets, deadlines, owners",
            "document": _relative(progress.roadmap_file, root),
            "detail": (
                f"{len(progress.table)} dòng / lines ({tally}); đánh giá ngày / assessed as of "
                f"{progress.as_of.isoformat()}"
            ),
        },
        {
            "section": "history",
            "id": "history",
            "name_vi": "Lịch sử số liệu theo lần chụp",
            "name_en": "History of dated snapshots",
            "document": _relative(progress.history_file, root),
            "detail": (
                f"{len(dates)} lần chụp / snapshots: {', '.join(dates)}"
                if dates
                else "chưa có lần chụp nào / no snapshot yet (geo snapshot PROJECT)"
            ),
        },
    ]
    for order, status in enumerate(("no_data", "met", "late", "on_track", "at_risk"), start=1):
        label = PROGRESS_STATUS_LABELS[status]
        rows.append(
            {
                "section": "rule",
                "id": status,
                "name_vi": label.vi,
                "name_en": label.en,
                "article": f"{order}",
                "detail": f"{RULES_VI[status]} / {RULES[status]}",
            }
        )
    return pd.DataFrame(rows)


def _progress_table(progress: Progress) -> pd.DataFrame:
    return pd.DataFrame(progress.table).reset_index(drop=True)


def _progress_hamlets(progress: Progress) -> pd.DataFrame:
    table = pd.DataFrame(progress.hamlets).reset_index(drop=True)
    for column in ("unit_id", "id"):
        table[column] = [None if pd.isna(v) else str(v) for v in table[column]]
    return table


def workbook_tables(
    result: RunResult, *, progress: Progress | None = None
) -> dict[str, pd.DataFrame]:
    """Return the workbook's tables by sheet key (:data:`SHEETS`), the dictionary last.

    Parameters
    ----------
    result : RunResult
    progress : Progress, optional
        The project's roadmap progress (:func:`geo.progress.find_progress`):
        adds the sheets of :data:`PROGRESS_SHEETS` and the progress sources.
        Without it (no roadmap) they are left out.
    """
    tables = {
        "summary": summary_table(result),
        "criteria": _criteria_table(result),
        "units": _zones_table(result.units, ()),
        "hamlets": _zones_table(result.hamlets, ("id", "name", "unit_id", "area_km2")),
        "contributions": pd.DataFrame(result.contributions).reset_index(drop=True),
        "quality": _quality_table(result),
        "sources": sources_table(result),
    }
    if progress is not None:
        tables["progress"] = _progress_table(progress)
        tables["progress_hamlets"] = _progress_hamlets(progress)
        tables["sources"] = pd.concat(
            [tables["sources"], progress_sources(progress, result.project.root)],
            ignore_index=True,
        )
    tables = {key: tables[key] for key in SHEETS if key in tables}
    tables["dictionary"] = _dictionary(tables, column_labels(result))
    return tables


def _sheet_labels(labels: Mapping[str, Label], key: str) -> Mapping[str, Label]:
    """Return a sheet's labels: the run's, with the sheet's own meanings (``_SHEET_LABELS``)."""
    own = _SHEET_LABELS.get(key)
    return {**labels, **own} if own else labels


def _dictionary(tables: Mapping[str, pd.DataFrame], labels: Mapping[str, Label]) -> pd.DataFrame:
    rows = []
    for key, table in tables.items():
        sheet = SHEETS[key]
        sheet_labels = _sheet_labels(labels, key)
        descriptions = {**_DESCRIPTIONS, **_SHEET_DESCRIPTIONS.get(key, {})}
        for column in table.columns:
            label = _header_label(sheet_labels, column)
            rows.append(
                {
                    "sheet": f"{sheet.vi} / {sheet.en}",
                    "column": column,
                    "label_vi": label.vi,
                    "label_en": label.en,
                    "unit": label.unit,
                    "description": descriptions.get(column, ""),
                }
            )
    for layer, (title, fields) in GPKG_LAYERS.items():
        for column in fields:
            label = _label(labels, column)
            rows.append(
                {
                    "sheet": f"results.gpkg: {layer}",
                    "column": column,
                    "label_vi": label.vi,
                    "label_en": label.en,
                    "unit": label.unit,
                    "description": fields[column] or title,
                }
            )
    own = SHEETS["dictionary"]
    for column in ("sheet", "column", "label_vi", "label_en", "unit", "description"):
        label = _LABELS[column]
        rows.append(
            {
                "sheet": f"{own.vi} / {own.en}",
                "column": column,
                "label_vi": label.vi,
                "label_en": label.en,
                "unit": label.unit,
                "description": _DESCRIPTIONS.get(column, ""),
            }
        )
    return pd.DataFrame(rows)


def _header_label(labels: Mapping[str, Label], column: str) -> Label:
    """Label of a column, including the summary's derived columns."""
    for suffix, vi, en in (
        ("_verdict_vi", "", ""),
        ("_status", "Kết quả: ", "Status: "),
        ("_gap", "Còn thiếu: ", "Gap: "),
    ):
        if column.endswith(suffix):
            base = column[: -len(suffix)]
            if suffix == "_verdict_vi":
                return _label(labels, f"{base}_verdict")
            if base in labels:
                label = labels[base]
                unit = label.unit if suffix == "_gap" else ""
                return Label(vi + label.vi, en + label.en, unit)
    return _label(labels, column)


# ----------------------------------------------------------------------------- writing

_PEOPLE_UNITS = frozenset({"người", "hộ", "people", "households"})
_PER_ROW_UNIT = frozenset(
    {
        "value",
        "threshold",
        "gap",
        "target",
        "baseline",
        "latest",
        "projected",
        "rate_needed_per_year",
        "rate_observed_per_year",
        "shortfall",
    }
)
"""Columns whose unit is the row's ``unit_of_measure`` (whole numbers for people, households)."""


def _number_format(column: str, label: Label, values: pd.Series) -> str | None:
    """Return the Excel number format of a numeric column (None: not numeric)."""
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return None
    unit = label.unit
    whole = (
        column in ("rank", "fail_count", "not_assessed_count", "population", "households")
        or column.startswith("count_")
        or unit in _PEOPLE_UNITS
        or unit in ("m", "người/km²")
        or column.endswith("_m")
    )
    if whole:
        return "#,##0"
    if unit == "%" or column.endswith("_pct"):
        return "0.0"
    if unit.startswith("m²"):
        return "#,##0.0"
    return "#,##0" if pd.api.types.is_integer_dtype(values) else "#,##0.00"


def _cell_value(value: Any) -> Any:
    """Convert a pandas value to one openpyxl writes (None for missing)."""
    converted: Any = value
    if value is None or value is pd.NA or value is pd.NaT:
        converted = None
    elif isinstance(value, float | np.floating):
        converted = float(value) if math.isfinite(float(value)) else None
    elif isinstance(value, np.bool_ | bool):
        converted = bool(value)
    elif isinstance(value, np.integer):
        converted = int(value)
    elif isinstance(value, pd.Timestamp):
        converted = value.to_pydatetime()
    elif not isinstance(value, date | datetime | int | str):
        converted = str(value)
    return converted


def _status_columns(table: pd.DataFrame) -> list[int]:
    """1-based positions of the columns whose cells are statuses or verdicts."""
    positions = []
    for number, column in enumerate(table.columns, start=1):
        if column in ("status", "status_vi") or column.endswith(
            ("_verdict", "_verdict_vi", "_status")
        ):
            positions.append(number)
    return positions


def _write_sheet(
    sheet: Worksheet,
    table: pd.DataFrame,
    labels: Mapping[str, Label],
    *,
    tab_color: str = "",
    statuses: Mapping[str, Label] = STATUS_LABELS,
    fills: Mapping[str, tuple[str, str]] = STATUS_FILLS,
) -> tuple[str, str]:
    """Write a table's header rows, formats, filter and colours; return its data rows.

    The header rows are openpyxl cells; the data rows (a hundred thousand
    rows of criteria at province scale) are returned as the worksheet XML
    openpyxl would write for them, with their number formats registered in
    the workbook's styles, and the sheet's used range (:func:`_with_rows`
    puts them in the saved file): several times faster than a cell object each.
    """
    bold = Font(bold=True)
    italic = Font(italic=True, color="555555")
    code_font = Font(size=8, color="808080")
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    wrap = Alignment(wrap_text=True, vertical="top")
    columns = list(table.columns)
    for number, column in enumerate(columns, start=1):
        label = _header_label(labels, column)
        suffix = f" ({label.unit})" if label.unit else ""
        cells = (
            (1, f"{label.vi}{suffix}", bold),
            (2, f"{label.en}{suffix}", italic),
            (3, column, code_font),
        )
        for row, text, font in cells:
            cell = sheet.cell(row=row, column=number, value=text)
            cell.data_type = "s"
            cell.font = font
            cell.fill = header_fill
            cell.alignment = wrap
    formats = {
        number: _number_format(column, _header_label(labels, column), table[column])
        for number, column in enumerate(columns, start=1)
    }
    date_columns = {
        number
        for number, column in enumerate(columns, start=1)
        if not pd.api.types.is_numeric_dtype(table[column])
        and pd.api.types.infer_dtype(table[column], skipna=True) not in ("string", "empty")
        and table[column].map(lambda v: isinstance(v, date)).any()
    }
    per_row = set(columns) & _PER_ROW_UNIT if "unit_of_measure" in columns else set()
    unit_at = columns.index("unit_of_measure") if per_row else -1
    styles: dict[str, str] = {}

    def style(number_format: str) -> str:
        """Return the ``s`` attribute of a cell with this number format (registered once)."""
        if number_format not in styles:
            cell = WriteOnlyCell(sheet)
            cell.number_format = number_format
            styles[number_format] = f' s="{cell.style_id}"'
        return styles[number_format]

    epoch = sheet.parent.epoch
    first = HEADER_ROWS + 1
    inline: dict[str, str] = {}  # each distinct text's escaped cell content (statuses repeat)
    people = (
        [str(unit) in _PEOPLE_UNITS for unit in table.iloc[:, unit_at].tolist()] if per_row else []
    )
    column_cells = _ColumnCells(first, style, inline, epoch)
    by_column = []  # each column's cells, one text per row ("" for an empty cell)
    for number, column in enumerate(columns, start=1):
        if number in date_columns:
            number_format: str | list[str] | None = "dd/mm/yyyy"
        elif column in per_row:
            number_format = ["#,##0" if counted else "#,##0.00" for counted in people]
        else:
            number_format = formats[number]
        by_column.append(
            column_cells(table.iloc[:, number - 1], get_column_letter(number), number_format)
        )
    rows = []
    for offset, row_cells in enumerate(zip(*by_column, strict=True), first):
        body = "".join(row_cells)
        if body:
            rows.append(f'<row r="{offset}">{body}</row>')
    last_row = max(HEADER_ROWS + len(table), HEADER_ROWS)
    last_column = get_column_letter(max(len(columns), 1))
    sheet.auto_filter.ref = f"A{HEADER_ROWS}:{last_column}{last_row}"
    frozen = 3 if columns[:2] in (["id", "name"], ["rank", "id"]) else 1
    sheet.freeze_panes = f"{get_column_letter(frozen)}{HEADER_ROWS + 1}"
    if len(table):
        for number in _status_columns(table):
            letter = get_column_letter(number)
            target = f"{letter}{HEADER_ROWS + 1}:{letter}{last_row}"
            for status, label in statuses.items():
                fill_color, font_color = fills[status]
                for text in (status, label.vi):
                    sheet.conditional_formatting.add(
                        target,
                        CellIsRule(
                            operator="equal",
                            formula=[f'"{text}"'],
                            fill=PatternFill("solid", fgColor=fill_color, bgColor=fill_color),
                            font=Font(color=font_color),
                        ),
                    )
    for number, column in enumerate(columns, start=1):
        texts = [str(v) for v in table[column].head(200) if _cell_value(v) is not None]
        longest = max([len(t) for t in texts] + [len(column), 6])
        header = _header_label(labels, column)
        width = max(min(longest, 40), min(len(header.vi) // 2 + 2, 24), 8)
        sheet.column_dimensions[get_column_letter(number)].width = width + 2
    sheet.row_dimensions[1].height = 30
    if tab_color:
        sheet.sheet_properties.tabColor = tab_color
    return "".join(rows), f"A1:{last_column}{last_row}"


class _ColumnCells:
    """The worksheet XML of a column's data cells (:func:`_write_sheet`), a column at a time.

    Column by column, a column of numbers (float64, int64) is written without
    asking each value its type: the workbook of 2,000 hamlets (88 columns) and
    21,300 criteria rows took 0.73-0.83 s instead of 0.90-0.94 s cell by cell,
    with the same worksheets byte for byte.
    """

    def __init__(
        self,
        first: int,
        style: Callable[[str], str],
        inline: dict[str, str],
        epoch: Any,
    ) -> None:
        self.first = first
        self.style = style  # a number format -> the cell's ``s`` attribute, registered once
        self.inline = inline  # each distinct text's escaped content, shared by the columns
        self.epoch = epoch

    def __call__(
        self, values: pd.Series, letter: str, number_format: str | list[str] | None
    ) -> list[str]:
        """Return the XML of column ``letter``'s cells, one per row ("" where a value is missing).

        ``number_format``: the column's, or one per row; None or "" for none. A
        format is registered in the workbook only when a cell uses it.
        """
        if values.dtype.kind in "fi" and isinstance(values.dtype, np.dtype):
            array = values.to_numpy()
            present = np.isfinite(array) if values.dtype.kind == "f" else np.ones(len(array), bool)
            if not isinstance(number_format, list) and present.any():
                head = f'<c r="{letter}'
                tail = f'"{self.style(number_format) if number_format else ""} t="n"><v>'
                return [
                    f"{head}{row}{tail}{value:.16g}</v></c>" if known else ""
                    for row, value, known in zip(
                        range(self.first, self.first + len(array)),
                        array.tolist(),
                        present.tolist(),
                        strict=True,
                    )
                ]
        return [
            self._cell(letter, row, raw, number_format)
            for row, raw in enumerate(values.tolist(), self.first)
        ]

    def _cell(self, letter: str, row: int, raw: Any, number_format: str | list[str] | None) -> str:
        value = raw if raw.__class__ is str else _cell_value(raw)
        if value is None:
            return ""
        ref = f"{letter}{row}"
        if isinstance(value, str):  # inline text, never a formula, whatever it starts with
            inner = self.inline.get(value)
            if inner is None:
                inner = self.inline[value] = _inline_text(value)
            return (
                f'<c r="{ref}" t="inlineStr">{inner}</c>'
                if inner
                else f'<c r="{ref}" t="inlineStr"/>'
            )
        if isinstance(number_format, list):
            number_format = number_format[row - self.first]
        attributes = self.style(number_format) if number_format else ""
        if isinstance(value, bool):
            kind, text = "b", str(int(value))
        elif isinstance(value, date):
            kind, text = "n", _number_text(to_excel(value, self.epoch))
        else:
            kind, text = "n", _number_text(value)
        return f'<c r="{ref}"{attributes} t="{kind}"><v>{text}</v></c>'


def _number_text(value: float) -> str:
    """Return a number as openpyxl writes it (``%.16g``)."""
    return f"{value:.16g}"


def _inline_text(value: str) -> str:
    """Return an inline-string cell's content, escaped as openpyxl does; "" for no text.

    Control characters that an XML worksheet cannot hold (a vertical tab
    pasted into a name) are dropped rather than failing the whole workbook.
    """
    value = ILLEGAL_CHARACTERS_RE.sub("", value)[:32767]  # Excel's limit
    if not value:
        return ""
    space = ' xml:space="preserve"' if value.strip() and value.strip() != value else ""
    return f"<is><t{space}>{escape(value)}</t></is>"


ZIP_LEVEL = 1
"""Deflate level of the workbook's parts: at a million parcels (2,000 hamlets' rows) level 1
compresses in 0.13 s what the default (6) takes 0.35 s for, in a file 17 % larger (M's:
0.51 MB instead of 0.44 MB)."""


def _with_rows(saved: bytes, path: str | Path, rows: Mapping[str, tuple[str, str]]) -> None:
    """Write the saved workbook to ``path`` with each sheet's data rows put in.

    ``rows``: zip member of a worksheet → (its rows' XML, its used range), put
    after the header rows openpyxl wrote.
    """
    with (
        zipfile.ZipFile(io.BytesIO(saved)) as source,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL) as target,
    ):
        for item in source.infolist():
            data = source.read(item.filename)
            xml, used = rows.get(item.filename, ("", ""))
            if xml:
                data = _DIMENSION.sub(f'<dimension ref="{used}"/>'.encode(), data, count=1)
                head, tail = data.split(b"</sheetData>", 1)
                data = b"".join((head, xml.encode("utf-8"), b"</sheetData>", tail))
            target.writestr(item, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL)


_DIMENSION = re.compile(rb"<dimension ref=\"[^\"]*\"\s*/>")


def write_workbook(
    result: RunResult, path: str | Path, *, progress: Progress | None = None
) -> None:
    """Write ``report.xlsx``: the sheets of :data:`SHEETS`, labelled and formatted.

    Parameters
    ----------
    result : RunResult
    path : str or Path
        The file to write (replaced if it exists).
    progress : Progress, optional
        The project's roadmap progress (:func:`geo.progress.find_progress`);
        with it, the sheets ``Tiến độ`` and ``Tiến độ theo thôn``
        (:data:`PROGRESS_SHEETS`), statuses coloured by :data:`PROGRESS_FILLS`.
    """
    tables = workbook_tables(result, progress=progress)
    labels = column_labels(result)
    book = Workbook()
    default = book.active
    if default is not None:
        book.remove(default)
    tabs = {
        "summary": "1A9641",
        "progress": "FDAE61",
        "progress_hamlets": "FDAE61",
        "quality": "E7298A",
        "sources": "1F78B4",
    }
    rows = {}
    for key, table in tables.items():
        sheet = book.create_sheet(SHEETS[key].vi)
        colours: dict[str, Any] = (
            {"statuses": PROGRESS_STATUS_LABELS, "fills": PROGRESS_FILLS}
            if key in PROGRESS_SHEETS
            else {}
        )
        rows[sheet.title] = _write_sheet(
            sheet, table, _sheet_labels(labels, key), tab_color=tabs.get(key, ""), **colours
        )
    book.properties.title = f"{result.project.name}: {result.standard.name_vi}"
    book.properties.subject = "Kiểm tra tiêu chuẩn phường / Ward-standard check"
    book.properties.creator = "geo"
    saved = io.BytesIO()
    book.save(saved)  # numbers each sheet's file (sheet.path)
    _with_rows(saved.getvalue(), path, {s.path.lstrip("/"): rows[s.title] for s in book.worksheets})


def read_workbook(path: str | Path) -> dict[str, pd.DataFrame]:
    """Read ``report.xlsx`` back: sheet key → table with the column codes as names.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    dict of str to pandas.DataFrame
        Keyed as :data:`SHEETS` (the progress sheets only when written); ids
        stay text (``"05491"``).
    """
    names = {label.vi: key for key, label in SHEETS.items()}
    sheets = pd.read_excel(
        path, sheet_name=None, header=HEADER_ROWS - 1, dtype={"id": str, "unit_id": str}
    )
    return {names.get(str(name), str(name)): frame for name, frame in sheets.items()}
