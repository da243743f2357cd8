"""The GeoPackage's parcel layer written by a child process while the other outputs render."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import pytest
import shapely
from conftest import geopackage_layers

import geo
from geo import layer_writer, outputs
from geo.errors import OutputError
from geo.resources import sample_project_dir


@pytest.fixture(scope="module")
def sample():
    return geo.run(geo.load_project(sample_project_dir()))


def _schema(path: Path, table: str) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return [
            *db.execute("select sql from sqlite_master where name = ?", (table,)),
            *db.execute("select * from gpkg_geometry_columns where table_name = ?", (table,)),
            *db.execute(f'select count(*) from "rtree_{table}_geom"'),
        ]


def test_the_child_process_writes_the_same_geopackage(sample, tmp_path, monkeypatch):
    here = tmp_path / "here" / "results.gpkg"
    child = tmp_path / "child" / "results.gpkg"
    here.parent.mkdir()
    child.parent.mkdir()
    outputs.write_geopackage(sample, here)
    monkeypatch.setattr(outputs, "BACKGROUND_MIN_PIECES", 0)
    started = outputs.start_geopackage(sample, child)
    assert started.child is not None  # the parcel layer went to a child process
    assert list(started.later) == ["infrastructure", "roads"]  # written after it, in order
    started.wait()
    assert sorted(p.name for p in child.parent.iterdir()) == ["results.gpkg"]  # no scratch left
    left, right = geopackage_layers(here), geopackage_layers(child)
    assert (
        list(left)
        == list(right)
        == [
            "units",
            "hamlets",
            "landuse_by_hamlet",
            "infrastructure",
            "roads",
            "layer_styles",
        ]
    )
    for name in left:
        pd.testing.assert_frame_equal(left[name], right[name], obj=name)
    assert len(right["landuse_by_hamlet"]) == 1397
    schema = _schema(child, "landuse_by_hamlet")
    assert schema == _schema(here, "landuse_by_hamlet")
    assert schema[1][2] == "MULTIPOLYGON"
    assert schema[2] == (1397,)


def test_write_outputs_overlaps_the_child_and_matches_the_inline_run(sample, tmp_path, monkeypatch):
    inline = outputs.write_outputs(sample, tmp_path / "inline", roadmap_progress=None)
    monkeypatch.setattr(outputs, "BACKGROUND_MIN_PIECES", 0)
    waits = []
    wait = outputs.GeoPackageWrite.wait
    monkeypatch.setattr(
        outputs.GeoPackageWrite,
        "wait",
        lambda self: waits.append((tmp_path / "child" / "report.html").exists()) or wait(self),
    )
    child = outputs.write_outputs(sample, tmp_path / "child", roadmap_progress=None)
    assert [p.name for p in child] == [p.name for p in inline]
    assert waits == [False]  # joined once, after the report was rendered (still staged)
    for a, b in zip(inline, child, strict=True):
        if a.suffix in (".csv", ".html"):
            assert a.read_bytes() == b.read_bytes(), a.name
    assert geopackage_layers(inline[0]).keys() == geopackage_layers(child[0]).keys()


def test_a_failed_child_names_the_layer_and_leaves_the_folder_as_it_was(
    sample, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.gpkg").write_bytes(b"earlier run")
    monkeypatch.setattr(outputs, "BACKGROUND_MIN_PIECES", 0)
    real = layer_writer.arrow_layer
    monkeypatch.setattr(
        layer_writer,
        "arrow_layer",
        lambda layer, **options: layer_writer.ArrowLayer(
            real(layer, **options).table, "Polygon", "EPSG:999999"
        ),
    )
    with pytest.raises(OutputError, match="writing layer landuse_by_hamlet failed"):
        outputs.write_outputs(sample, out, roadmap_progress=None)
    assert sorted(p.name for p in out.iterdir()) == ["results.gpkg"]
    assert (out / "results.gpkg").read_bytes() == b"earlier run"


def test_cancel_stops_the_child_and_removes_its_log(sample, tmp_path):
    layer = layer_writer.arrow_layer(outputs.landuse_by_zone(sample), lazy=True)
    path = tmp_path / "results.gpkg"
    started = layer_writer.LayerWrite(layer, path, "landuse_by_hamlet")
    assert started.log_path.exists()
    started.cancel()
    assert started.process.returncode is not None
    assert not started._sender.is_alive()
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["results.gpkg"])
    started.cancel()  # twice is harmless


def test_a_lazy_layer_encodes_batch_by_batch_the_same_table(sample, monkeypatch):
    pieces = outputs.landuse_by_zone(sample)
    monkeypatch.setattr(layer_writer, "BATCH_ROWS", 500)
    lazy = layer_writer.arrow_layer(pieces, lazy=True)
    eager = layer_writer.arrow_layer(pieces)
    assert (lazy.geometry_type, lazy.crs) == (eager.geometry_type, eager.crs)
    batches = list(lazy.table)
    assert [b.num_rows for b in batches] == [500, 500, 397]
    assert pa.Table.from_batches(batches).equals(eager.table)


def test_a_lazy_layer_of_concatenated_frames_is_encoded_too(monkeypatch):
    monkeypatch.setattr(layer_writer, "BATCH_ROWS", 2)
    parts = [
        gpd.GeoDataFrame({"code": [c]}, geometry=[shapely.box(i, 0, i + 1, 1)], crs=9213)
        for i, c in enumerate(["LUA", "ONT", "CLN"])
    ]
    frame = pd.concat(parts, ignore_index=True)  # its text column is chunked in Arrow
    batches = list(layer_writer.arrow_layer(frame, lazy=True).table)
    assert [b.num_rows for b in batches] == [2, 1]
    assert pa.Table.from_batches(batches)["code"].to_pylist() == ["LUA", "ONT", "CLN"]


def test_a_child_that_fails_while_batches_arrive_names_the_layer(sample, tmp_path, monkeypatch):
    pieces = outputs.landuse_by_zone(sample)
    monkeypatch.setattr(layer_writer, "BATCH_ROWS", 100)  # 14 batches, the child dies at once
    layer = layer_writer.arrow_layer(pieces, lazy=True)
    bad = layer_writer.ArrowLayer(layer.table, layer.geometry_type, "EPSG:999999")
    started = layer_writer.LayerWrite(bad, tmp_path / "results.gpkg", "landuse_by_hamlet")
    with pytest.raises(OSError, match=r"results.gpkg: writing layer landuse_by_hamlet failed: "):
        started.wait()
    assert not started.log_path.exists()


def test_arrow_layer_makes_polygons_multi_only_when_both_kinds_are_present():
    square = shapely.box(0, 0, 10, 10)
    both = shapely.MultiPolygon([shapely.box(20, 0, 30, 10), shapely.box(40, 0, 50, 10)])
    frame = gpd.GeoDataFrame({"code": ["LUA", None]}, geometry=[square, both], crs=9213)
    mixed = layer_writer.arrow_layer(frame)
    assert mixed.geometry_type == "MultiPolygon"
    assert mixed.crs == "EPSG:9213"
    geometries = shapely.from_wkb(mixed.table["geometry"].to_numpy(zero_copy_only=False))
    assert shapely.get_type_id(geometries).tolist() == [6, 6]
    assert shapely.area(geometries).tolist() == [100.0, 200.0]
    assert mixed.table["code"].to_pylist() == ["LUA", None]
    assert layer_writer.arrow_layer(frame.iloc[:1]).geometry_type == "Polygon"
    assert layer_writer.arrow_layer(frame.iloc[:0]).geometry_type == "Unknown"
    with pytest.raises(ValueError, match="polygon layers only"):
        layer_writer.arrow_layer(frame.set_geometry([shapely.Point(0, 0), square]))


def test_arrow_layer_keeps_a_text_column_without_values_as_text(tmp_path):
    frame = gpd.GeoDataFrame(
        {"code": ["LUA", "ONT"], "hamlet_id": [None, None], "parcel": [1, 2]},
        geometry=[shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)],
        crs=9213,
    )
    path = tmp_path / "x.gpkg"
    layer_writer.write_layer(layer_writer.arrow_layer(frame), path, "pieces")
    assert '"hamlet_id" TEXT, "parcel" INTEGER' in _schema(path, "pieces")[0][0]
    back = pyogrio.read_dataframe(path)
    assert back["hamlet_id"].isna().all()
    assert back["parcel"].tolist() == [1, 2]


def test_a_frozen_application_writes_the_layer_itself(sample, tmp_path, monkeypatch):
    monkeypatch.setattr(outputs, "BACKGROUND_MIN_PIECES", 0)
    monkeypatch.setattr("sys.frozen", True, raising=False)  # as PyInstaller sets it
    assert not layer_writer.can_spawn()
    started = outputs.start_geopackage(sample, tmp_path / "results.gpkg")
    assert started.child is None
    assert not started.later  # every layer already written
    started.wait()
    assert len(geopackage_layers(tmp_path / "results.gpkg")["landuse_by_hamlet"]) == 1397


def test_polygons_made_multi_in_wkb_are_the_bytes_of_multipolygons():
    holed = shapely.Polygon(
        [(0, 0), (10, 0), (10, 10), (0, 10)], [[(2, 2), (4, 2), (4, 4), (2, 4)]]
    )
    geometries = np.array(
        [
            shapely.box(0, 0, 1, 1),
            holed,
            shapely.MultiPolygon([shapely.box(20, 0, 30, 10), shapely.box(40, 0, 50, 10)]),
            shapely.Polygon(),  # empty
            shapely.MultiPolygon(),
            shapely.box(0.1, 0.2, 1e6 + 0.3, 2e6 + 0.4),
        ],
        dtype=object,
    )
    kinds = shapely.get_type_id(geometries)
    ours = layer_writer.multi_polygon_wkb(geometries, kinds)
    multi = [
        shapely.multipolygons([g]) if k == 3 else g
        for g, k in zip(geometries, kinds, strict=True)
    ]
    theirs = shapely.to_wkb(np.array(multi, dtype=object), byte_order=1)
    assert ours.tolist() == theirs.tolist()
    # the polygons found from the WKB's heads (a spilled layer's), not from type ids
    plain = shapely.to_wkb(geometries, byte_order=1)
    assert layer_writer.polygons_made_multi(plain).tolist() == theirs.tolist()
    back = shapely.from_wkb(ours)
    assert shapely.get_type_id(back).tolist() == [6, 6, 6, 6, 6, 6]
    assert shapely.equals(back[1], holed)


def test_the_child_receives_dictionary_columns_too(tmp_path):
    # a batch's own IPC message carries no dictionary: such columns go through pyarrow's
    # stream writer, the others one message a batch
    frame = gpd.GeoDataFrame(
        {"code": pd.Categorical(["LUA", "ONT", "LUA"]), "parcel": [1, 2, 3]},
        geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(2, 0, 3, 1)],
        crs=9213,
    )
    layer = layer_writer.arrow_layer(frame, lazy=True)
    assert pa.types.is_dictionary(layer.table.schema.field("code").type)
    path = tmp_path / "results.gpkg"
    layer_writer.LayerWrite(layer, path, "landuse_by_hamlet").wait()
    back = pyogrio.read_dataframe(path, layer="landuse_by_hamlet")
    assert back["code"].tolist() == ["LUA", "ONT", "LUA"]
    assert back["parcel"].tolist() == [1, 2, 3]
    assert shapely.area(back.geometry.to_numpy()).tolist() == [1.0, 1.0, 1.0]
