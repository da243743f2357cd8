"""Areas, exact splits, counts and lengths on shapes of known size."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import VN2000_TN, X0, Y0, square
from pyproj import Geod
from shapely.geometry import LineString, Point

from geo import indicators
from geo.errors import GeographicCrsError


def zones_of(*geometries, crs=VN2000_TN):
    return gpd.GeoDataFrame(
        {"id": [str(i) for i in range(len(geometries))]}, geometry=list(geometries), crs=crs
    )


def test_area_of_a_square_km_in_vn2000_is_one_km2():
    zones = zones_of(square(0, 0, 1000, 1000), square(0, 2000, 2500, 2200))
    assert indicators.area_km2(zones).tolist() == [1.0, 5.5]


def test_area_survives_a_round_trip_through_degrees():
    zones = zones_of(square(0, 0, 2000, 3000)).to_crs(4326).to_crs(VN2000_TN)
    assert indicators.area_km2(zones).iloc[0] == pytest.approx(6.0, abs=1e-6)


def test_tm3_area_is_close_to_the_ellipsoidal_area():
    # A 3 km square near the 106°30' meridian: TM-3 (k = 0.9999) differs from the
    # geodesic area on WGS84 by the scale factor squared, about -0.02 %.
    zones = zones_of(square(0, 0, 3000, 3000))
    geodesic_m2, _ = Geod(ellps="WGS84").geometry_area_perimeter(
        zones.to_crs(4326).geometry.iloc[0]
    )
    ratio = indicators.area_km2(zones).iloc[0] * 1e6 / abs(geodesic_m2)
    assert ratio == pytest.approx(0.9999**2, abs=2e-4)


def test_area_in_degrees_is_refused():
    zones = zones_of(square(0, 0, 1000, 1000)).to_crs(4326)
    with pytest.raises(GeographicCrsError, match="projected CRS"):
        indicators.area_km2(zones)


def test_parcel_across_two_hamlets_is_split_exactly():
    hamlets = np.array([square(0, 0, 1500, 2000), square(1500, 0, 1500, 2000)])
    parcels = np.array([square(1400, 0, 300, 100), square(10, 10, 20, 20)])
    parcel, zone, area = indicators.split_polygons(parcels, hamlets)
    pieces = sorted(zip(parcel.tolist(), zone.tolist(), area.tolist(), strict=True))
    assert pieces == [(0, 0, 10_000.0), (0, 1, 20_000.0), (1, 0, 400.0)]


def test_split_areas_match_geopandas_overlay():
    rng = np.random.default_rng(7)
    hamlets = gpd.GeoDataFrame(
        {"hid": range(4)},
        geometry=[
            square(0, 0, 500, 500),
            square(500, 0, 500, 500),
            square(0, 500, 500, 500),
            square(500, 500, 500, 500),
        ],
        crs=VN2000_TN,
    )
    corners = rng.uniform(0, 900, size=(60, 2))
    sizes = rng.uniform(10, 200, size=(60, 2))
    parcels = gpd.GeoDataFrame(
        {"pid": range(60)},
        geometry=[square(x, y, w, h) for (x, y), (w, h) in zip(corners, sizes, strict=True)],
        crs=VN2000_TN,
    )
    parcel, zone, area = indicators.split_polygons(
        parcels.geometry.to_numpy(), hamlets.geometry.to_numpy()
    )
    overlay = gpd.overlay(parcels, hamlets, how="intersection", keep_geom_type=True)
    expected = overlay.assign(a=overlay.area).groupby(["pid", "hid"])["a"].sum()
    ours = gpd.pd.Series(area, index=gpd.pd.MultiIndex.from_arrays([parcel, zone])).sort_index()
    assert len(ours) == len(expected)
    assert np.allclose(ours.to_numpy(), expected.sort_index().to_numpy(), atol=1e-6)


def test_landuse_shares_by_group():
    hamlets = zones_of(square(0, 0, 1000, 1000), square(1000, 0, 1000, 1000))
    landuse = gpd.GeoDataFrame(
        {"code": ["LUA", "ONT", "CSD", "XYZ"]},
        geometry=[
            square(900, 0, 200, 100),
            square(0, 500, 100, 100),
            square(1500, 500, 100, 100),
            square(0, 800, 100, 100),
        ],
        crs=VN2000_TN,
    )
    result = indicators.landuse_indicators(landuse, hamlets)
    assert result["landuse_LUA_km2"].tolist() == [0.01, 0.01]
    # hamlet 0: LUA 0.01 + ONT 0.01 + unknown XYZ 0.01; hamlet 1: LUA 0.01 + CSD 0.01
    assert result["landuse_covered_km2"].tolist() == pytest.approx([0.03, 0.02])
    assert result["agricultural_share_pct"].tolist() == pytest.approx([100 / 3, 50.0])
    assert result["non_agricultural_share_pct"].tolist() == pytest.approx([100 / 3, 0.0])
    assert result["unused_share_pct"].tolist() == pytest.approx([0.0, 50.0])
    [finding] = indicators.unknown_landuse_codes(landuse)
    assert (finding.feature, finding.value) == ("XYZ", pytest.approx(0.01))


def test_points_counted_once_per_kind():
    hamlets = zones_of(square(0, 0, 1000, 1000), square(1000, 0, 1000, 1000))
    points = gpd.GeoDataFrame(
        {"kind": ["school", "school", "market", "school"]},
        geometry=[
            Point(X0 + 10, Y0 + 10),
            Point(X0 + 1000, Y0 + 500),
            Point(X0 + 1500, Y0 + 10),
            Point(X0 + 5000, Y0),
        ],
        crs=VN2000_TN,
    )
    counts = indicators.infrastructure_counts(points, hamlets)
    # the school on the shared edge x = 1000 counts once; the one outside counts nowhere
    assert counts["count_school"].sum() == 2
    assert counts["count_market"].tolist() == [0, 1]


def test_road_length_split_at_boundaries():
    hamlets = zones_of(square(0, 0, 1000, 1000), square(1000, 0, 1000, 1000))
    roads = gpd.GeoDataFrame(
        {"surface": ["asphalt", "earth"]},
        geometry=[
            LineString([(X0 - 500, Y0 + 500), (X0 + 1250, Y0 + 500)]),
            LineString([(X0 + 1500, Y0), (X0 + 1500, Y0 + 1000)]),
        ],
        crs=VN2000_TN,
    )
    result = indicators.road_indicators(roads, hamlets)
    assert result["road_km"].tolist() == [1.0, 1.25]
    assert result["road_asphalt_km"].tolist() == [1.0, 0.25]
    assert result["road_earth_km"].tolist() == [0.0, 1.0]
    assert result["road_density_km_per_km2"].tolist() == [1.0, 1.25]


def _pivoted(areas, index):
    """landuse_table as a pandas pivot table computes it: the reference, bit for bit."""
    by_code = areas.pivot_table(index="zone", columns="code", values="km2", aggfunc="sum")
    by_code = by_code.reindex(range(len(index))).fillna(0.0)
    table = indicators.landuse_codes()
    result = {f"landuse_{code}_km2": by_code[code].to_numpy() for code in by_code.columns}
    covered = by_code.sum(axis=1).to_numpy()
    result["landuse_covered_km2"] = covered
    groups = {code: indicators._group(code, table) for code in by_code.columns}
    with np.errstate(invalid="ignore", divide="ignore"):
        for group in indicators.LANDUSE_GROUPS:
            members = [code for code, found in groups.items() if found == group]
            share = by_code[members].sum(axis=1).to_numpy() / covered * 100.0
            result[f"{group}_share_pct"] = np.where(covered > 0, share, np.nan)
    return pd.DataFrame(result, index=index)


def test_landuse_table_adds_up_exactly_as_a_pivot_table():
    # 22 codes (numpy adds a row of 8 or more pairwise), areas from 1e-6 to 1 km², a code
    # outside the code table, a zone without pieces, rows in no order
    rng = np.random.default_rng(5)
    codes = np.array(["LUC", "LUK", "CLN", "RSX", "ONT", "ODT", "DGT", "NTS", "BHK", "SKC",
                      "TSC", "DGD", "NTD", "SON", "MNC", "BCS", "HNK", "TMD", "DYT", "DTL",
                      "XYZ", "?"], dtype=object)  # fmt: skip
    rows = 5_000
    areas = pd.DataFrame(
        {
            "zone": rng.integers(0, 39, rows),  # zone 39 of 40 has none
            "code": codes[rng.integers(0, len(codes), rows)],
            "km2": rng.random(rows) * 10.0 ** rng.integers(-6, 1, rows),
        }
    )
    index = pd.Index([f"h{i}" for i in range(40)])
    ours, reference = indicators.landuse_table(areas, index), _pivoted(areas, index)
    assert list(ours.columns) == list(reference.columns)
    assert len(ours.columns) == 22 + 4
    for column in ours.columns:
        assert np.array_equal(ours[column], reference[column], equal_nan=True), column
    assert ours.loc["h39", "landuse_covered_km2"] == 0.0
    assert np.isnan(ours.loc["h39", "agricultural_share_pct"])
    assert ours["landuse_covered_km2"].sum() == pytest.approx(areas["km2"].sum(), rel=1e-12)
