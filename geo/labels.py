"""User-facing labels: Vietnamese first, English alongside.

Every column the pipeline writes has an entry here (or matches one of the
prefix patterns), so maps, tables and workbooks label it the same way.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple


class Label(NamedTuple):
    """A bilingual label with its unit of measure."""

    vi: str
    en: str
    unit: str = ""


STATUS_LABELS: dict[str, Label] = {
    "pass": Label("Đạt", "Meets the standard"),
    "fail": Label("Chưa đạt", "Does not meet the standard"),
    "not_assessed": Label("Chưa đánh giá", "Not assessed (no data)"),
}
"""Criterion status → label, in legend order."""

CONFIDENCE_LABELS: dict[str, Label] = {
    "verified": Label("Đã kiểm chứng", "Verified"),
    "secondary": Label("Nguồn thứ cấp", "Secondary source"),
    "unknown": Label("Chưa kiểm chứng nguồn", "Source not verified"),
}
"""Confidence of a criterion's threshold and source → label."""

NO_DATA_LABEL = Label("Chưa có dữ liệu", "No data")
"""Shown wherever a value is missing (maps, legends, tables)."""

LEVEL_LABELS: dict[str, Label] = {
    "unit": Label("Xã / phường", "Commune / ward"),
    "hamlet": Label("Thôn / xóm / tổ dân phố", "Hamlet"),
}

COLUMN_LABELS: dict[str, Label] = {
    "id": Label("Mã", "Code"),
    "name": Label("Tên", "Name"),
    "unit_id": Label("Mã xã / phường", "Commune code"),
    "area_km2": Label("Diện tích tự nhiên", "Natural area", "km²"),
    "population": Label("Dân số", "Population", "người"),
    "population_source": Label("Nguồn số dân", "Population from"),
    "households": Label("Số hộ", "Households", "hộ"),
    "density_per_km2": Label("Mật độ dân số", "Population density", "người/km²"),
    "landuse_covered_km2": Label(
        "Diện tích có dữ liệu sử dụng đất", "Area with land-use data", "km²"
    ),
    "agricultural_share_pct": Label("Tỷ lệ đất nông nghiệp", "Agricultural land share", "%"),
    "non_agricultural_share_pct": Label(
        "Tỷ lệ đất phi nông nghiệp", "Non-agricultural land share", "%"
    ),
    "unused_share_pct": Label("Tỷ lệ đất chưa sử dụng", "Unused land share", "%"),
    "road_km": Label("Chiều dài đường", "Road length", "km"),
    "road_density_km_per_km2": Label("Mật độ đường", "Road density", "km/km²"),
    "ward_verdict": Label("Kết luận tiêu chuẩn phường", "Ward-standard verdict"),
    "ward_infrastructure_verdict": Label(
        "Kết luận hạ tầng đô thị (phường)", "Urban-infrastructure verdict (ward)"
    ),
    "ntm_verdict": Label("Kết luận xã nông thôn mới", "New Rural commune verdict"),
    "ntm_advanced_verdict": Label("Kết luận nông thôn mới nâng cao", "Advanced New Rural verdict"),
    "ntm_model_verdict": Label("Kết luận nông thôn mới kiểu mẫu", "Model New Rural verdict"),
    "model_hamlet_verdict": Label(
        "Kết luận xóm kiểu mẫu, thôn thông minh", "Model and smart hamlet verdict"
    ),
    "status": Label("Kết quả", "Status"),
}

LANDUSE_GROUP_LABELS: dict[str, Label] = {
    "agricultural": Label("Đất nông nghiệp", "Agricultural land"),
    "non_agricultural": Label("Đất phi nông nghiệp", "Non-agricultural land"),
    "unused": Label("Đất chưa sử dụng", "Unused land"),
}

INFRASTRUCTURE_LABELS: dict[str, Label] = {
    "school": Label("Trường học", "School"),
    "kindergarten": Label("Trường mầm non", "Kindergarten"),
    "health_station": Label("Trạm y tế / cơ sở y tế", "Health station"),
    "cultural_house": Label("Nhà văn hóa", "Cultural house"),
    "market": Label("Chợ", "Market"),
    "sports_ground": Label("Sân thể thao", "Sports ground"),
    "university": Label("Trường đại học / cao đẳng", "University / college"),
    "place_of_worship": Label("Cơ sở tôn giáo", "Place of worship"),
    "administration": Label("Trụ sở hành chính", "Administration"),
    "other": Label("Khác", "Other"),
}

SURFACE_LABELS: dict[str, Label] = {
    "asphalt": Label("Nhựa", "Asphalt"),
    "concrete": Label("Bê tông", "Concrete"),
    "gravel": Label("Cấp phối / sỏi", "Gravel"),
    "earth": Label("Đất", "Earth"),
    "unknown": Label("Không rõ", "Unknown"),
}

FINDING_LABELS: dict[str, Label] = {
    "gap": Label("Khoảng hở", "Gap"),
    "overlap": Label("Chồng lấn", "Overlap"),
    "area_mismatch": Label("Lệch diện tích", "Area mismatch"),
    "hamlet_sum_mismatch": Label("Tổng diện tích thôn lệch", "Hamlet areas do not add up"),
    "landuse_uncovered": Label("Chưa có dữ liệu sử dụng đất", "No land-use data"),
    "road_pieces_ignored": Label("Đoạn đường không nối vào mạng", "Road pieces left out"),
    "geometry_repaired": Label("Hình học đã được sửa", "Geometry repaired"),
    "empty_geometry_dropped": Label("Đối tượng không có hình học", "Feature without geometry"),
    "ambiguous_unit": Label("Chưa rõ thuộc xã nào", "Commune unclear"),
    "unmatched_row": Label("Dòng số liệu không khớp", "Unmatched table row"),
    "no_table_row": Label("Thiếu dòng số liệu", "No table row"),
    "population_mismatch": Label("Lệch số dân", "Population mismatch"),
    "households_mismatch": Label("Lệch số hộ", "Households mismatch"),
    "unknown_landuse_code": Label("Mã loại đất lạ", "Unknown land-use code"),
}
"""Kind of a data-quality finding (findings table, coverage checks) → label."""

FINDING_LABEL_OTHER = Label("Ghi chú về dữ liệu", "Data note")
"""Label of a finding whose kind has no entry in :data:`FINDING_LABELS`."""

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^landuse_(?P<key>[A-Za-z0-9]+)_km2$"), "landuse"),
    (re.compile(r"^count_(?P<key>\w+)$"), "count"),
    (re.compile(r"^road_(?P<key>\w+)_km$"), "road"),
]


def column_label(column: str) -> Label:
    """Return the bilingual label of an output column.

    Parameters
    ----------
    column : str
        Column name as written by the pipeline, e.g. ``"area_km2"``,
        ``"landuse_LUA_km2"``, ``"count_school"`` or ``"road_concrete_km"``.

    Returns
    -------
    Label
        The label; an unknown column is labelled by its own name.

    Examples
    --------
    >>> column_label("count_school").vi
    'Số Trường học'
    >>> column_label("landuse_LUA_km2").unit
    'km²'
    """
    if column in COLUMN_LABELS:
        return COLUMN_LABELS[column]
    for pattern, kind in _PATTERNS:
        match = pattern.match(column)
        if match is None:
            continue
        key = match["key"]
        if kind == "landuse":
            return Label(f"Đất {key}", f"Land use {key}", "km²")
        if kind == "count":
            base = INFRASTRUCTURE_LABELS.get(key, Label(key, key))
            return Label(f"Số {base.vi}", f"Number of {base.en.lower()}", "")
        surface = SURFACE_LABELS.get(key, Label(key, key))
        return Label(f"Đường {surface.vi.lower()}", f"{surface.en} roads", "km")
    return Label(column, column)


def format_number_vi(value: float | None, decimals: int = 0, *, sign: bool = False) -> str:
    """Format a number the Vietnamese way: ``.`` groups thousands, ``,`` marks decimals.

    Parameters
    ----------
    value : float or None
        The number. ``None``, NaN and infinities give an empty string.
    decimals : int, default 0
        Number of decimals kept (rounded half to even, as Python's ``format``).
    sign : bool, default False
        Write ``+`` before positive numbers (for differences).

    Returns
    -------
    str
        The formatted number, e.g. ``"1.234,5"``.

    Examples
    --------
    >>> format_number_vi(17252)
    '17.252'
    >>> format_number_vi(11.1347, 2)
    '11,13'
    >>> format_number_vi(-1234.5, 1)
    '-1.234,5'
    >>> format_number_vi(4.27, 2, sign=True)
    '+4,27'
    """
    if value is None or not math.isfinite(value):
        return ""
    number = float(value)
    if round(number, decimals) == 0:
        number = 0.0  # no "-0,00"
    text = f"{number:{'+' if sign else ''},.{decimals}f}"
    return text.translate(str.maketrans(",.", ".,"))


# ----------------------------------------------------------------------------- roadmap progress
# (geo.progress, geo.history: added as a block so other entries stay untouched)

PROGRESS_STATUS_LABELS: dict[str, Label] = {
    "met": Label("Đạt mục tiêu", "Target met"),
    "on_track": Label("Đúng tiến độ", "On track"),
    "at_risk": Label("Có nguy cơ chậm", "At risk"),
    "late": Label("Trễ hạn", "Late"),
    "no_data": Label("Chưa có dữ liệu", "No data"),
}
"""Roadmap progress status → label, in legend order (rules in :mod:`geo.progress`)."""

COLUMN_LABELS.update(
    {
        "criterion": Label("Tiêu chí", "Criterion"),
        "criterion_vi": Label("Tên tiêu chí", "Criterion (Vietnamese)"),
        "criterion_en": Label("Tên tiêu chí (tiếng Anh)", "Criterion"),
        "level": Label("Cấp", "Level"),
        "operator": Label("Chiều", "Direction"),
        "target": Label("Mục tiêu", "Target"),
        "deadline": Label("Hạn hoàn thành", "Deadline"),
        "owner": Label("Cơ quan, người phụ trách", "Responsible body or official"),
        "baseline": Label("Giá trị ban đầu", "Baseline"),
        "baseline_date": Label("Ngày của giá trị ban đầu", "Baseline date"),
        "latest": Label("Giá trị mới nhất", "Latest value"),
        "latest_date": Label("Ngày của giá trị mới nhất", "Latest date"),
        "snapshots": Label("Số lần chụp số liệu", "Snapshots with a value"),
        "rate_needed_per_year": Label("Tốc độ cần đạt mỗi năm", "Rate needed per year"),
        "rate_observed_per_year": Label("Tốc độ đã đạt mỗi năm", "Rate observed per year"),
        "projected": Label("Dự báo đến hạn", "Projected at the deadline"),
        "status_vi": Label("Tình trạng", "Status (Vietnamese)"),
        "rule": Label("Lý do", "Rule applied"),
        "note": Label("Ghi chú", "Note"),
        "target_from": Label("Mục tiêu lấy từ", "Target from"),
        "shortfall": Label("Còn thiếu", "Shortfall"),
        "line_status": Label("Tình trạng dòng lộ trình", "Roadmap line status"),
        "value_now": Label("Giá trị hiện tại", "Current value"),
        "value_date": Label("Ngày của giá trị hiện tại", "Date of the current value"),
        "as_of": Label("Ngày số liệu", "As of"),
        "created_at": Label("Thời điểm ghi", "Recorded at"),
        "tool_version": Label("Phiên bản công cụ", "Tool version"),
    }
)
