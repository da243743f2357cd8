"""Self-contained interactive HTML map of the ward-standard check: a gap atlas.

The page is built with folium's page model but opens with no network: folium's
CDN links are dropped, and Leaflet 1.9.4 and Leaflet.markercluster 1.5.3
(vendored under ``geo/_assets`` with their licences) are inlined. Each layer's
GeoJSON is embedded once, as JSON data, and styled in JavaScript from one
property per feature (never a per-feature style function).

Display geometry is not analysis geometry: polygons are simplified as a
coverage (``shapely.coverage_simplify``, in metres, so neighbours keep their
shared edges), coordinates are rounded to 6 decimals and only the properties
the popups need are kept. Many parcels are aggregated per hamlet and land-use
class, and a map that would hold more than :data:`MAX_FEATURES` features gets
aggregated layers and a note instead. Every figure shown was computed on the
full geometry before any of this.

Every attribute value is displayed as text, never parsed as HTML.
"""

from __future__ import annotations

import base64
import json
import math
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from functools import cache
from html import escape
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Figure, MacroElement
from folium.template import Template

from geo.labels import (
    COLUMN_LABELS,
    CONFIDENCE_LABELS,
    FINDING_LABEL_OTHER,
    FINDING_LABELS,
    INFRASTRUCTURE_LABELS,
    LEVEL_LABELS,
    NO_DATA_LABEL,
    STATUS_LABELS,
    SURFACE_LABELS,
    Label,
    column_label,
    format_number_vi,
)
from geo.resources import landuse_codes

if TYPE_CHECKING:
    from geo.pipeline import RunResult

__all__ = [
    "DENSITY_BREAKS",
    "LANDUSE_COLORS",
    "MAX_FEATURES",
    "PARCEL_DETAIL_LIMIT",
    "format_number_vi",
    "natural_breaks",
    "render_map",
    "render_result_map",
]

_ASSETS: Final = Path(__file__).parent / "_assets"
_LEAFLET_DIR: Final = _ASSETS / "leaflet-1.9.4"
_CLUSTER_DIR: Final = _ASSETS / "leaflet.markercluster-1.5.3"

COORD_DECIMALS: Final = 6
"""Decimals kept in embedded coordinates (~0.1 m)."""

MAX_FEATURES: Final = 50_000
"""Most features one map embeds; beyond, layers are aggregated and a note says so."""

PARCEL_DETAIL_LIMIT: Final = 10_000
"""Most land-use parcels drawn one by one; more are aggregated per hamlet and class."""

CLUSTER_MIN_POINTS: Final = 200
"""Infrastructure points are clustered when there are at least this many."""

GAP_CLASSES: Final = 4
"""Most classes of the numeric gap of a failed criterion (natural breaks)."""

DENSITY_BREAKS: Final[tuple[float, ...]] = (500.0, 1000.0, 2000.0, 5000.0)
"""Class limits of population density, people/km² (fixed, comparable across maps)."""

_DENSITY_COLORS: Final = ("#f1eef6", "#bdc9e1", "#74a9cf", "#2b8cbe", "#045a8d")
_NO_DATA_COLOR: Final = "#e4e4e4"
_STATUS_COLORS: Final = {
    "pass": "#1a9641",
    "fail": "#d7191c",
    "not_assessed": "#9a9a9a",
    "none": _NO_DATA_COLOR,
}
# Sequential reds (ColorBrewer "Reds", 1 to 5 classes) for the gap of failed criteria.
_GAP_COLORS: Final[dict[int, tuple[str, ...]]] = {
    1: ("#de2d26",),
    2: ("#fc9272", "#de2d26"),
    3: ("#fcae91", "#fb6a4a", "#cb181d"),
    4: ("#fcae91", "#fb6a4a", "#de2d26", "#a50f15"),
    5: ("#fcbba1", "#fc9272", "#fb6a4a", "#de2d26", "#a50f15"),
}

LANDUSE_COLORS: Final[dict[str, str]] = {
    # Conventional fill colours of Vietnamese land-use status maps (bản đồ hiện trạng sử dụng
    # đất), after the symbology annex of Thông tư 25/2014/TT-BTNMT, as transcribed in GIS
    # styles in common use (e.g. Esri Vietnam's land-type table). Approximate: checked
    # against secondary transcriptions, not against the printed annex. LMU and the group
    # codes are approximate choices of ours in the same scheme.
    # Agricultural: yellows (rice, annual crops), tan (perennial), greens (forest), cyan (fish).
    "NNP": "#FFFF64",
    "LUA": "#FFFC82",
    "LUC": "#FFFC8C",
    "LUK": "#FFFC96",
    "LUN": "#FFFCB4",
    "HNK": "#FFF0B4",
    "BHK": "#FFF0B4",
    "NHK": "#FFF0B4",
    "COC": "#E6FFB4",
    "CLN": "#FFD2A0",
    "RSX": "#B4FFB4",
    "RPH": "#BEFF1E",
    "RDD": "#6EFF64",
    "NTS": "#AAFFFF",
    "LMU": "#E6F5FF",
    "NKH": "#F5FFB4",
    # Non-agricultural: pinks (residential), salmon (public, commercial), orange (transport),
    # mauve (mining, waste), grey (cemeteries), blues (water).
    "PNN": "#FFA0AA",
    "OCT": "#FFB4FF",
    "ONT": "#FFD0FF",
    "ODT": "#FFA0FF",
    "TSC": "#FFAAA0",
    "CQP": "#FF6450",
    "CAN": "#FF5046",
    "DVH": "#FFAAA0",
    "DXH": "#FFAAA0",
    "DYT": "#FFAAA0",
    "DGD": "#FFAAA0",
    "DTT": "#FFAAA0",
    "DKH": "#FFAAA0",
    "DNG": "#FFAAA0",
    "DSK": "#FFAAA0",
    "SKK": "#FAAAA0",
    "SKN": "#FAAAA0",
    "SKT": "#FAAAA0",
    "TMD": "#FAAAA0",
    "SKC": "#FAAAA0",
    "SKS": "#CDAACD",
    "SKX": "#CDAACD",
    "DGT": "#FFAA32",
    "DTL": "#AAFFFF",
    "DNL": "#FFAAA0",
    "DBV": "#FFAAA0",
    "DCH": "#FFAAA0",
    "DDT": "#FFAAA0",
    "DDL": "#FFAAA0",
    "DRA": "#CDAACD",
    "DKV": "#FFAAA0",
    "DSH": "#FFAAA0",
    "DCK": "#FFAAA0",
    "TON": "#FAAAA0",
    "TIN": "#FFAAA0",
    "NTD": "#D2D2D2",
    "SON": "#A0FFFF",
    "MNC": "#A0FFFF",
    "PNK": "#FFAAA0",
    # Unused land: near-white, rocky mountains beige.
    "CSD": "#FFFFFE",
    "BCS": "#FFFFFE",
    "DCS": "#FFFFFE",
    "NCS": "#E6E6C8",
}
"""Land-use code → fill colour (conventional Vietnamese land-use map colours, approximate)."""
_LANDUSE_UNKNOWN_COLOR: Final = "#bdbdbd"

# Infrastructure icons: colour and a white glyph drawn in a 16×16 box (SVG path data).
_KIND_STYLES: Final[dict[str, tuple[str, str]]] = {
    "school": (
        "#1f77b4",
        (
            "M2.5 4.2C4.6 3.2 6.6 3.3 7.6 4.4V12.6C6.5 11.7 4.6 11.6 2.5 12.5Z"
            "M13.5 4.2C11.4 3.2 9.4 3.3 8.4 4.4V12.6C9.5 11.7 11.4 11.6 13.5 12.5Z"
        ),
    ),
    "kindergarten": (
        "#17becf",
        "M8 2.2A2.2 2.2 0 1 1 7.99 2.2ZM3.8 13.8C3.8 10 5.6 7.8 8 7.8S12.2 10 12.2 13.8Z",
    ),
    "health_station": ("#d62728", "M6.4 2.6H9.6V6.4H13.4V9.6H9.6V13.4H6.4V9.6H2.6V6.4H6.4Z"),
    "cultural_house": ("#9467bd", "M8 2.2 1.8 7.6H3.6V13.6H6.8V10H9.2V13.6H12.4V7.6H14.2Z"),
    "market": ("#ff7f0e", "M2 5.6H14L12.6 13.4H3.4ZM5 5 8 2 11 5H9.6L8 3.4 6.4 5Z"),
    "sports_ground": (
        "#2ca02c",
        "M8 2.4A5.6 5.6 0 1 0 8.01 2.4ZM8 4.2 10.6 6.1 9.6 9.2H6.4L5.4 6.1Z",
    ),
    "university": (
        "#393b79",
        "M8 3 1.2 6.4 8 9.8 14.8 6.4ZM4 8.6V11.6C6 13.2 10 13.2 12 11.6V8.6L8 10.6Z",
    ),
    "place_of_worship": (
        "#8c564b",
        "M8 1.8 2 6H4V7.6H2.6L1.6 9.4H14.4L13.4 7.6H12V6H14ZM4.4 10.2H11.6V14H4.4Z",
    ),
    "administration": (
        "#e377c2",
        "M8 1.6 9.8 6.2H14.6L10.7 9.1 12.2 13.8 8 10.9 3.8 13.8 5.3 9.1 1.4 6.2H6.2Z",
    ),
    "other": ("#7f7f7f", "M8 5.2A2.8 2.8 0 1 0 8.01 5.2Z"),
}
_SURFACE_STYLES: Final = {  # colour, weight, dash
    "asphalt": ("#3c3c3c", 3.0, None),
    "concrete": ("#7a7a7a", 2.5, None),
    "gravel": ("#b5884f", 2.0, None),
    "earth": ("#a1694a", 1.8, "5 3"),
    "unknown": ("#a8a8a8", 1.5, "2 3"),
}
_FINDING_COLORS: Final = {
    "gap": "#ff7f00",
    "overlap": "#984ea3",
    "landuse_uncovered": "#1f78b4",
    "area_mismatch": "#e7298a",
    "hamlet_sum_mismatch": "#e7298a",
    "other": "#b2182b",
}
_OPERATORS: Final = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "==": "=", "=": "=", "is_true": ""}
_SHORTFALL_OPERATORS: Final = frozenset({">=", ">"})
_NOT_INDICATORS: Final = frozenset(
    {"id", "name", "unit_id", "geometry", "ward_verdict", "population_source"}
)
_HAMLET_LABEL_MIN_ZOOM: Final = 12
_MANY_UNITS: Final = 30
"""With more units than this, unit names appear only from zoom 10."""

_LEAFLET_PREFIX_LINK: Final = '<a href="https://leafletjs.com" '
"""The attribution prefix's link to leafletjs.com: dropped so the page links to nothing."""
_SOURCE_MAP_PREFIX: Final = "//# sourceMappingURL="
_OSM_URL: Final = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"

_UI: Final[dict[str, Label]] = {
    "noData": NO_DATA_LABEL,
    "populationSource": COLUMN_LABELS["population_source"],
    "criterion": Label("Tiêu chí", "Criterion"),
    "value": Label("Giá trị", "Value"),
    "threshold": Label("Ngưỡng", "Threshold"),
    "status": COLUMN_LABELS["status"],
    "gap": Label("Còn thiếu / vượt", "Gap"),
    "short": Label("thiếu", "short by"),
    "over": Label("vượt", "over by"),
    "yes": Label("Có", "Yes"),
    "no": Label("Không", "No"),
    "source": Label("Nguồn", "Source"),
    "sources": Label("Nguồn dữ liệu", "Sources"),
    "notesAndSources": Label("Ghi chú và nguồn dữ liệu", "Notes and data sources"),
    "note": Label("Ghi chú", "Note"),
    "code": COLUMN_LABELS["id"],
    "name": COLUMN_LABELS["name"],
    "commune": Label("Thuộc xã / phường", "In commune / ward"),
    "communeDetails": Label("Xem xã / phường", "Show the commune"),
    "verdict": COLUMN_LABELS["ward_verdict"],
    "overall": Label("Kết luận chung", "Overall verdict"),
    "criteria": Label("Các tiêu chí", "Criteria"),
    "colourBy": Label("Tô màu theo", "Colour by"),
    "showStatus": Label("Kết quả", "Status"),
    "showGap": Label("Mức thiếu", "Gap"),
    "gapLegend": Label("mức thiếu / vượt so với ngưỡng", "gap to the threshold"),
    "noTheme": Label("Không tô màu", "No colour"),
    "other": Label("Khác", "Other"),
    "unitNames": Label("Tên xã / phường", "Commune names"),
    "hamletLines": Label("Ranh giới và tên thôn", "Hamlet boundaries and names"),
    "hamletBoundary": Label("Ranh giới thôn", "Hamlet boundary"),
    "unitBoundary": Label("Ranh giới xã / phường", "Commune boundary"),
    "boundaries": Label("Ranh giới", "Boundaries"),
    "density": COLUMN_LABELS["density_per_km2"],
    "landuse": Label("Hiện trạng sử dụng đất", "Land use"),
    "landuseCode": Label("Loại đất", "Land-use class"),
    "area": Label("Diện tích", "Area"),
    "parcels": Label("Số thửa", "Parcels"),
    "merged": Label("Gộp theo thôn và loại đất; số thửa", "merged per hamlet and class; parcels"),
    "roads": Label("Đường giao thông", "Roads"),
    "roadLength": COLUMN_LABELS["road_km"],
    "surface": Label("Mặt đường", "Surface"),
    "infrastructure": Label("Hạ tầng", "Infrastructure"),
    "count": Label("Số lượng", "Count"),
    "findings": Label(
        "Phát hiện về dữ liệu (khoảng hở, chồng lấn, sai lệch)",
        "Data findings (gaps, overlaps, mismatches)",
    ),
    "otherFindings": Label("Phát hiện khác về dữ liệu", "Other data findings"),
    "search": Label("Tìm thôn, xã…", "Search a hamlet or commune…"),
    "noMatch": Label("Không tìm thấy", "No match"),
    "print": Label("In bản đồ", "Print the map"),
    "summary": Label("Kết luận", "Verdicts"),
}


# --------------------------------------------------------------------------- numbers


def _auto_decimals(value: float) -> int:
    """Return the fewest decimals (0 to 2) that show ``value`` to 2 decimals."""
    for decimals in (0, 1):
        if round(value, decimals) == round(value, 2):
            return decimals
    return 2


def _column_decimals(column: str) -> int:
    """Return the decimals shown for an indicator column."""
    if column in {"population", "households", "density_per_km2"} or column.startswith("count_"):
        return 0
    if column.endswith("_pct"):
        return 1
    return 2


def _number_or_none(value: Any, decimals: int | None = None) -> str | None:
    """Format a number for a popup, or return None when it is missing."""
    if value is None or pd.isna(value):
        return None
    number = float(value)
    if not math.isfinite(number):
        return None
    return format_number_vi(number, _auto_decimals(number) if decimals is None else decimals)


def _text(value: Any) -> str:
    """Return a value as text; missing values give an empty string."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return str(value)


def _float(value: Any) -> float:
    """Return a value as a float, NaN when missing or not a number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def natural_breaks(values: Sequence[float] | np.ndarray, k: int) -> list[float]:
    """Return Fisher–Jenks natural-break class limits (upper bounds) of ``values``.

    The classes minimise the sum of squared deviations from the class means,
    exactly (dynamic programming over the sorted values), as
    ``mapclassify.FisherJenks`` does; above 2,000 values an evenly spaced
    sample of the sorted values is classified.

    Parameters
    ----------
    values : sequence of float
        Finite numbers; at least one.
    k : int
        Wanted number of classes; fewer when there are fewer distinct values.

    Returns
    -------
    list of float
        The largest value of each class, increasing; the last is the maximum.

    Raises
    ------
    ValueError
        If ``values`` is empty or not finite, or ``k`` < 1.

    Examples
    --------
    >>> natural_breaks([1, 2, 3, 10, 11, 12, 30], 3)
    [3.0, 12.0, 30.0]
    """
    x = np.sort(np.asarray(values, dtype="float64"))
    if x.size == 0 or not np.isfinite(x).all() or k < 1:
        msg = "natural_breaks: need at least one finite value and k >= 1."
        raise ValueError(msg)
    if x.size > 2000:
        x = x[np.linspace(0, x.size - 1, 2000).round().astype(int)]
    k = min(k, int(np.unique(x).size))
    n = x.size
    sums = np.concatenate([[0.0], np.cumsum(x)])
    squares = np.concatenate([[0.0], np.cumsum(x * x)])

    def deviation(start: np.ndarray, stop: Any) -> np.ndarray:
        """Sum of squared deviations of ``x[start:stop]`` (element-wise)."""
        count = stop - start
        total = sums[stop] - sums[start]
        return squares[stop] - squares[start] - total * total / count

    # cost[c, j]: least deviation of x[:j] in c + 1 classes; cut[c, j]: start of the last class.
    cost = np.full((k, n + 1), np.inf)
    cut = np.zeros((k, n + 1), dtype=int)
    cost[0, 1:] = deviation(np.zeros(n, dtype=int), np.arange(1, n + 1))
    for c in range(1, k):
        for j in range(c + 1, n + 1):
            starts = np.arange(c, j)
            total = cost[c - 1, starts] + deviation(starts, j)
            best = int(np.argmin(total))
            cost[c, j] = total[best]
            cut[c, j] = starts[best]
    limits = []
    stop = n
    for c in range(k - 1, -1, -1):
        limits.append(float(x[stop - 1]))
        stop = cut[c, stop]
    return limits[::-1]


# --------------------------------------------------------------------------- geometry


def _display_tolerance(units: gpd.GeoDataFrame) -> float:
    """Return the simplification tolerance in metres: 1/5000 of the map's diagonal, 0.5–40 m."""
    west, south, east, north = units.total_bounds
    diagonal = math.hypot(east - west, north - south)
    return float(min(40.0, max(0.5, diagonal / 5000.0))) if math.isfinite(diagonal) else 0.5


def _simplify(geometries: np.ndarray, tolerance: float) -> np.ndarray:
    """Simplify for display, in the layer's metres.

    Polygons that form a valid coverage are simplified together
    (``coverage_simplify``), so neighbours keep their shared edges; otherwise
    (overlaps, points, lines) each geometry is simplified on its own with its
    topology preserved.
    """
    present = ~shapely.is_missing(geometries) & ~shapely.is_empty(geometries)
    out = geometries.copy()
    if not present.any() or tolerance <= 0:
        return out
    shown = geometries[present]
    polygonal = np.isin(shapely.get_type_id(shown), [3, 6])
    if polygonal.all() and shown.size > 1 and shapely.coverage_is_valid(shown):
        simplified = shapely.coverage_simplify(shown, tolerance)
    else:
        simplified = shapely.simplify(shown, tolerance, preserve_topology=True)
    out[present] = simplified
    return out


def _display_geometries(frame: gpd.GeoDataFrame, tolerance: float = 0.0) -> list[Any]:
    """Return GeoJSON geometries in EPSG:4326, simplified, rounded to ``COORD_DECIMALS``."""
    geoms = _simplify(frame.geometry.to_numpy(), tolerance)
    projected = gpd.GeoSeries(geoms, crs=frame.crs).to_crs(4326).to_numpy()
    rounded = shapely.transform(projected, lambda xy: np.round(xy, COORD_DECIMALS))
    texts = shapely.to_geojson(rounded)
    return [None if text is None else json.loads(text) for text in texts]


def _label_points(frame: gpd.GeoDataFrame) -> list[list[float] | None]:
    """Return a ``[lat, lon]`` point inside each polygon (for its name), or None."""
    inside = gpd.GeoSeries(shapely.point_on_surface(frame.geometry.to_numpy()), crs=frame.crs)
    return [
        None
        if point is None or point.is_empty
        else [round(point.y, COORD_DECIMALS), round(point.x, COORD_DECIMALS)]
        for point in inside.to_crs(4326)
    ]


def _collection(geometries: list[Any], properties: list[dict[str, Any]]) -> dict[str, Any]:
    """Return a GeoJSON FeatureCollection (features without geometry are left out)."""
    features = [
        {"type": "Feature", "geometry": geom, "properties": props}
        for geom, props in zip(geometries, properties, strict=True)
        if geom is not None
    ]
    return {"type": "FeatureCollection", "features": features}


def _bounds(units: gpd.GeoDataFrame) -> list[list[float]]:
    """Return the units' bounds as Leaflet ``[[south, west], [north, east]]``."""
    west, south, east, north = units.geometry.to_crs(4326).total_bounds
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        msg = "units: no geometry to map (empty or all missing)."
        raise ValueError(msg)
    return [
        [round(float(south), COORD_DECIMALS), round(float(west), COORD_DECIMALS)],
        [round(float(north), COORD_DECIMALS), round(float(east), COORD_DECIMALS)],
    ]


def _without_slivers(geometry: Any, min_area: float) -> Any:
    """Drop the parts and holes smaller than ``min_area`` (m²) of a merged polygon.

    Parcels that almost share an edge (vertices on a neighbour's edge, shifted
    by reprojection) leave hair-thin holes when merged; they carry no area
    worth drawing and many vertices.
    """
    polygons = []
    for part in shapely.get_parts(geometry):
        if shapely.get_type_id(part) != 3 or part.area < min_area:
            continue
        holes = [ring for ring in part.interiors if shapely.Polygon(ring).area >= min_area]
        polygons.append(shapely.Polygon(part.exterior, holes))
    return polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)


def _pieces_by_zone(
    geometries: np.ndarray, zones: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut geometries exactly at zone boundaries: (geometry index, zone index, piece).

    Geometries in no zone are kept whole, with zone index -1.
    """
    index, zone_index = shapely.STRtree(zones).query(geometries, predicate="intersects")
    shapely.prepare(zones)
    pieces = geometries[index].copy()
    cross = ~shapely.contains_properly(zones[zone_index], geometries[index])
    pieces[cross] = shapely.intersection(geometries[index[cross]], zones[zone_index[cross]])
    keep = ~shapely.is_empty(pieces) & (shapely.area(pieces) > 0)
    index, zone_index, pieces = index[keep], zone_index[keep], pieces[keep]
    outside = np.setdiff1d(np.arange(len(geometries)), index)
    return (
        np.concatenate([index, outside]),
        np.concatenate([zone_index, np.full(outside.size, -1)]),
        np.concatenate([pieces, geometries[outside]]),
    )


# --------------------------------------------------------------------------- attributes


def _indicator_columns(frame: pd.DataFrame) -> list[str]:
    """Return the numeric indicator columns shown in popups, in input order."""
    return [
        column
        for column in frame.columns
        if column not in _NOT_INDICATORS
        and pd.api.types.is_numeric_dtype(frame[column])
        and not pd.api.types.is_bool_dtype(frame[column])
    ]


def _indicator_values(frame: pd.DataFrame, columns: list[str]) -> list[list[str | None]]:
    """Return each row's formatted indicator values (None when missing)."""
    if not columns:
        return [[] for _ in range(len(frame))]
    formatted = [
        [_number_or_none(v, _column_decimals(column)) for v in frame[column].tolist()]
        for column in columns
    ]
    return [list(values) for values in zip(*formatted, strict=True)]


def _column_or_none(frame: pd.DataFrame, column: str) -> list[Any]:
    """Return a column as a list, or Nones when the column is absent."""
    return frame[column].tolist() if column in frame.columns else [None] * len(frame)


def _status(value: Any, what: str) -> str:
    """Validate a status; missing means not assessed."""
    text = _text(value) or "not_assessed"
    if text not in STATUS_LABELS:
        msg = f"{what}: unknown status {text!r}; expected one of {sorted(STATUS_LABELS)}."
        raise ValueError(msg)
    return text


def _criteria_of_level(criteria: pd.DataFrame, level: str) -> list[dict[Any, Any]]:
    """Return the criteria rows of one level as records; an empty table has none."""
    if criteria.empty:
        return []
    missing = {"level", "id", "criterion", "status"} - set(criteria.columns)
    if missing:
        msg = f"criteria: missing columns {sorted(missing)}."
        raise ValueError(msg)
    return criteria[criteria["level"] == level].to_dict("records")


def _gap_classes(gaps: list[float]) -> list[tuple[float, float]]:
    """Return the (lowest, highest) gap of each natural-breaks class of failed features."""
    if not gaps:
        return []
    limits = natural_breaks(gaps, GAP_CLASSES)
    ordered = sorted(gaps)
    classes = []
    low = 0
    for limit in limits:
        high = bisect_right(ordered, limit)
        classes.append((ordered[low], ordered[high - 1]))
        low = high
    return classes


def _range_label(low: float, high: float) -> str:
    """Return a class label such as ``"1.200 – 3.400"`` (one value when both are equal)."""
    low_text, high_text = _number_or_none(low), _number_or_none(high)
    return str(high_text) if low_text == high_text else f"{low_text} – {high_text}"


def _criterion_value(row: Mapping[Any, Any], operator: str) -> str | None:
    """Format a criterion's value; yes/no for ``is_true`` criteria."""
    value = _float(row.get("value"))
    if operator == "is_true" and not math.isnan(value):
        label = _UI["yes"] if value else _UI["no"]
        return f"{label.vi} / {label.en}"
    return _number_or_none(value)


def _family_of(row: Mapping[Any, Any]) -> str:
    """Return a criteria row's family; rows without one are ward criteria."""
    return _text(row.get("family")) or "ward"


def _verdict_column(family: str) -> str:
    """Return the verdict column of a family (``ntm-advanced`` → ``ntm_advanced_verdict``)."""
    return f"{family.replace('-', '_')}_verdict"


def _families(
    frame: pd.DataFrame, records: list[dict[Any, Any]], set_names: Mapping[str, Label]
) -> list[dict[str, Any]]:
    """Return a level's criteria families: ward ones first, then in order of appearance.

    Each has a label (its set's name when known) and says whether the layer
    has its verdict column. Verdict columns without criteria rows count too.
    """
    found: dict[str, str] = {}
    for row in records:
        found.setdefault(_family_of(row), _text(row.get("set")))
    for column in frame.columns:
        if column.endswith("_verdict"):
            family = column.removesuffix("_verdict")
            if not any(_verdict_column(f) == column for f in found):
                found[family] = ""
    ordered = sorted(found, key=lambda f: (not f.startswith("ward"), list(found).index(f)))
    families = []
    for family in ordered:
        column = _verdict_column(family)
        label = set_names.get(found[family]) or (
            COLUMN_LABELS[column] if column in COLUMN_LABELS else Label(family, family)
        )
        families.append({"key": family, "label": list(label), "verdict": column in frame.columns})
    return families


def _level_criteria(
    criteria: pd.DataFrame, level: str, families: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Return a level's criteria (definitions, gap classes) and each feature's rows.

    A definition holds what every feature shares (names, family, unit of
    measure, operator, source, confidence, gap classes); a feature's row holds
    its value, threshold, status, gap, gap class (``c``, -1 unless it failed
    with a numeric gap) and note.
    """
    records = _criteria_of_level(criteria, level)
    family_index = {f["key"]: i for i, f in enumerate(families)}
    definitions: dict[str, dict[str, Any]] = {}
    gaps: dict[str, list[float]] = {}
    for row in records:
        code = _text(row["criterion"])
        if code in definitions:
            continue
        operator = _text(row.get("operator"))
        confidence = _text(row.get("confidence"))
        word = _UI["over"] if operator in {"<=", "<"} else _UI["short"]
        definitions[code] = {
            "code": code,
            "f": family_index[_family_of(row)],
            "vi": _text(row.get("criterion_vi")) or code,
            "en": _text(row.get("criterion_en")),
            "uom": _text(row.get("unit_of_measure")),
            "op": _OPERATORS.get(operator, operator),
            "src": _text(row.get("source")),
            "conf": confidence if confidence in CONFIDENCE_LABELS else "unknown",
            "word": list(word),
            "classes": None,
        }
        gaps[code] = []
    for row in records:
        gap = _float(row.get("gap"))
        status = _status(row.get("status"), f"criteria {row.get('criterion')!r}")
        if status == "fail" and gap > 0:
            gaps[_text(row["criterion"])].append(gap)
    limits: dict[str, list[float]] = {}
    for code, found in gaps.items():
        classes = _gap_classes(found)
        if classes:
            definitions[code]["classes"] = {
                "labels": [_range_label(low, high) for low, high in classes],
                "colors": list(_GAP_COLORS[len(classes)]),
            }
            limits[code] = [high for _, high in classes]
    order = {code: i for i, code in enumerate(definitions)}
    by_id: dict[str, list[dict[str, Any]]] = {}
    for row in records:
        code = _text(row["criterion"])
        definition = definitions[code]
        status = _status(row.get("status"), f"criteria {code!r}")
        gap = _float(row.get("gap"))
        failed_by = status == "fail" and gap > 0 and code in limits
        entry: dict[str, Any] = {
            "i": order[code],
            "v": _criterion_value(row, _text(row.get("operator"))),
            "t": _number_or_none(row.get("threshold")),
            "s": status,
            "g": _number_or_none(gap) if status == "fail" else None,
            "c": bisect_left(limits[code], gap) if failed_by else -1,
            "n": _text(row.get("note")),
        }
        source = _text(row.get("source"))
        if source != definition["src"]:
            entry["src"] = source
        by_id.setdefault(_text(row["id"]), []).append(entry)
    return list(definitions.values()), by_id


def _check_layer(frame: gpd.GeoDataFrame | None, columns: Sequence[str], what: str) -> None:
    """Raise when a layer has no CRS or lacks required columns."""
    if frame is None:
        return
    if frame.crs is None:
        msg = f"{what}: the layer has no CRS; set it (e.g. EPSG:9213) before mapping."
        raise ValueError(msg)
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        msg = f"{what}: missing columns {missing}."
        raise ValueError(msg)


def _density_class(value: Any) -> int:
    """Return the density class index, or -1 when the density is missing."""
    number = _float(value)
    return -1 if math.isnan(number) else bisect_right(DENSITY_BREAKS, number)


# --------------------------------------------------------------------------- layers


def _area_spec(
    frame: gpd.GeoDataFrame,
    criteria: pd.DataFrame,
    level: str,
    extra: list[dict[str, Any]],
    *,
    tolerance: float,
    set_names: Mapping[str, Label],
) -> dict[str, Any]:
    """Return a polygon layer (units or hamlets): columns, families, criteria, GeoJSON."""
    columns = _indicator_columns(frame)
    values = _indicator_values(frame, columns)
    families = _families(frame, _criteria_of_level(criteria, level), set_names)
    definitions, rows_by_id = _level_criteria(criteria, level, families)
    densities = _column_or_none(frame, "density_per_km2")
    verdicts = _verdict_rows(frame, families, level)
    properties = []
    for ident, name, row_values, density, label_point, verdict, more in zip(
        frame["id"].tolist(),
        frame["name"].tolist(),
        values,
        densities,
        _label_points(frame),
        verdicts,
        extra,
        strict=True,
    ):
        props = {
            "id": _text(ident),
            "name": _text(name),
            "iv": row_values,
            "cr": rows_by_id.get(_text(ident), []),
            "vd": verdict,
            "dc": _density_class(density),
            "lp": label_point,
        }
        properties.append(props | more)
    has_density = any(_density_class(d) >= 0 for d in densities)
    return {
        "level": LEVEL_LABELS[level],
        "columns": [list(column_label(column)) for column in columns],
        "families": families,
        "criteria": definitions,
        "density": has_density,
        "geojson": _collection(_display_geometries(frame, tolerance), properties),
    }


def _verdict_rows(
    frame: pd.DataFrame, families: list[dict[str, Any]], level: str
) -> list[list[str | None]]:
    """Return each feature's verdict per family (None where the layer has no verdict)."""
    columns = [
        [
            _status(value, f"{level}.{_verdict_column(family['key'])}")
            for value in frame[_verdict_column(family["key"])].tolist()
        ]
        if family["verdict"]
        else [None] * len(frame)
        for family in families
    ]
    return [list(row) for row in zip(*columns, strict=True)] if columns else [[]] * len(frame)


def _unit_extra(units: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """Return the unit-only properties: verdict and population source."""
    verdicts = _column_or_none(units, "ward_verdict")
    sources = _column_or_none(units, "population_source")
    return [
        {"st": _status(verdict, "units.ward_verdict"), "ps": _text(source)}
        for verdict, source in zip(verdicts, sources, strict=True)
    ]


def _hamlet_extra(hamlets: gpd.GeoDataFrame, units: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """Return the hamlet-only properties: the id and name of its commune."""
    unit_names = {_text(i): _text(n) for i, n in zip(units["id"], units["name"], strict=True)}
    return [
        {"uid": _text(unit_id), "unit": unit_names.get(_text(unit_id), _text(unit_id))}
        for unit_id in _column_or_none(hamlets, "unit_id")
    ]


def _density_legend() -> dict[str, Any]:
    """Return the density classes' colours and labels."""
    limits = [format_number_vi(b) for b in DENSITY_BREAKS]
    labels = [f"< {limits[0]}"]
    labels += [f"{low} – < {high}" for low, high in pairwise(limits)]
    labels.append(f"≥ {limits[-1]}")
    return {
        "colors": list(_DENSITY_COLORS),
        "labels": labels,
        "noDataColor": _NO_DATA_COLOR,
        "unit": COLUMN_LABELS["density_per_km2"].unit,
    }


def _landuse_spec(
    landuse: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame | None,
    *,
    aggregate: bool,
    tolerance: float,
) -> dict[str, Any]:
    """Return the land-use layer: classes present (code, names, colour), GeoJSON.

    Parcels are drawn one by one, or, with ``aggregate``, merged per zone
    (hamlet, else commune) and land-use class after an exact cut at the zone
    boundaries, so each merged shape's area is the zone's area of that class.
    """
    table = landuse_codes()
    geoms = landuse.geometry.to_numpy()
    codes = np.array([_text(c) or "?" for c in landuse["code"]], dtype=object)
    present = sorted(set(codes), key=lambda c: (c not in LANDUSE_COLORS, c))
    classes = []
    for code in present:
        entry = table.get(code)
        classes.append(
            {
                "code": code,
                "vi": entry.vi if entry else code,
                "en": entry.en if entry else "",
                "color": LANDUSE_COLORS.get(code, _LANDUSE_UNKNOWN_COLOR),
            }
        )
    index = {code: i for i, code in enumerate(present)}
    valid = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    totals = pd.Series(shapely.area(geoms[valid])).groupby(codes[valid]).sum()
    for landuse_class in classes:
        hectares = float(totals.get(landuse_class["code"], 0.0)) / 1e4
        landuse_class["ha"] = format_number_vi(hectares, 1)
    if not aggregate:
        frame = gpd.GeoDataFrame(geometry=geoms[valid], crs=landuse.crs)
        areas = shapely.area(geoms[valid])
        properties = [
            {"c": index[code], "a": format_number_vi(area)}
            for code, area in zip(codes[valid], areas, strict=True)
        ]
    else:
        zone_geoms = zones.geometry.to_numpy() if zones is not None else np.array([], dtype=object)
        zone_names = [] if zones is None else [_text(n) for n in zones["name"]]
        if zone_geoms.size:
            parcel, zone, pieces = _pieces_by_zone(geoms[valid], zone_geoms)
        else:
            parcel = np.arange(int(valid.sum()))
            zone, pieces = np.full(parcel.size, -1), geoms[valid]
        members: dict[tuple[int, str], list[int]] = {}
        pairs = zip(zone.tolist(), codes[valid][parcel].tolist(), strict=True)
        for position, key in enumerate(pairs):
            members.setdefault(key, []).append(position)
        merged, properties = [], []
        min_area = max(1.0, tolerance * tolerance)
        for zone_i, code in sorted(members):
            positions = members[(zone_i, code)]
            merged.append(_without_slivers(shapely.union_all(pieces[positions]), min_area))
            properties.append(
                {
                    "c": index[code],
                    "a": format_number_vi(float(shapely.area(pieces[positions]).sum()) / 1e4, 2),
                    "n": len(set(parcel[positions].tolist())),
                    "z": zone_names[zone_i] if zone_i >= 0 else "",
                }
            )
        frame = gpd.GeoDataFrame(geometry=merged, crs=landuse.crs)
    return {
        "classes": classes,
        "aggregated": aggregate,
        "parcels": int(valid.sum()),
        "geojson": _collection(_display_geometries(frame, tolerance), properties),
    }


def _point_spec(
    points: gpd.GeoDataFrame, zones: gpd.GeoDataFrame | None, *, aggregate: bool
) -> dict[str, Any]:
    """Return the infrastructure layer: kinds (label, colour, glyph), present kinds, GeoJSON.

    With ``aggregate``, one point per zone and kind, at the zone's label
    point, carries the count.
    """
    keys = list(INFRASTRUCTURE_LABELS)
    kinds = [k if k in INFRASTRUCTURE_LABELS else "other" for k in map(_text, points["kind"])]
    kind_index = [keys.index(kind) for kind in kinds]
    if aggregate and zones is not None:
        tree = shapely.STRtree(zones.geometry.to_numpy())
        point_i, zone_i = tree.query(points.geometry.to_numpy(), predicate="intersects")
        first = pd.Series(zone_i).groupby(point_i).min()
        zone_of = np.full(len(points), -1)
        zone_of[first.index.to_numpy()] = first.to_numpy()
        table = pd.DataFrame({"zone": zone_of, "k": kind_index})
        counts = table[table["zone"] >= 0].groupby(["zone", "k"]).size()
        centres = shapely.point_on_surface(zones.geometry.to_numpy())
        names = [_text(n) for n in zones["name"]]
        rows = [
            (int(z), int(k), int(n))
            for z, k, n in zip(
                counts.index.get_level_values(0),
                counts.index.get_level_values(1),
                counts.to_numpy(),
                strict=True,
            )
        ]
        frame = gpd.GeoDataFrame(geometry=[centres[z] for z, _, _ in rows], crs=points.crs)
        properties = [{"k": k, "n": n, "name": names[z]} for z, k, n in rows]
    else:
        frame = points
        properties = [
            {"k": k, "name": _text(name)}
            for k, name in zip(kind_index, _column_or_none(points, "name"), strict=True)
        ]
    return {
        "kinds": [
            {
                "label": INFRASTRUCTURE_LABELS[k],
                "color": _KIND_STYLES.get(k, _KIND_STYLES["other"])[0],
                "glyph": _KIND_STYLES.get(k, _KIND_STYLES["other"])[1],
            }
            for k in keys
        ],
        "present": sorted(set(kind_index)),
        "aggregated": bool(aggregate and zones is not None),
        "cluster": len(properties) >= CLUSTER_MIN_POINTS,
        "geojson": _collection(_display_geometries(frame), properties),
    }


def _road_spec(roads: gpd.GeoDataFrame, *, aggregate: bool, tolerance: float) -> dict[str, Any]:
    """Return the road layer: surface classes (label, colour, weight, dash), GeoJSON.

    With ``aggregate``, the lines of each surface class are merged into one
    feature carrying their total length.
    """
    keys = list(_SURFACE_STYLES)
    surfaces = [
        keys.index(s if s in _SURFACE_STYLES else "unknown")
        for s in map(_text, _column_or_none(roads, "surface"))
    ]
    if aggregate:
        geoms = roads.geometry.to_numpy()
        merged, properties = [], []
        for surface in sorted(set(surfaces)):
            lines = geoms[[i for i, s in enumerate(surfaces) if s == surface]]
            merged.append(shapely.line_merge(shapely.union_all(lines)))
            km = float(shapely.length(lines).sum()) / 1000.0
            properties.append({"s": surface, "km": format_number_vi(km, 2)})
        frame = gpd.GeoDataFrame(geometry=merged, crs=roads.crs)
    else:
        frame = roads
        properties = [
            {"s": s, "name": _text(n)}
            for s, n in zip(surfaces, _column_or_none(roads, "name"), strict=True)
        ]
    classes = [
        {"label": SURFACE_LABELS[k], "color": color, "weight": weight, "dash": dash}
        for k, (color, weight, dash) in _SURFACE_STYLES.items()
    ]
    return {
        "classes": classes,
        "present": sorted(set(surfaces)),
        "geojson": _collection(_display_geometries(frame, tolerance), properties),
    }


def _finding_kind(kind: str) -> str:
    """Return the colour key of a finding kind."""
    return kind if kind in _FINDING_COLORS else "other"


def _findings_spec(
    coverage: gpd.GeoDataFrame | None,
    findings: pd.DataFrame | None,
    layers: Mapping[str, gpd.GeoDataFrame | None],
    tolerance: float,
) -> dict[str, Any] | None:
    """Return the data-findings layer, or None when there is nothing to report.

    Drawn: the coverage findings (gap and overlap shapes, with ``kind``,
    ``message``, ``area_m2``) and, outlined, every unit or hamlet that a row of
    the findings table names. Findings about no mapped feature are listed.
    """
    kinds: list[str] = []
    geometries: list[Any] = []
    properties: list[dict[str, Any]] = []

    def kind_index(kind: str) -> int:
        if kind not in kinds:
            kinds.append(kind)
        return kinds.index(kind)

    shapes: dict[tuple[str, str], tuple[Any, str]] = {}
    for role in ("units", "hamlets"):
        frame = layers.get(role)
        if frame is not None:
            for ident, name, geom in zip(
                frame["id"].tolist(), frame["name"].tolist(), frame.geometry, strict=True
            ):
                shapes[(role, _text(ident))] = (geom, _text(name))
    # Findings about a whole unit or hamlet outline it; one outline carries all its messages.
    picked: dict[tuple[str, str], list[tuple[int, str]]] = {}
    seen: set[tuple[str, str, str, str]] = set()
    if coverage is not None and len(coverage):
        _check_layer(coverage, ["kind"], "coverage")
        drawn, drawn_props = [], []
        for kind, layer, feature, message, area, geom in zip(
            map(_text, coverage["kind"]),
            map(_text, _column_or_none(coverage, "layer")),
            map(_text, _column_or_none(coverage, "feature")),
            map(_text, _column_or_none(coverage, "message")),
            _column_or_none(coverage, "area_m2"),
            coverage.geometry,
            strict=True,
        ):
            seen.add((layer, feature, kind, message))
            if (layer, feature) in shapes and shapely.get_type_id(geom) == 0:
                picked.setdefault((layer, feature), []).append((kind_index(kind), message))
                continue
            drawn.append(geom)
            drawn_props.append({"k": kind_index(kind), "m": message, "a": _number_or_none(area, 0)})
        frame = gpd.GeoDataFrame(geometry=drawn, crs=coverage.crs)
        geometries += _display_geometries(frame, tolerance)
        properties += drawn_props
    others: list[str] = []
    if findings is not None and not findings.empty:
        for row in findings.to_dict("records"):
            key = (_text(row.get("layer")), _text(row.get("feature")))
            kind, message = _text(row.get("kind")), _text(row.get("message"))
            if (*key, kind, message) in seen:
                continue  # drawn from the coverage layer already
            if key in shapes:
                picked.setdefault(key, []).append((kind_index(kind), message))
            else:
                label = FINDING_LABELS.get(kind, FINDING_LABEL_OTHER)
                others.append(f"{label.vi} / {label.en} — {key[0]} {key[1]}: {message}")
    if picked:
        frame = gpd.GeoDataFrame(geometry=[shapes[k][0] for k in picked], crs=_crs(layers))
        geometries += _display_geometries(frame, tolerance)
        for key, rows in picked.items():
            properties.append(
                {
                    "k": rows[0][0],
                    "m": "; ".join(message for _, message in rows),
                    "f": shapes[key][1],
                    "outline": True,
                }
            )
    if not properties and not others:
        return None
    return {
        "kinds": [
            {
                "key": kind,
                "label": FINDING_LABELS.get(kind, FINDING_LABEL_OTHER),
                "color": _FINDING_COLORS[_finding_kind(kind)],
            }
            for kind in kinds
        ],
        "geojson": _collection(geometries, properties),
        "other": others,
    }


def _crs(layers: Mapping[str, gpd.GeoDataFrame | None]) -> Any:
    """Return the CRS of the first layer given."""
    return next(frame.crs for frame in layers.values() if frame is not None)


# --------------------------------------------------------------------------- budget


def _plan(
    counts: Mapping[str, int], max_features: int, parcel_limit: int
) -> tuple[set[str], list[str]]:
    """Decide which layers to aggregate so the map stays within ``max_features``.

    Returns the aggregated layers and a note (vi / en) for each.
    """
    aggregate: set[str] = set()
    notes: list[str] = []
    parcels = counts.get("landuse", 0)
    total = sum(counts.values())
    if parcels > parcel_limit or (parcels and total > max_features):
        aggregate.add("landuse")
        total -= parcels
        shown = format_number_vi(parcels)
        notes.append(
            f"{shown} thửa đất được gộp theo thôn và loại đất để bản đồ mở nhanh; diện tích "
            f"tính trên thửa gốc. / The {parcels:,} land-use parcels are merged per hamlet and "
            "land-use class so that the map opens fast; areas are computed on the parcels."
        )
    for layer, vi, en in (
        ("roads", "đoạn đường được gộp theo loại mặt đường", "road lines merged per surface"),
        ("infrastructure", "điểm hạ tầng được đếm theo thôn", "points counted per hamlet"),
    ):
        count = counts.get(layer, 0)
        if count and total > max_features:
            aggregate.add(layer)
            total -= count
            limit = format_number_vi(max_features)
            notes.append(
                f"Bản đồ vượt {limit} đối tượng: {format_number_vi(count)} {vi}. "
                f"/ Over {max_features:,} features: {count:,} {en}."
            )
    return aggregate, notes


# --------------------------------------------------------------------------- page


def _map_data(
    units: gpd.GeoDataFrame,
    hamlets: gpd.GeoDataFrame | None,
    criteria: pd.DataFrame,
    *,
    landuse: gpd.GeoDataFrame | None,
    infrastructure: gpd.GeoDataFrame | None,
    roads: gpd.GeoDataFrame | None,
    coverage: gpd.GeoDataFrame | None,
    findings: pd.DataFrame | None,
    title: dict[str, Any],
    set_names: Mapping[str, Label],
    max_features: int,
) -> dict[str, Any]:
    """Return everything the page script needs, as JSON-ready data."""
    _check_layer(units, ["id", "name"], "units")
    _check_layer(hamlets, ["id", "name"], "hamlets")
    _check_layer(landuse, ["code"], "landuse")
    _check_layer(infrastructure, ["kind"], "infrastructure")
    _check_layer(roads, [], "roads")
    bounds = _bounds(units)
    tolerance = _display_tolerance(units)
    counts = {
        "landuse": 0 if landuse is None else len(landuse),
        "roads": 0 if roads is None else len(roads),
        "infrastructure": 0 if infrastructure is None else len(infrastructure),
        "zones": len(units) + (0 if hamlets is None else len(hamlets)),
    }
    aggregate, budget_notes = _plan(counts, max_features, PARCEL_DETAIL_LIMIT)
    zones = hamlets if hamlets is not None else units
    title = title | {"notes": [*title["notes"], *budget_notes]}
    data: dict[str, Any] = {
        "ui": _UI,
        "status": {
            "order": [*STATUS_LABELS, "none"],
            "labels": STATUS_LABELS | {"none": NO_DATA_LABEL},
            "colors": _STATUS_COLORS,
        },
        "confidence": CONFIDENCE_LABELS,
        "title": title,
        "bounds": bounds,
        "labelMinZoom": {
            "unit": 10 if len(units) > _MANY_UNITS else 0,
            "hamlet": _HAMLET_LABEL_MIN_ZOOM,
        },
        "units": _area_spec(
            units, criteria, "unit", _unit_extra(units), tolerance=tolerance, set_names=set_names
        ),
        "hamlets": None,
        "density": _density_legend(),
        "landuse": None
        if landuse is None
        else _landuse_spec(landuse, zones, aggregate="landuse" in aggregate, tolerance=tolerance),
        "infrastructure": None
        if infrastructure is None
        else _point_spec(infrastructure, zones, aggregate="infrastructure" in aggregate),
        "roads": None
        if roads is None
        else _road_spec(roads, aggregate="roads" in aggregate, tolerance=tolerance),
        "findings": _findings_spec(
            coverage, findings, {"units": units, "hamlets": hamlets}, tolerance
        ),
        "basemap": {
            "url": _OSM_URL,
            "attribution": "© OpenStreetMap contributors",
            "label": Label("Nền OpenStreetMap (cần Internet)", "OpenStreetMap background (online)"),
        },
    }
    if hamlets is not None:
        extra = _hamlet_extra(hamlets, units)
        data["hamlets"] = _area_spec(
            hamlets, criteria, "hamlet", extra, tolerance=tolerance, set_names=set_names
        )
    return data


def _script_safe_json(data: Any) -> str:
    r"""Dump JSON that cannot end or comment out the ``<script>`` element holding it.

    ``<``, ``>`` and ``&`` only occur inside JSON strings, where their ``\uXXXX``
    escapes decode to the same text.
    """
    text = json.dumps(
        data, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
    )
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, code)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _data_uri(path: Path) -> str:
    """Return a file as a base64 ``data:`` URI (PNG)."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _without_source_map(js: str) -> str:
    """Drop the trailing ``//# sourceMappingURL=`` comment (the map file is not vendored)."""
    head, found, _ = js.rpartition(_SOURCE_MAP_PREFIX)
    return head.rstrip() + "\n" if found else js


@cache
def _leaflet_assets() -> tuple[str, str]:
    """Return Leaflet's and the cluster plugin's CSS (images inlined) and JS."""
    css = (_LEAFLET_DIR / "leaflet.css").read_text(encoding="utf-8")
    images = _LEAFLET_DIR / "images"
    for name in ("layers-2x.png", "layers.png"):
        css = css.replace(f"url(images/{name})", f"url({_data_uri(images / name)})")
    css = css.replace("url(images/marker-icon.png)", "none")
    js = (_LEAFLET_DIR / "leaflet.js").read_text(encoding="utf-8")
    if js.count(_LEAFLET_PREFIX_LINK) != 1:  # pragma: no cover - guards an upgrade
        msg = f"vendored leaflet.js: expected one {_LEAFLET_PREFIX_LINK!r}; see its README."
        raise RuntimeError(msg)
    js = _without_source_map(js.replace(_LEAFLET_PREFIX_LINK, "<a "))
    css += "\n" + "\n".join(
        (_CLUSTER_DIR / name).read_text(encoding="utf-8")
        for name in ("MarkerCluster.css", "MarkerCluster.Default.css")
    )
    cluster = (_CLUSTER_DIR / "leaflet.markercluster.js").read_text(encoding="utf-8")
    return css, js + _without_source_map(cluster)


@cache
def _app_assets() -> tuple[str, str]:
    """Return the map's own CSS and JS."""
    css = (_ASSETS / "webmap.css").read_text(encoding="utf-8")
    js = (_ASSETS / "webmap.js").read_text(encoding="utf-8")
    return css, js


class _WardMapElement(MacroElement):
    """Inline assets, embedded data and the call that draws the layers."""

    _template = Template(
        """
{% macro header(this, kwargs) %}
<style id="wm-leaflet-css">{{ this.leaflet_css }}</style>
<script id="wm-leaflet-js">{{ this.leaflet_js }}</script>
<style id="wm-css">{{ this.app_css }}</style>
<script id="wm-js">{{ this.app_js }}</script>
{% endmacro %}

{% macro html(this, kwargs) %}
<script type="application/json" id="wm-data">{{ this.data_json }}</script>
{% endmacro %}

{% macro script(this, kwargs) %}
wardMapInit({{ this.map_name }}, JSON.parse(document.getElementById("wm-data").textContent));
{% endmacro %}
"""
    )

    def __init__(self, map_name: str, data_json: str) -> None:
        super().__init__()
        self._name = "WardMap"
        self._id = "layers"
        self.map_name = map_name
        self.data_json = data_json
        self.leaflet_css, self.leaflet_js = _leaflet_assets()
        self.app_css, self.app_js = _app_assets()


def _offline_map(bounds: list[list[float]], title: str) -> folium.Map:
    """Return a folium map with no tiles, no CDN links and a fixed element id."""
    center = [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]
    fmap = folium.Map(
        location=center,
        tiles=None,
        zoom_start=12,
        zoom_control=False,
        zoom_snap=0.25,
    )
    fmap.default_js = []
    fmap.default_css = []
    fmap._id = "ward"  # fixed id: deterministic output
    figure = fmap.get_root()
    if isinstance(figure, Figure):
        figure.title = escape(title)
    return fmap


def render_map(
    units: gpd.GeoDataFrame,
    hamlets: gpd.GeoDataFrame | None,
    criteria: pd.DataFrame,
    *,
    landuse: gpd.GeoDataFrame | None = None,
    infrastructure: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | None = None,
    coverage: gpd.GeoDataFrame | None = None,
    findings: pd.DataFrame | None = None,
    title: str,
    subtitle: str = "",
    notes: Sequence[str] = (),
    sources: Sequence[str] = (),
    set_names: Mapping[str, Label] | None = None,
    max_features: int = MAX_FEATURES,
) -> str:
    """Return the map as one self-contained HTML document.

    The page needs no network: Leaflet and its cluster plugin are inlined and
    no tiles are shown unless the reader turns on the (online) OpenStreetMap
    background. A selector colours units or hamlets by any criterion (status,
    or the gap of those that fail, in natural-breaks classes), by population
    density or by land use.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Communes / wards (polygons, any defined CRS) with ``id``, ``name``,
        indicator columns, ``population_source`` and ``ward_verdict``
        (``"pass"``, ``"fail"`` or ``"not_assessed"``; missing = not assessed).
    hamlets : geopandas.GeoDataFrame or None
        Hamlets with ``id``, ``name``, ``unit_id`` and indicator columns.
    criteria : pandas.DataFrame
        One row per (feature, criterion): ``level`` (``unit`` or ``hamlet``),
        ``id``, ``criterion``, ``criterion_vi``, ``criterion_en``, ``value``,
        ``operator``, ``threshold``, ``unit_of_measure``, ``status``, ``gap``,
        ``source``, ``confidence``, ``note``. Every criterion of either level
        can colour the map.
    landuse : geopandas.GeoDataFrame, optional
        Parcels with ``code``, drawn in the conventional land-use colours
        (:data:`LANDUSE_COLORS`); beyond :data:`PARCEL_DETAIL_LIMIT` parcels,
        merged per hamlet and class.
    infrastructure : geopandas.GeoDataFrame, optional
        Points with ``kind`` (a key of ``geo.labels.INFRASTRUCTURE_LABELS``,
        others are drawn as ``"other"``) and ``name``; an icon per kind,
        clustered when there are many.
    roads : geopandas.GeoDataFrame, optional
        Lines with ``surface`` (a key of ``geo.labels.SURFACE_LABELS``).
    coverage : geopandas.GeoDataFrame, optional
        Coverage findings (gaps, overlaps…) with ``kind``, ``message`` and
        ``area_m2``, drawn in the data-findings layer.
    findings : pandas.DataFrame, optional
        The run's data-quality notes (``layer``, ``feature``, ``kind``,
        ``message``): those about a unit or hamlet outline it in the
        data-findings layer, the others are listed in the title block.
    title : str
        Title of the map.
    subtitle : str, optional
        Second line, e.g. the standards applied and their date.
    notes : sequence of str, optional
        Warnings shown under the title, e.g. ``"Dữ liệu minh họa / illustrative data"``.
    sources : sequence of str, optional
        Data sources listed in the title block.
    set_names : mapping of str to Label, optional
        Name of each criteria set (the ``set`` column), to head its family's
        criteria in the selector and popups; by default the verdict's label.
    max_features : int, default :data:`MAX_FEATURES`
        Beyond this many features, parcels, then roads, then points are
        aggregated, and a note under the title says so.

    Returns
    -------
    str
        The HTML document (UTF-8 text).

    Raises
    ------
    ValueError
        If a layer has no CRS or lacks ``id``/``name`` (``code`` for land use,
        ``kind`` for infrastructure and coverage), if the units have no
        geometry, or if a status is not one of ``pass``, ``fail``,
        ``not_assessed``.

    Examples
    --------
    >>> html = render_map(units, hamlets, criteria, title="Xã Quyết Thắng")  # doctest: +SKIP
    >>> Path("map.html").write_text(html, encoding="utf-8")  # doctest: +SKIP
    """
    heading = {"title": title, "subtitle": subtitle, "notes": list(notes), "sources": list(sources)}
    data = _map_data(
        units,
        hamlets,
        criteria,
        landuse=landuse,
        infrastructure=infrastructure,
        roads=roads,
        coverage=coverage,
        findings=findings,
        title=heading,
        set_names=set_names or {},
        max_features=max_features,
    )
    fmap = _offline_map(data["bounds"], title)
    fmap.add_child(_WardMapElement(fmap.get_name(), _script_safe_json(data)))
    html: str = fmap.get_root().render()
    return html


def render_result_map(result: RunResult) -> str:
    """Render the run's interactive map as one self-contained HTML document.

    Parameters
    ----------
    result : geo.pipeline.RunResult
        A finished run; its ``coverage`` findings are drawn when the run has them.

    Returns
    -------
    str
        The HTML document (UTF-8 text), see :func:`render_map`.
    """
    project = result.project
    standard = result.standard
    notes = [note for note in (project.note,) if note]
    not_checked = getattr(standard, "not_checked", ())  # the set's conditions left unchecked
    notes += [f"Chưa kiểm tra / not checked: {item}" for item in not_checked]
    notes += [str(item) for item in getattr(standard, "notes", ())]  # the set's caveats
    sources = [s for s in (project.sources,) if s]
    sources.append(f"{standard.name_vi} / {standard.name_en}")
    subtitle = (
        f"Tiêu chuẩn áp dụng ngày / standards as of {project.as_of:%d/%m/%Y}: {standard.name_vi}"
    )
    return render_map(
        result.units,
        result.hamlets,
        result.criteria,
        landuse=result.landuse,
        infrastructure=result.infrastructure,
        roads=result.roads,
        coverage=getattr(result, "coverage", None),
        findings=result.findings,
        title=f"{project.name} — Tiêu chuẩn phường / Ward standards",
        subtitle=subtitle,
        notes=notes,
        sources=sources,
        set_names={s.id: Label(s.name_vi, s.name_en) for s in getattr(result, "sets", ())},
    )
