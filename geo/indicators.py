"""Indicators per zone (commune or hamlet): area, population, land use, services, roads.

Every measure is computed in the project's projected CRS. Parcels and road
lines are split exactly across zone boundaries (by intersection, never by
centroid); only the pairs that cross a boundary are intersected.
"""

from __future__ import annotations

from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import require_projected
from geo.resources import LandUseCode, landuse_codes
from geo.validate import Finding

M2_PER_KM2 = 1_000_000.0
M_PER_KM = 1_000.0
LANDUSE_GROUPS = ("agricultural", "non_agricultural", "unused")


def area_km2(zones: gpd.GeoDataFrame) -> pd.Series:
    """Return the planimetric area of each zone in km².

    Parameters
    ----------
    zones : geopandas.GeoDataFrame
        Polygons in a projected CRS in metres.

    Returns
    -------
    pandas.Series
        Aligned with ``zones``.

    Raises
    ------
    GeographicCrsError
        If the CRS is geographic: areas in degrees are refused, not warned about.
    """
    require_projected(zones.crs, "areas")
    return pd.Series(shapely.area(zones.geometry.to_numpy()) / M2_PER_KM2, index=zones.index)


def split_polygons(
    parcels: np.ndarray, zones: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split polygons exactly across zones.

    Parameters
    ----------
    parcels, zones : numpy.ndarray of shapely geometries
        Polygons in one projected CRS.

    Returns
    -------
    parcel_index, zone_index : numpy.ndarray of int
        One entry per (parcel, zone) pair with a positive shared area.
    area_m2 : numpy.ndarray of float
        The area of the part of the parcel inside the zone.

    Notes
    -----
    An STRtree on the zones gives the candidate pairs; a parcel properly
    inside its zone keeps its own area, and only pairs crossing a boundary are
    intersected. Areas are identical to an overlay's.
    """
    return _split(parcels, zones, shapely.area)


def split_lines(lines: np.ndarray, zones: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split lines exactly across zones.

    Parameters
    ----------
    lines, zones : numpy.ndarray of shapely geometries
        Lines and polygons in one projected CRS.

    Returns
    -------
    line_index, zone_index : numpy.ndarray of int
        One entry per (line, zone) pair with a positive shared length.
    length_m : numpy.ndarray of float
        Length of the part of the line inside the zone.

    Notes
    -----
    A stretch of road lying exactly on an edge shared by two zones belongs to
    both as an intersection; it is counted once, for the zone listed first.
    """
    line_index, zone_index, length = _split(lines, zones, shapely.length)
    pairs = np.flatnonzero(~shapely.contains_properly(zones[zone_index], lines[line_index]))
    on_edge = shapely.length(
        shapely.intersection(lines[line_index[pairs]], shapely.boundary(zones[zone_index[pairs]]))
    )
    shared = pairs[on_edge > 0]
    if shared.size:
        length = length.copy()
        assigned: dict[int, shapely.Geometry] = {}
        for pair in shared[np.lexsort((zone_index[shared], line_index[shared]))]:
            line = int(line_index[pair])
            edge = shapely.intersection(lines[line], shapely.boundary(zones[zone_index[pair]]))
            earlier = assigned.get(line)
            if earlier is not None:
                length[pair] -= shapely.length(shapely.intersection(edge, earlier))
                assigned[line] = shapely.union(earlier, edge)
            else:
                assigned[line] = edge
    keep = length > 1e-9
    return line_index[keep], zone_index[keep], length[keep]


def _split(
    geometries: np.ndarray, zones: np.ndarray, measure: Callable[[np.ndarray], np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Measure each geometry's part in each zone; intersect only boundary-crossing pairs."""
    index, zone_index = shapely.STRtree(zones).query(geometries, predicate="intersects")
    shapely.prepare(zones)
    inside = shapely.contains_properly(zones[zone_index], geometries[index])
    amount = measure(geometries[index])
    cross = ~inside
    amount[cross] = measure(
        shapely.intersection(geometries[index[cross]], zones[zone_index[cross]])
    )
    keep = amount > 0
    return index[keep], zone_index[keep], amount[keep]


def landuse_indicators(landuse: gpd.GeoDataFrame, zones: gpd.GeoDataFrame) -> pd.DataFrame:
    """Land-use area by code and group shares for each zone.

    Parameters
    ----------
    landuse : geopandas.GeoDataFrame
        Parcels with a ``code`` column, in the zones' projected CRS.
    zones : geopandas.GeoDataFrame
        Communes or hamlets.

    Returns
    -------
    pandas.DataFrame
        Aligned with ``zones``: ``landuse_<CODE>_km2`` per code,
        ``landuse_covered_km2``, and ``agricultural_share_pct``,
        ``non_agricultural_share_pct``, ``unused_share_pct`` (shares of the
        area covered by land-use data; a code missing from the code table
        counts as covered but in no group, see :func:`unknown_landuse_codes`).
    """
    require_projected(landuse.crs, "land-use areas")
    parcel, zone, area = split_polygons(landuse.geometry.to_numpy(), zones.geometry.to_numpy())
    codes = landuse["code"].fillna("?").to_numpy()[parcel]
    pieces = pd.DataFrame({"zone": zone, "code": codes, "km2": area / M2_PER_KM2})
    by_code = pieces.pivot_table(index="zone", columns="code", values="km2", aggfunc="sum")
    by_code = by_code.reindex(range(len(zones))).fillna(0.0)
    table = landuse_codes()
    result = pd.DataFrame(index=range(len(zones)))
    for code in sorted(by_code.columns):
        result[f"landuse_{code}_km2"] = by_code[code].to_numpy()
    covered = by_code.sum(axis=1).to_numpy()
    result["landuse_covered_km2"] = covered
    groups = {code: _group(code, table) for code in by_code.columns}
    with np.errstate(invalid="ignore", divide="ignore"):
        for group in LANDUSE_GROUPS:
            members = [code for code, found in groups.items() if found == group]
            share = by_code[members].sum(axis=1).to_numpy() / covered * 100.0
            result[f"{group}_share_pct"] = np.where(covered > 0, share, np.nan)
    result.index = zones.index
    return result


def unknown_landuse_codes(landuse: gpd.GeoDataFrame) -> list[Finding]:
    """Report the land-use codes that are not in the code table, with their area.

    Parameters
    ----------
    landuse : geopandas.GeoDataFrame
        Parcels with a ``code`` column, in a projected CRS.

    Returns
    -------
    list of Finding
        One per unknown code; ``value`` is its total area in km².
    """
    table = landuse_codes()
    codes = landuse["code"].fillna("?")
    unknown = ~codes.isin(list(table))
    areas = shapely.area(landuse.geometry.to_numpy()[unknown.to_numpy()]) / M2_PER_KM2
    totals = pd.Series(areas, index=codes[unknown].to_numpy()).groupby(level=0).sum()
    return [
        Finding(
            "landuse",
            str(code),
            "unknown_landuse_code",
            f"code {code} is not in the land-use code table; its area is in no group",
            float(total),
        )
        for code, total in totals.items()
    ]


def _group(code: str, table: dict[str, LandUseCode]) -> str | None:
    entry = table.get(code)
    return entry.group if entry else None


def infrastructure_counts(points: gpd.GeoDataFrame, zones: gpd.GeoDataFrame) -> pd.DataFrame:
    """Count the points of each kind in each zone.

    A point on a shared boundary counts once, for the first zone found.

    Parameters
    ----------
    points : geopandas.GeoDataFrame
        Points with a ``kind`` column.
    zones : geopandas.GeoDataFrame
        Communes or hamlets, same CRS.

    Returns
    -------
    pandas.DataFrame
        Aligned with ``zones``: ``count_<kind>`` per kind present.
    """
    geometries = shapely.get_parts(points.geometry.to_numpy(), return_index=True)
    parts, owner = geometries
    point_index, zone_index = shapely.STRtree(zones.geometry.to_numpy()).query(
        parts, predicate="intersects"
    )
    pairs = pd.DataFrame({"point": owner[point_index], "zone": zone_index})
    pairs = pairs.drop_duplicates("point")
    pairs["kind"] = points["kind"].fillna("other").to_numpy()[pairs["point"].to_numpy()]
    counts = pd.crosstab(pairs["zone"], pairs["kind"]).reindex(range(len(zones))).fillna(0)
    kinds = sorted(map(str, counts.columns))
    return pd.DataFrame(
        {f"count_{kind}": counts[kind].astype("int64").to_numpy() for kind in kinds},
        index=zones.index,
    )


def road_indicators(roads: gpd.GeoDataFrame, zones: gpd.GeoDataFrame) -> pd.DataFrame:
    """Road length, by surface class, and road density for each zone.

    Parameters
    ----------
    roads : geopandas.GeoDataFrame
        Lines, with a ``surface`` column when surfaces are known.
    zones : geopandas.GeoDataFrame
        Communes or hamlets, same projected CRS.

    Returns
    -------
    pandas.DataFrame
        Aligned with ``zones``: ``road_km``, ``road_<surface>_km`` and
        ``road_density_km_per_km2`` (road length over natural area).
    """
    require_projected(roads.crs, "road lengths")
    line, zone, length = split_lines(roads.geometry.to_numpy(), zones.geometry.to_numpy())
    surface = (
        roads["surface"].fillna("unknown").to_numpy()[line]
        if "surface" in roads.columns
        else np.full(line.size, "unknown")
    )
    pieces = pd.DataFrame({"zone": zone, "surface": surface, "km": length / M_PER_KM})
    by_surface = pieces.pivot_table(index="zone", columns="surface", values="km", aggfunc="sum")
    by_surface = by_surface.reindex(range(len(zones))).fillna(0.0)
    result = pd.DataFrame(index=range(len(zones)))
    result["road_km"] = by_surface.sum(axis=1).to_numpy()
    if "surface" in roads.columns:
        for name in sorted(by_surface.columns):
            result[f"road_{name}_km"] = by_surface[name].to_numpy()
    result["road_density_km_per_km2"] = result["road_km"].to_numpy() / area_km2(zones).to_numpy()
    result.index = zones.index
    return result


def density_per_km2(population: pd.Series, area: pd.Series) -> pd.Series:
    """Return people per km² (NaN where population is unknown or area is 0)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        density = population.to_numpy(dtype="float64") / area.to_numpy(dtype="float64")
    return pd.Series(np.where(area.to_numpy() > 0, density, np.nan), index=population.index)
