"""Reading engines (pyogrio, fiona), GeoParquet in and out, and land use read one unit at a time.

Every engine and reading mode must give the same results: the same columns,
dtypes, values, geometries and findings as the default run.
"""

from __future__ import annotations

import shutil
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import VN2000_TN, assert_same_geopackage, load_generator, square
from shapely.geometry import Polygon

import geo
from geo import chunked, engines, parallel, read, webmap
from geo.errors import GeoInputError, LayerReadError, NoCrsError
from geo.outputs import write_csv, write_outputs
from geo.read import layer_bounds, read_layer, read_window
from geo.validate import validate_layer

ROOT = Path(__file__).resolve().parents[1]
BAD = Path(__file__).parent / "data" / "bad"
SAMPLE = ROOT / "layers" / "quyet-thang"


def assert_same_run(a: geo.RunResult, b: geo.RunResult, *, rtol: float = 0.0) -> None:
    """The same units, hamlets, criteria, findings, contributions and coverage tables.

    ``rtol=0``: identical; else numbers within ``rtol`` (relative), the rest identical.
    """
    for name in ("units", "hamlets", "criteria", "findings", "contributions", "coverage"):
        left, right = getattr(a, name), getattr(b, name)
        if left is None or right is None:
            assert left is None, name
            assert right is None, name
            continue
        if isinstance(left, gpd.GeoDataFrame):
            assert left.crs == right.crs, name
            assert shapely.equals_exact(
                shapely.normalize(left.geometry.to_numpy()),
                shapely.normalize(right.geometry.to_numpy()),
                tolerance=0,
            ).all(), name
            left = pd.DataFrame(left.drop(columns=left.geometry.name))
            right = pd.DataFrame(right.drop(columns=right.geometry.name))
        pd.testing.assert_frame_equal(
            left.reset_index(drop=True),
            right.reset_index(drop=True),
            check_exact=rtol == 0.0,
            rtol=rtol or 1e-5,
            atol=0.0,
            obj=name,
        )


# --------------------------------------------------------------------------- fiona


@pytest.mark.parametrize("folder", ["tiny", "sample"])
def test_fiona_and_pyogrio_read_the_same_layers(tiny_project, folder):
    project = geo.load_project(tiny_project if folder == "tiny" else SAMPLE)
    for spec in project.layers.values():
        a, found_a = validate_layer(
            read_layer(spec, engine="pyogrio"), spec, project.crs, province=project.province
        )
        b, found_b = validate_layer(
            read_layer(spec, engine="fiona"), spec, project.crs, province=project.province
        )
        assert list(a.columns) == list(b.columns), spec.key
        assert list(a.dtypes) == list(b.dtypes), spec.key
        assert a.crs == b.crs
        pd.testing.assert_frame_equal(
            pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry"))
        )
        assert shapely.equals_exact(a.geometry.to_numpy(), b.geometry.to_numpy(), 0).all()
        assert found_a == found_b


@pytest.mark.parametrize("folder", ["tiny", "sample"])
def test_fiona_engine_gives_the_same_criteria(tiny_project, tmp_path, folder):
    project = geo.load_project(tiny_project if folder == "tiny" else SAMPLE)
    a = geo.run(project)
    b = geo.run(project, engine="fiona")
    assert_same_run(a, b)
    write_csv(a.criteria, tmp_path / "a.csv")
    write_csv(b.criteria, tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_fiona_reads_legacy_dbf_and_damaged_files_like_pyogrio(tiny_project):
    project = geo.load_project(tiny_project)
    spec = project.layers["hamlets"]
    legacy = type(spec)(spec.role, BAD / "hamlets-tcvn3.shp", None, spec.fields)
    a, found_a = validate_layer(read_layer(legacy), legacy, project.crs)
    b, found_b = validate_layer(read_layer(legacy, engine="fiona"), legacy, project.crs)
    assert a["name"].tolist() == b["name"].tolist()
    assert [f.kind for f in found_a] == [f.kind for f in found_b]
    assert "encoding_converted" in {f.kind for f in found_b}
    garbage = type(spec)(spec.role, BAD / "garbage.gpkg", None, spec.fields)
    with pytest.raises(LayerReadError, match=r"layers\.hamlets\.path = .*garbage\.gpkg"):
        read_layer(garbage, engine="fiona")
    missing = type(spec)(spec.role, tiny_project / "missing.gpkg", None, spec.fields)
    with pytest.raises(LayerReadError, match=r"missing\.gpkg: file not found"):
        read_layer(missing, engine="fiona")
    wrong = type(spec)(spec.role, spec.path, "nope", spec.fields)
    with pytest.raises(LayerReadError, match=r"no layer 'nope'.*fix layers\.hamlets\.layer"):
        read_layer(wrong, engine="fiona")


def test_unknown_engine_and_stray_scheduler_are_refused(tiny_project):
    project = geo.load_project(tiny_project)
    with pytest.raises(engines.EngineError, match="engine: 'spark' is not one of pyogrio"):
        geo.run(project, engine="spark")
    with pytest.raises(engines.EngineError, match="only used with engine dask"):
        geo.run(project, scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(engines.EngineError, match="not a scheduler address"):
        geo.run(project, engine="dask", scheduler="localhost")
    with pytest.raises(ValueError, match="engine"):
        read_layer(project.layers["units"], engine="gdal")


# --------------------------------------------------------------------------- GeoParquet


def _to_parquet(folder: Path, name: str, *, layer: str | None = None) -> str:
    frame = gpd.read_file(folder / name, layer=layer)
    target = f"{Path(name).stem}.parquet"
    frame.to_parquet(folder / target)
    return target


def test_geoparquet_input_layers_give_the_same_results(tiny_project):
    before = geo.run(geo.load_project(tiny_project))
    text = (tiny_project / "project.toml").read_text(encoding="utf-8")
    units = _to_parquet(tiny_project, "communes.geojson")
    hamlets = _to_parquet(tiny_project, "hamlets.gpkg", layer="xom")
    landuse = _to_parquet(tiny_project, "landuse.fgb")
    text = text.replace('path = "communes.geojson"', f'path = "{units}"')
    text = text.replace('path = "hamlets.gpkg"\nlayer = "xom"', f'path = "{hamlets}"')
    text = text.replace('path = "landuse.fgb"', f'path = "{landuse}"')
    (tiny_project / "project.toml").write_text(text, encoding="utf-8")
    project = geo.load_project(tiny_project)
    assert project.layers["units"].path.suffix == ".parquet"
    after = geo.run(project)
    # the units were stored in EPSG:4326 (GeoJSON): the same coordinates either way
    assert_same_run(before, after, rtol=1e-12)
    # a GeoParquet land-use layer is read per commune above parcels_in_memory (its row count)
    assert not engines.plan(project, parcels_in_memory=3).per_unit
    assert engines.plan(project, parcels_in_memory=2).per_unit
    assert engines.plan(project, engine="dask").per_unit
    assert_same_run(before, geo.run(project, parcels_in_memory=0), rtol=1e-12)


def test_bad_geoparquet_is_refused_naming_the_file(tiny_project):
    project = geo.load_project(tiny_project)
    spec = project.layers["units"]
    plain = tiny_project / "plain.parquet"
    pd.DataFrame({"MA": ["001"], "TEN": ["x"]}).to_parquet(plain)
    with pytest.raises(
        LayerReadError, match=r"layers\.units\.path = .*plain\.parquet: cannot read"
    ):
        read_layer(type(spec)(spec.role, plain, None, spec.fields))
    bare = tiny_project / "bare.parquet"
    frame = gpd.read_file(spec.path)
    frame.set_crs(None, allow_override=True).to_parquet(bare)
    bare_spec = type(spec)(spec.role, bare, None, spec.fields)
    with pytest.raises(NoCrsError, match=r"layers\.units \(bare\.parquet\): the layer has no CRS"):
        validate_layer(read_layer(bare_spec), bare_spec, project.crs)


def test_geoparquet_outputs_round_trip(tiny_project, tmp_path):
    result = geo.run(geo.load_project(tiny_project))
    out = tmp_path / "out"
    written = write_outputs(result, out, parquet=True)
    assert {out / "units.parquet", out / "hamlets.parquet"} <= set(written)
    for level in ("units", "hamlets"):
        back = gpd.read_parquet(out / f"{level}.parquet")
        gpkg = gpd.read_file(out / "results.gpkg", layer=level)
        assert back.crs == result.units.crs
        assert list(back.columns) == list(gpkg.columns)
        zones = getattr(result, level)
        assert back["id"].tolist() == zones["id"].tolist()
        assert shapely.equals_exact(back.geometry.to_numpy(), zones.geometry.to_numpy(), 0).all()
        np.testing.assert_array_equal(back["area_km2"], zones["area_km2"])
        pd.testing.assert_frame_equal(
            pd.DataFrame(back.drop(columns="geometry")).astype(object).where(back.notna(), None),
            pd.DataFrame(gpkg.drop(columns="geometry")).astype(object).where(gpkg.notna(), None),
            check_dtype=False,
        )
    # GeoParquet written by geo is an input layer for the next run
    spec = geo.load_project(tiny_project).layers["units"]
    again = read_layer(
        type(spec)(spec.role, out / "units.parquet", None, {"id": "id", "name": "name"})
    )
    assert again["id"].tolist() == ["001", "002"]
    # a later run without --parquet leaves one run's set of files
    write_outputs(result, out)
    assert not (out / "units.parquet").exists()
    assert not (out / "hamlets.parquet").exists()


# --------------------------------------------------------------------------- per-unit reads


def _hard_landuse(folder: Path) -> None:
    """Replace the tiny project's land use with parcels that test the per-unit bookkeeping.

    Stored in EPSG:4326 (not the project's CRS), as GeoPackage with empty geometries:
    a parcel crossing the boundary of the two units (x = 3 km), a residential one
    crossing it too, one outside every unit, a repairable bow-tie, an unknown code on
    each side, and the tiny project's three parcels.
    """
    bowtie = load_generator()._figure_eight(square(100, 500, 200, 200))
    assert not bowtie.is_valid
    landuse = gpd.GeoDataFrame(
        {"loai_dat": ["LUA", "ONT", "ODT", "CLN", "ONT", None, "ZZZ", "BHK", "LUA", "ZZZ", "HNK"]},
        geometry=[
            square(1400, 0, 200, 100),  # A1 | A2
            square(100, 100, 100, 50),  # A1
            square(3100, 100, 50, 50),  # B1
            square(2900, 500, 200, 100),  # A2 | B1: crosses the units' boundary
            square(2950, 900, 100, 80),  # residential, A2 | B1
            Polygon(),
            square(6000, 500, 100, 100),  # outside every unit
            bowtie,  # A1, invalid
            square(4990, 1900, 20, 20),  # B1 and outside
            square(3500, 1500, 30, 30),  # B1, unknown code
            Polygon(),
        ],
        crs=VN2000_TN,
    )
    landuse.to_crs(4326).to_file(folder / "landuse.gpkg", driver="GPKG")
    toml = folder / "project.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace("landuse.fgb", "landuse.gpkg"), encoding="utf-8"
    )


def test_per_unit_reads_give_the_same_results(tiny_project, window_reads, tmp_path):
    _hard_landuse(tiny_project)
    project = geo.load_project(tiny_project)
    whole = geo.run(project)
    kinds = set(whole.findings["kind"])
    assert {"empty_geometry_dropped", "geometry_repaired", "unknown_landuse_code"} <= kinds
    reads = window_reads
    per_unit = geo.run(project, parcels_in_memory=0)
    assert_same_run(whole, per_unit)  # one split by the hamlets in both: identical
    assert per_unit.landuse is None
    # the GeoPackage too: the pieces came from the units' windows, numbered and ordered
    # as the whole layer's (the empty, repaired and outside parcels in between)
    layers = assert_same_geopackage(whole, per_unit, tmp_path)
    pieces = layers["landuse_by_hamlet"]
    assert per_unit.landuse_pieces is not None
    assert len(pieces) == per_unit.landuse_pieces.rows > 0
    assert pieces.index.tolist() == list(range(1, len(pieces) + 1))
    windows = [r for r in reads if r.get("mask") is not None]
    assert len(windows) == 2  # one per unit
    assert all(r["rows"] < 9 for r in windows)  # never the whole layer
    # the crossing parcels were read by both units, their pieces counted once
    units = per_unit.units.set_index("id")
    assert units.loc["001", "landuse_CLN_km2"] == pytest.approx(0.01)
    assert units.loc["002", "landuse_CLN_km2"] == pytest.approx(0.01)
    assert per_unit.findings.loc[
        per_unit.findings["kind"] == "empty_geometry_dropped", "feature"
    ].tolist() == ["#6", "#11"]
    [repair] = per_unit.findings.loc[per_unit.findings["kind"] == "geometry_repaired", "feature"]
    assert repair == "#8"  # the 8th feature of the layer, counted as the empty ones are
    # each piece's parcel is its row in the layer (not 6 or 11, empty; not 7, outside)
    assert set(pieces["parcel"]) == {1, 2, 3, 4, 5, 8, 9, 10}
    unknown = per_unit.findings.loc[per_unit.findings["kind"] == "unknown_landuse_code"]
    assert unknown["feature"].tolist() == ["ZZZ"]
    assert unknown["value"].iloc[0] == pytest.approx(0.0109, rel=1e-6)


@pytest.mark.parametrize("covering", [True, False])
def test_per_unit_reads_on_geoparquet_give_the_same_results(tiny_project, covering, tmp_path):
    _hard_landuse(tiny_project)
    whole = geo.run(geo.load_project(tiny_project))
    frame = gpd.read_file(tiny_project / "landuse.gpkg")
    frame.to_parquet(
        tiny_project / "landuse.parquet", write_covering_bbox=covering, row_group_size=3
    )
    toml = tiny_project / "project.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace("landuse.gpkg", "landuse.parquet"),
        encoding="utf-8",
    )
    per_unit = geo.run(geo.load_project(tiny_project), parcels_in_memory=0)
    assert per_unit.landuse is None
    assert_same_run(whole, per_unit)  # empty, invalid and outside parcels numbered alike
    assert_same_geopackage(whole, per_unit, tmp_path)
    assert per_unit.findings.loc[
        per_unit.findings["kind"] == "empty_geometry_dropped", "feature"
    ].tolist() == ["#6", "#11"]


@pytest.mark.parametrize("threads", [1, 2])
def test_per_unit_reads_on_generated_communes(tmp_path, monkeypatch, threads):
    generate = load_generator()
    folder, _ = generate.ensure(generate.TINY, tmp_path, seed=5)
    project = geo.load_project(folder)
    whole = geo.run(project)
    # communes one after the other, or two at a time on threads: the same results
    monkeypatch.setattr(parallel, "THREADS", threads)
    started = []
    real = chunked.process_chunk
    monkeypatch.setattr(
        chunked,
        "process_chunk",
        lambda task, chunk: started.append(threading.current_thread().name) or real(task, chunk),
    )
    per_unit = geo.run(project, parcels_in_memory=100)  # 600 parcels: per unit
    assert_same_run(whole, per_unit)  # one split by the hamlets in both: identical
    assert len(started) == 2  # two communes
    assert all((name == "MainThread") is (threads == 1) for name in started)
    assert engines.plan(project, parcels_in_memory=600).per_unit is False
    assert engines.plan(project, parcels_in_memory=599).per_unit is True


def test_per_unit_error_names_the_parcel_as_a_whole_run_does(tiny_project):
    _hard_landuse(tiny_project)
    frame = gpd.read_file(tiny_project / "landuse.gpkg")
    geometries = frame.geometry.to_numpy().copy()
    # the 10th feature: a hole outside its shell, which repair cannot keep within 1 %
    x, y = geometries[9].exterior.coords[0]
    geometries[9] = Polygon(
        [(x, y), (x + 0.001, y), (x + 0.001, y + 0.001), (x, y + 0.001)],
        [[(x + 0.0005, y), (x + 0.002, y), (x + 0.002, y + 0.0005), (x + 0.0005, y + 0.0005)]],
    )
    frame.geometry = geometries
    frame.to_file(tiny_project / "landuse.gpkg", driver="GPKG")
    project = geo.load_project(tiny_project)
    with pytest.raises(GeoInputError) as whole:
        geo.run(project)
    with pytest.raises(GeoInputError) as per_unit:
        geo.run(project, parcels_in_memory=0)
    assert type(per_unit.value) is type(whole.value)
    assert "feature #10 " in str(whole.value)  # named by its row, as the empty ones are
    assert "feature #10 " in str(per_unit.value)


def test_windows_and_bounds(tiny_project):
    _hard_landuse(tiny_project)
    project = geo.load_project(tiny_project)
    spec = project.layers["landuse"]
    [(fids, bounds)] = list(layer_bounds(spec))
    assert fids.tolist() == list(range(1, 12))  # GeoPackage feature ids start at 1
    assert (bounds[5] == 0).all()  # an empty geometry's box
    batches = list(layer_bounds(spec, batch=4))
    assert [len(f) for f, _ in batches] == [4, 4, 3]
    assert [len(f) for f, _ in layer_bounds(spec, batch=11)] == [11]  # no read past the end
    some = read_window(spec, fids=[3, 6, 10])
    assert some.index.tolist() == [3, 6, 10]
    assert some.geometry.is_empty.tolist() == [False, True, False]
    fiona_some = read_window(spec, engine="fiona", fids=[3, 6, 10])
    assert fiona_some.index.tolist() == [3, 6, 10]
    x0, y0, x1, y1 = (
        gpd.GeoSeries([square(2990, 0, 20, 2000)], crs=VN2000_TN).to_crs(4326).total_bounds
    )
    # the unit boundary x = 3 km, 1 m wide
    line = gpd.GeoSeries([square(2999.5, 0, 1, 2000)], crs=VN2000_TN).to_crs(4326).iloc[0]
    for engine in ("pyogrio", "fiona"):
        window = read_window(spec, engine=engine, bbox=(x0, y0, x1, y1))
        assert window.index.tolist() == [4, 5], engine
        assert read_window(spec, engine=engine, mask=line).index.tolist() == [4, 5], engine
    # the same layer as GeoParquet: feature ids are row numbers from 0, empty boxes are NaN
    frame = gpd.read_file(spec.path)
    frame.to_parquet(tiny_project / "landuse.parquet", write_covering_bbox=True, row_group_size=4)
    parquet = type(spec)(spec.role, tiny_project / "landuse.parquet", None, spec.fields)
    batches = list(layer_bounds(parquet, batch=3))
    assert [len(f) for f, _ in batches] == [3, 1, 3, 1, 3]  # row groups of 4, 4 and 3
    assert np.concatenate([f for f, _ in batches]).tolist() == list(range(11))
    boxes = np.concatenate([b for _, b in batches])
    assert np.isnan(boxes[[5, 10]]).all()
    np.testing.assert_array_equal(np.delete(boxes, [5, 10], 0), np.delete(bounds, [5, 10], 0))
    some = read_window(parquet, fids=[9, 2, 5])
    assert some.index.tolist() == [2, 5, 9]
    assert some.geometry.is_empty.tolist() == [False, True, False]
    assert read_window(parquet, bbox=(x0, y0, x1, y1)).index.tolist() == [3, 4]
    assert read_window(parquet, mask=line).index.tolist() == [3, 4]
    with pytest.raises(LayerReadError, match=r"x\.parquet: file not found"):
        read_window(type(spec)(spec.role, tiny_project / "x.parquet", None, spec.fields))


def test_bad_input_fixture_per_unit(tiny_project):
    """tests/data/bad's land use with empty geometries and a bow-tie, without a spatial index."""
    shutil.copy(BAD / "landuse-empty-and-bowtie.fgb", tiny_project / "landuse.fgb")
    project = geo.load_project(tiny_project)
    assert_same_run(geo.run(project), geo.run(project, parcels_in_memory=0))


# --------------------------------------------------------------------------- command line


def test_cli_engine_and_parquet_options(tiny_project, tmp_path, capsys):
    from geo.cli import main

    out = tmp_path / "out"
    assert (
        main(["run", str(tiny_project), "--out", str(out), "--engine", "fiona", "--parquet"]) == 0
    )
    assert (out / "units.parquet").is_file()
    assert (out / "hamlets.parquet").is_file()
    default = tmp_path / "default"
    assert main(["run", str(tiny_project), "--out", str(default), "-q"]) == 0
    assert (out / "criteria.csv").read_bytes() == (default / "criteria.csv").read_bytes()
    assert not (default / "units.parquet").exists()
    capsys.readouterr()
    assert main(["run", str(tiny_project), "--scheduler", "tcp://127.0.0.1:8786"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "geo: error: scheduler: 'tcp://127.0.0.1:8786' is only used with engine dask "
        "(--engine dask)"
    )
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(tiny_project), "--engine", "spark"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'spark'" in capsys.readouterr().err


def test_per_unit_with_a_unit_without_hamlets_or_parcels(tiny_project):
    hamlets = gpd.read_file(tiny_project / "hamlets.gpkg", layer="xom")
    hamlets.iloc[:2].to_file(tiny_project / "hamlets.gpkg", layer="xom", driver="GPKG")
    landuse = gpd.read_file(tiny_project / "landuse.fgb")
    landuse.iloc[:2].to_file(tiny_project / "landuse.fgb", driver="FlatGeobuf")  # none in B
    project = geo.load_project(tiny_project)
    whole = geo.run(project)
    assert "landuse_uncovered" in set(whole.coverage["kind"])
    assert_same_run(whole, geo.run(project, parcels_in_memory=0))


def test_per_unit_without_hamlets_writes_the_same_geopackage(tiny_project, tmp_path):
    toml = tiny_project / "project.toml"
    text = toml.read_text(encoding="utf-8")
    start, end = text.index("[layers.hamlets]"), text.index("[layers.landuse]")
    toml.write_text(text[:start] + text[end : text.index("[tables.population]")], encoding="utf-8")
    project = geo.load_project(tiny_project)
    whole = geo.run(project)
    assert whole.hamlets is None
    layers = assert_same_geopackage(whole, geo.run(project, parcels_in_memory=0), tmp_path)
    pieces = layers["landuse_by_hamlet"]
    assert pieces["hamlet_id"].isna().all()  # split by the units
    assert set(pieces["unit_id"]) == {"001", "002"}
    assert pieces.groupby("unit_id")["area_m2"].sum().to_dict() == pytest.approx(
        (whole.units.set_index("id")["landuse_covered_km2"] * 1e6).to_dict()
    )


def test_per_unit_map_is_the_whole_layer_runs_map(tiny_project, monkeypatch):
    _hard_landuse(tiny_project)  # empty, repaired, unknown-code and outside parcels
    project = geo.load_project(tiny_project)
    whole, per_unit = geo.run(project), geo.run(project, parcels_in_memory=0)
    # few parcels: the chunks and the last pass return them, joined in the layer's order
    parcels = per_unit.landuse_parcels
    assert parcels is not None
    assert len(parcels) == len(whole.landuse) == 9
    assert parcels["code"].tolist() == whole.landuse["code"].tolist()
    assert shapely.equals_exact(
        parcels.geometry.to_numpy(), whole.landuse.geometry.to_numpy(), tolerance=0
    ).all()
    drawn = webmap.render_result_map(whole, progress=None)
    assert '"mode":"parcels"' in drawn
    assert webmap.render_result_map(per_unit, progress=None) == drawn
    # beyond chunked.MAP_PARCELS no parcels are kept: each hamlet's shares, counted per chunk
    monkeypatch.setattr(chunked, "MAP_PARCELS", 8)
    per_unit = geo.run(project, parcels_in_memory=0)
    assert per_unit.landuse_parcels is None
    summary = per_unit.landuse_summary
    assert summary is not None
    assert summary.parcels == len(whole.landuse)
    assert sum(summary.area_m2.values()) == pytest.approx(
        shapely.area(whole.landuse.geometry.to_numpy()).sum(), rel=1e-12
    )
    shares = webmap.render_result_map(per_unit, progress=None)
    assert '"mode":"shares"' in shares
    # with the whole layer summarised too, the two maps are the same document
    monkeypatch.setattr(webmap, "PARCEL_DETAIL_LIMIT", 0)
    monkeypatch.setattr(webmap, "LANDUSE_SHAPE_LIMIT", 0)
    assert webmap.render_result_map(whole, progress=None) == shares


def test_map_parcels_cover_every_map_that_draws_or_merges_parcels():
    # a polygon has 4 coordinates or more: more parcels than this cannot be merged or drawn
    assert chunked.MAP_PARCELS * 4 >= webmap.LANDUSE_VERTEX_LIMIT
    assert chunked.MAP_PARCELS >= webmap.PARCEL_DETAIL_LIMIT


def test_per_unit_with_no_parcel_in_any_unit_writes_the_same_empty_layer(tiny_project, tmp_path):
    landuse = gpd.read_file(tiny_project / "landuse.fgb")
    outside = landuse.iloc[:1].set_geometry([square(20_000, 20_000, 100, 100)], crs=landuse.crs)
    outside.to_file(tiny_project / "landuse.fgb", driver="FlatGeobuf")
    project = geo.load_project(tiny_project)
    whole, per_unit = geo.run(project), geo.run(project, parcels_in_memory=0)
    assert per_unit.landuse_pieces is not None
    assert per_unit.landuse_pieces.rows == 0
    assert per_unit.landuse_summary is not None
    assert per_unit.landuse_summary.parcels == 1  # read by id, in no unit
    layers = assert_same_geopackage(whole, per_unit, tmp_path)
    assert layers["landuse_by_hamlet"].empty  # the layer is there, with its columns
    assert "parcel" in layers["landuse_by_hamlet"].columns


def test_reads_on_threads_each_record_their_own_warnings(tiny_project, monkeypatch):
    # a per-commune run reads communes on two threads; Python's warning filters are
    # process-wide, so each read must still note only the warnings it raised itself
    real = read._read_gdal

    def warning_read(spec, where, notes, options, *wkb):
        warnings.warn(f"start {spec.key}", stacklevel=1)
        time.sleep(0.05)  # the other thread's read starts meanwhile
        frame = real(spec, where, notes, options, *wkb)
        warnings.warn(f"end {spec.key}", stacklevel=1)
        return frame

    monkeypatch.setattr(read, "_read_gdal", warning_read)
    project = geo.load_project(tiny_project)
    specs = [project.layers["units"], project.layers["hamlets"], project.layers["landuse"]]
    with ThreadPoolExecutor(3) as pool:
        frames = list(pool.map(read_layer, specs))
    for spec, frame in zip(specs, frames, strict=True):
        noted = [note[3] for note in read.read_notes(frame) if note[2] == "read_warning"]
        name = spec.path.name
        assert noted == [f"{name}: start {spec.key}", f"{name}: end {spec.key}"]
