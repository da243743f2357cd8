"""Self-contained interactive HTML map of the ward-standard check.

The page is built with folium's page model but opens with no network: folium's
CDN links are dropped and Leaflet 1.9.4 (vendored under ``geo/_assets``) is
inlined. Each layer's GeoJSON is embedded once, as JSON data, and styled in
JavaScript from one property per feature (never a per-feature style function).
Every attribute value is displayed as text, never parsed as HTML.
"""

from __future__ import annotations

import base64
import json
import math
from bisect import bisect_right
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
    INFRASTRUCTURE_LABELS,
    LEVEL_LABELS,
    NO_DATA_LABEL,
    STATUS_LABELS,
    SURFACE_LABELS,
    Label,
    column_label,
)

if TYPE_CHECKING:
    from geo.pipeline import RunResult

__all__ = ["DENSITY_BREAKS", "format_number_vi", "render_map", "render_result_map"]

_ASSETS: Final = Path(__file__).parent / "_assets"
_LEAFLET_DIR: Final = _ASSETS / "leaflet-1.9.4"

COORD_DECIMALS: Final = 6
"""Decimals kept in embedded coordinates (~0.1 m)."""

DENSITY_BREAKS: Final[tuple[float, ...]] = (500.0, 1000.0, 2000.0, 5000.0)
"""Class limits of hamlet population density, people/km² (fixed, comparable across maps)."""

_DENSITY_COLORS: Final = ("#f1eef6", "#bdc9e1", "#74a9cf", "#2b8cbe", "#045a8d")
_NO_DATA_COLOR: Final = "#cfcfcf"
_STATUS_COLORS: Final = {"pass": "#1a9641", "fail": "#d7191c", "not_assessed": "#9a9a9a"}
_KIND_COLORS: Final = {
    "school": "#1f77b4",
    "kindergarten": "#17becf",
    "health_station": "#d62728",
    "cultural_house": "#9467bd",
    "market": "#ff7f0e",
    "sports_ground": "#2ca02c",
    "university": "#393b79",
    "place_of_worship": "#8c564b",
    "administration": "#e377c2",
    "other": "#7f7f7f",
}
_SURFACE_STYLES: Final = {  # colour, weight, dash
    "asphalt": ("#3c3c3c", 3.0, None),
    "concrete": ("#7a7a7a", 2.5, None),
    "gravel": ("#b5884f", 2.0, None),
    "earth": ("#a1694a", 1.8, "5 3"),
    "unknown": ("#a8a8a8", 1.5, "2 3"),
}
_OPERATORS: Final = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "==": "=", "=": "="}
_NOT_INDICATORS: Final = frozenset(
    {"id", "name", "unit_id", "geometry", "ward_verdict", "population_source"}
)
_LABEL_MIN_ZOOM: Final = 12

_LEAFLET_PREFIX_LINK: Final = '<a href="https://leafletjs.com" '
"""The attribution prefix's link to leafletjs.com: dropped so the page links to nothing."""
_OSM_URL: Final = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"

_UI: Final[dict[str, Label]] = {
    "noData": NO_DATA_LABEL,
    "populationSource": COLUMN_LABELS["population_source"],
    "criterion": Label("Tiêu chí", "Criterion"),
    "value": Label("Giá trị", "Value"),
    "threshold": Label("Ngưỡng", "Threshold"),
    "status": COLUMN_LABELS["status"],
    "gap": Label("Còn thiếu", "Gap"),
    "source": Label("Nguồn", "Source"),
    "sources": Label("Nguồn dữ liệu", "Sources"),
    "notesAndSources": Label("Ghi chú và nguồn dữ liệu", "Notes and data sources"),
    "note": Label("Ghi chú", "Note"),
    "code": COLUMN_LABELS["id"],
    "name": COLUMN_LABELS["name"],
    "commune": Label("Thuộc xã / phường", "In commune / ward"),
    "verdict": COLUMN_LABELS["ward_verdict"],
    "criteria": Label("Các tiêu chí", "Criteria"),
    "unitsLayer": Label(
        "Xã / phường: kết luận tiêu chuẩn phường", "Communes: ward-standard verdict"
    ),
    "hamletLines": Label("Ranh giới và tên thôn", "Hamlet boundaries and names"),
    "hamletBoundary": Label("Ranh giới thôn", "Hamlet boundary"),
    "densityLayer": Label("Thôn: mật độ dân số", "Hamlets: population density"),
    "hamletPrefix": Label("Thôn", "Hamlets"),
    "roads": Label("Đường giao thông", "Roads"),
    "surface": Label("Mặt đường", "Surface"),
    "infrastructure": Label("Hạ tầng", "Infrastructure"),
}


# --------------------------------------------------------------------------- numbers


def format_number_vi(value: float | None, decimals: int = 0) -> str:
    """Format a number the Vietnamese way: ``.`` groups thousands, ``,`` marks decimals.

    Parameters
    ----------
    value : float or None
        The number. ``None``, NaN and infinities give an empty string.
    decimals : int, default 0
        Number of decimals kept (rounded half to even, as Python's ``format``).

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
    """
    if value is None or not math.isfinite(value):
        return ""
    number = float(value)
    if round(number, decimals) == 0:
        number = 0.0  # no "-0,00"
    text = f"{number:,.{decimals}f}"
    return text.translate(str.maketrans(",.", ".,"))


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


# --------------------------------------------------------------------------- geometry


def _display_geometries(frame: gpd.GeoDataFrame) -> list[Any]:
    """Return GeoJSON geometries in EPSG:4326, rounded to ``COORD_DECIMALS``."""
    geoms = frame.geometry.to_crs(4326).to_numpy()
    rounded = shapely.transform(geoms, lambda xy: np.round(xy, COORD_DECIMALS))
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
    """Return a GeoJSON FeatureCollection."""
    features = [
        {"type": "Feature", "geometry": geom, "properties": props}
        for geom, props in zip(geometries, properties, strict=True)
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


def _criterion_row(row: Mapping[Any, Any]) -> dict[str, Any]:
    """Return one criteria-table row as shown in a popup."""
    confidence = _text(row.get("confidence"))
    threshold = _number_or_none(row.get("threshold"))
    operator = _text(row.get("operator"))
    return {
        "vi": _text(row.get("criterion_vi")) or _text(row.get("criterion")),
        "en": _text(row.get("criterion_en")),
        "val": _number_or_none(row.get("value")),
        "op": _OPERATORS.get(operator, operator),
        "thr": threshold,
        "uom": _text(row.get("unit_of_measure")),
        "st": _status(row.get("status"), f"criteria {row.get('criterion')!r}"),
        "gap": _number_or_none(row.get("gap")),
        "src": _text(row.get("source")),
        "conf": confidence if confidence in CONFIDENCE_LABELS else "unknown",
        "note": _text(row.get("note")),
    }


def _criteria_of_level(criteria: pd.DataFrame, level: str) -> list[dict[Any, Any]]:
    """Return the criteria rows of one level as records; an empty table has none."""
    if criteria.empty:
        return []
    missing = {"level", "id", "criterion", "status"} - set(criteria.columns)
    if missing:
        msg = f"criteria: missing columns {sorted(missing)}."
        raise ValueError(msg)
    return criteria[criteria["level"] == level].to_dict("records")


def _criteria_by_id(criteria: pd.DataFrame, level: str) -> dict[str, list[dict[str, Any]]]:
    """Group the criteria rows of one level by feature id, keeping table order."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in _criteria_of_level(criteria, level):
        entry = _criterion_row(row) | {"code": _text(row["criterion"])}
        grouped.setdefault(_text(row["id"]), []).append(entry)
    return grouped


def _hamlet_criteria(criteria: pd.DataFrame) -> list[dict[str, str]]:
    """Return the hamlet-level criteria (code, vi, en), in order of first appearance."""
    found: dict[str, dict[str, str]] = {}
    for row in _criteria_of_level(criteria, "hamlet"):
        code = _text(row["criterion"])
        found.setdefault(
            code,
            {
                "code": code,
                "vi": _text(row.get("criterion_vi")) or code,
                "en": _text(row.get("criterion_en")),
            },
        )
    return list(found.values())


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


# --------------------------------------------------------------------------- layers


def _area_spec(
    frame: gpd.GeoDataFrame,
    criteria: dict[str, list[dict[str, Any]]],
    level: str,
    extra: list[dict[str, Any]],
) -> dict[str, Any]:
    """Return a polygon layer (units or hamlets): columns, level label, GeoJSON."""
    columns = _indicator_columns(frame)
    values = _indicator_values(frame, columns)
    properties = []
    for ident, name, row_values, more in zip(
        frame["id"].tolist(), frame["name"].tolist(), values, extra, strict=True
    ):
        rows = criteria.get(_text(ident), [])
        props = {"id": _text(ident), "name": _text(name), "iv": row_values, "cr": rows}
        properties.append(props | more)
    return {
        "level": LEVEL_LABELS[level],
        "columns": [list(column_label(column)) for column in columns],
        "geojson": _collection(_display_geometries(frame), properties),
    }


def _unit_extra(units: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """Return the unit-only properties: verdict and population source."""
    verdicts = _column_or_none(units, "ward_verdict")
    sources = _column_or_none(units, "population_source")
    return [
        {"st": _status(verdict, "units.ward_verdict"), "ps": _text(source)}
        for verdict, source in zip(verdicts, sources, strict=True)
    ]


def _density_class(value: Any) -> int:
    """Return the density class index, or -1 when the density is missing."""
    if value is None or pd.isna(value) or not math.isfinite(float(value)):
        return -1
    return bisect_right(DENSITY_BREAKS, float(value))


def _hamlet_extra(
    hamlets: gpd.GeoDataFrame, units: gpd.GeoDataFrame, criteria: dict[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Return the hamlet-only properties: density class, commune, criteria statuses, label point."""
    unit_names = {_text(i): _text(n) for i, n in zip(units["id"], units["name"], strict=True)}
    columns = zip(
        hamlets["id"].tolist(),
        _column_or_none(hamlets, "unit_id"),
        _column_or_none(hamlets, "density_per_km2"),
        _label_points(hamlets),
        strict=True,
    )
    return [
        {
            "dc": _density_class(density),
            "unit": unit_names.get(_text(unit_id), _text(unit_id)),
            "cs": {row["code"]: row["st"] for row in criteria.get(_text(ident), [])},
            "lp": label_point,
        }
        for ident, unit_id, density, label_point in columns
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


def _point_spec(points: gpd.GeoDataFrame) -> dict[str, Any]:
    """Return the infrastructure layer: kinds (label, colour), present kinds, GeoJSON."""
    keys = list(INFRASTRUCTURE_LABELS)
    names = _column_or_none(points, "name")
    kinds = [k if k in INFRASTRUCTURE_LABELS else "other" for k in map(_text, points["kind"])]
    properties = [
        {"k": keys.index(kind), "name": _text(name)}
        for kind, name in zip(kinds, names, strict=True)
    ]
    return {
        "kinds": [
            {"label": INFRASTRUCTURE_LABELS[k], "color": _KIND_COLORS.get(k, "#7f7f7f")}
            for k in keys
        ],
        "present": sorted({p["k"] for p in properties}),
        "geojson": _collection(_display_geometries(points), properties),
    }


def _road_spec(roads: gpd.GeoDataFrame) -> dict[str, Any]:
    """Return the road layer: surface classes (label, colour, weight, dash), GeoJSON."""
    keys = list(_SURFACE_STYLES)
    surfaces = _column_or_none(roads, "surface")
    names = _column_or_none(roads, "name")
    properties = [
        {"s": keys.index(s if s in _SURFACE_STYLES else "unknown"), "name": _text(n)}
        for s, n in zip(map(_text, surfaces), names, strict=True)
    ]
    classes = [
        {"label": SURFACE_LABELS[k], "color": color, "weight": weight, "dash": dash}
        for k, (color, weight, dash) in _SURFACE_STYLES.items()
    ]
    return {
        "classes": classes,
        "present": sorted({p["s"] for p in properties}),
        "geojson": _collection(_display_geometries(roads), properties),
    }


# --------------------------------------------------------------------------- page


def _map_data(
    units: gpd.GeoDataFrame,
    hamlets: gpd.GeoDataFrame | None,
    criteria: pd.DataFrame,
    infrastructure: gpd.GeoDataFrame | None,
    roads: gpd.GeoDataFrame | None,
    *,
    title: dict[str, Any],
) -> dict[str, Any]:
    """Return everything the page script needs, as JSON-ready data."""
    _check_layer(units, ["id", "name"], "units")
    _check_layer(hamlets, ["id", "name"], "hamlets")
    _check_layer(infrastructure, ["kind"], "infrastructure")
    _check_layer(roads, [], "roads")
    unit_criteria = _criteria_by_id(criteria, "unit")
    data: dict[str, Any] = {
        "ui": _UI,
        "status": {
            "order": list(STATUS_LABELS),
            "labels": STATUS_LABELS,
            "colors": _STATUS_COLORS,
        },
        "confidence": CONFIDENCE_LABELS,
        "title": title,
        "bounds": _bounds(units),
        "labelMinZoom": _LABEL_MIN_ZOOM,
        "units": _area_spec(units, unit_criteria, "unit", _unit_extra(units)),
        "hamlets": None,
        "hamletCriteria": [],
        "density": _density_legend(),
        "infrastructure": None if infrastructure is None else _point_spec(infrastructure),
        "roads": None if roads is None else _road_spec(roads),
        "basemap": {
            "url": _OSM_URL,
            "attribution": "© OpenStreetMap contributors",
            "label": Label("Nền OpenStreetMap (cần Internet)", "OpenStreetMap background (online)"),
        },
    }
    if hamlets is not None:
        by_id = _criteria_by_id(criteria, "hamlet")
        extra = _hamlet_extra(hamlets, units, by_id)
        data["hamlets"] = _area_spec(hamlets, by_id, "hamlet", extra)
        data["hamletCriteria"] = _hamlet_criteria(criteria)
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


@cache
def _leaflet_assets() -> tuple[str, str]:
    """Return Leaflet's CSS (images inlined) and JS, from the vendored copy."""
    css = (_LEAFLET_DIR / "leaflet.css").read_text(encoding="utf-8")
    images = _LEAFLET_DIR / "images"
    for name in ("layers-2x.png", "layers.png"):
        css = css.replace(f"url(images/{name})", f"url({_data_uri(images / name)})")
    css = css.replace("url(images/marker-icon.png)", "none")
    js = (_LEAFLET_DIR / "leaflet.js").read_text(encoding="utf-8")
    if js.count(_LEAFLET_PREFIX_LINK) != 1:  # pragma: no cover - guards an upgrade
        msg = f"vendored leaflet.js: expected one {_LEAFLET_PREFIX_LINK!r}; see its README."
        raise RuntimeError(msg)
    return css, js.replace(_LEAFLET_PREFIX_LINK, "<a ")


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
        location=center, tiles=None, zoom_start=12, zoom_control=False, zoom_snap=0.25
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
    infrastructure: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | None = None,
    title: str,
    subtitle: str = "",
    notes: Sequence[str] = (),
    sources: Sequence[str] = (),
) -> str:
    """Return the map as one self-contained HTML document.

    The page needs no network: Leaflet is inlined and no tiles are shown
    unless the reader turns on the (online) OpenStreetMap background.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Communes / wards (polygons, any defined CRS) with ``id``, ``name``,
        indicator columns, ``population_source`` and ``ward_verdict``
        (``"pass"``, ``"fail"`` or ``"not_assessed"``; missing = not assessed).
    hamlets : geopandas.GeoDataFrame or None
        Hamlets with ``id``, ``name``, ``unit_id`` and indicator columns.
    criteria : pandas.DataFrame
        One row per (feature, criterion): ``level``, ``id``, ``criterion``,
        ``criterion_vi``, ``criterion_en``, ``value``, ``operator``,
        ``threshold``, ``unit_of_measure``, ``status``, ``gap``, ``source``,
        ``confidence``, ``note``. Hamlet-level criteria get a layer each.
    infrastructure : geopandas.GeoDataFrame, optional
        Points with ``kind`` (a key of ``geo.labels.INFRASTRUCTURE_LABELS``,
        others are drawn as ``"other"``) and ``name``.
    roads : geopandas.GeoDataFrame, optional
        Lines with ``surface`` (a key of ``geo.labels.SURFACE_LABELS``).
    title : str
        Title of the map.
    subtitle : str, optional
        Second line, e.g. the standards applied and their date.
    notes : sequence of str, optional
        Warnings shown under the title, e.g. ``"Dữ liệu minh họa / illustrative data"``.
    sources : sequence of str, optional
        Data sources listed in the title block.

    Returns
    -------
    str
        The HTML document (UTF-8 text).

    Raises
    ------
    ValueError
        If a layer has no CRS or lacks ``id``/``name`` (``kind`` for
        infrastructure), if the units have no geometry, or if a status is
        not one of ``pass``, ``fail``, ``not_assessed``.

    Examples
    --------
    >>> html = render_map(units, hamlets, criteria, title="Xã Quyết Thắng")  # doctest: +SKIP
    >>> Path("map.html").write_text(html, encoding="utf-8")  # doctest: +SKIP
    """
    heading = {"title": title, "subtitle": subtitle, "notes": list(notes), "sources": list(sources)}
    data = _map_data(units, hamlets, criteria, infrastructure, roads, title=heading)
    fmap = _offline_map(data["bounds"], title)
    fmap.add_child(_WardMapElement(fmap.get_name(), _script_safe_json(data)))
    html: str = fmap.get_root().render()
    return html


def render_result_map(result: RunResult) -> str:
    """Render the run's interactive map as one self-contained HTML document."""
    project = result.project
    standard = result.standard
    notes = [note for note in (project.note,) if note]
    notes += [f"Chưa kiểm tra / not checked: {item}" for item in standard.not_checked]
    sources = [s for s in (project.sources,) if s]
    sources.append(f"{standard.name_vi} / {standard.name_en}")
    subtitle = (
        f"Tiêu chuẩn áp dụng ngày / standards as of {project.as_of:%d/%m/%Y}: {standard.name_vi}"
        f" — {STATUS_LABELS['pass'].vi} / {STATUS_LABELS['fail'].vi} theo dân số và diện tích"
    )
    return render_map(
        result.units,
        result.hamlets,
        result.criteria,
        infrastructure=result.infrastructure,
        roads=result.roads,
        title=f"{project.name} — Tiêu chuẩn phường / Ward standards",
        subtitle=subtitle,
        notes=notes,
        sources=sources,
    )
