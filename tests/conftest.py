"""Shared fixtures: a tiny project built from squares of known size in VN-2000."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, box

VN2000_TN = "EPSG:9213"  # VN-2000 / TM-3 106-30, Thái Nguyên
X0, Y0 = 430_000.0, 2_385_000.0  # metres, near Thái Nguyên city


def square(x: float, y: float, w: float, h: float):
    """A rectangle of w × h metres with its lower-left corner (x, y) from the origin."""
    return box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + h)


TINY_PROJECT = """
[project]
name = "Xã Thử Nghiệm"
province = "Thái Nguyên"
ward_of = "provincial-city"
as_of = "2025-03-01"
sources = "tiny test data"
note = "Dữ liệu thử / test data"

[layers.units]
path = "communes.geojson"
id = "MA"
name = "TEN"

[layers.hamlets]
path = "hamlets.gpkg"
layer = "xom"
id = "code"
name = "name"

[layers.landuse]
path = "landuse.fgb"
code = "loai_dat"

[layers.infrastructure]
path = "points.gpkg"
kind = "kind"
name = "name"

[layers.roads]
path = "roads.shp"
surface = "surface"

[tables.population]
path = "population.csv"
joins = "hamlets"
key = "name"
population = "dan_so"
households = "so_ho"
"""


@pytest.fixture
def tiny_project(tmp_path: Path) -> Path:
    """Write a two-commune project in mixed formats and CRSs; return its folder.

    Commune A (id 001) is 3 km × 2 km = 6 km², with hamlets A1 and A2 of 3 km²
    each, 4,000 + 3,000 = 7,000 people (the provincial-city threshold, exactly).
    Commune B (id 002) is 2 km × 2 km = 4 km² with one hamlet of 3,999 people.
    One 200 m × 100 m rice parcel straddles the A1/A2 boundary at its middle.
    A road runs 5 km along y = 1 km through A (3 km) and B (2 km).
    """
    folder = tmp_path / "project"
    folder.mkdir()
    units = gpd.GeoDataFrame(
        {"MA": ["001", "002"], "TEN": ["Xã Thử Nghiệm", "Xã Bên Cạnh"]},
        geometry=[square(0, 0, 3000, 2000), square(3000, 0, 2000, 2000)],
        crs=VN2000_TN,
    )
    units.to_crs(4326).to_file(folder / "communes.geojson", driver="GeoJSON")
    hamlets = gpd.GeoDataFrame(
        {"code": ["A1", "A2", "B1"], "name": ["Xóm Cây Thị", "Xóm Khuôn 1", "Thôn Đồng Kiệm"]},
        geometry=[
            square(0, 0, 1500, 2000),
            square(1500, 0, 1500, 2000),
            square(3000, 0, 2000, 2000),
        ],
        crs=VN2000_TN,
    )
    hamlets.to_file(folder / "hamlets.gpkg", layer="xom", driver="GPKG")
    landuse = gpd.GeoDataFrame(
        {"loai_dat": ["LUA", "ONT", "ODT"]},
        geometry=[
            square(1400, 0, 200, 100),  # 100 m × 100 m on each side of x = 1500
            square(100, 100, 100, 50),  # 5,000 m² inside A1
            square(3100, 100, 50, 50),  # 2,500 m² inside B1
        ],
        crs=VN2000_TN,
    )
    landuse.to_file(folder / "landuse.fgb", driver="FlatGeobuf")
    points = gpd.GeoDataFrame(
        {
            "kind": ["school", "cultural_house", "cultural_house", "market"],
            "name": ["Trường Tiểu học", "Nhà văn hóa xóm Khuôn 1", None, "Chợ"],
        },
        geometry=[
            Point(X0 + 200, Y0 + 200),
            Point(X0 + 2000, Y0 + 500),
            Point(X0 + 2500, Y0 + 500),
            Point(X0 + 4000, Y0 + 1500),
        ],
        crs=VN2000_TN,
    )
    points.to_crs(4326).to_file(folder / "points.gpkg", driver="GPKG")
    roads = gpd.GeoDataFrame(
        {"surface": ["concrete"]},
        geometry=[LineString([(X0, Y0 + 1000), (X0 + 5000, Y0 + 1000)])],
        crs=VN2000_TN,
    )
    roads.to_file(folder / "roads.shp")
    population = pd.DataFrame(
        {
            "ten": ["xom cay thi", "Khuôn 1", "Đồng Kiệm"],
            "dan_so": ["4.000", "3000", "3.999"],
            "so_ho": ["1.100", "850", "1000"],
        }
    )
    population = population.rename(columns={"ten": "name"})
    population.to_csv(folder / "population.csv", index=False)
    (folder / "project.toml").write_text(TINY_PROJECT, encoding="utf-8")
    return folder


@pytest.fixture
def window_reads(monkeypatch) -> list[dict[str, object]]:
    """Record every per-commune read (``geo.chunked.read_window``): its options and row count."""
    from geo import chunked

    reads: list[dict[str, object]] = []
    original = chunked.read_window

    def spy(spec, **options):
        frame = original(spec, **options)
        reads.append({**options, "rows": len(frame)})
        return frame

    monkeypatch.setattr(chunked, "read_window", spy)
    return reads


ROOT = Path(__file__).resolve().parents[1]


def load_generator() -> ModuleType:
    """Import benchmarks/generate.py (not a package) as the module ``bench_generate``."""
    spec = importlib.util.spec_from_file_location(
        "bench_generate", ROOT / "benchmarks" / "generate.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def write_tables(result, folder: Path) -> Path:
    """Write a run's criteria.csv, findings.csv, units.csv and hamlets.csv to a new folder."""
    from geo.outputs import write_csv

    folder.mkdir(parents=True)
    write_csv(result.criteria, folder / "criteria.csv")
    write_csv(result.findings, folder / "findings.csv")
    for name in ("units", "hamlets"):
        zones = getattr(result, name)
        write_csv(pd.DataFrame(zones.drop(columns="geometry")), folder / f"{name}.csv")
    return folder


def assert_same_tables(a, b, folder: Path, names: tuple[str, ...], *, min_bytes: int) -> None:
    """Write two runs' tables (:func:`write_tables`) into ``folder``; assert these are the same.

    Each named table must hold more than ``min_bytes`` (real tables, not two empty ones).
    """
    first, second = write_tables(a, folder / "a"), write_tables(b, folder / "b")
    for name in names:
        left, right = (first / name).read_bytes(), (second / name).read_bytes()
        assert len(left) > min_bytes, name  # real tables, not two empty ones
        assert left == right, name


def geopackage_layers(path: Path) -> dict[str, pd.DataFrame]:
    """Every layer of a GeoPackage by fid, geometries as WKB (``layer_styles`` without times)."""
    import geopandas as gpd
    import pyogrio
    import shapely

    found = {}
    for name, _ in pyogrio.list_layers(path):
        frame = pyogrio.read_dataframe(path, layer=name, fid_as_index=True)
        if name == "layer_styles":
            frame = frame.drop(columns="update_time")
        if isinstance(frame, gpd.GeoDataFrame):
            frame = pd.DataFrame(frame).assign(geometry=shapely.to_wkb(frame.geometry.to_numpy()))
        found[name] = frame
    return found


def assert_same_geopackage(a, b, folder: Path) -> dict[str, pd.DataFrame]:
    """Write two runs' ``results.gpkg`` into ``folder``; assert every layer is the same.

    Returns the layers (of the first).
    """
    from geo.outputs import write_geopackage

    paths = [folder / "a" / "results.gpkg", folder / "b" / "results.gpkg"]
    for result, path in zip((a, b), paths, strict=True):
        path.parent.mkdir(parents=True)
        write_geopackage(result, path)
    left, right = (geopackage_layers(p) for p in paths)
    assert list(left) == list(right)
    for name in left:
        pd.testing.assert_frame_equal(left[name], right[name], obj=name)
    return left
