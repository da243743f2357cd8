"""Validate each input layer and bring it into the project CRS.

One entry point per input: :func:`validate_layer`. It checks the fields the
project file names, the CRS, the geometry types, empty geometries and ids;
repairs invalid polygons visibly (each repair is recorded with its area
change) and reprojects once.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from geo.errors import NoCrsError, ValidationError
from geo.names import nfc
from geo.project import LayerSpec
from geo.read import parse_number

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
        Short machine name, e.g. ``geometry_repaired``, ``unmatched_row``.
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
    raw: gpd.GeoDataFrame, spec: LayerSpec, crs: CRS
) -> tuple[gpd.GeoDataFrame, list[Finding]]:
    """Check a layer against its spec and return it clean, in ``crs``.

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

    Returns
    -------
    layer : geopandas.GeoDataFrame
    findings : list of Finding
        Repairs and dropped features, for the data-quality report.

    Raises
    ------
    ValidationError
        If a named field is missing, the CRS is missing, a geometry type does
        not fit the layer, a unit or hamlet geometry is empty, a repair changes
        an area too much, or ids are missing or duplicated.
    """
    where = f"{spec.key} ({spec.path.name})"
    findings: list[Finding] = []
    missing = [column for column in spec.fields.values() if column not in raw.columns]
    if missing:
        available = ", ".join(str(c) for c in raw.columns if c != raw.geometry.name)
        raise ValidationError(
            f"{where}: field {', '.join(map(repr, missing))} named in the project file is not "
            f"in the layer (fields: {available})"
        )
    if raw.crs is None:
        raise NoCrsError(
            f"{where}: the layer has no CRS; save it with one (e.g. a .prj beside a shapefile)"
        )
    layer = gpd.GeoDataFrame(
        {logical: raw[column].to_numpy() for logical, column in spec.fields.items()},
        geometry=shapely.force_2d(raw.geometry.to_numpy()),
        crs=raw.crs,
    )
    layer = _clean_text(layer, spec)
    layer, dropped = _drop_empty(layer, spec, where)
    findings += dropped
    _check_types(layer, spec, where)
    if spec.role in {"units", "hamlets"}:
        _check_ids(layer, where)
    layer = layer.to_crs(crs)
    if GEOMETRY_KINDS[spec.role] == {"Polygon", "MultiPolygon"}:
        layer, repairs = _repair_polygons(layer, spec, where)
        findings += repairs
    return layer, findings


def _clean_text(layer: gpd.GeoDataFrame, spec: LayerSpec) -> gpd.GeoDataFrame:
    for column in ("id", "name", "unit", "code", "kind", "surface"):
        if column not in layer.columns:
            continue
        values = layer[column]
        text = values.map(_as_text, na_action="ignore")
        if column == "code":
            text = text.str.upper()
        layer[column] = text.astype("string")
    for column in ("population", "households"):
        if column in layer.columns:
            layer[column] = parse_counts(layer[column], f"{spec.key} field {spec.fields[column]!r}")
    return layer


def parse_counts(values: pd.Series, where: str) -> pd.Series:
    """Parse a column of counts (people, households) written either way.

    Parameters
    ----------
    values : pandas.Series
        Cells as read (text or numbers).
    where : str
        The column's place in the project, for messages.

    Returns
    -------
    pandas.Series
        Floats; NaN for empty cells.

    Raises
    ------
    ValidationError
        If a cell is not a number or is negative; the message names the row.
    """
    parsed = []
    for position, value in enumerate(values):
        try:
            number = parse_number(value)
        except ValueError:
            raise ValidationError(
                f"{where}: row {position + 1} holds {value!r}, which is not a number"
            ) from None
        if number < 0:
            raise ValidationError(f"{where}: row {position + 1} holds {value!r}, a negative count")
        parsed.append(number)
    return pd.Series(parsed, index=values.index, dtype="float64")


def _as_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return nfc(str(value))


def _drop_empty(
    layer: gpd.GeoDataFrame, spec: LayerSpec, where: str
) -> tuple[gpd.GeoDataFrame, list[Finding]]:
    empty = layer.geometry.isna().to_numpy() | shapely.is_empty(layer.geometry.to_numpy())
    if not empty.any():
        return layer, []
    labels = _labels(layer, np.flatnonzero(empty))
    if spec.role in {"units", "hamlets"}:
        raise ValidationError(
            f"{where}: feature {', '.join(labels)} has no geometry; draw it or remove the row"
        )
    findings = [
        Finding(spec.role, label, "empty_geometry_dropped", "feature without geometry skipped")
        for label in labels
    ]
    return layer.loc[~empty].reset_index(drop=True), findings


def _check_types(layer: gpd.GeoDataFrame, spec: LayerSpec, where: str) -> None:
    types = layer.geometry.geom_type
    wrong = ~types.isin(sorted(GEOMETRY_KINDS[spec.role]))
    if wrong.any():
        first = np.flatnonzero(wrong.to_numpy())[:5]
        found = sorted(set(types[wrong]))
        raise ValidationError(
            f"{where}: {int(wrong.sum())} feature(s) of type {', '.join(found)} (e.g. "
            f"{', '.join(_labels(layer, first))}); a {spec.role} layer holds "
            f"{' or '.join(sorted(GEOMETRY_KINDS[spec.role]))} geometries"
        )


def _check_ids(layer: gpd.GeoDataFrame, where: str) -> None:
    ids = layer["id"]
    if ids.isna().any():
        rows = ", ".join(str(i + 1) for i in np.flatnonzero(ids.isna().to_numpy())[:5])
        raise ValidationError(f"{where}: feature(s) {rows} (1-based) have no id; give each one")
    duplicated = ids[ids.duplicated(keep=False)]
    if not duplicated.empty:
        raise ValidationError(
            f"{where}: id {', '.join(sorted(set(duplicated)))} is used by more than one "
            "feature; ids must be unique"
        )
    if "name" in layer.columns and layer["name"].isna().any():
        layer.loc[layer["name"].isna(), "name"] = layer.loc[layer["name"].isna(), "id"]


def _repair_polygons(
    layer: gpd.GeoDataFrame, spec: LayerSpec, where: str
) -> tuple[gpd.GeoDataFrame, list[Finding]]:
    geometries = layer.geometry.to_numpy()
    invalid = np.flatnonzero(~shapely.is_valid(geometries))
    if invalid.size == 0:
        return layer, []
    before = shapely.area(geometries[invalid])
    repaired = shapely.make_valid(geometries[invalid], method="structure", keep_collapsed=False)
    repaired = np.array([_polygonal_part(geometry) for geometry in repaired], dtype=object)
    after = shapely.area(repaired)
    findings = []
    labels = _labels(layer, invalid)
    for label, old, new, reason in zip(
        labels, before, after, shapely.is_valid_reason(geometries[invalid]), strict=True
    ):
        change = new - old
        if old > 0 and abs(change) / old > MAX_REPAIR_AREA_CHANGE:
            raise ValidationError(
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
    return layer, findings


def _polygonal_part(geometry: shapely.Geometry) -> shapely.Geometry:
    """Keep only the polygons of a repaired geometry (drop stray lines, points)."""
    if shapely.get_type_id(geometry) in {_POLYGON_TYPE_ID, _MULTIPOLYGON_TYPE_ID}:
        return geometry
    parts = shapely.get_parts(geometry)
    polygons = parts[np.isin(shapely.get_type_id(parts), [_POLYGON_TYPE_ID, _MULTIPOLYGON_TYPE_ID])]
    return shapely.union_all(polygons) if polygons.size else shapely.Polygon()


def _labels(layer: pd.DataFrame, positions: np.ndarray) -> list[str]:
    if "id" in layer.columns:
        return [
            f"id={layer['id'].iloc[i]}" if pd.notna(layer["id"].iloc[i]) else f"#{i + 1}"
            for i in positions
        ]
    return [f"#{i + 1}" for i in positions]
