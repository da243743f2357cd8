"""A GeoParquet land-use layer read one commune at a time: the same results as a whole read.

The land use of the sample project (and of generated communes) is written to
GeoParquet in row groups of 100 rows, with and without the GeoParquet 1.1 bbox
covering column. Per-commune runs on it write criteria.csv, units.csv,
hamlets.csv and findings.csv byte-identical to the in-memory run on the
GeoPackage; windows read from it hold the same features and geometries as
the same windows of the GeoPackage (whose feature ids start at 1, the
GeoParquet row numbers at 0).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import assert_same_tables, load_generator
from pyarrow import parquet

import geo
from geo import engines
from geo.read import layer_bounds, layer_info, read_layer, read_window
from geo.resources import sample_project_dir

ROW_GROUP = 100
TABLES = ("criteria.csv", "units.csv", "hamlets.csv", "findings.csv")


def _with_parquet_landuse(folder: Path, *, covering: bool) -> Path:
    """Copy the project's land use to GeoParquet; return a project folder that reads it."""
    project = geo.load_project(folder)
    spec = project.layers["landuse"]
    frame = gpd.read_file(spec.path, layer=spec.layer)
    target = folder.parent / f"{folder.name}-parquet-{'bbox' if covering else 'plain'}"
    shutil.copytree(folder, target)
    name = "landuse.parquet" if covering else "landuse.geoparquet"
    frame.to_parquet(target / name, write_covering_bbox=covering, row_group_size=ROW_GROUP)
    toml = target / "project.toml"
    text = toml.read_text(encoding="utf-8")
    old = f'path = "{spec.path.name}"'
    assert text.count(old) == 1
    toml.write_text(text.replace(old, f'path = "{name}"'), encoding="utf-8")
    return target


def _generate(tmp_path: Path) -> Path:
    generate = load_generator()
    folder, _ = generate.ensure(generate.TINY, tmp_path, seed=5)
    return folder


@pytest.fixture
def sample(tmp_path):
    folder = tmp_path / "sample"
    shutil.copytree(sample_project_dir(), folder)
    return folder


@pytest.mark.parametrize("covering", [True, False], ids=["bbox-covering", "no-covering"])
def test_per_commune_run_on_geoparquet_equals_the_in_memory_run(sample, tmp_path, covering):
    whole = geo.run(geo.load_project(sample))
    project = geo.load_project(_with_parquet_landuse(sample, covering=covering))
    path = project.layers["landuse"].path
    assert parquet.ParquetFile(path).num_row_groups == 12  # 1,120 parcels
    plan = engines.plan(project, parcels_in_memory=0)
    assert plan.per_unit
    assert plan.reason == "parcels_in_memory=0"
    assert engines.plan(project, parcels_in_memory=1119).per_unit
    assert not engines.plan(project, parcels_in_memory=1120).per_unit
    per_unit = geo.run(project, parcels_in_memory=0)
    assert per_unit.landuse is None  # read per commune indeed
    assert_same_tables(whole, per_unit, tmp_path / "tables", TABLES, min_bytes=100)


@pytest.mark.parametrize("covering", [True, False], ids=["bbox-covering", "no-covering"])
def test_per_commune_run_on_generated_communes_in_geoparquet(tmp_path, covering, window_reads):
    folder = _generate(tmp_path)
    whole = geo.run(geo.load_project(folder))
    project = geo.load_project(_with_parquet_landuse(folder, covering=covering))
    reads = window_reads
    per_unit = geo.run(project, parcels_in_memory=100)  # 600 parcels
    windows = [r for r in reads if r.get("mask") is not None]
    assert len(windows) == len(whole.units) > 1
    assert all(0 < r["rows"] < 600 for r in windows)  # never the whole layer
    assert_same_tables(whole, per_unit, tmp_path / "tables", TABLES, min_bytes=100)


@pytest.mark.parametrize("covering", [True, False], ids=["bbox-covering", "no-covering"])
def test_geoparquet_windows_equal_geopackage_windows(sample, covering):
    gpkg = geo.load_project(sample).layers["landuse"]
    spec = geo.load_project(_with_parquet_landuse(sample, covering=covering)).layers["landuse"]
    whole = read_layer(spec)
    assert whole.index.tolist() == list(range(1120))  # the in-memory read: row numbers
    assert layer_info(spec)["features"] == 1120
    assert layer_info(spec)["crs"] is not None
    # ids and boxes by row group, split in batches
    batches = list(layer_bounds(spec, batch=60))
    assert [len(f) for f, _ in batches[:3]] == [60, 40, 60]
    fids = np.concatenate([f for f, _ in batches])
    bounds = np.concatenate([b for _, b in batches])
    assert fids.tolist() == list(range(1120))
    np.testing.assert_array_equal(bounds, shapely.bounds(whole.geometry.to_numpy()))
    x0, y0, x1, y1 = whole.total_bounds
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    box = (x0 + (x1 - x0) / 5, y0, cx, cy)
    disc = shapely.buffer(shapely.Point(cx, cy), (x1 - x0) / 5)
    for options in ({"bbox": box}, {"mask": disc}, {"mask": shapely.box(*box)}):
        a = read_window(gpkg, **options)
        b = read_window(spec, **options)
        assert 0 < len(b) < 1120, options
        assert (b.index.to_numpy() + 1).tolist() == a.index.tolist(), options
        assert shapely.equals_exact(a.geometry.to_numpy(), b.geometry.to_numpy(), 0).all()
        assert b["code"].tolist() == a["code"].tolist()
        assert list(b.dtypes) == list(whole.dtypes)
        assert b.crs == whole.crs
    some = [1119, 5, 250, 99, 100]
    a = read_window(gpkg, fids=[f + 1 for f in some])
    b = read_window(spec, fids=some)
    assert b.index.tolist() == sorted(some)
    assert shapely.equals_exact(a.geometry.to_numpy(), b.geometry.to_numpy(), 0).all()
    first = read_window(spec, max_features=150)
    assert first.index.tolist() == list(range(150))
    assert shapely.equals_exact(first.geometry.to_numpy(), whole.geometry.to_numpy()[:150], 0).all()
    empty = read_window(spec, bbox=(x1 + 1, y1 + 1, x1 + 2, y1 + 2))
    assert len(empty) == 0
    assert list(empty.columns) == list(whole.columns)


def test_dask_engine_on_geoparquet(tmp_path):
    pytest.importorskip("distributed")
    pytest.importorskip("dask_geopandas")
    folder = _generate(tmp_path)
    whole = geo.run(geo.load_project(folder))
    project = geo.load_project(_with_parquet_landuse(folder, covering=True))
    assert engines.plan(project, engine="dask").per_unit
    result = geo.run(project, engine="dask")
    assert_same_tables(whole, result, tmp_path / "tables", TABLES, min_bytes=100)


def test_without_covering_the_boxes_are_decoded_once_per_file(tmp_path, monkeypatch):
    from geo import read

    folder = _with_parquet_landuse(_generate(tmp_path), covering=False)  # 600 parcels, 6 groups
    project = geo.load_project(folder)
    decoded: list[int] = []
    geometries = read._Parquet.geometries
    monkeypatch.setattr(
        read._Parquet,
        "geometries",
        lambda self, table: decoded.append(table.num_rows) or geometries(self, table),
    )
    monkeypatch.setattr(read, "_box_cache", read.OrderedDict())
    per_unit = geo.run(project, parcels_in_memory=0)
    communes = len(per_unit.units)
    assert communes > 1
    # every group's boxes once (the scan: 600), then per commune only the parcels whose boxes
    # meet its window (1,270 in all here); without the cache each commune also decoded every
    # group for its boxes (600 more per commune: 2,470)
    assert sum(decoded) < 600 * (1 + communes)
    assert len(read._box_cache) == 6
    # a changed file is not read through the old boxes
    path = project.layers["landuse"].path
    frame = gpd.read_parquet(path)
    frame.iloc[:300].to_parquet(path, write_covering_bbox=False, row_group_size=ROW_GROUP)
    batches = list(layer_bounds(project.layers["landuse"]))
    fids = np.concatenate([f for f, _ in batches])
    boxes = np.concatenate([b for _, b in batches])
    assert fids.tolist() == list(range(300))
    assert np.array_equal(boxes, frame.geometry.iloc[:300].bounds.to_numpy())
