"""Write a run's results: tables (CSV), workbook, GeoPackage, HTML map and report.

With a roadmap in the project folder, also the roadmap progress: ``progress.csv``,
``progress-hamlets.csv`` and ``trends/`` (:mod:`geo.progress`).

All files are first written to a staging folder inside the output folder
and moved into place only when every one of them is complete, so a failed or
interrupted run leaves earlier outputs as they were. A run holds an exclusive
lock on the output folder while it writes, so two runs into the same folder
take turns instead of mixing their files.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal, Protocol

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from geo import layer_writer
from geo._gc import collector_paused
from geo._lock import STAGING_PREFIX, output_lock, remove_stale_staging, signals_deferred
from geo.errors import GeoInputError, OutputError
from geo.indicators import split_pieces
from geo.landuse_layer import PIECES_SCHEMA, PiecesSpill, pieces_layer
from geo.names import slug
from geo.pipeline import RunResult
from geo.progress import PROGRESS_FILES, TRENDS_DIR, find_progress, progress_writers
from geo.progress import Progress as RoadmapProgress
from geo.qgis_style import LayerInfo, result_styles, write_layer_styles
from geo.report import render_report, write_fitted_pdf
from geo.webmap import render_result_map
from geo.workbook import column_labels, write_workbook

OUTPUT_FILES = (
    "map.html",
    "criteria.csv",
    "units.csv",
    "hamlets.csv",
    "contributions.csv",
    "findings.csv",
    "results.gpkg",
    "units.parquet",
    "hamlets.parquet",
    "report.xlsx",
    "report.html",
    "report.pdf",
    *PROGRESS_FILES,
    TRENDS_DIR,
)
LANDUSE_LAYER = "landuse_by_hamlet"
BACKGROUND_MIN_PIECES = 200_000
"""From this many land-use parcels on, ``results.gpkg``'s parcel layer is written by a child
process while the map, tables, workbook and report are rendered (:mod:`geo.layer_writer`):
about 7 s of GDAL work at a million pieces, which a thread could not overlap."""
CSV_ENCODING = "utf-8-sig"
"""UTF-8 with a byte-order mark, so Excel shows Vietnamese diacritics."""
OPTIONAL_FILES = frozenset({"report.pdf"})
"""Outputs that may be skipped without failing the run (no Chromium to print the PDF)."""

Progress = Callable[[str, int, int], None]
"""Called before each file is written: its name, how many were written before, how many in all."""


def default_out_dir(result: RunResult, base: Path | None = None) -> Path:
    """Return ``maps/<project-slug>`` under ``base`` (default: the current folder)."""
    return (base or Path.cwd()) / "maps" / slug(result.project.name)


@collector_paused()
def write_outputs(
    result: RunResult,
    out_dir: str | Path,
    *,
    pdf: bool = False,
    parquet: bool = False,
    progress: Progress | None = None,
    roadmap_progress: RoadmapProgress | Literal["find"] | None = "find",
) -> list[Path]:
    """Write every output of a run into ``out_dir``, atomically.

    Parameters
    ----------
    result : RunResult
    out_dir : str or Path
        Created if needed. Files of the same names are replaced; other files
        in it are left alone.
    pdf : bool, default False
        Also print ``report.pdf`` with headless Chromium
        (:func:`geo.report.find_chromium`); skipped, with a logged warning,
        when there is none.
    parquet : bool, default False
        Also write the ``units`` and ``hamlets`` layers of ``results.gpkg`` as
        GeoParquet, ``units.parquet`` and ``hamlets.parquet``
        (:func:`write_geoparquet`).
    progress : callable, optional
        Called as ``progress(name, done, total)`` before each file is written.
    roadmap_progress : geo.progress.Progress, "find" or None, default "find"
        The project's roadmap judged against its history; ``"find"`` computes
        it once here (:func:`geo.progress.find_progress`) when the project
        folder has a ``roadmap.csv``; None writes no progress (a what-if run,
        whose units are not the roadmap's). With one, ``progress.csv``,
        ``progress-hamlets.csv`` and ``trends/`` (one SVG per criterion) are
        written too, in the same staged write, and the workbook and the report
        get their progress sheets and pages.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    OutputError
        If the folder cannot be written (permissions, disk full), or another
        run holds it for longer than :data:`geo._lock.LOCK_TIMEOUT`.
    geo.progress.RoadmapError, geo.history.HistoryError
        If the project's roadmap or history cannot be used (nothing is written).
    """
    out = Path(out_dir)
    if isinstance(roadmap_progress, str):  # "find"
        roadmap_progress = find_progress(result.project)
    writers: dict[str, Callable[[Path], Pending | None]] = {
        # first: a large parcel layer is written by a child process while the rest is rendered
        "results.gpkg": lambda path: start_geopackage(result, path),
        "map.html": lambda path: _write_text(
            path, render_result_map(result, progress=roadmap_progress)
        ),
        "criteria.csv": lambda path: write_csv(result.criteria, path),
        "units.csv": lambda path: write_csv(_table(result.units), path),
        "findings.csv": lambda path: write_csv(result.findings, path),
    }
    if result.hamlets is not None:
        writers["hamlets.csv"] = lambda path: write_csv(_table(result.hamlets), path)
        writers["contributions.csv"] = lambda path: write_csv(result.contributions, path)
    if parquet:
        writers["units.parquet"] = lambda path: write_geoparquet(result, "unit", path)
        if result.hamlets is not None:
            writers["hamlets.parquet"] = lambda path: write_geoparquet(result, "hamlet", path)
    writers["report.xlsx"] = lambda path: write_workbook(result, path, progress=roadmap_progress)
    writers["report.html"] = lambda path: _write_text(
        path, render_report(result, progress=roadmap_progress)
    )
    if pdf:
        # prints the staged report.html (and rewrites it smaller if a page overflows)
        writers["report.pdf"] = lambda path: _write_pdf(result, path, roadmap_progress)
    if roadmap_progress is not None:
        writers.update(progress_writers(roadmap_progress))
    try:
        out.mkdir(parents=True, exist_ok=True)
        with output_lock(out):
            return _write_staged(out, writers, progress)
    except OSError as error:
        if isinstance(error, GeoInputError):
            raise
        raise OutputError(
            f"--out {out}: cannot write the outputs ({error.strerror or error}); check the "
            "folder is writable and the disk has space; earlier outputs were left as they were"
        ) from error


def _write_pdf(result: RunResult, path: Path, roadmap: RoadmapProgress | None = None) -> None:
    write_fitted_pdf(result, path.with_name("report.html"), path, progress=roadmap)


class Pending(Protocol):
    """A file still being written when its writer returned (:class:`GeoPackageWrite`)."""

    def wait(self) -> None:
        """Complete the file; raise if that fails."""

    def cancel(self) -> None:
        """Give up on the file (it is in the staging folder, about to be removed)."""


def _write_staged(
    out: Path,
    writers: Mapping[str, Callable[[Path], Pending | None]],
    progress: Progress | None = None,
) -> list[Path]:
    """Write every file into a staging folder, then move them all into ``out`` at once.

    A writer may return a :class:`Pending` write, completed after the other
    writers have run (and cancelled if one fails). A failure or an interruption
    before the moves leaves ``out`` as it was; the moves themselves run with
    SIGINT and SIGTERM deferred. Outputs of an earlier run that this run does
    not produce (``hamlets.csv`` when the hamlets layer was removed,
    ``report.pdf`` when it was not printed) are deleted, so the folder always
    holds one run's set.
    """
    remove_stale_staging(out)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out))
    pending: list[Pending] = []
    try:
        for done, (name, write) in enumerate(writers.items()):
            if progress is not None:
                progress(name, done, len(writers))
            started = write(staging / name)
            if started is not None:
                pending.append(started)
        for started in pending:
            started.wait()
        pending.clear()
        made = [
            name for name in writers if name not in OPTIONAL_FILES or (staging / name).is_file()
        ]
        written = []
        with signals_deferred():
            for name in made:
                if (staging / name).is_dir() and (out / name).is_dir():
                    (out / name).replace(staging / f"old-{name}")  # trends/: replaced whole
                (staging / name).replace(out / name)
                written.append(out / name)
            for name in OUTPUT_FILES:
                if name not in made:
                    _remove_output(out / name)
    finally:
        for started in pending:
            started.cancel()
        shutil.rmtree(staging, ignore_errors=True)
    return written


def _remove_output(path: Path) -> None:
    """Delete an earlier run's output; a folder (``trends/``) only if it holds only charts."""
    if path.is_dir() and not path.is_symlink():
        if all(p.is_file() and p.suffix == ".svg" for p in path.iterdir()):
            shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


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
    """Write the result layers, with their QGIS styles, to a GeoPackage.

    Layers (in the project CRS), in this order:

    - ``units`` and ``hamlets``: indicators and, per criterion judged for at
      least one feature, ``status_<criterion>`` and ``gap_<criterion>``
      columns (dots and hyphens in criterion ids become underscores);
      criteria.csv has every row;
    - ``infrastructure`` (``kind``, ``name``, ``hamlet_id``, ``unit_id``) and
      ``roads`` (``surface``, ``length_m``), when the project has them;
    - ``findings``: coverage findings (gaps, overlaps, uncovered land, area
      mismatches), when there are any;
    - ``landuse_by_hamlet``: the parcels split exactly at hamlet boundaries
      (at unit boundaries without hamlets), with ``code``, ``lu_group``,
      ``hamlet_id``, ``unit_id``, ``parcel`` and ``area_m2``; last, being by
      far the largest.

    The ``layer_styles`` table holds one default QGIS style per layer with
    the map's classes and colours (:mod:`geo.qgis_style`).

    From :data:`BACKGROUND_MIN_PIECES` land-use parcels on, ``landuse_by_hamlet``
    is written by a child process (:mod:`geo.layer_writer`); this function
    waits for it. :func:`write_outputs` renders the other files meanwhile.
    """
    start_geopackage(result, path).wait()


class GeoPackageWrite:
    """A ``results.gpkg`` being written (:func:`start_geopackage`); :meth:`wait` completes it.

    Every layer is written when it is created, but ``landuse_by_hamlet``,
    the last one, when a child process writes it; :meth:`wait` joins the
    child and adds the styles, so only one process writes to the file at a
    time.
    """

    def __init__(self, path: Path, styles: list) -> None:
        self.path = path
        self.styles = styles
        self.child: layer_writer.LayerWrite | None = None

    def wait(self) -> None:
        """Join the child, if any, and write the QGIS styles."""
        if self.child is not None:
            self.child.wait()
            self.child = None
        write_layer_styles(str(self.path), self.styles)

    def cancel(self) -> None:
        """Stop the child, if any (the staging folder holding the file is then removed)."""
        if self.child is not None:
            self.child.cancel()
            self.child = None


def start_geopackage(result: RunResult, path: Path) -> GeoPackageWrite:
    """Start writing :func:`write_geopackage`'s GeoPackage; finish with ``.wait()``.

    With :data:`BACKGROUND_MIN_PIECES` parcels or more, the child process that
    writes ``landuse_by_hamlet`` is started first, so that it has imported what
    it needs (0.3 s) by the time the layer is built and the other
    layers are written.

    Parameters
    ----------
    result : RunResult
    path : Path

    Returns
    -------
    GeoPackageWrite
        Call its ``wait()`` before reading the file (or ``cancel()`` to give up).
    """
    landuse = result.landuse
    child = None
    if (
        landuse is not None  # then its layer is a GeoDataFrame, handed to the child
        and len(landuse) >= max(1, BACKGROUND_MIN_PIECES)
        and layer_writer.can_spawn()
    ):
        child = layer_writer.LayerWrite(path, LANDUSE_LAYER)
    try:
        return _start_geopackage(result, path, child)
    except BaseException:
        if child is not None:
            child.cancel()
        raise


def _start_geopackage(
    result: RunResult, path: Path, child: layer_writer.LayerWrite | None
) -> GeoPackageWrite:
    """Write the layers of :func:`start_geopackage`, the parcel pieces by ``child`` if given."""
    layers: dict[str, gpd.GeoDataFrame | PiecesSpill] = {}
    for level, zones in (("unit", result.units), ("hamlet", result.hamlets)):
        if zones is not None:
            layers[f"{level}s"] = _with_statuses(zones, result.criteria, level)
    if result.infrastructure is not None and not result.infrastructure.empty:
        layers["infrastructure"] = infrastructure_layer(result)
    if result.roads is not None and not result.roads.empty:
        roads = result.roads
        layers["roads"] = gpd.GeoDataFrame(
            {
                "surface": roads["surface"].astype("object")
                if "surface" in roads.columns
                else "unknown",
                "length_m": shapely.length(roads.geometry.to_numpy()),
            },
            geometry=roads.geometry.to_numpy(),
            crs=roads.crs,
        )
    if result.coverage is not None and not result.coverage.empty:
        layers["findings"] = result.coverage
    if result.landuse is not None and not result.landuse.empty:
        layers[LANDUSE_LAYER] = landuse_by_zone(result, categorical=True)
    elif (
        result.landuse_pieces is not None
        and result.landuse_summary is not None
        and result.landuse_summary.parcels
    ):
        layers[LANDUSE_LAYER] = result.landuse_pieces  # a per-commune run's, on disk
    infos = [_layer_info(name, layer) for name, layer in layers.items()]
    pending = GeoPackageWrite(path, result_styles(infos, column_labels(result)))
    for name, layer in layers.items():
        if name == LANDUSE_LAYER and child is not None and isinstance(layer, gpd.GeoDataFrame):
            known = None
            if result.landuse_wkb is not None:  # the parcels no boundary cuts, as read
                known = result.landuse_wkb.take(  # parcel: the row as read, 1-based
                    layer.geometry.to_numpy(), layer["parcel"].to_numpy(dtype=np.int64) - 1
                )
            child.send(layer_writer.arrow_layer(layer, lazy=True, wkb=known))
            pending.child = child
        else:
            _write_layer(layer, path, name)
    return pending


def _layer_info(name: str, layer: gpd.GeoDataFrame | PiecesSpill) -> LayerInfo:
    """Describe a layer for its QGIS style: geometry kind, columns, the codes or kinds present."""
    if isinstance(layer, PiecesSpill):
        columns = tuple(n for n in PIECES_SCHEMA.names if n != "geometry")
        return LayerInfo(name, "polygon", columns, {"code": tuple(sorted(layer.codes))})
    return LayerInfo(
        name,
        _geometry_kind(layer),
        tuple(c for c in layer.columns if c != layer.geometry.name),
        {
            column: tuple(sorted({str(v) for v in pd.unique(layer[column].dropna())}))
            for column in ("kind", "code")
            if column in layer.columns
        },
    )


def _write_layer(layer: gpd.GeoDataFrame | PiecesSpill, path: Path, name: str) -> None:
    """Write one layer through Arrow (a third faster than feature by feature at L)."""
    if isinstance(layer, PiecesSpill):  # batch by batch from the scratch file
        spilled = layer_writer.ArrowLayer(layer.reader(), layer.geometry_type, layer.crs)
        layer_writer.write_layer(spilled, path, name)
    elif name == LANDUSE_LAYER:  # as the child process writes it, whatever its size
        layer_writer.write_layer(layer_writer.arrow_layer(layer), path, name)
    else:
        pyogrio.write_dataframe(layer, path, layer=name, driver="GPKG", use_arrow=True)


def write_geoparquet(result: RunResult, level: str, path: Path) -> None:
    """Write the units or hamlets layer of ``results.gpkg`` as GeoParquet.

    The same columns as the GeoPackage layer (indicators, ``status_<criterion>``,
    ``gap_<criterion>``), the geometry as WKB in the project CRS (stored in the
    file's ``geo`` metadata), with a ``bbox`` covering column (GeoParquet 1.1)
    so readers can filter by rectangle; ``geopandas.read_parquet`` reads it back,
    and ``geo`` accepts it as an input layer.

    Parameters
    ----------
    result : RunResult
    level : {"unit", "hamlet"}
    path : Path
    """
    zones = result.units if level == "unit" else result.hamlets
    if zones is None:
        raise ValueError(f"the run has no {level} layer")
    layer = _with_statuses(zones, result.criteria, level)
    geometry = layer.geometry.name
    layer = layer[[c for c in layer.columns if c != geometry] + [geometry]]  # last, as in GPKG
    layer.to_parquet(path, index=False, write_covering_bbox=True)


_FAMILY = {1: "line", 2: "line", 3: "polygon", 5: "line", 6: "polygon"}
"""Shapely's geometry type ids of lines and polygons (points, multipoints, collections: point)."""


def _geometry_kind(layer: gpd.GeoDataFrame) -> str:
    """Return ``point``, ``line``, ``polygon``, or ``mixed`` for a layer of several."""
    # by type id, not by name: naming a million pieces' types takes 0.2 s at L
    kinds = np.unique(shapely.get_type_id(layer.geometry.to_numpy()))
    families = {_FAMILY.get(int(kind), "point") for kind in kinds if kind >= 0}
    return families.pop() if len(families) == 1 else ("mixed" if families else "point")


def landuse_by_zone(result: RunResult, *, categorical: bool = False) -> gpd.GeoDataFrame:
    """Return the land-use parcels split exactly at hamlet boundaries (unit ones without hamlets).

    The run's own split (``result.landuse_split``: the pieces, their areas,
    which cross a zone boundary, their cut parts) is used when it was made by
    these zones (:func:`geo.landuse_layer.pieces_layer`); otherwise (a what-if
    run's new units, a result without it) the parcels are split here. Both
    give the same pieces.

    Parameters
    ----------
    result : RunResult
        A run with a land-use layer.
    categorical : bool, default False
        Text columns as :class:`pandas.Categorical`
        (:func:`geo.landuse_layer.pieces_layer`), as ``results.gpkg`` is
        written from.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per (parcel, zone) piece with a positive area: ``code``,
        ``lu_group`` (``agricultural``, ``non_agricultural``, ``unused``, or
        empty for unknown codes), ``hamlet_id``, ``unit_id``, ``parcel``
        (the parcel's 1-based row in the input layer, as ``#N`` in the
        findings) and ``area_m2``;
        the pieces' areas sum to each parcel's area inside the zones.
    """
    landuse = result.landuse
    if landuse is None:
        raise ValueError("the run has no land-use layer")
    by_hamlet = result.hamlets is not None
    zones = result.hamlets if result.hamlets is not None else result.units
    parcels = landuse.geometry.to_numpy()
    zone_geoms = zones.geometry.to_numpy()
    split = result.landuse_split
    if split is not None and split.pieces.crossing is not None and _same(split.zones, zone_geoms):
        found = split.pieces
    else:
        found = split_pieces(parcels, zone_geoms, keep=np.ones(len(parcels), dtype=bool))
    rows = result.landuse_rows
    numbers = rows + 1 if rows is not None and len(rows) == len(landuse) else None
    return pieces_layer(
        landuse,
        zones,
        found,
        by_hamlet=by_hamlet,
        parcel_numbers=numbers,
        categorical=categorical,
    )


def _same(stored: np.ndarray, zones: np.ndarray) -> bool:
    """Whether two arrays hold the same geometries, in the same order, coordinate for coordinate."""
    return len(stored) == len(zones) and bool(
        np.array_equal(shapely.to_wkb(stored), shapely.to_wkb(zones))
    )


def infrastructure_layer(result: RunResult) -> gpd.GeoDataFrame:
    """Return the service points with their kind, name, hamlet and unit.

    A point on a boundary shared by two zones goes to the first one listed.
    """
    points = result.infrastructure
    if points is None:
        raise ValueError("the run has no infrastructure layer")
    geometries = points.geometry.to_numpy()
    layer = pd.DataFrame({"kind": points["kind"].astype("object")})
    layer["name"] = points["name"].astype("object").to_numpy() if "name" in points.columns else None
    for column, zones in (("hamlet_id", result.hamlets), ("unit_id", result.units)):
        found = np.full(len(points), None, dtype=object)
        if zones is not None:
            point_index, zone_index = shapely.STRtree(zones.geometry.to_numpy()).query(
                geometries, predicate="intersects"
            )
            ids = zones["id"].astype(str).to_numpy()
            for pair in np.lexsort((zone_index, point_index))[::-1]:  # first zone wins
                found[point_index[pair]] = ids[zone_index[pair]]
        layer[column] = found
    return gpd.GeoDataFrame(layer, geometry=geometries, crs=points.crs)


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
