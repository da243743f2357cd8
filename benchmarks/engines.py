"""Measure the engines: pyogrio or fiona reads; the analysis in memory, per unit, on dask.

    python benchmarks/engines.py --scale M                 # every mode at M
    python benchmarks/engines.py --scale L --modes in-memory,per-unit,dask
    python benchmarks/engines.py --scale L --modes dask --scheduler tcp://HOST:8786

Each mode runs in its own process, so that its peak memory (``ru_maxrss``) is its
own: ``read-pyogrio`` and ``read-fiona`` read every layer of the project (no
validation); ``in-memory`` is ``geo.run(project)`` with the whole land-use layer
in memory; ``per-unit`` is ``geo.run(project, parcels_in_memory=0)``, the land
use read one commune at a time in this process; ``dask`` is ``geo.run(project,
engine="dask")`` on a local cluster of 2 worker processes (or ``--scheduler``).
The time is ``geo.run`` (read → validate → split → indicators → criteria), not
the outputs. The dask and per-unit modes also report the peak memory of each
process that ran the land-use chunks. Every mode's units, hamlets and criteria
are compared with the in-memory run's (largest relative difference printed).

Data: benchmarks/generate.py's cache (``/tmp/geo-bench/<scale>-seed<seed>``),
generated if missing.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout, not another copy of the package
sys.path.insert(0, str(ROOT / "benchmarks"))

MODES = ("read-pyogrio", "read-fiona", "in-memory", "per-unit", "dask")


class _Stats(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.stats: object = None

    def emit(self, record: logging.LogRecord) -> None:
        if hasattr(record, "stats"):
            self.stats = record.stats


def _tables(result, folder: Path) -> None:
    import pandas as pd

    from geo.outputs import write_csv

    folder.mkdir(parents=True, exist_ok=True)
    write_csv(result.criteria, folder / "criteria.csv")
    write_csv(pd.DataFrame(result.units.drop(columns="geometry")), folder / "units.csv")
    write_csv(pd.DataFrame(result.hamlets.drop(columns="geometry")), folder / "hamlets.csv")


def _max_rel_diff(a: Path, b: Path) -> float:
    import numpy as np
    import pandas as pd

    worst = 0.0
    for name in ("criteria.csv", "units.csv", "hamlets.csv"):
        x = pd.read_csv(a / name, encoding="utf-8-sig", dtype=str, keep_default_na=False)
        y = pd.read_csv(b / name, encoding="utf-8-sig", dtype=str, keep_default_na=False)
        if list(x.columns) != list(y.columns) or x.shape != y.shape:
            return float("inf")
        for column in x.columns:
            u = pd.to_numeric(x[column], errors="coerce").to_numpy(dtype="float64")
            v = pd.to_numeric(y[column], errors="coerce").to_numpy(dtype="float64")
            both = ~np.isnan(u) & ~np.isnan(v)
            if (x[column][~both] != y[column][~both]).any():
                return float("inf")
            with np.errstate(all="ignore"):
                rel = np.abs(u[both] - v[both]) / np.maximum(np.abs(u[both]), 1e-300)
            worst = max(worst, float(rel.max(initial=0.0)))
    return worst


def one(mode: str, folder: Path, scheduler: str | None, tables: Path) -> dict[str, object]:
    """Run one mode in this process and return its figures."""
    import geo
    from geo.read import read_layer

    handler = _Stats()
    logging.getLogger("geo.chunked").addHandler(handler)
    logging.getLogger("geo.chunked").setLevel(logging.INFO)
    project = geo.load_project(folder)
    start = time.perf_counter()
    figures: dict[str, object] = {"mode": mode}
    if mode.startswith("read-"):
        engine = mode.removeprefix("read-")
        per_layer = {}
        for role, spec in project.layers.items():
            t = time.perf_counter()
            read_layer(spec, engine=engine)
            per_layer[role] = round(time.perf_counter() - t, 2)
        figures["layers_s"] = per_layer
    else:
        options: dict[str, object] = {}
        if mode == "per-unit":
            options["parcels_in_memory"] = 0
        elif mode == "dask":
            options = {"engine": "dask", "scheduler": scheduler}
        result = geo.run(project, **options)
        figures["run_s"] = round(time.perf_counter() - start, 2)
        _tables(result, tables / mode)
        stats = handler.stats
        if stats is not None:
            figures["landuse_pass_s"] = round(stats.seconds, 2)
            figures["chunks"] = stats.chunks
            figures["partitions"] = stats.partitions
            figures["parcels_read"] = stats.parcels_read
            figures["worker_peak_mb"] = {k: round(v) for k, v in stats.peak_rss_mb.items()}
    figures["seconds"] = round(time.perf_counter() - start, 2)
    figures["peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="S", choices=["S", "M", "L"])
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--scheduler", help="a running dask scheduler, tcp://HOST:8786")
    parser.add_argument("--data", type=Path, default=Path("/tmp/geo-bench"))
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    import generate

    folder, _ = generate.ensure(generate.SCALES[args.scale], args.data, seed=args.seed)
    tables = args.data / f"engines-{args.scale}"
    if args.one:
        print(json.dumps(one(args.one, folder, args.scheduler, tables)))
        return 0
    rows = []
    for mode in args.modes.split(","):
        command = [sys.executable, __file__, "--scale", args.scale, "--seed", str(args.seed)]
        command += ["--data", str(args.data), "--one", mode]
        if args.scheduler:
            command += ["--scheduler", args.scheduler]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"{mode}: failed\n{done.stderr[-3000:]}", file=sys.stderr)
            continue
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        if mode != "in-memory" and "run_s" in figures and (tables / "in-memory").exists():
            figures["max_rel_diff"] = _max_rel_diff(tables / "in-memory", tables / mode)
        rows.append(figures)
        print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
