"""The VN-2000 TM-3 registry, CRS construction and the checks on a layer's CRS."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from pyproj import CRS, Transformer

from geo import crs as vncrs
from geo.errors import ProjectFileError
from geo.names import fold

ROOT = Path(__file__).parents[1]


def test_registry_has_every_province_with_source_and_confidence():
    zones = vncrs.province_zones()
    assert sum(z.layout == "63" for z in zones) == 63
    assert sum(z.layout == "34" for z in zones) == 34
    for zone in zones:
        assert zone.source
        assert zone.confidence in {"secondary", "c973-only", "single-source"}
        assert zone.meridian in vncrs.TM3_EPSG_BY_MERIDIAN
        assert zone.bbox is not None
    counts = {
        c: sum(z.confidence == c for z in zones)
        for c in ("secondary", "c973-only", "single-source")
    }
    assert counts == {"secondary": 69, "c973-only": 10, "single-source": 18}


def test_old_meridians_agree_with_epsg_area_of_use():
    for zone in vncrs.province_zones():
        if zone.layout == "63" and "epsg" in zone.source:
            area = fold(CRS.from_epsg(zone.epsg).area_of_use.name).replace("-", " ")
            assert fold(zone.province).replace("-", " ").split()[0] in area, zone.province


def test_merged_provinces_take_one_members_meridian_and_are_flagged():
    for zone in vncrs.province_zones():
        if zone.layout == "34":
            assert zone.meridian in zone.member_meridians or zone.province == "Lai Châu"
            assert zone.flagged == (set(zone.member_meridians) != {zone.meridian})
    bac_ninh = vncrs.province_zone("Bắc Ninh (mới)")
    assert (bac_ninh.meridian, bac_ninh.members) == (107.0, ("Bắc Ninh", "Bắc Giang"))


@pytest.mark.parametrize(
    ("name", "epsg"),
    [
        ("Thái Nguyên", 9213),
        ("Tỉnh Thai Nguyen", 9213),
        ("Thành phố Hà Nội", 5897),
        ("TP. Hồ Chí Minh", 9210),
        ("Quảng Ngãi", 5898),
        ("Dak Lak", 9218),
        ("Bắc Ninh (cũ)", 9209),
        ("Bac Ninh (2025)", 9214),
        ("Huế", 9214),
    ],
)
def test_province_names_are_tolerant(name, epsg):
    assert vncrs.province_crs(name).to_epsg() == epsg


def test_ambiguous_and_unknown_provinces_say_what_to_do():
    with pytest.raises(ProjectFileError, match=r'write province = "Lai Châu \(cũ\)"'):
        vncrs.province_crs("Lai Châu")
    with pytest.raises(ProjectFileError, match=r"set project\.crs"):
        vncrs.province_crs("Atlantis")


def test_a_meridian_without_epsg_code_lands_where_epsg_would():
    built = vncrs.tm3_crs(106.75)
    assert built.to_epsg() is None
    towgs84 = ",".join(map(repr, vncrs.VN2000_TOWGS84))
    same_as_9213 = CRS.from_proj4(
        "+proj=tmerc +lat_0=0 +lon_0=106.5 +k=0.9999 +x_0=500000 +y_0=0 +ellps=WGS84 "
        f"+towgs84={towgs84} +units=m +no_defs +type=crs"
    )
    points = np.array([430_000.0, 470_000.0]), np.array([2_385_000.0, 2_420_000.0])
    lon, lat = Transformer.from_crs(same_as_9213, 4326, always_xy=True).transform(*points)
    lon2, lat2 = Transformer.from_crs(9213, 4326, always_xy=True).transform(*points)
    assert np.abs(lon - lon2).max() < 1e-8  # < 1 mm
    assert np.abs(lat - lat2).max() < 1e-8


def test_internal_vn2000_is_recognised():
    internal = CRS.from_proj4(
        "+proj=tmerc +lat_0=0 +lon_0=106.5 +k=0.9999 +x_0=500000 +y_0=0 +ellps=WGS84 +units=m"
    )
    assert vncrs.lacks_vn2000_shift(internal)
    assert not vncrs.lacks_vn2000_shift(CRS.from_epsg(9213))
    assert not vncrs.lacks_vn2000_shift(vncrs.tm3_crs(106.75))
    assert not vncrs.lacks_vn2000_shift(CRS.from_epsg(32648))
    # the internal variant lands about 200 m off
    lon, lat = Transformer.from_crs(internal, 4326, always_xy=True).transform(430_000, 2_385_000)
    lon2, lat2 = Transformer.from_crs(9213, 4326, always_xy=True).transform(430_000, 2_385_000)
    metres = np.hypot((lon - lon2) * 111_320 * np.cos(np.radians(lat)), (lat - lat2) * 110_570)
    assert 150 < metres < 300


def test_bundled_data_lies_inside_its_province_box():
    units = gpd.read_file(ROOT / "layers" / "thai-nguyen-2025" / "units.geojson").to_crs(4326)
    west, south, east, north = vncrs.province_bounds("Thái Nguyên")
    x0, y0, x1, y1 = units.total_bounds
    assert (west, south) <= (x0, y0)
    assert x1 <= east + 0.01
    assert y1 <= north + 0.01
