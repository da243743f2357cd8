"""Hamlets given to their commune: the unit each overlaps most, on squares of known size."""

from __future__ import annotations

import geopandas as gpd
import pytest
from conftest import VN2000_TN, square

from geo.errors import ValidationError
from geo.join import MIN_HAMLET_SHARE, assign_hamlets


def layer(ids, geometries):
    return gpd.GeoDataFrame({"id": ids}, geometry=geometries, crs=VN2000_TN)


UNITS = layer(["A", "B"], [square(0, 0, 1000, 1000), square(1000, 0, 1000, 1000)])


def test_each_hamlet_goes_to_the_unit_it_overlaps_most():
    hamlets = layer(
        ["inside", "on_edge", "straddling", "mostly_b"],
        [
            square(100, 100, 200, 200),  # properly inside A
            square(800, 0, 200, 200),  # inside A, along the shared edge (touches B)
            square(900, 500, 300, 100),  # 100 m in A, 200 m in B: B, 67 %
            square(950, 800, 250, 100),  # 50 m in A, 200 m in B: B, 80 %
        ],
    )
    assigned, findings = assign_hamlets(hamlets, UNITS)
    assert assigned["unit_id"].tolist() == ["A", "A", "B", "B"]
    assert findings == []  # every share at least MIN_HAMLET_SHARE
    assert hamlets.columns.tolist() == ["id", "geometry"]  # the input is left as it was


def test_a_hamlet_split_nearly_evenly_is_reported():
    hamlets = layer(["split"], [square(960, 0, 100, 100)])  # 40 % in A, 60 % in B
    assigned, findings = assign_hamlets(hamlets, UNITS)
    assert assigned["unit_id"].tolist() == ["B"]
    assert findings == []
    three = gpd.GeoDataFrame(
        {"id": ["A", "B", "C"]},
        geometry=[
            square(0, 0, 1000, 1000),
            square(1000, 0, 1000, 1000),
            square(0, 1000, 2000, 1000),
        ],
        crs=VN2000_TN,
    )
    # 45 % in A, 30 % in B, 25 % in C: A, below the share that settles it
    hamlets = layer(["three"], [square(880, 850, 200, 200)])
    assigned, findings = assign_hamlets(hamlets, three)
    assert assigned["unit_id"].tolist() == ["A"]
    assert [(f.feature, f.kind) for f in findings] == [("three", "ambiguous_unit")]
    assert findings[0].value == pytest.approx(0.45)
    assert findings[0].value < MIN_HAMLET_SHARE


def test_a_hamlet_outside_every_unit_is_refused():
    hamlets = layer(["in", "away"], [square(100, 100, 50, 50), square(5000, 5000, 50, 50)])
    with pytest.raises(ValidationError, match="hamlet away lies outside every unit"):
        assign_hamlets(hamlets, UNITS)


def test_a_covering_unit_wins_over_a_unit_overlapping_it():
    # B overlaps A by a 200 m strip: "covered" lies in A and half in B, "shared" in both
    overlapping = layer(["A", "B"], [square(0, 0, 1000, 1000), square(800, 0, 1000, 1000)])
    hamlets = layer(
        ["covered", "beyond", "straddling"],
        [
            square(700, 100, 200, 100),  # covered by A (and 50 % in B): A, whole area
            square(1500, 100, 200, 100),  # covered by B only
            square(1720, 500, 200, 100),  # 40 % in B, the rest outside both
        ],
    )
    assigned, findings = assign_hamlets(hamlets, overlapping)
    assert assigned["unit_id"].tolist() == ["A", "B", "B"]
    assert [(f.feature, f.kind, f.value) for f in findings] == [
        ("straddling", "ambiguous_unit", pytest.approx(0.4))
    ]
