"""Write a run's results: tables (CSV), GeoPackage and the HTML map.

All files are first written to a staging folder inside the output folder
and moved into place only when every one of them is complete, so a failed or
interrupted run leaves earlier outputs as they were. A run holds an exclusive
lock on the output folder while it writes, so two runs into the same folder
take turns instead of mixing their files.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pandas as pd

from geo._lock import STAGING_PREFIX, output_lock, remove_stale_staging, signals_deferred
from geo.errors import GeoInputError, OutputError
from geo.names import slug
from geo.pipeline import RunResult
from geo.webmap import render_result_map

OUTPUT_FILES = (
    "map.html",
    "criteria.csv",
    "units.csv",
    "hamlets.csv",
    "contributions.csv",
    "findings.csv",
    "results.gpkg",
)
CSV_ENCODING = "utf-8-sig"
"""UTF-8 with a byte-order mark, so Excel shows Vietnamese diacritics."""


def default_out_dir(result: RunResult, base: Path | None = None) -> Path:
    """Return ``maps/<project-slug>`` under ``base`` (default: the current folder)."""
    return (base or Path.cwd()) / "maps" / slug(result.project.name)


def write_outputs(result: RunResult, out_dir: str | Path) -> list[Path]:
    """Write every output of a run into ``out_dir``, atomically.

    Parameters
    ----------
    result : RunResult
    out_dir : str or Path
        Created if needed. Files of the same names are replaced; other files
        in it are left alone.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    OutputError
        If the folder cannot be written (permissions, disk full), or another
        run holds it for longer than :data:`geo._lock.LOCK_TIMEOUT`.
    """
    out = Path(out_dir)
    writers: dict[str, Callable[[Path], None]] = {
        "map.html": lambda path: _write_text(path, render_result_map(result)),
        "criteria.csv": lambda path: write_csv(result.criteria, path),
        "units.csv": lambda path: write_csv(_table(result.units), path),
        "findings.csv": lambda path: write_csv(result.findings, path),
        "results.gpkg": lambda path: write_geopackage(result, path),
    }
    if result.hamlets is not None:
        writers["hamlets.csv"] = lambda path: write_csv(_table(result.hamlets), path)
        writers["contributions.csv"] = lambda path: write_csv(result.contributions, path)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with output_lock(out):
            return _write_staged(out, writers)
    except OSError as error:
        if isinstance(error, GeoInputError):
            raise
        raise OutputError(
            f"--out {out}: cannot write the outputs ({error.strerror or error}); check the "
            "folder is writable and the disk has space; earlier outputs were left as they were"
        ) from error


def _write_staged(out: Path, writers: dict[str, Callable[[Path], None]]) -> list[Path]:
    """Write every file into a staging folder, then move them all into ``out`` at once.

    A failure or an interruption before the moves leaves ``out`` as it was; the
    moves themselves run with SIGINT and SIGTERM deferred. Outputs of an earlier
    run that this run does not produce (``hamlets.csv`` when the hamlets layer
    was removed) are deleted, so the folder always holds one run's set.
    """
    remove_stale_staging(out)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out))
    try:
        for name, write in writers.items():
            write(staging / name)
        written = []
        with signals_deferred():
            for name in writers:
                (staging / name).replace(out / name)
                written.append(out / name)
            for name in OUTPUT_FILES:
                if name not in writers:
                    (out / name).unlink(missing_ok=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written


def _table(zones: gpd.GeoDataFrame) -> pd.DataFrame:
    return pd.DataFrame(zones.drop(columns=zones.geometry.name))


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write a table as CSV for Excel: UTF-8 with a byte-order mark, 10 significant digits."""
    frame.to_csv(
        path, index=False, encoding=CSV_ENCODING, float_format="%.10g", lineterminator="\n"
    )


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def write_geopackage(result: RunResult, path: Path) -> None:
    """Write layers ``units`` and ``hamlets`` (indicators and statuses) to a GeoPackage.

    Each layer also gets, per criterion judged for at least one feature,
    ``status_<criterion>`` and ``gap_<criterion>`` columns (dots and hyphens in
    criterion ids become underscores); criteria.csv has every row. Coverage
    findings (gaps, overlaps, uncovered land, area mismatches), when there are
    any, go to a layer ``findings``.
    """
    for level, zones in (("unit", result.units), ("hamlet", result.hamlets)):
        if zones is None:
            continue
        layer = _with_statuses(zones, result.criteria, level)
        layer.to_file(path, layer=f"{level}s", driver="GPKG", engine="pyogrio")
    if result.coverage is not None and not result.coverage.empty:
        result.coverage.to_file(path, layer="findings", driver="GPKG", engine="pyogrio")


def _with_statuses(zones: gpd.GeoDataFrame, criteria: pd.DataFrame, level: str) -> gpd.GeoDataFrame:
    rows = criteria.loc[criteria["level"] == level]
    layer = zones.copy()
    for criterion, group in rows.groupby("criterion", sort=True):
        if (group["status"] == "not_assessed").all():
            continue
        key = str(criterion).replace(".", "_").replace("-", "_")
        by_id = group.set_index("id")
        layer[f"status_{key}"] = layer["id"].map(by_id["status"])
        layer[f"gap_{key}"] = layer["id"].map(by_id["gap"]).astype("float64")
    return layer
