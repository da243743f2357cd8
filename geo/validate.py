"""Validate each input layer and bring it into the project CRS.

One entry point per input: :func:`validate_layer`. It checks the fields the
project file names, the CRS (present, with VN-2000's datum shift, putting the
data inside Vietnam and the stated province), the geometry types, empty and
non-finite geometries and ids; converts legacy-encoded text to Unicode and
repairs invalid polygons visibly (each conversion and repair is recorded,
repairs with their area change) and reprojects once.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError, ProjError

from geo import crs as vncrs
from geo import encoding, parallel
from geo.errors import CrsError, GeometryError, NoCrsError, NumberFormatError, ValidationError
from geo.names import nfc
from geo.project import LayerSpec
from geo.read import parse_number, read_notes

GEOMETRY_KINDS: dict[str, set[str]] = {
    "units": {"Polygon", "MultiPolygon"},
    "hamlets": {"Polygon", "MultiPolygon"},
    "landuse": {"Polygon", "MultiPolygon"},
    "infrastructure": {"Point", "MultiPoint"},
    "roads": {"LineString", "MultiLineString"},
}
"""Geometry types each layer role accepts."""

MAX_REPAIR_AREA_CHANGE = 0.01
"""A repair that changes a polygon's area by more than this share is refused."""

VIETNAM_MARGIN = 0.1
"""Degrees added around Vietnam's boxes before a feature counts as outside."""
PROVINCE_MARGIN = 0.05
"""Degrees (about 5 km) added around a province's box before a feature counts as outside."""
STUDY_ROLES = ("units", "hamlets")
"""Layers that must lie wholly inside the province; the others need only overlap it."""

_TEXT_FIELDS = ("id", "name", "unit", "code", "kind", "surface")
_POLYGON_TYPE_ID = 3
_MULTIPOLYGON_TYPE_ID = 6


@dataclass(frozen=True)
class Finding:
    """Something the run noticed in the data and the user should know.

    Attributes
    ----------
    layer : str
        Layer or table the finding is about (``units``, ``tables.population``…).
    feature : str
        Id (or row) of the feature concerned; empty for the whole layer.
    kind : str
        Short machine name, e.g. ``geometry_repaired``, ``unmatched_row``,
        ``encoding_converted``.
    message : str
        What happened, in words.
    value : float
        A figure that goes with it (area change in m², count…), NaN if none.
    """

    layer: str
    feature: str
    kind: str
    message: str
    value: float = float("nan")


def validate_layer(
    raw: gpd.GeoDataFrame, spec: LayerSpec, crs: CRS, *, province: str | None = None
) -> tuple[gpd.GeoDataFrame, list[Finding]]:
    """Check a layer against its spec and return it clean, in ``crs``.

    As :func:`validate_layer_rows`, without the rows.
    """
    layer, findings, _ = validate_layer_rows(raw, spec, crs, province=province)
    return layer, findings


def validate_layer_rows(
    raw: gpd.GeoDataFrame, spec: LayerSpec, crs: CRS, *, province: str | None = None
) -> tuple[gpd.GeoDataFrame, list[Finding], np.ndarray]:
    """Check a layer against its spec and return it clean, in ``crs``, with its rows in ``raw``.

    The returned frame has the logical columns (``id``, ``name``,
    ``population``, ``code``, ``kind``, ``surface``…) under their logical
    names, text in Unicode NFC, 2D geometries in ``crs``.

    Parameters
    ----------
    raw : geopandas.GeoDataFrame
        The layer as read; it is not modified.
    spec : LayerSpec
        What the project file says about it.
    crs : pyproj.CRS
        The project CRS.
    province : str, optional
        The project's province: features must lie inside its box (units and
        hamlets wholly, other layers in part). Without it, inside Vietnam.

    Returns
    -------
    layer : geopandas.GeoDataFrame
        With a fresh index (0, 1, …).
    findings : list of Finding
        Reading notes, text conversions, repairs and dropped features; a
        feature without an id is named ``#N``, its row in ``raw`` (1-based).
    rows : numpy.ndarray of int
        Aligned with ``layer``: the 0-based row in ``raw`` of each feature
        (features without a geometry, or with nothing left once repaired, are
        dropped).

    Raises
    ------
    ValidationError
        If a named field is missing or ids are missing or duplicated.
    NoCrsError
        If the layer has no CRS.
    CrsError
        If the CRS is VN-2000 TM-3 without the datum shift, or puts features
        outside Vietnam or the province (swapped axes are recognised).
    GeometryError
        If a geometry type does not fit the layer, a unit or hamlet geometry is
        empty, coordinates are not finite, or a repair changes an area too much.
    NumberFormatError
        If a count is not a number or is negative.
    """
    where = f"{spec.key} ({spec.path.name})"
    findings = [Finding(*note) for note in read_notes(raw)]
    missing = [column for column in spec.fields.values() if column not in raw.columns]
    if missing:
        available = [str(c) for c in raw.columns if c != raw.geometry.name]
        hints = []
        for column in missing:
            close = difflib.get_close_matches(column, available, n=1, cutoff=0.6)
            close += [c for c in available if c.casefold() == column.casefold()][:1]
            if close:
                hints.append(f"{column!r} → {close[-1]!r}?")
        hint = f"; did you mean {', '.join(hints)}" if hints else ""
        raise ValidationError(
            f"{where}: field {', '.join(map(repr, missing))} named in the project file is not "
            f"in the layer (fields: {', '.join(available)}){hint}"
        )
    geometries = _flat(raw.geometry.to_numpy())
    if raw.crs is None:
        raise NoCrsError(
            f"{where}: the layer has no CRS; save it with one (e.g. a .prj beside a shapefile)"
            f"{_coordinate_hint(geometries, crs)}"
        )
    meridian = vncrs.tm3_meridian(raw.crs)
    if meridian is not None and vncrs.lacks_vn2000_shift(raw.crs):
        official = vncrs.tm3_crs(meridian)
        name = f"EPSG:{official.to_epsg()}" if official.to_epsg() else "the VN-2000 TM-3 CRS"
        raise CrsError(
            f"{where}: its CRS is a VN-2000 TM-3 {vncrs.dms(meridian)} projection without "
            "VN-2000's datum shift to WGS 84 (the 'internal' VN-2000, no TOWGS84): read as it "
            f"is, it lands about 200 m off; if the data is VN-2000, give the file {name} (in "
            "QGIS: Set Layer CRS, then export) and run again"
        )
    layer = gpd.GeoDataFrame(
        {logical: raw[column].array for logical, column in spec.fields.items()},
        geometry=geometries,
        crs=raw.crs,
    )
    layer, converted = _clean_text(layer, spec)
    findings += converted
    layer, dropped = _drop_empty(layer, spec, where)
    findings += dropped
    _check_types(layer, spec, where)
    polygons = GEOMETRY_KINDS[spec.role] == {"Polygon", "MultiPolygon"}
    # GEOS finds a polygon with a non-finite coordinate invalid: only those are looked at
    valid = _is_valid(layer.geometry.to_numpy()) if polygons else None
    _check_finite(layer, where, None if valid is None else ~valid)
    if spec.role in STUDY_ROLES:
        _check_ids(layer, where)
    _check_extent(layer, spec, where, province)
    moved = _reproject(layer, crs, where)
    if polygons:
        layer, repairs = _repair_polygons(moved, spec, where, valid if moved is layer else None)
        findings += repairs
    else:
        layer = moved
    # the index was raw's rows all along (messages name features by it): a fresh one now
    return layer.reset_index(drop=True), findings, layer.index.to_numpy(dtype=np.int64)


def _is_valid(geometries: np.ndarray) -> np.ndarray:
    """Return ``shapely.is_valid`` of each geometry, computed on :data:`parallel.THREADS`."""
    return parallel.map_slices(shapely.is_valid, geometries)


def _flat(geometries: np.ndarray) -> np.ndarray:
    """Drop Z (and M) coordinates; geometries without them are kept as they are (no copy)."""
    extra = shapely.has_z(geometries) | shapely.has_m(geometries)
    if not extra.any():
        return geometries
    return shapely.force_2d(geometries)


def _coordinate_hint(geometries: np.ndarray, crs: CRS) -> str:
    xy = shapely.get_coordinates(geometries)
    xy = xy[np.isfinite(xy).all(axis=1)]
    if xy.size == 0:
        return ""
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    extent = f"x {x0:,.0f}…{x1:,.0f}, y {y0:,.0f}…{y1:,.0f}"
    if -180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90:
        return f"; its coordinates ({extent}) look like longitude/latitude: EPSG:4326"
    lon, lat = vncrs.to_lonlat(crs, np.array([(x0 + x1) / 2]), np.array([(y0 + y1) / 2]))
    if vncrs.inside(lon, lat, vncrs.vietnam_boxes(), VIETNAM_MARGIN).all():
        code = crs.to_epsg()
        return (
            f"; its coordinates ({extent}) fit the project CRS"
            f"{f' EPSG:{code}' if code else ''} ({crs.name}): if they are in it, give the file "
            "that CRS"
        )
    return f"; its coordinates are {extent}"


def _clean_text(layer: gpd.GeoDataFrame, spec: LayerSpec) -> tuple[gpd.GeoDataFrame, list[Finding]]:
    """Turn the text fields into Unicode NFC strings, converting legacy encodings.

    Each field is cleaned on its distinct values (a land-use layer has a
    million codes but a few dozen distinct ones) and mapped back: detection
    weighs each distinct value by its count, so the encoding found and the
    number of values converted are those of the whole column.
    """
    findings = []
    for column in _TEXT_FIELDS:
        if column not in layer.columns:
            continue
        codes, distinct = _factorize(layer[column].to_numpy())
        text = [_as_text(v) for v in distinct]
        kept = [i for i, v in enumerate(text) if v != ""]
        counts = np.bincount(codes[codes >= 0], minlength=len(distinct))
        values, weights = [text[i] for i in kept], [int(counts[i]) for i in kept]
        found = encoding.detect(values, weights) if values else None
        if found is not None and found.encoding != "unicode" and found.converted:
            values = encoding.convert(values, found.encoding)
            findings.append(
                Finding(
                    spec.role,
                    f"field {spec.fields[column]}",
                    "encoding_converted",
                    f"{spec.path.name} field {spec.fields[column]!r} is in "
                    f"{found.encoding.upper()} (detected); {found.converted} value(s) converted "
                    "to Unicode",
                    float(found.converted),
                )
            )
        if column == "code":
            values = [v.upper() for v in values]
        cleaned = pd.array([*values, pd.NA], dtype="string")  # the last one for missing values
        position = np.full(len(distinct) + 1, len(values), dtype=np.intp)  # "" is missing too
        position[kept] = np.arange(len(kept))
        layer[column] = pd.Series(cleaned.take(position[codes]), index=layer.index)
    for column in ("population", "households", "official_area"):
        if column in layer.columns:
            layer[column] = parse_counts(layer[column], f"{spec.key} field {spec.fields[column]!r}")
    return layer, findings


_EN_GROUPS_ONLY = re.compile(r"^\s*\d{1,3}(,\d{3})+\s*$")


def parse_counts(values: pd.Series, where: str) -> pd.Series:
    """Parse a column of counts (people, households) written either way.

    ``1.234`` and ``1.234,5`` are read the Vietnamese way; ``1,234`` in a
    count column is read as one thousand two hundred thirty-four (a count is
    not written with three decimals).

    Parameters
    ----------
    values : pandas.Series
        Cells as read (text or numbers). A table read by
        :func:`geo.read.read_table` is indexed by file row numbers, which
        the messages use.
    where : str
        The column's place in the project, for messages.

    Returns
    -------
    pandas.Series
        Floats; NaN for empty cells.

    Raises
    ------
    NumberFormatError
        If a cell is not a number or is negative; the message names the row.
    """
    parsed = []
    by_row = values.index.name == "row"
    for position, (label, value) in enumerate(values.items()):
        row = f"row {label}" if by_row else f"row {position + 1}"
        try:
            if isinstance(value, str) and _EN_GROUPS_ONLY.match(value):
                number = float(value.replace(",", ""))
            else:
                number = parse_number(value)
        except ValueError:
            raise NumberFormatError(
                f"{where}: {row} holds {value!r}, which is not a number; write digits "
                "(17252, 17.252 or 17,252)"
            ) from None
        if number < 0:
            raise NumberFormatError(f"{where}: {row} holds {value!r}, a negative count; fix it")
        parsed.append(number)
    return pd.Series(parsed, index=values.index, dtype="float64")


def _factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the code of each value (-1 where missing) and the distinct values.

    Values that compare equal but print differently (``True`` and ``1``, in a
    column of mixed types) are kept apart: such columns are factorized on
    their text.
    """
    safe = values.dtype.kind in "biuf" or (
        values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) in _SAFE_KINDS
    )
    if not safe:
        values = pd.Series(values).map(_as_text, na_action="ignore").to_numpy(dtype=object)
    codes, distinct = pd.factorize(values, use_na_sentinel=True)
    return codes, np.asarray(distinct, dtype=object)


_SAFE_KINDS = {"string", "bytes", "integer", "floating", "mixed-integer-float", "boolean", "empty"}
"""Inferred dtypes whose equal values also have equal text (:func:`_as_text`)."""


def _as_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bytes):
        return nfc(value.decode("latin-1"))
    return nfc(str(value))


def _drop_empty(
    layer: gpd.GeoDataFrame, spec: LayerSpec, where: str
) -> tuple[gpd.GeoDataFrame, list[Finding]]:
    empty = layer.geometry.isna().to_numpy() | shapely.is_empty(layer.geometry.to_numpy())
    if not empty.any():
        return layer, []
    labels = _labels(layer, np.flatnonzero(empty))
    if spec.role in STUDY_ROLES:
        raise GeometryError(
            f"{where}: feature {', '.join(labels[:10])} has no geometry (empty or null); "
            "draw it or remove the row"
        )
    findings = [
        Finding(spec.role, label, "empty_geometry_dropped", "feature without geometry skipped")
        for label in labels
    ]
    return layer.loc[~empty], findings


def _check_types(layer: gpd.GeoDataFrame, spec: LayerSpec, where: str) -> None:
    geometries = layer.geometry.to_numpy()
    accepted = [shapely.GeometryType[kind.upper()].value for kind in GEOMETRY_KINDS[spec.role]]
    wrong = ~np.isin(shapely.get_type_id(geometries), accepted)  # no text for a million types
    if wrong.any():
        first = np.flatnonzero(wrong)[:5]
        found = sorted(set(layer.geometry.geom_type[wrong]))
        raise GeometryError(
            f"{where}: {int(wrong.sum())} feature(s) of type {', '.join(found)} (e.g. "
            f"{', '.join(_labels(layer, first))}); a {spec.role} layer holds "
            f"{' or '.join(sorted(GEOMETRY_KINDS[spec.role]))} geometries; check "
            f"{spec.key}.path (and .layer) names the right layer"
        )


def _check_finite(layer: gpd.GeoDataFrame, where: str, suspects: np.ndarray | None) -> None:
    """Refuse non-finite coordinates; only ``suspects`` (a mask) are looked at when given."""
    geometries = layer.geometry.to_numpy()
    positions = np.arange(len(geometries)) if suspects is None else np.flatnonzero(suspects)
    if np.isfinite(shapely.get_coordinates(geometries[positions])).all():
        return
    xy, index = shapely.get_coordinates(geometries[positions], return_index=True)
    bad = positions[np.unique(index[~np.isfinite(xy).all(axis=1)])]
    if bad.size:
        raise GeometryError(
            f"{where}: feature {', '.join(_labels(layer, bad[:5]))} has coordinates that are "
            "not numbers (NaN or infinite); redraw or remove it"
        )


def _check_ids(layer: gpd.GeoDataFrame, where: str) -> None:
    ids = layer["id"]
    if ids.isna().any():
        rows = ", ".join(str(i + 1) for i in layer.index[ids.isna().to_numpy()][:5])
        raise ValidationError(
            f"{where}: feature(s) {rows} (1-based) have no id; give each one a unique id"
        )
    duplicated = ids[ids.duplicated(keep=False)]
    if not duplicated.empty:
        raise ValidationError(
            f"{where}: id {', '.join(sorted(set(duplicated))[:10])} is used by more than one "
            "feature; ids must be unique"
        )
    if "name" in layer.columns and layer["name"].isna().any():
        layer.loc[layer["name"].isna(), "name"] = layer.loc[layer["name"].isna(), "id"]


def _centres(geometries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    bounds = shapely.bounds(geometries)
    with np.errstate(all="ignore"):
        return (bounds[:, 0] + bounds[:, 2]) / 2, (bounds[:, 1] + bounds[:, 3]) / 2


def _check_extent(
    layer: gpd.GeoDataFrame, spec: LayerSpec, where: str, province: str | None
) -> None:
    """Refuse a layer whose CRS puts it outside Vietnam or the province, with the likely cause."""
    if _surely_inside(layer, province):
        return
    x, y = _centres(layer.geometry.to_numpy())
    lon, lat = vncrs.to_lonlat(layer.crs, x, y)
    boxes = vncrs.vietnam_boxes()
    outside = ~vncrs.inside(lon, lat, boxes, VIETNAM_MARGIN)
    area = "Vietnam"
    bbox = vncrs.province_bounds(province)
    if not outside.any() and bbox is not None:
        in_province = vncrs.inside(lon, lat, (bbox,), PROVINCE_MARGIN) | vncrs.inside(
            lon, lat, boxes[1:], VIETNAM_MARGIN
        )
        if spec.role in STUDY_ROLES or not in_province.any():
            outside = ~in_province
            area = f"{province} (box {bbox[0]:.2f}–{bbox[2]:.2f}°E, {bbox[1]:.2f}–{bbox[3]:.2f}°N)"
    if not outside.any():
        return
    positions = np.flatnonzero(outside)
    first = positions[0]
    at = (
        f"{lon[first]:.3f}°E {lat[first]:.3f}°N"
        if math.isfinite(lon[first])
        else f"x {x[first]:,.6g}, y {y[first]:,.6g}, which has no longitude/latitude"
    )
    raise CrsError(
        f"{where}: {positions.size} of {len(layer)} feature(s) lie outside {area} in the "
        f"layer's CRS ({layer.crs.name}), e.g. {_labels(layer, positions[:1])[0]} at {at}; "
        f"{_extent_hint(layer.crs, x, y, boxes, bbox, province)}"
    )


def _surely_inside(layer: gpd.GeoDataFrame, province: str | None) -> bool:
    """Whether the layer's whole extent lies inside the province (or Vietnam) box.

    The fast path of :func:`_check_extent`: the layer's bounding box, its
    edges densified, is transformed to longitude and latitude
    (``Transformer.transform_bounds``); when that box lies inside one box of
    Vietnam and inside the province's box, both grown by their margins, every
    feature centre does too. False sends the layer to the per-feature check.
    """
    bounds = layer.geometry.total_bounds
    if len(layer) == 0 or not np.isfinite(bounds).all():
        return False
    try:
        transformer = vncrs.lonlat_transformer(layer.crs)
        xmin, ymin, xmax, ymax = (float(v) for v in bounds)
        west, south, east, north = transformer.transform_bounds(
            xmin, ymin, xmax, ymax, densify_pts=21
        )
    except (CRSError, ProjError):
        return False
    corners = np.array([west, east, west, east]), np.array([south, south, north, north])
    if not np.isfinite(corners).all():
        return False
    in_vietnam = any(
        vncrs.inside(*corners, (box,), VIETNAM_MARGIN).all() for box in vncrs.vietnam_boxes()
    )
    bbox = vncrs.province_bounds(province)
    in_province = bbox is None or bool(vncrs.inside(*corners, (bbox,), PROVINCE_MARGIN).all())
    return in_vietnam and in_province


def _extent_hint(  # noqa: PLR0917 - private helper of _check_extent
    crs: CRS,
    x: np.ndarray,
    y: np.ndarray,
    boxes: tuple[tuple[float, float, float, float], ...],
    bbox: tuple[float, float, float, float] | None,
    province: str | None,
) -> str:
    target = (bbox,) if bbox is not None else boxes[:1]

    def fits(candidate: CRS, xs: np.ndarray, ys: np.ndarray) -> bool:
        lon, lat = vncrs.to_lonlat(candidate, xs, ys)
        return bool(vncrs.inside(lon, lat, target, PROVINCE_MARGIN).mean() > 0.9)

    if fits(crs, y, x):
        return "x and y look swapped (northing or latitude first): swap the columns and save again"
    if crs.is_geographic and np.nanmax(np.abs(np.r_[x, y])) > 360:
        return (
            "the CRS says degrees but the coordinates look like metres: give the file its "
            "projected CRS (e.g. the province's VN-2000 TM-3)"
        )
    if crs.is_projected and np.nanmax(np.abs(np.r_[x, y])) <= 180:
        return "the coordinates look like degrees: give the file EPSG:4326"
    if province:
        zones = vncrs.find_zones(province)
        meridians = sorted(
            {z.meridian for z in zones} | {m for z in zones for m in z.member_meridians}
        )
        for meridian in meridians:
            candidate = vncrs.tm3_crs(meridian)
            if candidate != crs and fits(candidate, x, y):
                code = candidate.to_epsg()
                return (
                    f"the coordinates fit {province} in VN-2000 TM-3 {vncrs.dms(meridian)}"
                    f"{f' (EPSG:{code})' if code else ''}: the file's CRS names another one"
                )
    return "check the layer's CRS (the .prj of a shapefile) and the project's province"


def _reproject(layer: gpd.GeoDataFrame, crs: CRS, where: str) -> gpd.GeoDataFrame:
    if layer.crs.is_exact_same(crs):  # as to_crs does; the coordinates were checked finite
        return layer
    with np.errstate(all="ignore"):
        moved = layer.to_crs(crs)
    xy, index = shapely.get_coordinates(moved.geometry.to_numpy(), return_index=True)
    bad = np.unique(index[~np.isfinite(xy).all(axis=1)])
    if bad.size:
        raise CrsError(
            f"{where}: feature {', '.join(_labels(layer, bad[:5]))} cannot be reprojected to "
            f"the project CRS ({crs.name}); check the layer's CRS"
        )
    return moved


def _repair_polygons(
    layer: gpd.GeoDataFrame, spec: LayerSpec, where: str, valid: np.ndarray | None = None
) -> tuple[gpd.GeoDataFrame, list[Finding]]:
    """Repair the invalid polygons (``valid``: their validity, when already known)."""
    geometries = layer.geometry.to_numpy()
    invalid = np.flatnonzero(~(_is_valid(geometries) if valid is None else valid))
    if invalid.size == 0:
        return layer, []
    before = shapely.area(geometries[invalid])
    reasons = shapely.is_valid_reason(geometries[invalid])
    repaired = parallel.map_slices(_make_valid, geometries[invalid])
    mixed = ~np.isin(shapely.get_type_id(repaired), [_POLYGON_TYPE_ID, _MULTIPOLYGON_TYPE_ID])
    repaired[mixed] = [_polygonal_part(geometry) for geometry in repaired[mixed]]
    after = shapely.area(repaired)
    empty = shapely.is_empty(repaired)
    findings = []
    labels = _labels(layer, invalid)
    collapsed = []
    for k, (position, label, old, new, reason) in enumerate(
        zip(invalid, labels, before, after, reasons, strict=True)
    ):
        change = new - old
        if empty[k]:
            if spec.role in STUDY_ROLES:
                raise GeometryError(
                    f"{where}: feature {label} is invalid ({reason}) and nothing of it is left "
                    "once repaired (no area); redraw it"
                )
            collapsed.append(position)
            findings.append(
                Finding(
                    spec.role,
                    label,
                    "geometry_dropped",
                    f"invalid ({reason}); no area left once repaired, skipped",
                    change,
                )
            )
            continue
        if old > 0 and abs(change) / old > MAX_REPAIR_AREA_CHANGE:
            raise GeometryError(
                f"{where}: feature {label} is invalid ({reason}); repairing it changes its "
                f"area by {change:+.1f} m² ({change / old:+.1%}), more than "
                f"{MAX_REPAIR_AREA_CHANGE:.0%}; fix it in a GIS"
            )
        findings.append(
            Finding(spec.role, label, "geometry_repaired", f"invalid ({reason}); repaired", change)
        )
    geometries = geometries.copy()
    geometries[invalid] = repaired
    layer = layer.copy()
    layer.geometry = gpd.GeoSeries(geometries, index=layer.index, crs=layer.crs)
    if collapsed:
        layer = layer.drop(index=layer.index[collapsed])
    return layer, findings


def _make_valid(geometries: np.ndarray) -> np.ndarray:
    """Repair polygons by their structure (shells fill, holes cut), dropping collapsed parts."""
    return shapely.make_valid(geometries, method="structure", keep_collapsed=False)


def _polygonal_part(geometry: shapely.Geometry) -> shapely.Geometry:
    """Keep only the polygons of a repaired geometry (drop stray lines, points)."""
    if shapely.get_type_id(geometry) in {_POLYGON_TYPE_ID, _MULTIPOLYGON_TYPE_ID}:
        return geometry
    parts = shapely.get_parts(geometry)
    polygons = parts[np.isin(shapely.get_type_id(parts), [_POLYGON_TYPE_ID, _MULTIPOLYGON_TYPE_ID])]
    return shapely.union_all(polygons) if polygons.size else shapely.Polygon()


def _labels(layer: pd.DataFrame, positions: np.ndarray) -> list[str]:
    """Name features by id, else ``#N``: N their 1-based row as read (``layer``'s index)."""
    rows = layer.index.to_numpy()
    if "id" in layer.columns:
        return [
            f"id={layer['id'].iloc[i]}" if pd.notna(layer["id"].iloc[i]) else f"#{rows[i] + 1}"
            for i in positions
        ]
    return [f"#{rows[i] + 1}" for i in positions]
