"""Read input layers and tables exactly as they are on disk (read-only).

Nothing here writes to an input file: GDAL opens layers read-only, tables are
read as bytes or with openpyxl's reader. What reading had to work around (a
legacy text encoding, a title row above a table's header, a GDAL warning) is
attached to the returned frame as notes (:func:`read_notes`) and lands in the
run's findings.
"""

from __future__ import annotations

import csv
import io
import math
import re
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import shapely
import shapely.geometry
from pyarrow.lib import ArrowException

from geo import encoding
from geo.errors import EmptyInputError, JoinError, LayerReadError
from geo.names import fold, nfc
from geo.project import LayerSpec, TableSpec

PARQUET_SUFFIXES = (".parquet", ".geoparquet")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
TEXT_SUFFIXES = (".csv", ".txt", ".tsv")
ARROW_SUFFIXES = (".gpkg",)
"""Formats read through GDAL's Arrow interface."""
NOTES = "geo.notes"
"""Key of :attr:`pandas.DataFrame.attrs` holding the reading notes."""
HEADER_SCAN_ROWS = 30
"""How many rows from the top are searched for a table's header row."""
MAX_HEADER_ROWS = 3

Note = tuple[str, str, str, str, float]
"""A reading note: (layer or table key, feature or row, kind, message, value)."""


def read_notes(frame: pd.DataFrame) -> list[Note]:
    """Return the notes :func:`read_layer` or :func:`read_table` attached to a frame."""
    return list(frame.attrs.get(NOTES, []))


READ_ENGINES = ("pyogrio", "fiona")
"""Libraries that can read a GDAL layer: the same GDAL underneath, identical results."""
Window = tuple[float, float, float, float]
"""A rectangle ``(xmin, ymin, xmax, ymax)`` in the layer's own CRS."""


def read_layer(spec: LayerSpec, *, engine: str = "pyogrio") -> gpd.GeoDataFrame:
    """Read one layer of the project.

    Any format GDAL reads (GeoPackage, GeoJSON, Shapefile, FlatGeobuf, …)
    goes through pyogrio (GeoPackages with Arrow) or fiona; GeoParquet
    through geopandas (its CRS from the file's ``geo`` metadata; rows in file
    order, whose 0-based numbers are :func:`read_window`'s feature ids). Text that
    is not valid UTF-8 (a DBF without ``.cpg``, a legacy file) is read byte
    for byte as Latin-1 so that :mod:`geo.encoding` can recognise TCVN3, VNI
    or cp1258 later; nothing is lost.

    Parameters
    ----------
    spec : LayerSpec
        Which file and layer.
    engine : {"pyogrio", "fiona"}, default "pyogrio"
        The library that reads GDAL formats (:data:`READ_ENGINES`); both give
        the same layer once validated. Not used for GeoParquet.

    Returns
    -------
    geopandas.GeoDataFrame
        As stored: no reprojection, no repair.

    Raises
    ------
    LayerReadError
        If the file is missing, unreadable or has no such layer.
    EmptyInputError
        If the file is empty or the layer holds no features.
    ValueError
        If ``engine`` is not one of :data:`READ_ENGINES`.
    """
    return read_layer_wkb(spec, engine=engine, keep_wkb=False)[0]


def read_layer_wkb(
    spec: LayerSpec, *, engine: str = "pyogrio", keep_wkb: bool = True
) -> tuple[gpd.GeoDataFrame, pa.ChunkedArray | None]:
    """Read one layer as :func:`read_layer` does, and the WKB its geometries were decoded from.

    Writing the same geometries again (``results.gpkg``'s parcels that no
    zone boundary cuts) can then reuse these bytes instead of encoding them:
    0.5-0.8 s less on the main thread at a million parcels
    (:class:`geo.layer_writer.SourceWkb`).

    Parameters
    ----------
    spec : LayerSpec
    engine : {"pyogrio", "fiona"}, default "pyogrio"
    keep_wkb : bool, default True
        False: return no WKB (:func:`read_layer`).

    Returns
    -------
    frame : geopandas.GeoDataFrame
        As :func:`read_layer` returns it.
    wkb : pyarrow.ChunkedArray of binary, or None
        Aligned with ``frame``: each feature's geometry as GDAL gave it. None
        when the layer is not read through GDAL's Arrow interface (fiona, a
        format other than GeoPackage, GeoParquet) or has date or JSON fields
        (read by :func:`geopandas.read_file`, which converts those).

    Raises
    ------
    LayerReadError, EmptyInputError, ValueError
        As :func:`read_layer`.
    """
    kept: list[pa.ChunkedArray] = []
    frame = _read(spec, engine, {}, kept if keep_wkb else None)
    if len(frame) == 0:
        raise EmptyInputError(
            f"{spec.key}.path = {spec.path}: the layer holds no features; fill it, or remove "
            f"[{spec.key}]"
        )
    return frame, (kept[0] if kept else None)


def read_window(
    spec: LayerSpec,
    *,
    engine: str = "pyogrio",
    bbox: Window | None = None,
    mask: shapely.Geometry | None = None,
    fids: Sequence[int] | np.ndarray | None = None,
    max_features: int | None = None,
) -> gpd.GeoDataFrame:
    """Read part of a layer: the features meeting a rectangle or polygon, or given by id.

    Used to read a large land-use layer one commune at a time
    (:mod:`geo.chunked`). GDAL's spatial filter keeps the features whose
    geometry intersects the rectangle or polygon (through the layer's spatial
    index when it has one: GeoPackage, FlatGeobuf, Shapefile with ``.qix``).
    GeoParquet is read one row group at a time, skipping the row groups and
    rows whose bbox covering column (GeoParquet 1.1) misses the window, and
    keeps the same features (:func:`shapely.intersects`); memory is bounded
    by one row group and the features kept.

    Parameters
    ----------
    spec : LayerSpec
        Which file and layer.
    engine : {"pyogrio", "fiona"}, default "pyogrio"
        Not used for GeoParquet.
    bbox : tuple of float, optional
        ``(xmin, ymin, xmax, ymax)`` in the layer's own CRS.
    mask : shapely.Geometry, optional
        A polygon in the layer's own CRS: the features meeting it are read.
    fids : sequence of int, optional
        Feature ids, as :func:`layer_bounds` returns them: GDAL FIDs, or for
        GeoParquet the 0-based row number in the file (as GDAL's Parquet
        driver numbers them, and the index of :func:`read_layer`'s frame).
    max_features : int, optional
        Read at most this many features from the start.

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by feature id, in increasing order (the layer's order); may be
        empty. Columns, dtypes and reading notes as for :func:`read_layer`.

    Raises
    ------
    LayerReadError
        If the file is missing or unreadable.
    """
    options: dict[str, object] = {"fid_as_index": True}
    if bbox is not None:
        options["bbox"] = tuple(float(v) for v in bbox)
    if mask is not None:
        options["mask"] = mask
    if fids is not None:
        options["fids"] = np.asarray(fids, dtype="int64")
    if max_features is not None:
        options["max_features"] = int(max_features)
    frame = _read(spec, engine, options)
    notes = read_notes(frame)
    frame = frame.sort_index(kind="stable")
    frame.attrs[NOTES] = notes
    return frame


def layer_bounds(
    spec: LayerSpec, *, batch: int = 1_000_000
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield the feature ids and bounding boxes of a layer, in batches.

    No attribute is read: 40 bytes a feature. GDAL layers are read through
    pyogrio whatever the engine, without building geometries. GeoParquet is
    read one row group at a time: its bbox covering column (GeoParquet 1.1)
    when it has one, else the geometries, whose boxes :func:`shapely.bounds`
    computes; a feature's id is its 0-based row number.

    Parameters
    ----------
    spec : LayerSpec
        Which file and layer.
    batch : int, default 1,000,000
        Features per batch.

    Yields
    ------
    fids : numpy.ndarray of int64
        In the layer's order.
    bounds : numpy.ndarray of float, shape (n, 4)
        ``xmin, ymin, xmax, ymax`` in the layer's CRS; NaN for a null geometry
        (GeoParquet: also for an empty one).

    Raises
    ------
    LayerReadError
        If the file cannot be read.
    """
    where = f"{spec.key}.path = {spec.path}"
    _check_file(spec.path, where)
    if spec.path.suffix.lower() in PARQUET_SUFFIXES:
        yield from _parquet_bounds(spec.path, where, batch)
        return
    layer = _layer_name(spec, where, pyogrio.list_layers)
    try:
        # GDAL counts the features first (fast with a GeoPackage); pyogrio refuses to skip
        # past the end, so the batches stop at the count (all at once when it is unknown)
        total = int(pyogrio.read_info(spec.path, layer=layer, force_feature_count=True)["features"])
        skip = 0
        while skip < total or (total < 0 and skip == 0):
            size = batch if total >= 0 else None
            fids, bounds = pyogrio.read_bounds(
                spec.path, layer=layer, skip_features=skip, max_features=size
            )
            if len(fids) == 0:
                return
            yield np.asarray(fids, dtype="int64"), np.asarray(bounds, dtype="float64").T
            skip += len(fids)
    except (RuntimeError, OSError, ValueError) as error:
        raise LayerReadError(
            f"{where}: cannot read layer {layer!r} (damaged or truncated?): {_one_line(error)}"
        ) from error


def layer_info(spec: LayerSpec) -> dict[str, object]:
    """Return what GDAL says about a layer without reading it (:func:`pyogrio.read_info`).

    For GeoParquet, only ``features`` (the row count from the file's metadata)
    and ``crs`` (its primary geometry column's CRS from the ``geo`` metadata,
    as WKT; None when it has none).

    Raises
    ------
    LayerReadError
        If the file is missing or unreadable.
    """
    where = f"{spec.key}.path = {spec.path}"
    _check_file(spec.path, where)
    if spec.path.suffix.lower() in PARQUET_SUFFIXES:
        from pyproj import CRS

        try:
            source = _Parquet(spec.path)
            crs = source.geo["columns"][source.geometry].get("crs", "OGC:CRS84")
            wkt = None if crs is None else CRS.from_user_input(crs).to_wkt()
        except (ArrowException, OSError, ValueError, TypeError, KeyError) as error:
            raise LayerReadError(
                f"{where}: cannot read it as GeoParquet: {_one_line(error)}"
            ) from error
        return {"features": int(source.starts[-1]), "crs": wkt, "driver": "Parquet"}
    layer = _layer_name(spec, where, pyogrio.list_layers)
    try:
        return dict(pyogrio.read_info(spec.path, layer=layer))
    except (RuntimeError, OSError, ValueError) as error:
        raise LayerReadError(
            f"{where}: cannot read layer {layer!r} (damaged or truncated?): {_one_line(error)}"
        ) from error


_warnings_lock = threading.RLock()
"""Held while a read records its warnings (:func:`_read`)."""


def _read(
    spec: LayerSpec,
    engine: str,
    options: dict[str, object],
    wkb: list[pa.ChunkedArray] | None = None,
) -> gpd.GeoDataFrame:
    if engine not in READ_ENGINES:
        raise ValueError(f"engine: {engine!r} is not one of {', '.join(READ_ENGINES)}")
    where = f"{spec.key}.path = {spec.path}"
    _check_file(spec.path, where)
    notes: list[Note] = []
    # catch_warnings swaps process-wide state: reads on threads (a per-commune run's
    # communes) take turns, so each records its own warnings
    with _warnings_lock, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if spec.path.suffix.lower() in PARQUET_SUFFIXES:
            frame = _read_parquet(spec.path, where, options)
        elif engine == "fiona":
            frame = _read_fiona(spec, where, notes, options)
        else:
            frame = _read_gdal(spec, where, notes, options, wkb)
    notes += [
        (spec.role, "", "read_warning", f"{spec.path.name}: {_one_line(str(w.message))}", math.nan)
        for w in caught
    ]
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame.columns:
        raise LayerReadError(
            f"{where}: has no geometry; a {spec.role} layer must be a map layer "
            "(GeoPackage, GeoJSON, Shapefile…), not a plain table"
        )
    frame.attrs[NOTES] = notes
    return frame


def _check_file(path: Path, where: str) -> None:
    if not path.exists():
        raise LayerReadError(f"{where}: file not found")
    if path.is_file() and path.stat().st_size == 0:
        raise EmptyInputError(f"{where}: the file is empty (0 bytes); export it again")


def _read_parquet(path: Path, where: str, options: dict[str, object]) -> gpd.GeoDataFrame:
    try:
        if not options:
            return gpd.read_parquet(path)
        return _parquet_window(path, options)
    except (ArrowException, OSError, ValueError, TypeError, KeyError) as error:
        raise LayerReadError(
            f"{where}: cannot read it as GeoParquet: {_one_line(error)}"
        ) from error


BOX_CACHE_BYTES = 256 * 2**20
"""Feature boxes of GeoParquet row groups without a bbox covering column kept in memory for
the next windows (32 bytes a feature: 8 million parcels), least recently used dropped first."""

_box_cache: OrderedDict[tuple[str, int, int, int], np.ndarray] = OrderedDict()
_box_cache_lock = threading.Lock()


class _Parquet:
    """A GeoParquet file read by row group, as :func:`geopandas.read_parquet` would read it.

    Frames are built by geopandas' own Arrow-to-GeoDataFrame conversion (the
    helpers :func:`geopandas.read_parquet` uses), so a window has the columns,
    dtypes and geometries of the whole-file read. Without a bbox covering
    column, a row group's feature boxes come from its geometries, decoded once
    and then kept (:data:`BOX_CACHE_BYTES`): a per-commune run scans every box
    first (:func:`layer_bounds`), so each commune's window then decodes only
    the geometries of the features whose boxes meet it.
    """

    def __init__(self, path: Path) -> None:
        from geopandas.io import arrow as gpd_arrow
        from pyarrow import parquet

        self.arrow = gpd_arrow
        stat = path.stat()
        self.key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
        self.file = parquet.ParquetFile(path)
        self.metadata = self.file.schema_arrow.metadata or {}
        self.geo = gpd_arrow._validate_and_decode_metadata(self.metadata)
        self.geometry: str = self.geo["primary_column"]
        bbox = self.geo["columns"][self.geometry].get("covering", {}).get("bbox")
        self.covering: dict[str, list[str]] | None = bbox
        names = list(self.file.schema_arrow.names)
        if bbox is not None and bbox["xmin"][0] in names:
            names.remove(bbox["xmin"][0])  # not read by geopandas.read_parquet either
        elif bbox is not None:
            self.covering = None
        self.columns = names
        schema = self.file.metadata.schema
        self.paths = {schema.column(i).path: i for i in range(len(schema))}
        sizes = [self.file.metadata.row_group(g).num_rows for g in range(self.file.num_row_groups)]
        self.starts = np.concatenate([[0], np.cumsum(sizes, dtype="int64")]).astype("int64")

    def group(self, g: int, columns: list[str] | None = None) -> Any:
        """Read row group ``g`` (the columns :func:`geopandas.read_parquet` reads, by default)."""
        return self.file.read_row_group(g, columns=self.columns if columns is None else columns)

    def misses(self, g: int, window: tuple[float, float, float, float]) -> bool:
        """Tell whether row group ``g`` lies outside a window, by its covering's statistics."""
        if self.covering is None:
            return False
        group = self.file.metadata.row_group(g)
        extent = []
        for key, end in (("xmin", "min"), ("ymin", "min"), ("xmax", "max"), ("ymax", "max")):
            index = self.paths.get(".".join(self.covering[key]))
            stats = None if index is None else group.column(index).statistics
            if stats is None or not stats.has_min_max:
                return False
            extent.append(float(getattr(stats, end)))
        x0, y0, x1, y1 = window
        return extent[0] > x1 or extent[2] < x0 or extent[1] > y1 or extent[3] < y0

    def boxes(self, g: int) -> np.ndarray:
        """Return the boxes of a row group's features, shape (n, 4); NaN when null or empty."""
        if self.covering is not None:
            column = self.covering["xmin"][0]
            struct = self.group(g, [column]).column(column).combine_chunks()
            missing = np.asarray(struct.is_null().to_numpy(zero_copy_only=False), dtype=bool)
            out = np.empty((len(struct), 4), dtype="float64")
            for j, side in enumerate(("xmin", "ymin", "xmax", "ymax")):
                field = struct.field(self.covering[side][1])
                out[:, j] = np.asarray(field.to_numpy(zero_copy_only=False), dtype="float64")
            out[missing] = np.nan
            return out
        key = (*self.key, g)
        with _box_cache_lock:
            cached = _box_cache.get(key)
            if cached is not None:
                _box_cache.move_to_end(key)
                return cached
        boxes = np.asarray(shapely.bounds(self.geometries(self.group(g, [self.geometry]))))
        boxes.setflags(write=False)  # shared by later windows
        with _box_cache_lock:
            _box_cache[key] = boxes
            total = sum(b.nbytes for b in _box_cache.values())
            while total > BOX_CACHE_BYTES and len(_box_cache) > 1:
                _, dropped = _box_cache.popitem(last=False)
                total -= dropped.nbytes
        return boxes

    def geometries(self, table: Any) -> np.ndarray:
        """Return the primary geometries of a table read from the file."""
        only = table.select([self.geometry]).replace_schema_metadata(None)
        meta = {
            "primary_column": self.geometry,
            "columns": {self.geometry: self.geo["columns"][self.geometry]},
        }
        return np.asarray(self.arrow._arrow_to_geopandas(only, meta).geometry.to_numpy())

    def frame(self, tables: list[Any], rows: list[np.ndarray]) -> gpd.GeoDataFrame:
        """Build the frame of some rows (tables read by :meth:`group`), indexed by row number."""
        import pyarrow as pa

        if tables:
            table = pa.concat_tables(tables)
        else:
            table = self.file.schema_arrow.empty_table().select(self.columns)
        table = self.arrow._restore_pandas_metadata(table, self.metadata)
        frame = self.arrow._arrow_to_geopandas(
            table, self.geo, None, self.metadata.get(b"PANDAS_ATTRS")
        )
        frame.index = pd.Index(
            np.concatenate(rows) if rows else np.empty(0, "int64"), dtype="int64", name="fid"
        )
        return frame


def _parquet_window(path: Path, options: dict[str, object]) -> gpd.GeoDataFrame:
    """Read the rows of a GeoParquet file that :func:`read_window`'s options select."""
    source = _Parquet(path)
    starts = source.starts
    tables: list[Any] = []
    rows: list[np.ndarray] = []
    fids, limit = options.get("fids"), options.get("max_features")
    bbox, mask = options.get("bbox"), options.get("mask")
    if fids is not None:
        wanted = np.unique(np.asarray(fids, dtype="int64"))
        wanted = wanted[(wanted >= 0) & (wanted < starts[-1])]
        groups = np.searchsorted(starts, wanted, side="right") - 1
        for g in np.unique(groups):
            these = wanted[groups == g]
            tables.append(source.group(int(g)).take(these - starts[g]))
            rows.append(these)
        return source.frame(tables, rows)
    window: shapely.Geometry | None = None
    if isinstance(mask, shapely.Geometry):
        window = mask
    elif isinstance(bbox, tuple):
        window = shapely.box(*bbox)
    left = int(limit) if isinstance(limit, int) else None
    for g in range(len(starts) - 1):
        if left is not None and left <= 0:
            break
        if window is None:
            table = source.group(g)
            if left is not None:
                table = table.slice(0, left)
                left -= len(table)
            tables.append(table)
            rows.append(starts[g] + np.arange(len(table), dtype="int64"))
            continue
        wx0, wy0, wx1, wy1 = (float(v) for v in shapely.bounds(window))
        if source.misses(g, (wx0, wy0, wx1, wy1)):
            continue
        boxes = source.boxes(g)
        near = np.flatnonzero(
            (boxes[:, 0] <= wx1)
            & (boxes[:, 2] >= wx0)
            & (boxes[:, 1] <= wy1)
            & (boxes[:, 3] >= wy0)
        )
        if len(near) == 0:
            continue
        table = source.group(g).take(near)
        hit = shapely.intersects(source.geometries(table), window)
        near, table = near[hit], table.filter(hit)
        if left is not None:
            near, table = near[:left], table.slice(0, left)
            left -= len(table)
        tables.append(table)
        rows.append(starts[g] + near)
    return source.frame(tables, rows)


def _parquet_bounds(path: Path, where: str, batch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield :func:`layer_bounds`'s batches for a GeoParquet file, one row group at a time."""
    try:
        source = _Parquet(path)
        for g in range(len(source.starts) - 1):
            boxes = source.boxes(g)
            fids = source.starts[g] + np.arange(len(boxes), dtype="int64")
            for first in range(0, len(boxes), batch):
                yield fids[first : first + batch], boxes[first : first + batch]
    except (ArrowException, OSError, ValueError, TypeError, KeyError) as error:
        raise LayerReadError(
            f"{where}: cannot read it as GeoParquet: {_one_line(error)}"
        ) from error


def _layer_name(spec: LayerSpec, where: str, list_layers: Callable[[Path], Any]) -> str:
    """Return the layer to read: ``spec.layer``, checked, or the file's first."""
    try:
        layers = [str(row[0]) for row in list_layers(spec.path)]
    except (RuntimeError, OSError, ValueError) as error:  # fiona's errors are ValueErrors
        raise LayerReadError(
            f"{where}: cannot read it as a map layer (damaged, truncated or not a GIS file): "
            f"{_one_line(error)}"
        ) from error
    if not layers:
        raise EmptyInputError(f"{where}: the file holds no layer")
    if spec.layer is not None and spec.layer not in layers:
        raise LayerReadError(
            f"{where}: no layer {spec.layer!r} in the file (layers: {', '.join(layers)}); "
            f"fix {spec.key}.layer"
        )
    return spec.layer or layers[0]


def _legacy_dbf(path: Path) -> bool:
    """Tell whether a shapefile lacks ``.cpg`` (GDAL then decodes by the DBF's language byte)."""
    return path.suffix.lower() in {".shp", ".dbf"} and not any(
        path.with_suffix(s).exists() for s in (".cpg", ".CPG")
    )


def _not_utf8(spec: LayerSpec) -> Note:
    return (spec.role, "", "text_not_utf8", "text is not valid UTF-8; read as bytes", 0.0)


def _read_gdal(
    spec: LayerSpec,
    where: str,
    notes: list[Note],
    options: dict[str, object],
    wkb: list[pa.ChunkedArray] | None = None,
) -> gpd.GeoDataFrame:
    """Read through pyogrio; with ``wkb`` (a whole GeoPackage layer), append its WKB to it."""
    layer = _layer_name(spec, where, pyogrio.list_layers)
    suffix = spec.path.suffix.lower()

    def read(*, use_arrow: bool, encoding: str | None = None) -> gpd.GeoDataFrame:
        return gpd.read_file(
            spec.path,
            layer=layer,
            engine="pyogrio",
            use_arrow=use_arrow,
            encoding=encoding,
            **options,
        )

    try:
        # Arrow is several times faster on large GeoPackages; other drivers go through the
        # plain reader (GDAL 3.12's FlatGeobuf Arrow stream crashes on null geometries).
        if suffix in ARROW_SUFFIXES:
            try:
                kept = _read_arrow(spec.path, layer) if wkb is not None and not options else None
                frame = read(use_arrow=True) if kept is None else kept[0]
                _materialise_text(frame)
                if kept is not None and wkb is not None:
                    wkb.append(kept[1])
                return frame
            except (ArrowException, UnicodeDecodeError):
                notes.append(_not_utf8(spec))
                return read(use_arrow=False, encoding="latin1")
        try:
            return read(use_arrow=False, encoding="latin1" if _legacy_dbf(spec.path) else None)
        except UnicodeDecodeError:
            notes.append(_not_utf8(spec))
            return read(use_arrow=False, encoding="latin1")
    except (RuntimeError, OSError, ValueError, ArrowException, UnicodeDecodeError) as error:
        raise LayerReadError(
            f"{where}: cannot read layer {layer!r} (damaged or truncated?): {_one_line(error)}"
        ) from error


def _read_arrow(path: Path, layer: str) -> tuple[gpd.GeoDataFrame, pa.ChunkedArray] | None:
    """Read a whole layer through GDAL's Arrow interface, keeping its geometries' WKB.

    The frame is the one ``geopandas.read_file(..., use_arrow=True)`` makes
    (pyogrio's conversion: the attributes by ``to_pandas``, the geometries
    decoded from WKB); a layer with fields that conversion parses further
    (dates, JSON) gives None, to be read by geopandas.
    """
    meta, table = pyogrio.read_arrow(path, layer=layer)
    if any(str(t).startswith("datetime") for t in meta["dtypes"]) or any(
        s == "OFSTJSON" for s in meta.get("ogr_subtypes", ())
    ):
        return None  # rare: read again by geopandas
    name = meta["geometry_name"] or "wkb_geometry"
    if name not in table.column_names:  # a plain table: geopandas reads it, _read refuses it
        return None
    wkb = table.column(name)
    if isinstance(wkb.type, pa.ExtensionType):  # geoarrow.wkb: the bytes are its storage
        wkb = pa.chunked_array([chunk.storage for chunk in wkb.chunks], wkb.type.storage_type)
    attributes = table.drop_columns([name]).to_pandas()
    del table
    geometry = shapely.from_wkb(wkb.to_numpy(zero_copy_only=False))
    frame = gpd.GeoDataFrame(attributes, geometry=geometry, crs=meta["crs"])
    return frame, wkb


def _read_fiona(
    spec: LayerSpec, where: str, notes: list[Note], options: dict[str, object]
) -> gpd.GeoDataFrame:
    """Read through fiona: the same GDAL drivers, one Python object per feature (slower)."""
    import fiona

    layer = _layer_name(spec, where, lambda path: [[name] for name in fiona.listlayers(path)])

    def read(encoding: str | None) -> gpd.GeoDataFrame:
        if not options:
            return gpd.read_file(spec.path, layer=layer, engine="fiona", encoding=encoding)
        return _fiona_window(spec.path, layer, encoding, options)

    try:
        try:
            return read("latin1" if _legacy_dbf(spec.path) else None)
        except UnicodeDecodeError:
            notes.append(_not_utf8(spec))
            return read("latin1")
    except (RuntimeError, OSError, ValueError, KeyError, UnicodeDecodeError) as error:
        raise LayerReadError(
            f"{where}: cannot read layer {layer!r} (damaged or truncated?): {_one_line(error)}"
        ) from error


def _fiona_window(
    path: Path, layer: str, encoding: str | None, options: dict[str, object]
) -> gpd.GeoDataFrame:
    """Read features by rectangle or id with fiona, indexed by feature id.

    The frame is built as :func:`geopandas.read_file` builds it with fiona (an
    EPSG code for the CRS when it is one exactly), so a window holds the same
    rows as the whole layer.
    """
    import fiona

    with fiona.open(path, layer=layer, encoding=encoding) as source:
        crs: object = source.crs_wkt or None
        epsg = source.crs.to_epsg(confidence_threshold=100) if source.crs else None
        if epsg is not None:
            crs = epsg
        fids = options.get("fids")
        bbox = options.get("bbox")
        mask = options.get("mask")
        if fids is not None:
            records = [source[int(fid)] for fid in np.asarray(fids)]
        elif bbox is not None:
            records = list(source.filter(bbox=bbox))
        elif mask is not None:
            records = list(source.filter(mask=shapely.geometry.mapping(mask)))  # type: ignore[arg-type]
        else:
            records = list(source)
        limit = options.get("max_features")
        if isinstance(limit, int):
            records = records[:limit]
        columns = list(source.schema["properties"])
    frame = gpd.GeoDataFrame.from_features(records, crs=crs, columns=[*columns, "geometry"])
    frame.index = pd.Index([int(record.id) for record in records], dtype="int64", name="fid")
    return frame


def _materialise_text(frame: pd.DataFrame) -> None:
    """Touch every text column so that invalid UTF-8 in Arrow strings fails here, not later."""
    geometry = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    for column in frame.columns:
        if column != geometry and not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column].tolist()


def read_table(spec: TableSpec) -> pd.DataFrame:
    """Read a CSV or XLSX table with every cell as text.

    Codes keep their leading zeros; numbers are parsed later with
    :func:`parse_number`, which knows Vietnamese formatting. The header is
    the row that holds the key column's name: title rows above it are
    skipped and a two-row header (merged cells) is read as one; a CSV that is
    not UTF-8 is decoded as cp1258, TCVN3 or VNI, whichever reads as
    Vietnamese; text typed in a legacy font (TCVN3, VNI) is converted. Each
    of these is noted (:func:`read_notes`).

    Parameters
    ----------
    spec : TableSpec
        Which file (and sheet).

    Returns
    -------
    pandas.DataFrame
        Columns as in the file, values as strings (missing cells are NA); the
        index is the row number in the file (1-based), for messages.

    Raises
    ------
    LayerReadError
        If the file is missing or unreadable, or the sheet does not exist.
    EmptyInputError
        If the file or sheet holds no rows below its header.
    JoinError
        If a column named in the project file heads several columns of a merged header.
    """
    where = f"{spec.key}.path = {spec.path}"
    _check_file(spec.path, where)
    notes: list[Note] = []
    suffix = spec.path.suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        grid = _excel_grid(spec, where)
    elif suffix in TEXT_SUFFIXES:
        grid = _text_grid(spec, where, notes)
    elif suffix == ".xls":
        raise LayerReadError(
            f"{where}: old Excel format (.xls); open it in Excel and save as .xlsx"
        )
    else:
        raise LayerReadError(f"{where}: unsupported table format {suffix!r} (use CSV or XLSX)")
    table = _frame_from_grid(grid, spec, where, notes)
    table = _fix_legacy_text(table, spec.key, notes)
    table.attrs[NOTES] = notes
    return table


def _excel_grid(spec: TableSpec, where: str) -> list[list[str | None]]:
    from openpyxl import load_workbook  # type: ignore[import-untyped]
    from openpyxl.utils.exceptions import InvalidFileException  # type: ignore[import-untyped]

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about styles and extensions it skips
            workbook = load_workbook(spec.path, read_only=False, data_only=True)
    except (InvalidFileException, OSError, ValueError, KeyError, TypeError) as error:
        raise LayerReadError(
            f"{where}: cannot read it as an Excel workbook (damaged, or not .xlsx): "
            f"{_one_line(error)}"
        ) from error
    except Exception as error:  # zip and XML errors of a damaged workbook vary
        raise LayerReadError(
            f"{where}: cannot read it as an Excel workbook (damaged?): "
            f"{type(error).__name__}: {_one_line(error)}"
        ) from error
    try:
        if spec.sheet is not None and spec.sheet not in workbook.sheetnames:
            raise LayerReadError(
                f"{where}: no sheet {spec.sheet!r} (sheets: {', '.join(workbook.sheetnames)}); "
                f"fix {spec.key}.sheet"
            )
        sheet = workbook[spec.sheet] if spec.sheet is not None else workbook.worksheets[0]
        fills: dict[tuple[int, int], object] = {}
        for cells in sheet.merged_cells.ranges:
            value = sheet.cell(cells.min_row, cells.min_col).value
            for row in range(cells.min_row, cells.max_row + 1):
                for col in range(cells.min_col, cells.max_col + 1):
                    fills[(row, col)] = value
        grid = []
        for r, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            grid.append(
                [_cell_text(fills.get((r, c), value)) for c, value in enumerate(row, start=1)]
            )
        return grid
    finally:
        workbook.close()


def _cell_text(value: object) -> str | None:  # noqa: PLR0911 - one return per cell type
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = nfc(str(value))
    return text or None


def _text_grid(spec: TableSpec, where: str, notes: list[Note]) -> list[list[str | None]]:
    try:
        data = spec.path.read_bytes()
    except OSError as error:
        raise LayerReadError(f"{where}: cannot read it: {_one_line(error)}") from error
    if b"\x00" in data[:4096]:
        if data[:2] in {b"\xff\xfe", b"\xfe\xff"}:
            try:
                text = data.decode("utf-16")
            except UnicodeDecodeError as error:
                raise LayerReadError(f"{where}: damaged UTF-16 text: {error}") from error
        else:
            raise LayerReadError(
                f"{where}: not a text table (binary content); save it as CSV (UTF-8) or XLSX"
            )
    else:
        text, used = encoding.decode_bytes(data)
        if used != "utf-8":
            notes.append(
                (
                    spec.key,
                    "",
                    "encoding_converted",
                    (
                        f"{spec.path.name} is not UTF-8: read as {used.upper()} (detected) "
                        "and converted to Unicode; save it as UTF-8 to skip this"
                    ),
                    0.0,
                )
            )
    try:
        dialect = csv.Sniffer().sniff(text[:20_000], delimiters=",;\t|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = "\t" if spec.path.suffix.lower() == ".tsv" else ","
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as error:
        raise LayerReadError(f"{where}: not a well-formed CSV: {_one_line(error)}") from error
    return [[nfc(cell) or None for cell in row] for row in rows]


def _norm(text: str) -> str:
    return " ".join(fold(text).split())


def _frame_from_grid(
    grid: list[list[str | None]], spec: TableSpec, where: str, notes: list[Note]
) -> pd.DataFrame:
    width = max((len(row) for row in grid), default=0)
    rows = [list(row) + [None] * (width - len(row)) for row in grid]
    if not any(any(cell for cell in row) for row in rows):
        raise EmptyInputError(f"{where}: the table is empty")
    wanted = [spec.key_column, *spec.columns.values()]
    wanted_norm = {_norm(name) for name in wanted}
    key_norm = _norm(spec.key_column)

    def cells(row: Sequence[str | None]) -> set[str]:
        return {_norm(cell) for cell in row if cell}

    top = next(
        (i for i, row in enumerate(rows[:HEADER_SCAN_ROWS]) if key_norm in cells(row)),
        next(i for i, row in enumerate(rows) if any(row)),
    )
    key_col = next(
        (j for j, cell in enumerate(rows[top]) if cell and _norm(cell) == key_norm), None
    )
    found = cells(rows[top]) & wanted_norm
    bottom = top
    while bottom + 1 < len(rows) and bottom - top + 1 < MAX_HEADER_ROWS:
        below = rows[bottom + 1]
        new = (cells(below) & wanted_norm) - found
        merged_key = key_col is not None and (
            below[key_col] is None or _norm(below[key_col] or "") == key_norm
        )
        numeric = any(cell and _looks_numeric(cell) for cell in below)
        if not new and not (merged_key and not numeric and any(below)):
            break
        found |= new
        bottom += 1
    names = []
    parts_of = []
    for j in range(width):
        parts: list[str] = []
        for i in range(top, bottom + 1):
            cell = rows[i][j]
            if cell and (not parts or _norm(parts[-1]) != _norm(cell)):
                parts.append(cell.strip())
        parts_of.append(parts)
        names.append(" ".join(parts) if parts else f"column {j + 1}")
    names = _unique(names)
    for name in wanted:
        matches = [
            j
            for j in range(width)
            if _norm(names[j]) == _norm(name) or _norm(name) in {_norm(p) for p in parts_of[j]}
        ]
        exact = [j for j in matches if _norm(names[j]) == _norm(name)]
        if len(exact) == 1:
            matches = exact
        if len(matches) > 1:
            heads = ", ".join(repr(names[j]) for j in matches)
            raise JoinError(
                f"{where}: {name!r} heads {len(matches)} columns of a merged header ({heads}); "
                f"name one of them in the project file"
            )
        if matches:
            names[matches[0]] = name
    if top > 0 or bottom > top:
        skipped = f"{top} row(s) above it skipped" if top else "no title row"
        merged = f", header rows {top + 1}-{bottom + 1} read as one" if bottom > top else ""
        notes.append(
            (
                spec.key,
                f"row {top + 1}",
                "header_detected",
                f"header found on row {top + 1} ({skipped}{merged})",
                float(top + 1),
            )
        )
    data = rows[bottom + 1 :]
    numbers = list(range(bottom + 2, bottom + 2 + len(data)))
    kept = [(n, row) for n, row in zip(numbers, data, strict=True) if any(row)]
    table = pd.DataFrame(
        [row for _, row in kept], columns=names, index=[n for n, _ in kept], dtype="object"
    )
    if table.empty:
        raise EmptyInputError(f"{where}: no rows below the header (row {bottom + 1})")
    table.index.name = "row"
    return table


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        out.append(name if count == 0 else f"{name} ({count + 1})")
    return out


def _looks_numeric(text: str) -> bool:
    try:
        parse_number(text)
    except ValueError:
        return False
    return True


def _fix_legacy_text(table: pd.DataFrame, key: str, notes: list[Note]) -> pd.DataFrame:
    for column in table.columns:
        values = [str(v) for v in table[column].dropna()]
        if not values:
            continue
        found = encoding.detect(values)
        if found.encoding == "unicode" or found.converted == 0:
            continue
        mask = table[column].notna()
        table.loc[mask, column] = encoding.convert(
            [str(v) for v in table.loc[mask, column]], found.encoding
        )
        notes.append(
            (
                key,
                f"column {column}",
                "encoding_converted",
                (
                    f"column {column!r} is in {found.encoding.upper()} (detected); "
                    f"{found.converted} value(s) converted to Unicode"
                ),
                float(found.converted),
            )
        )
    return table


def _one_line(error: object) -> str:
    return " ".join(str(error).split())


_VN_THOUSANDS = re.compile(r"^-?\d{1,3}(\.\d{3})+(,\d+)?$")
_VN_DECIMAL = re.compile(r"^-?\d+,\d+$")
_EN_THOUSANDS = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
_EMPTY_MARKS = {"-", "–", "—", "...", "…", "x", "n/a", "na"}


def parse_number(text: object) -> float:
    """Parse a number written the English or the Vietnamese way.

    In Vietnamese the thousands separator is ``.`` and the decimal mark is
    ``,``: ``"1.234"`` is one thousand two hundred thirty-four and
    ``"1.234,5"`` is 1234.5. Spaces are ignored. A dash or ``…`` alone means
    no figure (NaN).

    Parameters
    ----------
    text : object
        A cell value.

    Returns
    -------
    float
        NaN for an empty cell.

    Raises
    ------
    ValueError
        If the text is not a finite number.

    Examples
    --------
    >>> parse_number("1.234"), parse_number("1.234,5"), parse_number("17252"), parse_number("3,5")
    (1234.0, 1234.5, 17252.0, 3.5)
    >>> parse_number("12,345,678")
    12345678.0
    """
    if text is None or text is pd.NA:
        return float("nan")
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a number")
    if isinstance(text, int | float):
        return float(text)
    cleaned = str(text).strip().replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
    if not cleaned or cleaned.casefold() in _EMPTY_MARKS or cleaned.casefold() == "nan":
        return float("nan")
    if _VN_THOUSANDS.match(cleaned):
        cleaned = cleaned.replace(".", "").replace(",", ".")
    elif _VN_DECIMAL.match(cleaned):
        cleaned = cleaned.replace(",", ".")
    elif _EN_THOUSANDS.match(cleaned):
        cleaned = cleaned.replace(",", "")
    if not re.fullmatch(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", cleaned):
        raise ValueError(f"{text!r} is not a number")
    number = float(cleaned)
    if not math.isfinite(number):
        raise ValueError(f"{text!r} is not a finite number")
    return number
