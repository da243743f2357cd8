"""The benchmark data generator (benchmarks/generate.py), at a tiny scale only."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import load_generator

import geo

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def generate():
    return load_generator()


@pytest.fixture(scope="module")
def tiny(generate):
    return generate.generate(generate.TINY, seed=3)


def test_counts(generate, tiny):
    scale = generate.TINY
    assert len(tiny.communes) == scale.communes == 2
    assert len(tiny.hamlets) == scale.hamlets == 8
    assert len(tiny.landuse) == scale.parcels == 600
    assert len(tiny.population) == len(tiny.hamlets)
    assert tiny.hamlets["ma_thon"].is_unique
    assert len(tiny.infrastructure) >= len(tiny.hamlets)  # a cultural house each, and more
    assert set(tiny.roads["surface"]) <= {"asphalt", "concrete", "gravel", "earth"}
    for layer in (tiny.communes, tiny.hamlets, tiny.landuse, tiny.infrastructure, tiny.roads):
        assert layer.crs == "EPSG:9213"
    # the published scales
    assert (generate.SCALES["L"].communes, generate.SCALES["L"].hamlets) == (100, 2_000)
    assert generate.SCALES["L"].parcels == 1_000_000
    assert [generate.SCALES[s].parcels for s in "SM"] == [10_000, 100_000]


def test_deterministic(generate, tiny):
    again = generate.generate(generate.TINY, seed=3)
    for name in ("communes", "hamlets", "landuse", "infrastructure", "roads"):
        first, second = getattr(tiny, name), getattr(again, name)
        assert first.drop(columns="geometry").equals(second.drop(columns="geometry"))
        assert list(shapely.to_wkb(first.geometry.to_numpy())) == list(
            shapely.to_wkb(second.geometry.to_numpy())
        )
    assert tiny.population.equals(again.population)
    other = generate.generate(generate.TINY, seed=4)
    assert not shapely.equals(tiny.landuse.geometry.iloc[0], other.landuse.geometry.iloc[0])


def test_one_percent_invalid_bow_ties_repairable(generate, tiny):
    geoms = tiny.landuse.geometry.to_numpy()
    invalid = np.flatnonzero(~shapely.is_valid(geoms))
    assert invalid.tolist() == tiny.invalid.tolist()
    assert invalid.size == round(generate.INVALID_SHARE * len(geoms)) == 6
    reasons = shapely.is_valid_reason(geoms[invalid])
    assert all("Self-intersection" in r for r in reasons), reasons
    repaired = shapely.make_valid(geoms[invalid], method="structure", keep_collapsed=False)
    change = np.abs(shapely.area(repaired) - shapely.area(geoms[invalid]))
    assert (change < 1.0).all()
    assert (change / shapely.area(repaired) < 0.005).all()  # the pipeline refuses above 1 %
    assert set(shapely.get_type_id(repaired)) == {shapely.GeometryType.POLYGON}


def test_tilings(tiny):
    communes = tiny.communes.geometry.to_numpy()
    hamlets = tiny.hamlets.geometry.to_numpy()
    assert shapely.coverage_is_valid(hamlets)
    assert shapely.coverage_is_valid(communes)
    assert shapely.area(hamlets).sum() == pytest.approx(shapely.area(communes).sum(), rel=1e-12)
    parcels = tiny.landuse.geometry.to_numpy().copy()
    bad = ~shapely.is_valid(parcels)
    parcels[bad] = shapely.make_valid(parcels[bad], method="structure", keep_collapsed=False)
    # parcels tile each commune, up to the 0.27 m² holes left by the repaired bow-ties
    total = shapely.area(parcels).sum()
    assert total == pytest.approx(shapely.area(communes).sum(), abs=bad.sum() * 0.3)
    assert set(tiny.landuse["loai_dat"]) <= set(generate_codes())
    assert {"ONT", "ODT"} & set(tiny.landuse["loai_dat"])


def generate_codes():
    import tomllib

    with (ROOT / "layers" / "reference" / "landuse-codes.toml").open("rb") as file:
        return tomllib.load(file)["codes"]


def test_project_folder_runs_and_is_cached(generate, tmp_path):
    folder, manifest = generate.ensure(generate.TINY, tmp_path, seed=3)
    assert not manifest["cached"]
    assert manifest["counts"]["parcels"] == 600
    again, manifest = generate.ensure(generate.TINY, tmp_path, seed=3)
    assert again == folder
    assert manifest["cached"]
    assert json.loads((folder / "manifest.json").read_text())["seed"] == 3
    assert gpd.read_file(folder / "landuse.gpkg").crs == "EPSG:9213"

    result = geo.run(geo.load_project(folder))
    assert len(result.units) == 2
    assert len(result.hamlets) == 8
    assert result.hamlets["unit_id"].nunique() == 2
    repaired = result.findings.loc[result.findings["kind"] == "geometry_repaired"]
    assert len(repaired) == 6
    assert result.hamlets["population"].notna().all()
    kinds = set(result.coverage["kind"]) if result.coverage is not None else set()
    assert not kinds & {"gap", "overlap", "hamlet_sum_mismatch", "landuse_uncovered"}


@pytest.fixture
def bench_run(monkeypatch):
    """benchmarks/run.py, imported as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "benchmarks" / "run.py")
    run = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_run", run)  # its dataclasses look themselves up
    monkeypatch.setattr(sys, "path", list(sys.path))  # run.py puts its folders first
    spec.loader.exec_module(run)
    return run


def test_every_timed_stage_names_a_function_of_this_geo(bench_run):
    # run.py tolerates names an older geo lacks (to time old commits): this one has them all,
    # or a renamed call would silently move its time to "pipeline: other"
    run = bench_run
    profiler = run.Profiler()
    with run.instrumented(profiler) as missing:
        assert missing == []
    assert {"read", "validate", "indicators: land-use split", "outputs: GeoPackage"} <= {
        label for _, _, label in run.STAGES
    }


def test_machine_check_times_one_thread_and_two_at_once(bench_run):
    check = bench_run.machine_check(repeat=1)
    assert min(check) > 0  # timings only: their sizes depend on the host
    ratio = f"{check.together_s / check.alone_s:.2f}×"
    assert str(check).startswith(f"{check.one_thread_s:.3f} s on one thread")
    assert ratio in str(check)


def test_machine_check_alone_prints_what_the_runs_read(bench_run, capsys, monkeypatch):
    measured = bench_run.MachineCheck(0.7125, 0.4501, 0.4952)
    monkeypatch.setattr(bench_run, "machine_check", lambda: measured)
    assert bench_run.main(["--machine-check"]) == 0
    printed = capsys.readouterr().out
    assert printed.split("\n")[0] == (
        "machine check (best of 3): 0.713 s on one thread; its GEOS and NumPy part 1.10× as "
        "long on two threads at once"
    )
    assert bench_run.parse_check(printed) == measured


def test_rss_gauge_adds_a_child_while_it_runs_and_drops_it_once_ended(bench_run, monkeypatch):
    import subprocess

    monkeypatch.setattr(bench_run, "CHILD_SCAN_S", 0.0)  # look for children at every reading
    gauge = bench_run.RssGauge()
    alone = gauge.mb()
    statm = int(Path("/proc/self/statm").read_text().split()[1]) * bench_run.PAGE / 2**20
    assert alone == pytest.approx(statm, abs=5)
    touch = "import sys; b = bytearray(200 << 20); b[::4096] = b'x' * len(b[::4096]); "
    touch += "print('ready'); sys.stdin.read()"
    child = subprocess.Popen(  # 200 MiB touched, then waits for its input to close
        [sys.executable, "-u", "-c", touch],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline() == "ready\n"
        assert gauge.mb() - alone > 200
        assert list(gauge.children) == [str(child.pid)]
    finally:
        child.communicate("")
    assert gauge.mb() - alone < 5
    assert gauge.children == {}


def test_split_timings_take_turns_and_keep_each_ones_median_and_last_value(bench_run):
    import time

    calls = []

    def timed_call(name, pause):
        def call():
            calls.append(name)
            time.sleep(pause)
            return len(calls)

        return call

    timed = bench_run._median_times_in_turn(
        {"split": timed_call("split", 0.001), "floor": timed_call("floor", 0.03)}, 3
    )
    assert calls == ["split", "floor"] * 3
    assert (timed["split"][1], timed["floor"][1]) == (5, 6)  # the last call's value
    assert timed["split"][0] < 0.03 <= timed["floor"][0]
