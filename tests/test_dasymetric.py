"""Dasymetric population: hamlet counts on residential land, totals preserved."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import VN2000_TN, square

import geo
from geo import dasymetric
from geo.errors import GeographicCrsError, ValidationError


def three_hamlets(population=(1000.0, 500.0, 300.0), **columns):
    return gpd.GeoDataFrame(
        {
            "id": ["A", "B", "C"],
            "name": ["Xóm A", "Xóm B", "Xóm C"],
            "population": list(population),
            **columns,
        },
        geometry=[
            square(0, 0, 1000, 1000),
            square(1000, 0, 1000, 1000),
            square(2000, 0, 1000, 1000),
        ],
        crs=VN2000_TN,
    )


def parcels():
    return gpd.GeoDataFrame(
        {"code": ["ONT", "ODT", "ONT", "LUA", "CLN"]},
        geometry=[
            square(100, 100, 100, 100),  # 10,000 m² in A
            square(950, 500, 100, 100),  # 5,000 m² in A and 5,000 m² in B
            square(1500, 500, 200, 100),  # 20,000 m² in B
            square(2100, 100, 100, 100),  # rice in C: C has no residential land
            square(300, 300, 300, 300),  # perennial crops in A
        ],
        crs=VN2000_TN,
    )


def test_population_goes_to_residential_pieces_in_proportion_to_area():
    result = dasymetric.allocate_population(three_hamlets(), parcels())
    assert list(result.pieces.columns) == [*dasymetric.PIECE_COLUMNS, "population", "geometry"]
    pieces = result.pieces.sort_values(["hamlet_id", "parcel"])
    assert pieces["hamlet_id"].tolist() == ["A", "A", "B", "B", "C"]
    assert pieces["parcel"].tolist() == [0, 1, 1, 2, dasymetric.FALLBACK_PARCEL]
    assert pieces["code"].tolist()[:4] == ["ONT", "ODT", "ODT", "ONT"]
    assert pieces["area_m2"].tolist() == pytest.approx([10_000, 5_000, 5_000, 20_000, 1e6])
    # A: 15,000 m² of residential land for 1,000 people; B: 25,000 m² for 500
    assert pieces["population"].tolist() == pytest.approx(
        [1000 * 2 / 3, 1000 / 3, 500 / 5, 500 * 4 / 5, 300]
    )
    assert pieces["fallback"].tolist() == [False, False, False, False, True]
    assert np.allclose(pieces.area, pieces["area_m2"])  # the pieces are the real shapes
    assert pieces.crs == VN2000_TN


def test_totals_are_preserved_exactly():
    hamlets = three_hamlets(population=(1234.0, 98765.0, 1.0))
    result = dasymetric.allocate_population(hamlets, parcels())
    for ident, population in zip(hamlets["id"], hamlets["population"], strict=True):
        mine = result.pieces.loc[result.pieces["hamlet_id"] == ident, "population"]
        assert math.fsum(mine) == pytest.approx(population, rel=1e-14, abs=0)


def test_per_hamlet_indicators():
    result = dasymetric.allocate_population(three_hamlets(), parcels())
    table = result.hamlets
    assert table["residential_km2"].tolist() == pytest.approx([0.015, 0.025, 0.0])
    assert table["density_per_residential_km2"].tolist()[:2] == pytest.approx(
        [1000 / 0.015, 500 / 0.025]
    )
    assert np.isnan(table["density_per_residential_km2"].iloc[2])
    assert table["residential_m2_per_person"].tolist() == pytest.approx([15.0, 50.0, 0.0])
    assert table["dasymetric_fallback"].tolist() == [False, False, True]


def test_a_hamlet_without_residential_land_falls_back_to_its_whole_area_and_is_reported():
    result = dasymetric.allocate_population(three_hamlets(), parcels())
    [finding] = result.findings
    assert (finding.layer, finding.feature, finding.kind) == ("hamlets", "C", "no_residential_land")
    assert finding.value == 300
    assert "Xóm C" in finding.message
    assert "không có đất ở" in finding.message
    [fallback] = result.pieces.loc[result.pieces["fallback"]].itertuples()
    assert fallback.geometry.equals(square(2000, 0, 1000, 1000))
    assert pd.isna(fallback.code)


def test_unknown_or_zero_population_needs_no_fallback():
    result = dasymetric.allocate_population(
        three_hamlets(population=(np.nan, 500.0, 0.0)), parcels()
    )
    assert result.findings == []
    assert not result.pieces["fallback"].any()
    pieces_a = result.pieces.loc[result.pieces["hamlet_id"] == "A"]
    assert pieces_a["population"].isna().all()
    assert np.isnan(result.hamlets["density_per_residential_km2"].iloc[0])
    assert result.hamlets["residential_km2"].iloc[0] == pytest.approx(0.015)


def test_counts_split_by_area_and_rates_copied():
    hamlets = three_hamlets(households=[300.0, 100.0, 80.0], poverty_pct=[10.0, 20.0, 5.0])
    result = dasymetric.allocate_population(
        hamlets, parcels(), extensive=("population", "households"), intensive=("poverty_pct",)
    )
    pieces = result.pieces.sort_values(["hamlet_id", "parcel"])
    assert pieces["households"].tolist() == pytest.approx([200.0, 100.0, 20.0, 80.0, 80.0])
    assert pieces["poverty_pct"].tolist() == [10.0, 10.0, 20.0, 20.0, 5.0]


def test_parcel_values_sum_counts_and_average_rates_by_area():
    hamlets = three_hamlets(poverty_pct=[10.0, 20.0, 5.0])
    result = dasymetric.allocate_population(hamlets, parcels(), intensive=("poverty_pct",))
    by_parcel = dasymetric.parcel_values(result.pieces, intensive=("poverty_pct",))
    assert by_parcel.index.tolist() == [0, 1, 2]  # the fallback piece is no parcel
    assert by_parcel.loc[1, "area_m2"] == pytest.approx(10_000.0)
    # the ODT parcel across A and B: 333.3 + 100 people, (10 + 20) / 2 % poor
    assert by_parcel.loc[1, "population"] == pytest.approx(1000 / 3 + 100)
    assert by_parcel.loc[1, "poverty_pct"] == pytest.approx(15.0)
    assert by_parcel.loc[0, "poverty_pct"] == pytest.approx(10.0)


def test_residential_codes_are_a_parameter_and_case_blind():
    landuse = parcels()
    landuse["code"] = ["oct", "ODT", "ONT", "LUA", "CLN"]
    result = dasymetric.allocate_population(
        three_hamlets(), landuse, residential_codes=("OCT", "LUA")
    )
    pieces = result.pieces.sort_values(["hamlet_id", "parcel"])
    assert pieces["hamlet_id"].tolist() == ["A", "B", "C"]
    assert pieces["parcel"].tolist() == [0, dasymetric.FALLBACK_PARCEL, 3]
    assert pieces["code"].fillna("-").tolist() == ["OCT", "-", "LUA"]
    assert [f.feature for f in result.findings] == ["B"]


def test_missing_columns_and_degrees_are_refused():
    with pytest.raises(KeyError, match="households"):
        dasymetric.allocate_population(three_hamlets(), parcels(), extensive=("households",))
    with pytest.raises(GeographicCrsError):
        dasymetric.allocate_population(three_hamlets().to_crs(4326), parcels().to_crs(4326))


def test_the_sample_population_lives_on_its_ont_land():
    result = geo.run(geo.load_project(geo.sample_project_dir()))
    hamlets = result.hamlets
    allocation = dasymetric.allocate_population(hamlets, result.landuse)
    assert allocation.findings == []
    assert allocation.hamlets["residential_km2"].to_numpy() == pytest.approx(
        hamlets["landuse_ONT_km2"].to_numpy(), rel=1e-12
    )
    assert math.fsum(allocation.pieces["population"]) == pytest.approx(17_252, rel=1e-14)
    sums = allocation.pieces.groupby("hamlet_id")["population"].sum()
    assert sums.reindex(hamlets["id"]).to_numpy() == pytest.approx(
        hamlets["population"].to_numpy(), rel=1e-13
    )
    # people per km² of residential land: between 6,000 and 14,000 in every hamlet
    density = allocation.hamlets["density_per_residential_km2"]
    assert density.between(6_000, 14_000).all()


def test_layers_in_different_crs_are_refused():
    with pytest.raises(ValidationError, match="different CRSs"):
        dasymetric.allocate_population(three_hamlets(), parcels().to_crs("EPSG:32648"))


def test_pieces_of_the_hamlet_split_give_the_same_allocation():
    # the pipeline splits all parcels by the hamlets once and passes the pieces
    hamlets, landuse = three_hamlets(), parcels()
    pieces = geo.indicators.split_pieces(
        landuse.geometry.to_numpy(),
        hamlets.geometry.to_numpy(),
        keep=dasymetric.residential(landuse),
    )
    alone = dasymetric.allocate_population(hamlets, landuse)
    given = dasymetric.allocate_population(hamlets, landuse, pieces=pieces)
    pd.testing.assert_frame_equal(alone.hamlets, given.hamlets)
    pd.testing.assert_frame_equal(
        alone.pieces.drop(columns="geometry"), given.pieces.drop(columns="geometry")
    )
    assert alone.pieces.geometry.to_wkb().tolist() == given.pieces.geometry.to_wkb().tolist()
    without_parts = pieces._replace(geometry=None)  # cut parts are then intersected again
    again = dasymetric.allocate_population(hamlets, landuse, pieces=without_parts)
    pd.testing.assert_frame_equal(alone.hamlets, again.hamlets)
    # by GEOS: the same parts as those the split cut along the hamlets' boundaries
    # (geo.chords), up to the rounding of the cut and the order of the vertices
    assert shapely.equals_exact(
        shapely.normalize(alone.pieces.geometry.to_numpy()),
        shapely.normalize(again.pieces.geometry.to_numpy()),
        tolerance=1e-6,
    ).all()
