"""The dask engine: the land use on a dask.distributed cluster, the same results as the default.

On generated communes (benchmarks/generate.py at its tiny scale, in tmp_path):
criteria.csv, units.csv and hamlets.csv of ``engine="dask"`` are byte-identical
to the default engine's (both split the parcels by the hamlets once and add the
same pieces in the same order), and so are the findings.
"""

from __future__ import annotations

import logging

import pandas as pd
import pytest
from conftest import assert_same_geopackage, assert_same_tables, load_generator

import geo
from geo import distributed as geo_distributed
from geo import webmap
from geo.chunked import build_chunks
from geo.engines import EngineError

pytest.importorskip("distributed")
pytest.importorskip("dask_geopandas")


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    module = load_generator()
    scale = module.Scale("T4", 2, 2, 3, 200, cell_m=1_500.0)  # 4 communes, 12 hamlets
    folder, _ = module.ensure(scale, tmp_path_factory.mktemp("bench"), seed=8)
    project = geo.load_project(folder)
    return project, geo.run(project)


DASK_TABLES = ("criteria.csv", "units.csv", "hamlets.csv")


def test_dask_engine_on_a_local_cluster_gives_the_same_tables(generated, tmp_path, caplog):
    project, default = generated
    with caplog.at_level(logging.INFO, logger="geo.chunked"):
        result = geo.run(project, engine="dask")
    [stats] = [r.stats for r in caplog.records if hasattr(r, "stats")]
    assert stats.engine == "pyogrio"  # the library the workers read with
    assert stats.chunks == 4
    assert len(stats.peak_rss_mb) >= 1  # worker processes
    assert stats.rest == 0  # every parcel lies in a unit's window
    assert_same_tables(default, result, tmp_path / "tables", DASK_TABLES, min_bytes=1000)
    pd.testing.assert_frame_equal(default.findings, result.findings, check_exact=True)
    # the GeoPackage too, its parcel pieces back from the workers in any order
    layers = assert_same_geopackage(default, result, tmp_path / "gpkg")
    assert len(layers["landuse_by_hamlet"]) > 200
    # and the map: the workers returned their parcels (few), drawn as the default run draws them
    assert result.landuse_parcels is not None
    drawn = webmap.render_result_map(default, progress=None)
    assert '"mode":"parcels"' in drawn
    assert webmap.render_result_map(result, progress=None) == drawn


def test_dask_engine_on_a_running_scheduler(generated, tmp_path):
    from distributed import LocalCluster

    project, default = generated
    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        result = geo.run(project, engine="dask", scheduler=cluster.scheduler_address)
    assert_same_tables(default, result, tmp_path / "tables", DASK_TABLES, min_bytes=1000)


def test_unreachable_scheduler_is_a_one_line_error(generated, monkeypatch):
    project, _ = generated
    monkeypatch.setattr(geo_distributed, "CONNECT_TIMEOUT_S", 1)
    with pytest.raises(EngineError, match=r"scheduler: cannot reach tcp://127\.0\.0\.1:9"):
        geo.run(project, engine="dask", scheduler="tcp://127.0.0.1:9")


def test_spatial_partitions_follow_a_hilbert_curve(generated):
    _, default = generated
    units = default.units[["id", "name", "geometry"]]
    hamlets = default.hamlets[["id", "name", "population", "unit_id", "geometry"]]
    chunks = build_chunks(units, hamlets)
    parts = geo_distributed.spatial_partitions(chunks, 2)
    assert sorted(c.index for part in parts for c in part) == list(range(4))
    assert [len(p) for p in parts] == [2, 2]
    # neighbours together: each partition's two units share a boundary
    geometries = units.geometry.to_numpy()
    for part in parts:
        a, b = (geometries[c.index] for c in part)
        assert a.intersection(b).length > 0
    assert len(geo_distributed.spatial_partitions(chunks, 10)) == 4
    assert geo_distributed.spatial_partitions([], 3) == []
