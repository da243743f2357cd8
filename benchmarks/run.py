"""Benchmark the pipeline stage by stage on synthetic data, and the exact split (issue 8).

Run::

    python benchmarks/run.py --scale S|M|L [--data DIR] [--seed N] [--skip-overlay] [--skip-map]
                             [--threads N]

1. The data of the scale (:mod:`generate`) is generated in a child process, or reused from
   ``--data`` (default ``/tmp/geo-bench``); the generation time is printed on its own.
2. ``geo.load_project``, ``geo.run`` and ``geo.write_outputs`` run once, exactly as ``geo run``
   does. The functions the pipeline calls are wrapped with timers for the duration, so the
   stage table is the real run cut into pieces, not a re-implementation of it: read →
   validate → join → indicators (land-use split, points, roads) → coverage (gaps, overlaps,
   land-use cover) → dasymetric → access (road graph, distances) → criteria → outputs (map,
   GeoPackage, tables). Time is exclusive (a stage nested in another is not counted twice);
   "other" rows are the code in between. The times add up to the end-to-end time. The steps
   that run on threads of their own beside the main thread (the road graph, the coverage
   checks) are timed apart, exclusive on their thread, and listed under the table; the main
   thread's waits for them have rows.
3. Memory is the resident set size (RSS), the honest figure (tracemalloc misses GEOS and
   GDAL): sampled every 10 ms by a thread and at every stage boundary, so "peak RSS" is the
   largest RSS seen during the stage and "+MB" its largest growth over the RSS at the stage's
   start (for a stage that calls others, over the RSS when they returned).
   The RSS of child processes (``results.gpkg``'s parcel layer is written by one while the
   other outputs are rendered) is added to the process's own while they run (a child is
   found within 100 ms of its start). Each reading takes about 2 µs (:class:`RssGauge`),
   so the sampling takes nothing measurable from the run. The end-to-end
   peak is the larger of ``getrusage(RUSAGE_SELF).ru_maxrss`` after the run and the largest
   sampled sum (the data is generated in another process before, and the split comparison
   runs after, so neither counts).
4. The exact parcel × hamlet split, on the same validated parcels and hamlets, measured in the
   same process: ``geopandas.overlay(how="intersection")`` with areas summed by hamlet and
   land-use code; ``geo.indicators.split_polygons`` (the project's split of areas, which cuts
   most crossing pairs along the hamlet boundary with NumPy, ``geo.chords``, the rest with
   GEOS, and derives the second part of a parcel lying across one edge between two hamlets);
   ``geo.indicators.split_pieces`` keeping every cut part, as the pipeline splits (every
   crossing pair cut, none derived); and the floor, GEOS's intersections of only the
   pairs that cross a hamlet boundary (found beforehand by the same STRtree query and
   ``contains_properly``, not timed), timed alone, on the same number of threads as the split
   intersects with (``geo.parallel.THREADS``, set by ``--threads``), through the same
   ``geo.indicators.intersection_measure``. The split, the kept parts and the floor take
   turns, ``--repeat`` times each (default 3), each figure the median of its own; the
   overlay runs after them, as many times at S and M, once at L. Areas per hamlet and code
   must agree within 1e-6 m²; the largest difference is printed.
5. The last line::

    RESULT scale=L split_vs_overlay=<overlay s ÷ split s> split_vs_floor=<split s ÷ floor s>
    end_to_end_s=<load + run + outputs> peak_mb=<peak RSS of the run, children included>

6. Before the runs and after the split comparison, a machine check: a fixed workload on one
   thread (GEOS intersections, a NumPy sort, a Python loop; :func:`machine_check`), best of
   three, and how much longer its GEOS and NumPy part takes on two threads at once than on
   one. The same code's times move with them: a busy host slows both.

Python's own start-up and ``import geo`` are printed but not in ``end_to_end_s``. Not part
of the test suite (the L scale takes minutes and gigabytes). ``--skip-map`` writes a
placeholder instead of ``map.html`` (its time then shows as 0 in the "outputs: map" row).
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

HERE = Path(__file__).resolve().parent
# this checkout's geo, whatever an editable install elsewhere points at
sys.path[:0] = [str(HERE.parent), str(HERE)]

_IMPORT_START = time.perf_counter()
import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import shapely  # noqa: E402

import geo  # noqa: E402
from geo import parallel  # noqa: E402
from geo._gc import collector_paused  # noqa: E402
from geo.indicators import intersection_measure, split_pieces, split_polygons  # noqa: E402

IMPORT_S = time.perf_counter() - _IMPORT_START
import generate  # noqa: E402

AREA_TOLERANCE_M2 = 1e-6
SAMPLE_S = 0.01
CHILD_SCAN_S = 0.1
"""How often the RSS gauge looks for new child processes (a child writes for seconds)."""
PAGE = os.sysconf("SC_PAGE_SIZE")

# (module, function, stage label): the calls of geo.run and geo.write_outputs that are timed.
STAGES: list[tuple[str, str, str]] = [
    ("geo.pipeline", "read_layer_wkb", "read"),
    ("geo.pipeline", "read_table", "read"),
    ("geo.pipeline", "validate_layer_rows", "validate"),
    ("geo.indicators", "unknown_landuse_codes", "validate"),
    ("geo.pipeline", "join_table", "join"),
    ("geo.pipeline", "assign_hamlets", "join"),
    ("geo.pipeline", "_with_indicators", "indicators: other"),
    ("geo.pipeline", "_unit_population", "indicators: other"),
    ("geo.indicators", "density_per_km2", "indicators: other"),
    ("geo.pipeline", "_landuse_pieces", "indicators: land-use split"),
    ("geo.pipeline", "_unit_pieces", "indicators: land-use split"),
    ("geo.indicators", "landuse_indicators", "indicators: land-use split"),
    ("geo.indicators", "infrastructure_counts", "indicators: points"),
    ("geo.indicators", "road_indicators", "indicators: road split"),
    ("geo.coverage", "check_coverage", "coverage: other"),
    ("geo.coverage", "to_findings", "coverage: other"),
    ("geo.pipeline", "_with_area_checks", "coverage: other"),
    ("geo.coverage", "hamlet_gaps", "coverage: hamlet gaps"),
    ("geo.coverage", "hamlet_overlaps", "coverage: hamlet overlaps"),
    ("geo.coverage", "hamlets_tile_units", "coverage: hamlets tiling units"),
    ("geo.coverage", "landuse_uncovered", "coverage: land-use cover"),
    ("geo.pipeline", "_coverage_ready", "coverage: waiting for the checks"),
    ("geo.pipeline", "_tiling_ready", "coverage: waiting for the checks"),
    ("geo.dasymetric", "allocate_population", "dasymetric"),
    ("geo.access", "hamlet_access", "access: distances"),
    ("geo.access", "road_graph", "access: road graph"),
    ("geo.pipeline", "_road_graph", "access: road graph"),  # with its snapping indexes
    ("geo.pipeline", "_road_graph_ready", "access: waiting for the road graph"),
    ("geo.criteria", "load_sets", "criteria"),
    ("geo.criteria", "sets_in_force", "criteria"),
    ("geo.criteria", "evaluate", "criteria"),
    ("geo.criteria", "hamlet_contributions", "criteria"),
    ("geo.pipeline", "_with_inputs", "criteria"),
    ("geo.pipeline", "_with_ratio_indicators", "criteria"),
    ("geo.pipeline", "_with_verdicts", "criteria"),
    ("geo.pipeline", "_ordered", "criteria"),
    ("geo.outputs", "render_result_map", "outputs: map"),
    ("geo.outputs", "start_geopackage", "outputs: GeoPackage"),
    ("geo.outputs.GeoPackageWrite", "wait", "outputs: GeoPackage, waiting"),
    ("geo.outputs", "write_csv", "outputs: tables"),
    # outputs added while issue 8 was being written; skipped where absent
    ("geo.outputs", "split_pieces", "outputs: land-use split"),  # when the run kept no pieces
    ("geo.outputs", "write_workbook", "outputs: workbook"),
    ("geo.outputs", "render_report", "outputs: report"),
]
ORDER = [
    "project file",
    "read",
    "validate",
    "join",
    "indicators: land-use split",
    "indicators: points",
    "indicators: road split",
    "indicators: other",
    "coverage: hamlet gaps",
    "coverage: hamlet overlaps",
    "coverage: hamlets tiling units",
    "coverage: land-use cover",
    "coverage: other",
    "coverage: waiting for the checks",
    "dasymetric",
    "access: road graph",
    "access: waiting for the road graph",
    "access: distances",
    "criteria",
    "pipeline: other",
    "outputs: map",
    "outputs: GeoPackage",
    "outputs: GeoPackage, waiting",
    "outputs: tables",
    "outputs: land-use split",
    "outputs: workbook",
    "outputs: report",
    "outputs: other",
]


class RssGauge:
    """The RSS of this process and of its running children, read cheaply enough for every 10 ms.

    Each ``statm`` file is opened once and read again in place (2 µs a read). Opening
    them by path at each sample, and listing every thread's children each time, took about
    0.2 ms with the GIL held: 2 % of a core at 100 samples a second, taken from the run
    measured (its end to end about 0.3 s longer at L). Children are looked for at most once
    every :data:`CHILD_SCAN_S`.

    A child still running this program (forked, not yet replaced by its own) shares this
    process's memory and would count it twice; it is left out until it is.
    """

    def __init__(self) -> None:
        self.own = Path("/proc/self/cmdline").read_bytes()
        self.self_fd = os.open("/proc/self/statm", os.O_RDONLY)
        self.children: dict[str, int] = {}  # pid: its statm, open
        self.scanned = -math.inf
        self.lock = threading.Lock()  # read by the sampling thread and at stage boundaries

    def mb(self) -> float:
        """Return the RSS in MB, children included."""
        with self.lock:
            now = time.perf_counter()
            if now - self.scanned >= CHILD_SCAN_S:
                self._scan()
                self.scanned = now
            pages = _pages(self.self_fd)
            for pid, fd in list(self.children.items()):
                try:
                    pages += _pages(fd)
                except OSError:  # ended and reaped
                    os.close(fd)
                    del self.children[pid]
            return pages * PAGE / 2**20

    def _scan(self) -> None:
        for listing in Path("/proc/self/task").glob("*/children"):
            try:  # a thread or a child may end while this runs
                for pid in listing.read_text().split():
                    if pid in self.children:
                        continue
                    if Path(f"/proc/{pid}/cmdline").read_bytes() != self.own:
                        self.children[pid] = os.open(f"/proc/{pid}/statm", os.O_RDONLY)
            except (FileNotFoundError, ProcessLookupError):
                continue


def _pages(statm: int) -> int:
    """Resident pages from an open ``/proc/<pid>/statm``."""
    return int(os.pread(statm, 128, 0).split()[1])


@functools.cache
def _gauge() -> RssGauge:
    """This process's one gauge, made on first use."""
    return RssGauge()


def rss_mb() -> float:
    """The RSS of this process and of its running children, MB (:class:`RssGauge`)."""
    return _gauge().mb()


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@dataclass
class Stage:
    seconds: float = 0.0
    cpu_s: float = 0.0  # CPU time of this process (all its threads) while the stage ran
    calls: int = 0
    peak_mb: float = 0.0
    growth_mb: float = 0.0


@dataclass
class Profiler:
    """Exclusive wall time and RSS per stage label; stages nest like the calls."""

    stages: dict[str, Stage] = field(default_factory=dict)
    stack: list[list[Any]] = field(default_factory=list)  # [label, RSS when it got the top]
    last: float = 0.0
    last_cpu: float = 0.0
    running: bool = False
    peak_mb: float = 0.0  # the largest RSS sampled, children included
    background: dict[str, float] = field(default_factory=dict)  # label: seconds, exclusive
    threads: threading.local = field(default_factory=threading.local)  # a thread's own stack

    def _charge(self, now: float) -> None:
        cpu = time.process_time()
        if self.stack:
            stage = self.stages.setdefault(self.stack[-1][0], Stage())
            stage.seconds += now - self.last
            stage.cpu_s += cpu - self.last_cpu
        self.last, self.last_cpu = now, cpu

    def sample(self) -> None:
        frame = self.stack[-1] if self.stack else None
        if frame is None:
            return
        rss = rss_mb()
        self.peak_mb = max(self.peak_mb, rss)
        stage = self.stages.setdefault(frame[0], Stage())
        stage.peak_mb = max(stage.peak_mb, rss)
        stage.growth_mb = max(stage.growth_mb, rss - frame[1])

    @contextmanager
    def stage(self, label: str) -> Iterator[None]:
        self._charge(time.perf_counter())
        self.stack.append([label, rss_mb()])
        self.stages.setdefault(label, Stage()).calls += 1
        self.sample()
        try:
            yield
        finally:
            self.sample()
            self._charge(time.perf_counter())
            self.stack.pop()
            if self.stack:  # the caller's growth counts from here, not from its own start
                self.stack[-1][1] = rss_mb()

    def wrap(self, function: Callable[..., Any], label: str) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            if threading.current_thread() is not threading.main_thread():
                # beside the main thread's stages (the road graph, the coverage checks):
                # timed apart, exclusive on that thread's own stack
                with self._beside(label):
                    return function(*args, **kwargs)
            with self.stage(label):
                return function(*args, **kwargs)

        timed.__wrapped__ = function  # type: ignore[attr-defined]
        return timed

    @contextmanager
    def _beside(self, label: str) -> Iterator[None]:
        stack = self.threads.__dict__.setdefault("stack", [])  # [label, since]
        now = time.perf_counter()
        if stack:
            self._charge_beside(stack[-1], now)
        stack.append([label, now])
        try:
            yield
        finally:
            now = time.perf_counter()
            self._charge_beside(stack.pop(), now)
            if stack:
                stack[-1][1] = now

    def _charge_beside(self, frame: list[Any], now: float) -> None:
        self.background[frame[0]] = self.background.get(frame[0], 0.0) + now - frame[1]

    @contextmanager
    def sampling(self) -> Iterator[None]:
        self.running = True

        def loop() -> None:
            while self.running:
                self.sample()
                time.sleep(SAMPLE_S)

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        try:
            yield
        finally:
            self.running = False
            thread.join()


def _owner(dotted: str) -> Any:
    """Return the module, or the class in a module (``geo.outputs.GeoPackageWrite``), named."""
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError:
        module, _, name = dotted.rpartition(".")
        return getattr(importlib.import_module(module), name, None)


@contextmanager
def instrumented(profiler: Profiler) -> Iterator[list[str]]:
    """Wrap the pipeline's calls listed in :data:`STAGES`; yield the ones not found."""
    saved = []
    missing = []
    for module_name, name, label in STAGES:
        module = _owner(module_name)
        function = getattr(module, name, None)
        if function is None:
            missing.append(f"{module_name}.{name}")
            continue
        saved.append((module, name, function))
        setattr(module, name, profiler.wrap(function, label))
    try:
        yield missing
    finally:
        for module, name, function in reversed(saved):
            setattr(module, name, function)


@contextmanager
def without_map(skip: bool) -> Iterator[None]:
    """With ``skip``, write a placeholder instead of rendering ``map.html`` (``--skip-map``)."""
    if not skip:
        yield
        return
    outputs = importlib.import_module("geo.outputs")
    saved = outputs.render_result_map
    outputs.render_result_map = lambda result, **options: (
        "<!doctype html><title>map skipped</title>\n"
    )
    try:
        yield
    finally:
        outputs.render_result_map = saved


def run_pipeline(
    folder: Path, out: Path, *, skip_map: bool = False
) -> tuple[Profiler, geo.RunResult, float, float]:
    """Load, run and write the project once, instrumented; return the result and timings."""
    profiler = Profiler()
    with without_map(skip_map), instrumented(profiler) as missing, profiler.sampling():
        if missing:
            print(f"not in this version of geo (time in 'other'): {', '.join(missing)}")
        start = time.perf_counter()
        with profiler.stage("project file"):
            project = geo.load_project(folder)
        with profiler.stage("pipeline: other"):
            result = geo.run(project)
        with profiler.stage("outputs: other"):
            geo.write_outputs(result, out)
        end_to_end = time.perf_counter() - start
    return profiler, result, end_to_end, max(maxrss_mb(), profiler.peak_mb)


def _rank(label: str) -> int:
    return ORDER.index(label) if label in ORDER else len(ORDER)


def stage_table(profiler: Profiler, end_to_end: float, peak: float) -> str:
    lines = [
        "| stage | wall s | share | CPU s | peak RSS MB | +MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    labels = ORDER + [k for k in profiler.stages if k not in ORDER]
    total = cpu = 0.0
    for label in labels:
        stage = profiler.stages.get(label)
        if stage is None:
            continue
        total += stage.seconds
        cpu += stage.cpu_s
        lines.append(
            f"| {label} | {stage.seconds:.2f} | {stage.seconds / end_to_end:.0%} "
            f"| {stage.cpu_s:.2f} | {stage.peak_mb:,.0f} | {stage.growth_mb:+,.0f} |"
        )
    lines.append(f"| **end to end** | **{end_to_end:.2f}** | {total / end_to_end:.0%} | "
                 f"**{cpu:.2f}** | **{peak:,.0f}** (ru_maxrss, or sampled with child processes) "
                 "| |")  # fmt: skip
    for label, seconds in sorted(profiler.background.items(), key=lambda item: _rank(item[0])):
        lines.append(
            f"\n{label}: {seconds:.2f} s on a thread of its own, beside the stages above "
            "(not in their sum; the main thread's wait for it has a row)"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- the split


def _median_times_in_turn(
    functions: dict[str, Callable[[], Any]], repeat: int
) -> dict[str, tuple[float, Any]]:
    """Time each function ``repeat`` times, taking turns (a, b, c, a, b, c…); median of each.

    Taking turns, each function meets the host as the others do: a neighbour's burst on the
    shared cores slows one of each, not all of one (the ratios between them are what is
    compared). Each function's last value is returned with its time.
    """
    times: dict[str, list[float]] = {name: [] for name in functions}
    values: dict[str, Any] = {}
    for _ in range(repeat):
        for name, function in functions.items():
            values[name] = None  # the last round's value goes before this one is made
            start = time.perf_counter()
            values[name] = function()
            times[name].append(time.perf_counter() - start)
    return {name: (statistics.median(times[name]), values[name]) for name in functions}


def compare_split(
    result: geo.RunResult, repeat: int, *, skip_overlay: bool, overlay_repeat: int | None = None
) -> dict[str, float]:
    """Time the exact split, keeping its parts, the floor and the overlay (see the module).

    The first three take turns, ``repeat`` times each (:func:`_median_times_in_turn`); the
    overlay runs ``overlay_repeat`` times (default ``repeat``) after them.
    """
    assert result.landuse is not None
    assert result.hamlets is not None
    overlay_repeat = overlay_repeat or repeat
    parcels = result.landuse.geometry.to_numpy()
    zones = result.hamlets.geometry.to_numpy()
    codes = result.landuse["code"].fillna("?").to_numpy()
    ids = result.hamlets["id"].astype(str).to_numpy()

    start = time.perf_counter()
    index, zone_index = shapely.STRtree(zones).query(parcels, predicate="intersects")
    shapely.prepare(zones)
    cross = ~shapely.contains_properly(zones[zone_index], parcels[index])
    left, right, group = parcels[index[cross]], zones[zone_index[cross]], zone_index[cross]
    search_s = time.perf_counter() - start
    everything = np.ones(len(parcels), dtype=bool)
    timed = _median_times_in_turn(
        {
            "split": lambda: split_polygons(parcels, zones),
            # as the pipeline splits: every crossing pair cut, its part kept as a geometry
            "kept": lambda: split_pieces(parcels, zones, keep=everything),
            # on as many threads as the split intersects with, slices cut between zones as it does
            "floor": lambda: intersection_measure(left, right, group=group),
        },
        repeat,
    )
    split_s, (p, z, area) = timed["split"]
    kept_s, floor_s = timed["kept"][0], timed["floor"][0]
    ours = pd.Series(area).groupby([ids[z], codes[p]]).sum()

    figures = {
        "split_s": split_s,
        "kept_s": kept_s,
        "floor_s": floor_s,
        "search_s": search_s,
        "pairs": float(index.size),
        "crossing": float(cross.sum()),
        "overlay_s": float("nan"),
        "max_diff_m2": float("nan"),
    }
    print(
        f"\nsplit of {parcels.size:,} parcels by {zones.size:,} hamlets: {index.size:,} "
        f"candidate pairs, {int(cross.sum()):,} ({cross.mean():.1%}) cross a hamlet boundary "
        f"(found in {search_s:.2f} s, not timed below); split, kept parts and floor: median of "
        f"{repeat}, taking turns; the overlay: median of {overlay_repeat}; split and "
        f"floor intersect on {parallel.THREADS} thread(s)"
    )
    if not skip_overlay:
        left_frame = gpd.GeoDataFrame({"code": codes}, geometry=parcels, crs=result.landuse.crs)
        right_frame = gpd.GeoDataFrame({"hamlet": ids}, geometry=zones, crs=result.hamlets.crs)

        def overlay() -> gpd.GeoDataFrame:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return gpd.overlay(left_frame, right_frame, how="intersection", keep_geom_type=True)

        overlay_s, pieces = _median_times_in_turn({"overlay": overlay}, overlay_repeat)["overlay"]
        theirs = (
            pd.Series(shapely.area(pieces.geometry.to_numpy()))
            .groupby([pieces["hamlet"].to_numpy(), pieces["code"].to_numpy()])
            .sum()
        )
        both = pd.concat([ours.rename("split"), theirs.rename("overlay")], axis=1).fillna(0.0)
        diff = (both["split"] - both["overlay"]).abs()
        figures["overlay_s"] = overlay_s
        figures["max_diff_m2"] = float(diff.max())
        figures["groups"] = float(len(both))
        del pieces
    return figures


def split_table(f: dict[str, float]) -> str:
    per_pair_us = f["floor_s"] / max(f["crossing"], 1) * 1e6
    overlay_x = f["overlay_s"] / f["split_s"]
    rows = [
        "| exact split | s | ratio |",
        "|---|---:|---:|",
        f"| geopandas.overlay | {f['overlay_s']:.2f} | {overlay_x:.2f}× the split |",
        f"| geo.indicators.split_polygons | {f['split_s']:.2f} | 1 |",
        (
            f"| split_pieces keeping every cut part, as the pipeline splits (no part derived) | "
            f"{f['kept_s']:.2f} | {f['kept_s'] / f['floor_s']:.2f}× the floor |"
        ),
        (
            f"| floor: {int(f['crossing']):,} boundary pairs intersected ({per_pair_us:.0f} µs a "
            f"pair) | {f['floor_s']:.2f} | split = {f['split_s'] / f['floor_s']:.2f}× the floor |"
        ),
    ]  # fmt: skip
    return "\n".join(rows)


# --------------------------------------------------------------------------- main


class MachineCheck(NamedTuple):
    """How fast the machine was (:func:`machine_check`), in seconds."""

    one_thread_s: float  # the whole workload on one thread
    alone_s: float  # its GEOS and NumPy part (no GIL held) on one thread
    together_s: float  # that part on two threads at once, each doing all of it

    def __str__(self) -> str:
        return (
            f"{self.one_thread_s:.3f} s on one thread; its GEOS and NumPy part "
            f"{self.together_s / self.alone_s:.2f}× as long on two threads at once"
        )


def machine_check(repeat: int = 3) -> MachineCheck:
    """Time a fixed workload, best of ``repeat``, on one thread and its GIL-free part on two.

    GEOS intersections of 40,000 pairs of 16-gons, a NumPy sort of 3,000,000 floats and a
    Python loop over 600,000 numbers: the kinds of work the pipeline does. Then the GEOS and
    NumPy part alone, and on two threads at once (each does all of it): on two free cores
    about as long (0.95–1.1×); longer when another tenant of the host takes part of the second
    core, which slows the pipeline's two threads but not a one-thread check (nor
    ``geopandas.overlay``, which is one thread too). It has not yet told a slow run from a
    fast one (benchmarks/README.md, tenth pass). It says how fast the machine was when
    the figures beside it were measured.
    """
    rng = np.random.default_rng(0)
    centres = rng.random((40_000, 2)) * 1_000
    first = shapely.buffer(shapely.points(centres), 10, quad_segs=4)
    second = shapely.buffer(shapely.points(centres + 7), 10, quad_segs=4)
    values = rng.random(3_000_000)

    def geos_and_numpy(_: object = None) -> None:
        shapely.intersection(first, second)
        np.sort(values)

    def best(work: Callable[[], object]) -> float:
        fastest = math.inf
        for _ in range(repeat):
            start = time.perf_counter()
            work()
            fastest = min(fastest, time.perf_counter() - start)
        return fastest

    with collector_paused(), ThreadPoolExecutor(2) as pool:  # what the runs left must not matter
        one_thread = best(lambda: (geos_and_numpy(), sum(len(str(n)) for n in range(600_000))))
        alone = best(geos_and_numpy)
        together = best(lambda: list(pool.map(geos_and_numpy, range(2))))
    return MachineCheck(one_thread, alone, together)


def checked_apart() -> MachineCheck:
    """Run :func:`machine_check` in a child process, so its memory is not in the run's peak."""
    command = [sys.executable, str(Path(__file__).resolve()), "--machine-check"]
    return parse_check(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def parse_check(printed: str) -> MachineCheck:
    """Read the figures ``run.py --machine-check`` printed (its second line)."""
    return MachineCheck(*(float(value) for value in printed.split("\n")[1].split()))


def ensure_data(scale: str, data: Path, seed: int) -> Path:
    """Generate the data in a child process (its memory must not count here), or reuse it."""
    folder = generate.cached(generate.SCALES[scale], data, seed)
    if folder is not None:
        print(f"generation: cached in {folder} (not timed)")
        return folder
    command = [sys.executable, str(HERE / "generate.py"), "--scale", scale, "--data", str(data),
               "--seed", str(seed)]  # fmt: skip
    subprocess.run(command, check=True)
    folder = generate.cached(generate.SCALES[scale], data, seed)
    assert folder is not None
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(generate.SCALES), default="S")
    parser.add_argument("--data", type=Path, default=generate.DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    parser.add_argument("--out", type=Path, help="output folder (default: a temporary one)")
    parser.add_argument("--skip-overlay", action="store_true", help="do not run geopandas.overlay")
    parser.add_argument(
        "--skip-map", action="store_true", help="do not render map.html (a placeholder is written)"
    )
    parser.add_argument(
        "--threads", type=int, help="threads for GEOS work (geo.parallel.THREADS; default 2)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="split, kept parts and floor: median of N, taking turns (default 3); the overlay "
        "too, except at L (once)",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=1,
        help="run the pipeline N times; the table is the median run's, RESULT its time",
    )
    parser.add_argument(
        "--machine-check", action="store_true", help="only print the machine check (no run)"
    )
    args = parser.parse_args(argv)
    if args.machine_check:
        check = machine_check()
        print(f"machine check (best of 3): {check}")
        print(" ".join(f"{value:.6f}" for value in check))  # read by checked_apart()
        return 0
    scale = generate.SCALES[args.scale]
    repeat = max(args.repeat, 1)
    overlay_repeat = 1 if args.scale == "L" else repeat  # 25-30 s a time at L
    if args.threads:
        parallel.THREADS = args.threads

    folder = ensure_data(args.scale, args.data, args.seed)
    print(
        f"scale {scale.name}: {scale.communes:,} communes, {scale.hamlets:,} hamlets, "
        f"{scale.parcels:,} parcels; {os.cpu_count()} CPUs; import geo {IMPORT_S:.2f} s; "
        f"RSS before the run {rss_mb():,.0f} MB; geo from {Path(geo.__file__).parent}"
    )
    check_before = checked_apart()
    print(f"machine check (best of 3): {check_before}")
    runs = []  # (end to end s, profiler, peak MB) of each run
    result = None
    for _ in range(max(args.runs, 1)):
        result = None  # the last run's result goes before the next run starts
        gc.collect()
        with tempfile.TemporaryDirectory(prefix="geo-bench-out-") as tmp:
            out = args.out or Path(tmp)
            profiler, result, end_to_end, peak = run_pipeline(folder, out, skip_map=args.skip_map)
            sizes = {p.name: p.stat().st_size / 2**20 for p in sorted(out.iterdir()) if p.is_file()}
        runs.append((end_to_end, profiler, peak))
    assert result is not None
    end_to_end, profiler, _ = sorted(runs, key=lambda run: run[0])[(len(runs) - 1) // 2]
    peak = runs[0][2]  # a fresh process's; later runs start on what the earlier ones left
    which = "one run" if len(runs) == 1 else f"the median of {len(runs)} runs"
    print(f"\npipeline stages ({which}, exclusive wall time; RSS sampled every {SAMPLE_S}s):\n")
    print(stage_table(profiler, end_to_end, peak))
    if len(runs) > 1:
        times = ", ".join(f"{run[0]:.2f}" for run in runs)
        print(f"\nend to end of each run: {times} s; median {end_to_end:.2f} s")
    print("\noutputs: " + ", ".join(f"{name} {mb:.1f} MB" for name, mb in sizes.items()))
    print(f"findings: {len(result.findings):,}; kinds: "
          f"{result.findings['kind'].value_counts().to_dict()}")  # fmt: skip

    figures = compare_split(
        result, repeat, skip_overlay=args.skip_overlay, overlay_repeat=overlay_repeat
    )
    print()
    print(split_table(figures))
    if not args.skip_overlay:
        ok = figures["max_diff_m2"] <= AREA_TOLERANCE_M2
        print(
            f"\nareas per hamlet and land-use code ({int(figures['groups']):,} groups): max "
            f"|split − overlay| = {figures['max_diff_m2']:.3g} m² "
            f"({'within' if ok else 'NOT within'} {AREA_TOLERANCE_M2:g} m²)"
        )
    print(
        f"\nmachine check: before the runs {check_before}; after the split comparison "
        f"{checked_apart()}"
    )
    print(
        f"\nRESULT scale={scale.name} "
        f"split_vs_overlay={figures['overlay_s'] / figures['split_s']:.2f} "
        f"split_vs_floor={figures['split_s'] / figures['floor_s']:.2f} "
        f"end_to_end_s={end_to_end:.2f} peak_mb={peak:.0f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
