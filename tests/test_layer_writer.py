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
    # the other layers are written already; the styles wait for the child
    assert [n for n, _ in pyogrio.list_layers(child)] == [
        "units",
        "hamlets",
        "infrastructure",
        "roads",
    ]
    started.wait()
    assert sorted(p.name for p in child.parent.iterdir()) == ["results.gpkg"]  # no scratch left
    left, right = geopackage_layers(here), geopackage_layers(child)
    assert (
        list(left)
        == list(right)
        == [
            "units",
            "hamlets",
            "infrastructure",
            "roads",
            "landuse_by_hamlet",
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
    started = layer_writer.LayerWrite(path, "landuse_by_hamlet")
    started.send(layer)
    assert started.log_path.exists()
    started.cancel()
    assert started.process.returncode is not None
    assert started._sender is not None
    assert not started._sender.is_alive()
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["results.gpkg"])
    started.cancel()  # twice is harmless
    with pytest.raises(RuntimeError, match="was sent already"):
        started.send(layer)


def test_a_child_given_no_layer_writes_nothing(tmp_path):
    path = tmp_path / "results.gpkg"
    idle = layer_writer.LayerWrite(path, "landuse_by_hamlet")
    idle.wait()  # its input closed before any header: it exits, having written nothing
    assert idle.process.returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    killed = layer_writer.LayerWrite(path, "landuse_by_hamlet")
    killed.cancel()  # before anything was sent
    assert killed.process.returncode is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.skipif(not hasattr(layer_writer.fcntl, "F_GETPIPE_SZ"), reason="Linux pipes only")
def test_the_childs_input_pipe_is_widened_where_the_system_allows(tmp_path, monkeypatch):
    system = layer_writer.fcntl
    idle = layer_writer.LayerWrite(tmp_path / "results.gpkg", "landuse_by_hamlet")
    try:
        width = system.fcntl(idle.process.stdin.fileno(), system.F_GETPIPE_SZ)
        limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
        assert width == min(layer_writer.PIPE_BYTES, max(limit, 65536))
    finally:
        idle.wait()
    # a width the system refuses leaves the pipe as it is, and the child runs

    class Refusing:
        F_SETPIPE_SZ = system.F_SETPIPE_SZ

        @staticmethod
        def fcntl(fd, command, value):
            raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(layer_writer, "fcntl", Refusing)
    refused = layer_writer.LayerWrite(tmp_path / "results.gpkg", "landuse_by_hamlet")
    refused.wait()
    assert refused.process.returncode == 0


def test_a_failure_while_the_layers_are_written_stops_the_child(sample, tmp_path, monkeypatch):
    monkeypatch.setattr(outputs, "BACKGROUND_MIN_PIECES", 0)
    started = []
    real = layer_writer.LayerWrite
    monkeypatch.setattr(
        layer_writer, "LayerWrite", lambda *a: started.append(real(*a)) or started[-1]
    )

    def broken(result, **options):
        raise OSError("disk full")

    monkeypatch.setattr(outputs, "landuse_by_zone", broken)
    with pytest.raises(OSError, match="disk full"):
        outputs.start_geopackage(sample, tmp_path / "results.gpkg")
    assert len(started) == 1  # started before the layers were built, and stopped
    assert started[0].process.returncode is not None
    assert not started[0].log_path.exists()


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
    started = layer_writer.LayerWrite(tmp_path / "results.gpkg", "landuse_by_hamlet")
    started.send(bad)
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
    assert started.child is None  # every layer already written
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
        shapely.multipolygons([g]) if k == 3 else g for g, k in zip(geometries, kinds, strict=True)
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
    started = layer_writer.LayerWrite(path, "landuse_by_hamlet")
    started.send(layer)
    started.wait()
    back = pyogrio.read_dataframe(path, layer="landuse_by_hamlet")
    assert back["code"].tolist() == ["LUA", "ONT", "LUA"]
    assert back["parcel"].tolist() == [1, 2, 3]
    assert shapely.area(back.geometry.to_numpy()).tolist() == [1.0, 1.0, 1.0]


# Parcels written again from the bytes they were read as (read_layer_wkb, SourceWkb)


PARCELS_AT = (440_000.0, 2_390_000.0)
"""Where the test parcels lie in VN-2000 TM-3 106°30' (in Thái Nguyên)."""


def _parcels(tmp_path, *, with_date=False):
    """A GeoPackage of five parcels in VN-2000 (no reprojection), one of them a bow-tie."""
    from conftest import VN2000_TN

    squares = [shapely.box(x, 0, x + 100, 100) for x in (0, 200, 400)]
    bowtie = shapely.Polygon([(600, 0), (700, 100), (700, 0), (600, 100)])  # invalid
    two = shapely.MultiPolygon([shapely.box(800, 0, 850, 50), shapely.box(900, 0, 950, 50)])
    geometries = [shapely.MultiPolygon([g]) for g in [*squares, bowtie]] + [two]
    geometries = list(shapely.transform(geometries, lambda xy: xy + PARCELS_AT))
    frame = gpd.GeoDataFrame(
        {"loai_dat": ["LUA", "ONT", None, "CLN", "ONT"], "so": [1, 2, 3, 4, 5]},
        geometry=geometries,
        crs=VN2000_TN,
    )
    if with_date:
        frame["ngay"] = pd.to_datetime(["2025-01-01"] * 5)
    path = tmp_path / "landuse.gpkg"
    frame.to_file(path, layer="landuse", engine="pyogrio")
    from geo.project import LayerSpec

    return LayerSpec("landuse", path, None, {"code": "loai_dat"}), frame


def test_read_layer_wkb_reads_the_layer_read_layer_reads_and_its_bytes(tmp_path):
    from geo.read import read_layer, read_layer_wkb

    spec, written = _parcels(tmp_path)
    frame, wkb = read_layer_wkb(spec)
    pd.testing.assert_frame_equal(frame, read_layer(spec))  # as geopandas reads it
    assert frame.crs == written.crs
    assert len(wkb) == 5
    assert wkb.to_pylist() == list(shapely.to_wkb(written.geometry.to_numpy(), byte_order=1))
    assert read_layer_wkb(spec, engine="fiona")[1] is None  # fiona gives no bytes
    assert read_layer_wkb(spec, keep_wkb=False)[1] is None
    (tmp_path / "dated").mkdir()
    dated, _ = _parcels(tmp_path / "dated", with_date=True)
    frame, wkb = read_layer_wkb(dated)  # a date field: geopandas converts it, no bytes kept
    assert wkb is None
    pd.testing.assert_frame_equal(frame, read_layer(dated))


def test_source_wkb_keeps_the_bytes_of_the_parcels_validation_left_as_read(tmp_path):
    from conftest import VN2000_TN

    from geo.read import read_layer_wkb
    from geo.validate import validate_layer

    spec, _ = _parcels(tmp_path)
    raw, wkb = read_layer_wkb(spec)
    layer, findings = validate_layer(raw, spec, VN2000_TN)
    assert [f.kind for f in findings] == ["geometry_repaired"]  # the bow-tie
    source = layer_writer.SourceWkb.matching(
        raw.geometry.to_numpy(), wkb, layer.geometry.to_numpy()
    )
    # the repaired bow-tie's geometry as read is not held: its bytes are not those written
    assert [g is not None for g in source.geometries] == [True, True, True, False, True]
    parcels = layer.geometry.to_numpy()
    cut = shapely.intersection(parcels[0], shapely.box(*PARCELS_AT, *np.add(PARCELS_AT, 50)))
    geometries = np.array([parcels[1], cut, parcels[3], parcels[4], parcels[0]], dtype=object)
    known = source.take(geometries, np.array([1, 0, 3, 4, 7]))
    # the cut part, the repaired parcel and a position beyond the layer are not known
    assert known.rows.tolist() == [1, -1, -1, 4, -1]
    assert known.slice(0, 5).to_pylist() == [
        wkb[1].as_py(),
        None,
        None,
        wkb[4].as_py(),
        None,
    ]
    # a layer that lost features to validation: its rows in the file say where its bytes are
    fewer = layer_writer.SourceWkb.matching(
        raw.geometry.to_numpy(), wkb, parcels[[0, 2, 4]], np.array([0, 2, 4])
    )
    assert [g is not None for g in fewer.geometries] == [True, False, True, False, True]
    assert fewer.take(parcels[[4, 0]], np.array([4, 0])).slice(0, 2).to_pylist() == [
        wkb[4].as_py(),
        wkb[0].as_py(),
    ]
    assert layer_writer.SourceWkb.matching(parcels[:4], wkb, parcels[:4]) is None  # not aligned
    assert layer_writer.SourceWkb.matching(parcels, None, parcels) is None
    fresh = np.array([shapely.box(0, 0, 1, 1)] * 5, dtype=object)
    assert layer_writer.SourceWkb.matching(fresh, wkb, parcels) is None  # none as read


def test_a_layer_written_from_known_bytes_is_the_layer_encoded(tmp_path, monkeypatch):
    from conftest import VN2000_TN

    squares = [shapely.box(x, 0, x + 100, 100) for x in range(0, 1000, 200)]
    mixed = [shapely.MultiPolygon([g]) if i % 2 else g for i, g in enumerate(squares)]
    for geometries in (squares, [shapely.MultiPolygon([g]) for g in squares], mixed):
        layer = gpd.GeoDataFrame({"n": range(5)}, geometry=geometries, crs=VN2000_TN)
        array = np.asarray(geometries, dtype=object)
        held = array.copy()
        held[2] = None  # as if validation had changed it
        source = layer_writer.SourceWkb(
            held,
            pa.chunked_array(
                [shapely.to_wkb(array[:2], byte_order=1), shapely.to_wkb(array[2:], byte_order=1)]
            ),
        )
        known = source.take(array, np.arange(5))
        monkeypatch.setattr(layer_writer, "BATCH_ROWS", 2)
        reused = layer_writer.arrow_layer(layer, lazy=True, wkb=known)
        encoded = layer_writer.arrow_layer(layer)
        assert reused.geometry_type == encoded.geometry_type
        assert pa.Table.from_batches(list(reused.table)).equals(encoded.table)
    # where polygons are made multi, a polygon is encoded even when its own bytes are known:
    # in the mixed layer, squares 0 and 4 (polygons) and 2 (not as read), one a batch
    calls = []
    real = layer_writer.multi_polygon_wkb
    monkeypatch.setattr(
        layer_writer, "multi_polygon_wkb", lambda g, k: calls.append(len(g)) or real(g, k)
    )
    list(layer_writer.arrow_layer(layer, lazy=True, wkb=known).table)
    assert calls == [1, 1, 1]


def test_a_run_writes_its_uncut_parcels_from_the_bytes_read(tiny_project, tmp_path, monkeypatch):
    landuse = gpd.read_file(tiny_project / "landuse.fgb")
    landuse.to_file(tiny_project / "landuse.gpkg", layer="landuse")
    toml = tiny_project / "project.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("landuse.fgb", "landuse.gpkg"))
    result = geo.run(geo.load_project(tiny_project))
    assert result.landuse_wkb is not None
    # in the project CRS, valid: every parcel held as read
    assert not shapely.is_missing(result.landuse_wkb.geometries).any()
    here, child = tmp_path / "here.gpkg", tmp_path / "child.gpkg"
    outputs.write_geopackage(result, here)
    taken = []
    take = layer_writer.SourceWkb.take
    monkeypatch.setattr(
        layer_writer.SourceWkb,
        "take",
        lambda self, g, p: (known := take(self, g, p), taken.append(known.rows))[0],
    )
    monkeypatch.setattr(outputs, "BACKGROUND_MIN_PIECES", 0)
    started = outputs.start_geopackage(result, child)
    started.wait()
    crossing = np.asarray(result.landuse_split.pieces.crossing, dtype=bool)
    assert len(taken) == 1
    # every piece no hamlet boundary cuts is written from the bytes read, and only those
    assert (taken[0] >= 0).tolist() == (~crossing).tolist()
    assert 0 < crossing.sum() < len(crossing)
    left, right = geopackage_layers(here), geopackage_layers(child)
    for name in left:
        pd.testing.assert_frame_equal(left[name], right[name], obj=name)


def test_known_wkb_takes_rows_from_each_chunk_in_any_order():
    source = pa.chunked_array([[b"a", b"b"], [b"c"], [b"d", b"e", b"f"]])
    known = layer_writer.KnownWkb(source, np.array([5, -1, 0, 2, 3, -1, 1]))
    assert known.slice(0, 7).to_pylist() == [b"f", None, b"a", b"c", b"d", None, b"b"]
    assert known.slice(2, 4).to_pylist() == [b"a", b"c"]
    assert known.slice(1, 2).to_pylist() == [None]


def test_read_layer_wkb_refuses_a_plain_table_and_an_empty_layer(tmp_path):
    from geo.errors import EmptyInputError, LayerReadError
    from geo.project import LayerSpec
    from geo.read import read_layer_wkb

    pyogrio.write_dataframe(pd.DataFrame({"loai_dat": ["LUA"]}), tmp_path / "t.gpkg", layer="t")
    with pytest.raises(LayerReadError, match="has no geometry"):
        read_layer_wkb(LayerSpec("landuse", tmp_path / "t.gpkg", None, {"code": "loai_dat"}))
    empty = gpd.GeoDataFrame({"loai_dat": []}, geometry=gpd.GeoSeries([], crs="EPSG:9213"))
    empty.to_file(tmp_path / "e.gpkg", layer="e")
    with pytest.raises(EmptyInputError, match="holds no features"):
        read_layer_wkb(LayerSpec("landuse", tmp_path / "e.gpkg", None, {"code": "loai_dat"}))


def test_the_child_starts_without_the_data_frame_libraries(tmp_path):
    # how LayerWrite starts its child: this file's main gets its own arguments, and
    # pyogrio's optional imports fail as if not installed (it then skips its data-frame API)
    import os
    import subprocess
    import sys

    probe = tmp_path / "probe.py"
    probe.write_text(
        "import sys\n"
        "for name in ('pandas', 'shapely', 'pyproj', 'geopandas'):\n"
        "    try:\n"
        "        __import__(name)\n"
        "    except ImportError:\n"
        "        print('no', name)\n"
        "import pyogrio\n"
        "print(sys.argv[1:], pyogrio.write_arrow.__name__, __name__)\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-P", "-c", layer_writer._CHILD_START, str(probe), "out.gpkg", "layer"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **layer_writer._CHILD_ENV},  # as LayerWrite starts it
    )
    assert done.stdout.splitlines() == [
        "no pandas",
        "no shapely",
        "no pyproj",
        "no geopandas",
        "['out.gpkg', 'layer'] write_arrow __main__",
    ]
