"""Self-contained interactive HTML map of the ward-standard check: a gap atlas.

The page is built with folium's page model but opens with no network: folium's
CDN links are dropped, and Leaflet 1.9.4 and Leaflet.markercluster 1.5.3
(vendored under ``geo/_assets`` with their licences) are inlined. Each layer's
GeoJSON is embedded once, as JSON data, and styled in JavaScript from one
property per feature (never a per-feature style function).

Display geometry is not analysis geometry: polygons are simplified as a
coverage (``shapely.coverage_simplify``, in metres, so neighbours keep their
shared edges), coordinates are rounded to 6 decimals and only the properties
the popups need are kept. Every figure shown was computed on the full
geometry before any of this.

Large maps (a city, a province: up to a million parcels, thousands of
hamlets) stay a file a browser opens in a few seconds. The land use follows
this rule, stated under the map's title when it applies:

1. up to :data:`PARCEL_DETAIL_LIMIT` parcels (a commune), each parcel is drawn;
2. beyond, the parcels are merged per hamlet and land-use class, while that
   gives at most :data:`LANDUSE_SHAPE_LIMIT` shapes from at most
   :data:`LANDUSE_VERTEX_LIMIT` parcel vertices (about 5 MB);
3. beyond that (from about 40,000 parcels of 7 vertices: several communes,
   a city, a province), no land-use shapes are drawn: on a province-wide map
   a planner reads the land use per hamlet, so the land-use theme colours each hamlet (each commune
   without hamlets) by its largest class, in the conventional colours, and
   its popup charts the area and share of every class. The shares are the
   hamlets' own ``landuse_<CODE>_km2`` indicators (the same exact split as
   the tables), so the map costs no geometry work on the parcels.

Beyond :data:`ROAD_DETAIL_LIMIT` road lines, or :data:`MAX_FEATURES` features
in all, roads are gathered per surface and name (then points counted per
hamlet), with a note. At the 1,000,000-parcel benchmark (issue 8) the map is
about 8 MB and renders in about 2 s.

Every attribute value is displayed as text, never parsed as HTML.
"""

from __future__ import annotations

import base64
import json
import math
import re
import uuid
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from html import escape
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, cast

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Figure, MacroElement
from folium.template import Template

from geo import parallel
from geo.labels import (
    COLUMN_LABELS,
    CONFIDENCE_LABELS,
    FINDING_LABEL_OTHER,
    FINDING_LABELS,
    INFRASTRUCTURE_LABELS,
    LEVEL_LABELS,
    NO_DATA_LABEL,
    PROGRESS_STATUS_LABELS,
    STATUS_LABELS,
    SURFACE_LABELS,
    Label,
    column_label,
    format_number_vi,
)
from geo.landuse_layer import LanduseSummary
from geo.resources import landuse_codes

if TYPE_CHECKING:
    from geo.pipeline import RunResult
    from geo.progress import Progress

__all__ = [
    "DENSITY_BREAKS",
    "FINDING_COLORS",
    "KIND_STYLES",
    "LANDUSE_COLORS",
    "LANDUSE_SHAPE_LIMIT",
    "LANDUSE_UNKNOWN_COLOR",
    "LANDUSE_VERTEX_LIMIT",
    "MAX_FEATURES",
    "MAX_LISTED_FINDINGS",
    "NO_DATA_COLOR",
    "PARCEL_DETAIL_LIMIT",
    "ROAD_DETAIL_LIMIT",
    "STATUS_COLORS",
    "SURFACE_STYLES",
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

LANDUSE_VERTEX_LIMIT: Final = 300_000
"""Most parcel vertices merged and drawn (about 5 MB of map); beyond, hamlets show their shares."""

LANDUSE_SHAPE_LIMIT: Final = 10_000
"""Most merged land-use shapes (hamlet × class) drawn; beyond, hamlets show their shares."""

ROAD_DETAIL_LIMIT: Final = 5_000
"""Most road lines drawn one by one; more are gathered per surface and name."""

MAX_LISTED_FINDINGS: Final = 200
"""Most data findings about no mapped feature listed in the title block (all in findings.csv)."""

CLUSTER_MIN_POINTS: Final = 200
"""Infrastructure points are clustered when there are at least this many."""

GAP_CLASSES: Final = 4
"""Most classes of the numeric gap of a failed criterion (natural breaks)."""

DENSITY_BREAKS: Final[tuple[float, ...]] = (500.0, 1000.0, 2000.0, 5000.0)
"""Class limits of population density, people/km² (fixed, comparable across maps)."""

_DENSITY_COLORS: Final = ("#f1eef6", "#bdc9e1", "#74a9cf", "#2b8cbe", "#045a8d")
NO_DATA_COLOR: Final = "#e4e4e4"
"""Fill of a feature with no value for the theme shown (density, a criterion it lacks)."""
STATUS_COLORS: Final[dict[str, str]] = {
    "pass": "#1a9641",
    "fail": "#d7191c",
    "not_assessed": "#9a9a9a",
    "none": NO_DATA_COLOR,
}
"""Criterion status or verdict → fill colour (``none``: the feature has no such row)."""
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
LANDUSE_UNKNOWN_COLOR: Final = "#bdbdbd"
"""Fill of a land-use code that is not in :data:`LANDUSE_COLORS`."""

KIND_STYLES: Final[dict[str, tuple[str, str]]] = {
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
"""Infrastructure kind → (icon colour, white glyph as SVG path data in a 16×16 box)."""
SURFACE_STYLES: Final[dict[str, tuple[str, float, str | None]]] = {
    "asphalt": ("#3c3c3c", 3.0, None),
    "concrete": ("#7a7a7a", 2.5, None),
    "gravel": ("#b5884f", 2.0, None),
    "earth": ("#a1694a", 1.8, "5 3"),
    "unknown": ("#a8a8a8", 1.5, "2 3"),
}
"""Road surface → (line colour, weight in pixels, SVG dash pattern or None for solid)."""
FINDING_COLORS: Final[dict[str, str]] = {
    "gap": "#ff7f00",
    "overlap": "#984ea3",
    "landuse_uncovered": "#1f78b4",
    "area_mismatch": "#e7298a",
    "hamlet_sum_mismatch": "#e7298a",
    "other": "#b2182b",
}
"""Data-finding kind → outline and fill colour (``other`` for any kind not listed)."""

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
    "landuseShares": Label("Cơ cấu sử dụng đất", "Land-use shares"),
    "landuseLargest": Label(
        "Mỗi nơi tô theo loại đất chiếm diện tích lớn nhất; diện tích và tỷ lệ từng loại đất "
        "trong cửa sổ thông tin",
        "Each coloured by its largest land-use class; the area and share of every class in "
        "its popup",
    ),
    "progress": Label("Tiến độ", "Progress"),
    "roadmap": Label("Tiến độ lộ trình", "Roadmap progress"),
    "asOf": Label("đánh giá ngày", "as of"),
    "latest": Label("Giá trị mới nhất", "Latest value"),
    "target": Label("Mục tiêu", "Target"),
    "deadline": Label("Hạn", "Deadline"),
    "owner": Label("Phụ trách", "Owner"),
    "progressHow": Label(
        "Xã / phường: viền màu; thôn: tô màu; mỗi nơi theo chỉ tiêu cấp bách nhất",
        "Commune: coloured outline; hamlet: fill; each by its most urgent roadmap line",
    ),
    "progressShow": Label("Xem trên bản đồ", "Show on the map"),
    "progressMissing": Label(
        "dòng lộ trình về nơi không có trên bản đồ", "roadmap lines about places not on the map"
    ),
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


_MIN_SIMPLIFY_GAIN: Final = 0.10
"""Polygons are simplified only if that removes at least this share of their vertices."""
_GAIN_SAMPLE: Final = 500
"""About how many polygons the gain of simplifying is estimated on."""


def _display_tolerance(units: gpd.GeoDataFrame) -> float:
    """Return the simplification tolerance in metres: 1/5000 of the map's diagonal, 0.5–40 m."""
    west, south, east, north = units.total_bounds
    diagonal = math.hypot(east - west, north - south)
    return float(min(40.0, max(0.5, diagonal / 5000.0))) if math.isfinite(diagonal) else 0.5


def _simplify(geometries: np.ndarray, tolerance: float, *, as_coverage: bool = True) -> np.ndarray:
    """Simplify for display, in the layer's metres.

    Polygons that form a valid coverage are simplified together
    (``coverage_simplify``), so neighbours keep their shared edges; other
    polygons one by one with their topology preserved; lines (and points) by
    Douglas-Peucker: a line it makes cross itself does so within the tolerance,
    where it is drawn the same, and keeping the topology took 10 times as long
    (0.15-0.2 s for the 18,532 roads at L). ``as_coverage=False`` skips the
    coverage test (costly on many vertices) for layers known not to be a valid
    coverage.

    Polygons that simplifying one by one would not thin by at least
    :data:`_MIN_SIMPLIFY_GAIN` (small parcels of a few vertices: 7 % at
    10,000 synthetic parcels) are drawn as they are: the coverage
    simplification, bound to keep the shared edges, would remove even fewer
    vertices, at the cost of the coverage test.
    """
    present = ~shapely.is_missing(geometries) & ~shapely.is_empty(geometries)
    out = geometries.copy()
    if not present.any() or tolerance <= 0:
        return out
    shown = geometries[present]
    polygonal = np.isin(shapely.get_type_id(shown), [3, 6])
    if as_coverage and polygonal.all() and shown.size > 1:
        # the gain, estimated on at most _GAIN_SAMPLE evenly spaced polygons
        sample = shown[:: max(1, shown.size // _GAIN_SAMPLE)]
        before = int(shapely.get_num_coordinates(sample).sum())
        thinned = shapely.simplify(sample, tolerance, preserve_topology=True)
        if int(shapely.get_num_coordinates(thinned).sum()) > (1 - _MIN_SIMPLIFY_GAIN) * before:
            return out
        if shapely.coverage_is_valid(shown):
            out[present] = shapely.coverage_simplify(shown, tolerance)
            return out
    simplified = shown.copy()
    simplified[polygonal] = shapely.simplify(shown[polygonal], tolerance, preserve_topology=True)
    simplified[~polygonal] = shapely.simplify(shown[~polygonal], tolerance, preserve_topology=False)
    out[present] = simplified
    return out


def _display_geometries(
    frame: gpd.GeoDataFrame, tolerance: float = 0.0, *, as_coverage: bool = True
) -> list[str | None]:
    """Return GeoJSON geometry texts in EPSG:4326, simplified, rounded to ``COORD_DECIMALS``.

    The texts are GEOS's (shortest round-trip numbers, as ``json.dumps`` writes
    them) and are spliced into the page's data as they are (:func:`_collection`).
    """
    geoms = _simplify(frame.geometry.to_numpy(), tolerance, as_coverage=as_coverage)
    projected = gpd.GeoSeries(geoms, crs=frame.crs).to_crs(4326).to_numpy()
    rounded = shapely.transform(projected, lambda xy: np.round(xy, COORD_DECIMALS))
    texts: list[str | None] = shapely.to_geojson(rounded).tolist()
    return texts


def _label_points(frame: gpd.GeoDataFrame) -> list[list[float] | None]:
    """Return a ``[lat, lon]`` point inside each polygon (for its name), or None."""
    inside = gpd.GeoSeries(shapely.point_on_surface(frame.geometry.to_numpy()), crs=frame.crs)
    return [
        None
        if point is None or point.is_empty
        else [round(point.y, COORD_DECIMALS), round(point.x, COORD_DECIMALS)]
        for point in inside.to_crs(4326)
    ]


class _RawJSON:
    """JSON text spliced verbatim into the page's data by :func:`_script_safe_json`."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


_JSON: Final = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
)


def _collection(geometries: Sequence[str | None], properties: list[dict[str, Any]]) -> _RawJSON:
    """Return a GeoJSON FeatureCollection as JSON text (features without geometry left out).

    ``geometries`` are GeoJSON texts (:func:`_display_geometries`): they are
    joined as text, never parsed and dumped again.
    """
    encode = _JSON.encode
    features = [
        f'{{"geometry":{geom},"properties":{encode(props)},"type":"Feature"}}'
        for geom, props in zip(geometries, properties, strict=True)
        if geom is not None
    ]
    return _RawJSON('{"features":[' + ",".join(features) + '],"type":"FeatureCollection"}')


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


def _without_slivers(geometries: np.ndarray, min_area: float) -> np.ndarray:
    """Drop the parts and holes smaller than ``min_area`` (m²) of merged polygons.

    Parcels that almost share an edge (vertices on a neighbour's edge, shifted
    by reprojection) leave hair-thin holes when merged; they carry no area
    worth drawing and many vertices. Vectorised: one polygon stays a Polygon,
    several parts a MultiPolygon, nothing left an empty MultiPolygon.
    """
    out = np.array([shapely.MultiPolygon()] * len(geometries), dtype=object)
    parts, owner = cast(
        tuple[np.ndarray, np.ndarray], shapely.get_parts(geometries, return_index=True)
    )
    keep = (shapely.get_type_id(parts) == 3) & (shapely.area(parts) >= min_area)
    parts, owner = parts[keep], owner[keep]
    if not parts.size:
        return out
    rings, ring_part = cast(
        tuple[np.ndarray, np.ndarray], shapely.get_rings(parts, return_index=True)
    )
    shell = np.ones(rings.size, dtype=bool)
    shell[1:] = ring_part[1:] != ring_part[:-1]  # each part's first ring is its exterior
    kept = shell | (shapely.area(shapely.polygons(rings)) >= min_area)
    polygons = np.asarray(shapely.polygons(rings[kept], indices=ring_part[kept]), dtype=object)
    counts = np.bincount(owner, minlength=len(geometries))
    single = counts[owner] == 1
    out[owner[single]] = polygons[single]
    if (~single).any():
        shapely.multipolygons(polygons[~single], indices=owner[~single], out=out)
    return out


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
    formatted = [_format_column(frame[column], _column_decimals(column)) for column in columns]
    return [list(values) for values in zip(*formatted, strict=True)]


_VI_SEPARATORS: Final = str.maketrans(",.", ".,")


def _format_column(values: Any, decimals: int) -> list[str | None]:
    """Format numbers as :func:`format_number_vi` does (None for missing), a column at a time."""
    numbers = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy("float64", na_value=np.nan)
    spec = f",.{decimals}f"
    out: list[str | None] = []
    for number, finite in zip(numbers.tolist(), np.isfinite(numbers).tolist(), strict=True):
        if not finite:
            out.append(None)
            continue
        text = format(number, spec)
        if text[0] == "-" and not text.strip("-0.,"):
            text = text[1:]  # no "-0,00"
        out.append(text.translate(_VI_SEPARATORS))
    return out


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
    rows = criteria.loc[(criteria["level"] == level).fillna(False).to_numpy(dtype=bool)]
    # column by column (``to_dict("records")`` boxes every cell: seconds at a million rows)
    columns = [str(column) for column in rows.columns]
    values = [rows[column].tolist() for column in rows.columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


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
    records: list[dict[Any, Any]], families: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]], list[str]]:
    """Return a level's criteria (definitions, gap classes), each feature's rows and the notes.

    A definition holds what every feature shares (names, family, unit of
    measure, operator, source, confidence, gap classes); a feature's row holds
    its value, threshold, status, gap, gap class (``c``, -1 unless it failed
    with a numeric gap) and, when it has one, its note as an index ``n`` into
    the notes (many features share the same long note).
    """
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
    notes: dict[str, int] = {}
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
        }
        note = _text(row.get("note"))
        if note:
            entry["n"] = notes.setdefault(note, len(notes))
        source = _text(row.get("source"))
        if source != definition["src"]:
            entry["src"] = source
        by_id.setdefault(_text(row["id"]), []).append(entry)
    return list(definitions.values()), by_id, list(notes)


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
    hidden: Callable[[str], bool] = lambda column: False,
) -> dict[str, Any]:
    """Return a polygon layer (units or hamlets): columns, families, criteria, GeoJSON.

    Indicator columns for which ``hidden`` is true are left out of the popups.
    """
    columns = [column for column in _indicator_columns(frame) if not hidden(column)]
    values = _indicator_values(frame, columns)
    records = _criteria_of_level(criteria, level)
    families = _families(frame, records, set_names)
    definitions, rows_by_id, notes = _level_criteria(records, families)
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
        "notes": notes,
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
        "noDataColor": NO_DATA_COLOR,
        "unit": COLUMN_LABELS["density_per_km2"].unit,
    }


@dataclass
class _Landuse:
    """The land-use parcels prepared once, for the plan and for the layer.

    ``geometries`` and ``codes`` are those of the parcels that have a
    geometry (``"?"`` for a missing code); ``classes`` the codes present, in
    legend order (conventional codes first), with their names, colour and
    total area.
    """

    crs: Any
    geometries: np.ndarray
    codes: np.ndarray
    classes: list[dict[str, Any]]
    index: dict[str, int]
    zones: gpd.GeoDataFrame | None
    summarised_parcels: int | None = None  # a per-commune run's: no parcels, their count
    _pieces: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    _areas: pd.DataFrame | None = None

    @property
    def summarised(self) -> bool:
        """Whether only the zones' class areas are known (no parcel to draw)."""
        return self.summarised_parcels is not None

    @property
    def parcel_count(self) -> int:
        """The parcels with a geometry, drawn or not."""
        if self.summarised_parcels is None:
            return int(self.geometries.size)
        return self.summarised_parcels

    def pieces(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the parcels cut exactly at the zone boundaries (:func:`_pieces_by_zone`)."""
        if self._pieces is None:
            zones = self.zones
            if zones is not None and len(zones):
                self._pieces = _pieces_by_zone(self.geometries, zones.geometry.to_numpy())
            else:
                parcel = np.arange(self.geometries.size)
                self._pieces = (parcel, np.full(parcel.size, -1), self.geometries)
        return self._pieces

    def zone_areas(self) -> pd.DataFrame:
        """Area (m²) of each land-use class in each zone: columns ``zone``, ``code``, ``m2``.

        Read from the zones' ``landuse_<CODE>_km2`` columns when they have one
        for every code present (as :func:`geo.run` computes them, by the same
        exact split), else computed from :meth:`pieces`. Only positive areas.
        """
        if self._areas is not None:
            return self._areas
        zones = self.zones
        columns = self._area_columns()
        if zones is not None and columns is not None:
            km2 = np.column_stack(
                [
                    pd.to_numeric(zones[c], errors="coerce").to_numpy("float64", na_value=np.nan)
                    for c in columns.values()
                ]
            )
            zone_i, code_i = np.nonzero(np.nan_to_num(km2) > 0)
            areas = pd.DataFrame(
                {
                    "zone": zone_i,
                    "code": np.array(list(columns), dtype=object)[code_i],
                    "m2": km2[zone_i, code_i] * 1e6,
                }
            )
        else:
            parcel, zone, pieces = self.pieces()
            inside = zone >= 0
            pieces_table = pd.DataFrame(
                {
                    "zone": zone[inside],
                    "code": self.codes[parcel[inside]],
                    "m2": shapely.area(pieces[inside]),
                }
            )
            areas = pieces_table.groupby(["zone", "code"], sort=False)["m2"].sum().reset_index()
        self._areas = areas.loc[areas["m2"] > 0].reset_index(drop=True)
        return self._areas

    def shape_count(self) -> int:
        """Return how many shapes merging per zone and class would draw."""
        return len(self.zone_areas())

    def vertex_count(self) -> int:
        """Return the parcels' vertices (merging and simplifying keep most of them)."""
        return int(shapely.get_num_coordinates(self.geometries).sum())

    def merged_shapes(self, room: int) -> int | None:
        """Return how many shapes merging draws, or None beyond the limits of the merged mode.

        The limits: :data:`LANDUSE_SHAPE_LIMIT` shapes, ``room`` features and
        :data:`LANDUSE_VERTEX_LIMIT` parcel vertices. The cheaper test runs
        first: the shape count when the zones carry their class areas, else
        the vertex count (the shape count then needs the exact split).
        """
        columns = self._area_columns()
        if columns is None and self.vertex_count() > LANDUSE_VERTEX_LIMIT:
            return None
        shapes = self.shape_count()
        if shapes > min(LANDUSE_SHAPE_LIMIT, room):
            return None
        if columns is not None and self.vertex_count() > LANDUSE_VERTEX_LIMIT:
            return None
        return shapes

    def _area_columns(self) -> dict[str, str] | None:
        """Return the zones' ``landuse_<CODE>_km2`` column of each code, if they have all."""
        zones = self.zones
        columns = {code: f"landuse_{code}_km2" for code in self.index}
        if zones is not None and columns and all(c in zones.columns for c in columns.values()):
            return columns
        return None


def _prepare_landuse(landuse: gpd.GeoDataFrame, zones: gpd.GeoDataFrame | None) -> _Landuse:
    """Return the parcels with a geometry, their codes and the classes present (with totals)."""
    geoms = landuse.geometry.to_numpy()
    # on threads: a million parcels' emptiness and areas take 0.2 s on one
    valid = ~shapely.is_missing(geoms) & ~parallel.map_slices(shapely.is_empty, geoms)
    factor, uniques = pd.factorize(landuse["code"], use_na_sentinel=True)
    names = np.array([_text(c) or "?" for c in [*uniques.tolist(), None]], dtype=object)
    codes = names[factor]  # the sentinel -1 picks the last name: "?"
    # area per code: summed per distinct value, then per name ("" and None are both "?")
    parcel_m2 = parallel.map_slices(shapely.area, geoms[valid])
    area = np.bincount(factor[valid] + 1, weights=parcel_m2, minlength=names.size)
    totals: dict[str, float] = {}
    for name, m2 in zip([names[-1], *names[:-1]], area.tolist(), strict=True):
        totals[name] = totals.get(name, 0.0) + m2
    present = set(names[np.unique(factor)].tolist())
    classes, index = _classes(present, totals)
    return _Landuse(
        crs=landuse.crs,
        geometries=geoms[valid],
        codes=codes[valid],
        classes=classes,
        index=index,
        zones=zones,
    )


def _summary_landuse(summary: LanduseSummary, zones: gpd.GeoDataFrame) -> _Landuse:
    """Return a per-commune run's land use: its classes and totals, and no parcel to draw."""
    totals: dict[str, float] = {}
    for code, m2 in summary.area_m2.items():
        name = _text(code) or "?"
        totals[name] = totals.get(name, 0.0) + m2
    classes, index = _classes(set(totals), totals)
    return _Landuse(
        crs=zones.crs,
        geometries=np.empty(0, dtype=object),
        codes=np.empty(0, dtype=object),
        classes=classes,
        index=index,
        zones=zones,
        summarised_parcels=summary.parcels,
    )


def _classes(
    present: set[str], totals: Mapping[str, float]
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Return the legend's classes (conventional codes first) and each code's place in it."""
    table = landuse_codes()
    ordered = sorted(present, key=lambda c: (c not in LANDUSE_COLORS, c))
    classes = []
    for code in ordered:
        entry = table.get(code)
        hectares = totals.get(code, 0.0) / 1e4
        classes.append(
            {
                "code": code,
                "vi": entry.vi if entry else code,
                "en": entry.en if entry else "",
                "color": LANDUSE_COLORS.get(code, LANDUSE_UNKNOWN_COLOR),
                "ha": format_number_vi(hectares, 1),
            }
        )
    return classes, {code: i for i, code in enumerate(ordered)}


def _merge_groups(pieces: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    """Union each group of pieces: as a coverage when GEOS can, else the general union.

    ``coverage_union_all`` only removes the shared edges; it is accepted when
    GEOS does not refuse, the result is valid and its area is the sum of the
    parts' (they do not overlap). Otherwise (parcels overlapping by float
    noise along commune edges) ``union_all`` merges the group.
    """
    merged = np.empty(len(groups), dtype=object)
    for i, positions in enumerate(groups):
        try:
            merged[i] = shapely.coverage_union_all(pieces[positions])
        except shapely.errors.GEOSException:
            merged[i] = None
    if not len(groups):
        return merged
    sums = np.array([float(shapely.area(pieces[p]).sum()) for p in groups])
    present = ~shapely.is_missing(merged)
    ok = present.copy()
    ok[present] = shapely.is_valid(merged[present]) & np.isclose(
        shapely.area(merged[present]), sums[present], rtol=1e-9, atol=1e-6
    )
    for i in np.flatnonzero(~ok).tolist():
        merged[i] = shapely.union_all(pieces[groups[i]])
    return merged


def _landuse_spec(prepared: _Landuse, mode: str, *, tolerance: float) -> dict[str, Any]:
    """Return the land-use layer: classes present (code, names, colour, hectares), GeoJSON.

    ``mode`` (:func:`_plan`) is ``"parcels"``: each parcel drawn;
    ``"merged"``: the parcels merged per zone (hamlet, else commune) and class
    after an exact cut at the zone boundaries, so each merged shape's area is
    the zone's area of that class; or ``"shares"``: no shapes, the zones
    carry their land-use shares instead (:func:`_landuse_shares`) and are
    coloured by their largest class.
    """
    index = prepared.index
    spec: dict[str, Any] = {
        "classes": prepared.classes,
        "mode": mode,
        "aggregated": mode != "parcels",
        "parcels": prepared.parcel_count,
        "geojson": None,
    }
    if mode == "shares":
        return spec
    if mode == "parcels":
        geoms = prepared.geometries
        frame = gpd.GeoDataFrame(geometry=geoms, crs=prepared.crs)
        properties = [
            {"c": index[code], "a": format_number_vi(area)}
            for code, area in zip(prepared.codes.tolist(), shapely.area(geoms), strict=True)
        ]
        spec["geojson"] = _collection(_display_geometries(frame, tolerance), properties)
        return spec
    parcel, zone, pieces = prepared.pieces()
    zones = prepared.zones
    zone_names = [] if zones is None else [_text(n) for n in zones["name"].tolist()]
    # groups of pieces per (zone, code), in that order (codes alphabetical; no zone first)
    names = sorted(index)
    rank = {code: i for i, code in enumerate(names)}
    codes = np.array([rank[code] for code in prepared.codes[parcel].tolist()], dtype="int64")
    keys = (zone.astype("int64") + 1) * len(names) + codes
    order = np.argsort(keys, kind="stable")
    unique, starts = np.unique(keys[order], return_index=True)
    groups = np.split(order, starts[1:]) if order.size else []
    merged = _without_slivers(_merge_groups(pieces, groups), max(1.0, tolerance * tolerance))
    properties = [
        {
            "c": index[names[key % len(names)]],
            "a": format_number_vi(float(shapely.area(pieces[positions]).sum()) / 1e4, 2),
            "n": int(positions.size),
            "z": zone_names[key // len(names) - 1] if key >= len(names) else "",
        }
        for key, positions in zip(unique.tolist(), groups, strict=True)
    ]
    frame = gpd.GeoDataFrame(geometry=merged, crs=prepared.crs)
    # merged shapes overlap along commune edges by float noise: not a valid coverage
    geometries = _display_geometries(frame, tolerance, as_coverage=False)
    spec["geojson"] = _collection(geometries, properties)
    return spec


def _landuse_shares(prepared: _Landuse, count: int) -> list[dict[str, Any]]:
    """Return each zone's land-use shares, largest first, and its largest class.

    ``lu``: ``[class index, hectares, % of the zone's covered area]`` per
    class present in the zone; ``ld``: the index of its largest class (-1
    without land use).
    """
    areas = prepared.zone_areas()
    out: list[dict[str, Any]] = [{"lu": [], "ld": -1} for _ in range(count)]
    if areas.empty:
        return out
    areas = areas.assign(c=areas["code"].map(prepared.index))
    areas = areas.sort_values(["zone", "m2", "c"], ascending=[True, False, True])
    m2 = areas["m2"].to_numpy("float64")
    covered = areas.groupby("zone")["m2"].transform("sum").to_numpy("float64")
    hectares = _format_column(m2 / 1e4, 2)
    percent = _format_column(100.0 * m2 / covered, 1)
    for zone_i, c, ha, pct in zip(
        areas["zone"].tolist(), areas["c"].tolist(), hectares, percent, strict=True
    ):
        entry = out[zone_i]
        if entry["ld"] < 0:
            entry["ld"] = c
        entry["lu"].append([c, ha, pct])
    return out


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
                "color": KIND_STYLES.get(k, KIND_STYLES["other"])[0],
                "glyph": KIND_STYLES.get(k, KIND_STYLES["other"])[1],
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

    With ``aggregate``, the lines of each surface class and name (unnamed
    lines together) are gathered into one feature carrying their total length:
    a multi-line of the lines simplified one by one, never noded (drawn the
    same, at a fraction of the cost of a union).
    """
    keys = list(SURFACE_STYLES)
    surfaces = [
        keys.index(s if s in SURFACE_STYLES else "unknown")
        for s in map(_text, _column_or_none(roads, "surface"))
    ]
    if aggregate:
        geoms = roads.geometry.to_numpy()
        names = [_text(n) for n in _column_or_none(roads, "name")]
        groups: dict[tuple[int, str], list[int]] = {}
        for i, key in enumerate(zip(surfaces, names, strict=True)):
            groups.setdefault(key, []).append(i)
        merged, properties = [], []
        for surface, name in sorted(groups, key=lambda key: (key[0], key[1] != "", key[1])):
            lines = geoms[groups[(surface, name)]]
            parts = shapely.get_parts(lines[~shapely.is_missing(lines)])
            parts = parts[(shapely.get_type_id(parts) == 1) & ~shapely.is_empty(parts)]
            parts = _simplify(parts, tolerance)  # one by one: fast, unlike a multi-line
            merged.append(shapely.multilinestrings(parts))
            km = float(shapely.length(lines).sum()) / 1000.0
            props = {"s": surface, "km": format_number_vi(km, 2)}
            properties.append(props | ({"name": name} if name else {}))
        frame = gpd.GeoDataFrame(geometry=merged, crs=roads.crs)
        tolerance = 0.0  # simplified above
    else:
        frame = roads
        properties = [
            {"s": s, "name": _text(n)}
            for s, n in zip(surfaces, _column_or_none(roads, "name"), strict=True)
        ]
    classes = [
        {"label": SURFACE_LABELS[k], "color": color, "weight": weight, "dash": dash}
        for k, (color, weight, dash) in SURFACE_STYLES.items()
    ]
    return {
        "classes": classes,
        "present": sorted(set(surfaces)),
        "geojson": _collection(_display_geometries(frame, tolerance), properties),
    }


def _finding_kind(kind: str) -> str:
    """Return the colour key of a finding kind."""
    return kind if kind in FINDING_COLORS else "other"


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
    unlisted = 0
    if findings is not None and not findings.empty:
        for row in findings.to_dict("records"):
            key = (_text(row.get("layer")), _text(row.get("feature")))
            kind, message = _text(row.get("kind")), _text(row.get("message"))
            if (*key, kind, message) in seen:
                continue  # drawn from the coverage layer already
            if key in shapes:
                picked.setdefault(key, []).append((kind_index(kind), message))
            elif len(others) < MAX_LISTED_FINDINGS:
                label = FINDING_LABELS.get(kind, FINDING_LABEL_OTHER)
                others.append(f"{label.vi} / {label.en} — {key[0]} {key[1]}: {message}")
            else:
                unlisted += 1
    if unlisted:
        others.append(
            f"… và {format_number_vi(unlisted)} phát hiện khác trong findings.csv "
            f"/ … and {unlisted:,} more in findings.csv"
        )
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
                "color": FINDING_COLORS[_finding_kind(kind)],
            }
            for kind in kinds
        ],
        "geojson": _collection(geometries, properties),
        "other": others,
    }


def _crs(layers: Mapping[str, gpd.GeoDataFrame | None]) -> Any:
    """Return the CRS of the first layer given."""
    return next(frame.crs for frame in layers.values() if frame is not None)


def _progress_spec(
    progress: Progress, units: gpd.GeoDataFrame, hamlets: gpd.GeoDataFrame | None
) -> dict[str, Any]:
    """Return the roadmap-progress layer: statuses (label, colour, rule) and each feature's lines.

    Features are the units and hamlets with a roadmap line
    (:meth:`geo.progress.Progress.features`), keyed by level and id; the page
    draws them with the units' and hamlets' own shapes (not embedded twice).
    A feature takes the status of its most urgent line. Lines about an id
    that is not on the map are counted in ``missing``.
    """
    from geo.progress import RULES, RULES_VI, STATUS_COLOURS, STATUSES

    table = progress.table
    about: dict[str, tuple[str, str, str]] = {}
    rules: dict[tuple[str, str, str, str, float], str] = {}
    for row in table.to_dict("records"):
        code = _text(row["criterion"])
        about[code] = (
            _text(row.get("criterion_vi")) or code,
            _text(row.get("criterion_en")),
            _text(row.get("unit_of_measure")),
        )
        deadline = row["deadline"].isoformat() if row.get("deadline") is not None else ""
        key = (_text(row["level"]), _text(row["id"]), code, deadline, _float(row["target"]))
        rules[key] = _text(row.get("rule"))
    known = {
        "unit": {_text(i) for i in units["id"].tolist()},
        "hamlet": set() if hamlets is None else {_text(i) for i in hamlets["id"].tolist()},
    }
    placed: dict[str, dict[str, Any]] = {"unit": {}, "hamlet": {}}
    missing = 0
    for feature in progress.features().to_dict("records"):
        level, ident = _text(feature["level"]), _text(feature["id"])
        if ident not in known.get(level, set()):
            missing += len(feature["lines"])
            continue
        lines = []
        for line in feature["lines"]:
            code = _text(line["criterion"])
            vi, en, uom = about.get(code, (code, "", ""))
            lines.append(
                {
                    "code": code,
                    "vi": _text(line.get("criterion_vi")) or vi,
                    "en": en,
                    "uom": uom,
                    "s": line["status"],
                    "v": _number_or_none(line.get("latest")),
                    "op": _OPERATORS.get(_text(line.get("operator")), _text(line.get("operator"))),
                    "t": _number_or_none(line.get("target")),
                    "d": _vi_date(_text(line.get("deadline"))),
                    "o": _text(line.get("owner")),
                    "r": rules.get(
                        (level, ident, code, _text(line["deadline"]), _float(line["target"])), ""
                    ),
                }
            )
        placed[level][ident] = {
            "s": feature["status"],
            "o": _text(feature["owner"]),
            "d": _vi_date(_text(feature["deadline"])),
            "l": lines,
        }
    return {
        "asOf": f"{progress.as_of:%d/%m/%Y}",
        "statuses": [
            {
                "key": status,
                "label": list(PROGRESS_STATUS_LABELS[status]),
                "color": STATUS_COLOURS[status],
                "rule": [RULES_VI[status], RULES[status]],
            }
            for status in STATUSES
        ],
        "unit": placed["unit"],
        "hamlet": placed["hamlet"],
        "lines": len(table),
        "missing": missing,
    }


def _vi_date(iso: str) -> str:
    """Return ``YYYY-MM-DD`` as ``DD/MM/YYYY`` (other text as it is)."""
    parts = iso[:10].split("-")
    return "/".join(parts[::-1]) if len(parts) == 3 else iso


# --------------------------------------------------------------------------- budget


def _plan(
    counts: Mapping[str, int],
    max_features: int,
    parcel_limit: int,
    landuse: _Landuse | None = None,
    *,
    zone_level: str = "hamlet",
) -> tuple[set[str], list[str], str | None]:
    """Decide how to draw the land use, and which layers to aggregate, within ``max_features``.

    The land use (the rule for large maps, :func:`render_map`):

    1. ``"parcels"``: at most ``parcel_limit`` parcels and a map within
       ``max_features``: each parcel is drawn;
    2. ``"merged"``: else, when the parcels hold at most
       :data:`LANDUSE_VERTEX_LIMIT` vertices, merging them per hamlet
       (commune without hamlets) and class gives at most
       :data:`LANDUSE_SHAPE_LIMIT` shapes and the map stays within
       ``max_features``: one shape per hamlet and class;
    3. ``"shares"``: else (several communes, a city, a province):
       no land-use shapes; the land-use theme colours each hamlet by its
       largest class, and its popup lists the area and share of every class.

    Then roads, then points are aggregated while the map holds more than
    ``max_features`` features.

    Returns the aggregated layers, a note (vi / en) for each, and the land-use
    mode (None without land use).
    """
    aggregate: set[str] = set()
    notes: list[str] = []
    parcels = counts.get("landuse", 0)
    total = sum(counts.values())
    mode: str | None = None
    if landuse is not None:
        others = total - parcels
        shown = format_number_vi(parcels)
        vi, en = ("thôn", "hamlet") if zone_level == "hamlet" else ("xã", "commune")
        drawable = not landuse.summarised  # a per-commune run keeps no parcels: shares
        if drawable and parcels <= parcel_limit and total <= max_features:
            mode = "parcels"
        elif drawable and (shapes := landuse.merged_shapes(max_features - others)) is not None:
            mode, total = "merged", others + shapes
            notes.append(
                f"{shown} thửa đất được gộp theo {vi} và loại đất để bản đồ mở nhanh; diện "
                f"tích tính trên thửa gốc. / The {parcels:,} land-use parcels are merged per "
                f"{en} and land-use class so that the map opens fast; areas are computed "
                "on the parcels."
            )
        else:
            mode, total = "shares", others
            notes.append(
                f"{shown} thửa đất: quá nhiều để vẽ từng vùng. Chủ đề hiện trạng sử dụng đất "
                f"tô mỗi {vi} theo loại đất chiếm diện tích lớn nhất; diện tích và tỷ lệ "
                f"từng loại đất của {vi} có trong cửa sổ thông tin (tính trên thửa gốc). / "
                f"{parcels:,} land-use parcels: too many to draw. The land-use theme colours "
                f"each {en} by its largest land-use class; its popup lists the area and share "
                "of every class (computed on the parcels)."
            )
    roads = counts.get("roads", 0)
    if roads > ROAD_DETAIL_LIMIT:
        aggregate.add("roads")
        total -= roads
        notes.append(
            f"{format_number_vi(roads)} đoạn đường được gộp theo loại mặt đường và tên. "
            f"/ The {roads:,} road lines are gathered per surface and name."
        )
    for layer, vi, en in (
        ("roads", "đoạn đường được gộp theo loại mặt đường", "road lines merged per surface"),
        ("infrastructure", "điểm hạ tầng được đếm theo thôn", "points counted per hamlet"),
    ):
        count = counts.get(layer, 0)
        if count and layer not in aggregate and total > max_features:
            aggregate.add(layer)
            total -= count
            limit = format_number_vi(max_features)
            notes.append(
                f"Bản đồ vượt {limit} đối tượng: {format_number_vi(count)} {vi}. "
                f"/ Over {max_features:,} features: {count:,} {en}."
            )
    return aggregate, notes, mode


# --------------------------------------------------------------------------- page


def _is_landuse_area(column: str) -> bool:
    """Whether a column is a land-use class area (``landuse_<CODE>_km2``, not the covered area)."""
    return (
        column.startswith("landuse_")
        and column.endswith("_km2")
        and column != "landuse_covered_km2"
    )


def _map_data(
    units: gpd.GeoDataFrame,
    hamlets: gpd.GeoDataFrame | None,
    criteria: pd.DataFrame,
    *,
    landuse: gpd.GeoDataFrame | LanduseSummary | None,
    infrastructure: gpd.GeoDataFrame | None,
    roads: gpd.GeoDataFrame | None,
    coverage: gpd.GeoDataFrame | None,
    findings: pd.DataFrame | None,
    progress: Progress | None,
    title: dict[str, Any],
    set_names: Mapping[str, Label],
    max_features: int,
) -> dict[str, Any]:
    """Return everything the page script needs, as JSON-ready data."""
    _check_layer(units, ["id", "name"], "units")
    _check_layer(hamlets, ["id", "name"], "hamlets")
    if not isinstance(landuse, LanduseSummary):
        _check_layer(landuse, ["code"], "landuse")
    _check_layer(infrastructure, ["kind"], "infrastructure")
    _check_layer(roads, [], "roads")
    bounds = _bounds(units)
    tolerance = _display_tolerance(units)
    counts = {
        "landuse": (
            0
            if landuse is None
            else landuse.parcels
            if isinstance(landuse, LanduseSummary)
            else len(landuse)
        ),
        "roads": 0 if roads is None else len(roads),
        "infrastructure": 0 if infrastructure is None else len(infrastructure),
        "zones": len(units) + (0 if hamlets is None else len(hamlets)),
    }
    zones = hamlets if hamlets is not None else units
    zone_level = "hamlet" if hamlets is not None else "unit"
    prepared = (
        None
        if landuse is None
        else _summary_landuse(landuse, zones)
        if isinstance(landuse, LanduseSummary)
        else _prepare_landuse(landuse, zones)
    )
    aggregate, budget_notes, landuse_mode = _plan(
        counts, max_features, PARCEL_DETAIL_LIMIT, prepared, zone_level=zone_level
    )
    title = title | {"notes": [*title["notes"], *budget_notes]}
    landuse_spec = None
    if prepared is not None and landuse_mode is not None:
        landuse_spec = _landuse_spec(prepared, landuse_mode, tolerance=tolerance)
        landuse_spec["level"] = zone_level
    shares = landuse_mode == "shares" and prepared is not None
    extras: dict[str, list[dict[str, Any]]] = {"unit": _unit_extra(units)}
    if hamlets is not None:
        extras["hamlet"] = _hamlet_extra(hamlets, units)
    if shares and prepared is not None:
        shares_of = _landuse_shares(prepared, len(zones))
        extras[zone_level] = [a | b for a, b in zip(extras[zone_level], shares_of, strict=True)]

    def hidden(level: str) -> Callable[[str], bool]:
        """In the shares mode the zones' class areas are the popup's chart, not indicators."""
        return _is_landuse_area if shares and level == zone_level else lambda column: False

    data: dict[str, Any] = {
        "ui": _UI,
        "status": {
            "order": [*STATUS_LABELS, "none"],
            "labels": STATUS_LABELS | {"none": NO_DATA_LABEL},
            "colors": STATUS_COLORS,
        },
        "confidence": CONFIDENCE_LABELS,
        "title": title,
        "bounds": bounds,
        "labelMinZoom": {
            "unit": 10 if len(units) > _MANY_UNITS else 0,
            "hamlet": _HAMLET_LABEL_MIN_ZOOM,
        },
        "units": _area_spec(
            units,
            criteria,
            "unit",
            extras["unit"],
            tolerance=tolerance,
            set_names=set_names,
            hidden=hidden("unit"),
        ),
        "hamlets": None,
        "density": _density_legend(),
        "landuse": landuse_spec,
        "infrastructure": None
        if infrastructure is None
        else _point_spec(infrastructure, zones, aggregate="infrastructure" in aggregate),
        "roads": None
        if roads is None
        else _road_spec(roads, aggregate="roads" in aggregate, tolerance=tolerance),
        "findings": _findings_spec(
            coverage, findings, {"units": units, "hamlets": hamlets}, tolerance
        ),
        "progress": None if progress is None else _progress_spec(progress, units, hamlets),
        "basemap": {
            "url": _OSM_URL,
            "attribution": "© OpenStreetMap contributors",
            "label": Label("Nền OpenStreetMap (cần Internet)", "OpenStreetMap background (online)"),
        },
    }
    if hamlets is not None:
        data["hamlets"] = _area_spec(
            hamlets,
            criteria,
            "hamlet",
            extras["hamlet"],
            tolerance=tolerance,
            set_names=set_names,
            hidden=hidden("hamlet"),
        )
    return data


def _script_safe_json(data: Any) -> str:
    r"""Dump JSON that cannot end or comment out the ``<script>`` element holding it.

    ``<``, ``>`` and ``&`` only occur inside JSON strings, where their ``\uXXXX``
    escapes decode to the same text. :class:`_RawJSON` values (the layers'
    FeatureCollections, already JSON text) are spliced in as they are.
    """
    raws: list[str] = []
    token = f"wm-raw-{uuid.uuid4().hex}-"

    def raw(value: Any) -> str:
        if isinstance(value, _RawJSON):
            raws.append(value.text)
            return f"{token}{len(raws) - 1}"
        msg = f"map data: {type(value).__name__} is not JSON serialisable"
        raise TypeError(msg)

    text = json.dumps(
        data,
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
        allow_nan=False,
        default=raw,
    )
    if raws:
        text = re.sub(f'"{token}([0-9]+)"', lambda match: raws[int(match[1])], text)
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


_SLOT: Final = re.compile(r'<wm-slot name="([a-z-]+)"/>')
"""A slot of the page skeleton, filled after folium renders it (:func:`_fill_slots`)."""


class _WardMapElement(MacroElement):
    """Inline assets, embedded data and the call that draws the layers.

    The template holds slots, not the assets and data themselves: folium
    compiles each rendered macro again as a Jinja template, which would cost
    seconds on megabytes of data and interpret ``{{`` in a feature's name.
    """

    _template = Template(
        """
{% macro header(this, kwargs) %}
<style id="wm-leaflet-css"><wm-slot name="leaflet-css"/></style>
<script id="wm-leaflet-js"><wm-slot name="leaflet-js"/></script>
<style id="wm-css"><wm-slot name="app-css"/></style>
<script id="wm-js"><wm-slot name="app-js"/></script>
{% endmacro %}

{% macro html(this, kwargs) %}
<script type="application/json" id="wm-data"><wm-slot name="data"/></script>
{% endmacro %}

{% macro script(this, kwargs) %}
wardMapInit({{ this.map_name }}, JSON.parse(document.getElementById("wm-data").textContent));
{% endmacro %}
"""
    )

    def __init__(self, map_name: str) -> None:
        super().__init__()
        self._name = "WardMap"
        self._id = "layers"
        self.map_name = map_name


def _fill_slots(skeleton: str, data_json: str) -> str:
    """Put the inlined assets and the data into the rendered page's slots, in one pass."""
    leaflet_css, leaflet_js = _leaflet_assets()
    app_css, app_js = _app_assets()
    parts = {
        "leaflet-css": leaflet_css,
        "leaflet-js": leaflet_js,
        "app-css": app_css,
        "app-js": app_js,
        "data": data_json,
    }
    found = _SLOT.findall(skeleton)
    if sorted(found) != sorted(parts):  # pragma: no cover - guards a folium upgrade
        msg = f"map page: expected one slot each of {sorted(parts)}, found {found}."
        raise RuntimeError(msg)
    return _SLOT.sub(lambda match: parts[match[1]], skeleton)


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
    landuse: gpd.GeoDataFrame | LanduseSummary | None = None,
    infrastructure: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | None = None,
    coverage: gpd.GeoDataFrame | None = None,
    findings: pd.DataFrame | None = None,
    progress: Progress | None = None,
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
        merged per hamlet and class; beyond :data:`LANDUSE_SHAPE_LIMIT`
        merged shapes or :data:`LANDUSE_VERTEX_LIMIT` vertices, summarised
        per hamlet: the land-use theme colours hamlets by their largest class
        and their popups chart every class's area and share (the module
        docstring states the rule). A
        :class:`geo.landuse_layer.LanduseSummary` (a per-commune run's, which
        keeps no parcels) is drawn that last way, from the zones'
        ``landuse_<CODE>_km2`` columns.
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
    progress : geo.progress.Progress, optional
        The project's roadmap judged against its history
        (:func:`geo.progress.find_progress`): adds the layer "Tiến độ /
        Progress" (off until chosen in the layer list or the title block),
        colouring the units (outline) and hamlets (fill) that have a roadmap
        line by the status of their most urgent line (met, on track, at risk,
        late, no data; :data:`geo.progress.STATUS_COLOURS`), with every line's
        criterion, latest value, target, deadline, owner and rule in the
        popup, and a legend with the count of each status. Without it, no
        such layer.
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
        aggregated, and a note under the title says so (also beyond
        :data:`ROAD_DETAIL_LIMIT` road lines).

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
        progress=progress,
        title=heading,
        set_names=set_names or {},
        max_features=max_features,
    )
    fmap = _offline_map(data["bounds"], title)
    fmap.add_child(_WardMapElement(fmap.get_name()))
    skeleton: str = fmap.get_root().render()
    return _fill_slots(skeleton, _script_safe_json(data))


def render_result_map(
    result: RunResult, *, progress: Progress | Literal["find"] | None = "find"
) -> str:
    """Render the run's interactive map as one self-contained HTML document.

    Parameters
    ----------
    result : geo.pipeline.RunResult
        A finished run; its ``coverage`` findings are drawn when the run has them.
    progress : geo.progress.Progress, "find" or None, default "find"
        The roadmap progress to draw (see :func:`render_map`). ``"find"``
        reads it from the project folder (:func:`geo.progress.find_progress`:
        only when it has a ``roadmap.csv``); pass the one already loaded to
        read it once, or None for no progress layer.

    Returns
    -------
    str
        The HTML document (UTF-8 text), see :func:`render_map`.

    Raises
    ------
    geo.progress.RoadmapError, geo.history.HistoryError
        With ``"find"``, if the project's roadmap or history cannot be used.
    """
    if isinstance(progress, str):
        from geo.progress import find_progress

        progress = find_progress(result.project)
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
        landuse=next(
            (
                layer
                for layer in (result.landuse, result.landuse_parcels, result.landuse_summary)
                if layer is not None
            ),
            None,
        ),
        infrastructure=result.infrastructure,
        roads=result.roads,
        coverage=getattr(result, "coverage", None),
        findings=result.findings,
        progress=progress,
        title=f"{project.name} — Tiêu chuẩn phường / Ward standards",
        subtitle=subtitle,
        notes=notes,
        sources=sources,
        set_names={s.id: Label(s.name_vi, s.name_en) for s in getattr(result, "sets", ())},
    )
