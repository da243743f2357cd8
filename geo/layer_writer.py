"""Write a large GeoPackage layer from Arrow batches, here or in a process of its own.

GDAL holds Python's global interpreter lock while it inserts features, so a
thread writing a million parcel pieces would stop the map, the workbook and the
report from being rendered meanwhile. :class:`LayerWrite` hands the batches to a
child process instead, started before the layer is built (it takes 0.3 s to
import what it needs), through a pipe (an Arrow IPC stream), and the caller
goes on; the child inserts each batch as it arrives, while the next ones are
still being encoded. :meth:`LayerWrite.wait` joins it. The child runs this file
as a script: it imports only pyarrow and pyogrio, not :mod:`geo`.

Both ways write the same layer from the same batches (:func:`arrow_layer`).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyogrio

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:  # the child process does not import pandas
    import pandas as pd

_POLYGON, _MULTIPOLYGON = 3, 6

BATCH_ROWS = 65_536
"""Features per Arrow batch of a lazily encoded layer (``arrow_layer(..., lazy=True)``)."""

_END_OF_STREAM = b"\xff\xff\xff\xff\x00\x00\x00\x00"
"""The end-of-stream marker of the Arrow IPC stream format (a continuation, length 0)."""

_CHILD_START = (
    "import runpy, sys\n"
    "sys.modules.update(dict.fromkeys(('geopandas', 'pandas', 'pyproj', 'shapely')))\n"
    "sys.argv = sys.argv[1:]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)
"""How the child runs this file. pyogrio imports geopandas, pandas, pyproj and shapely when
they are installed, for its data-frame functions; the child only writes Arrow batches, and
without them (an import of each raises ImportError, which pyogrio expects of a missing one)
it starts in 0.3 s instead of 0.6 s of CPU, taken from the caller rendering the other
outputs."""

_CHILD_ENV = {"OPENBLAS_NUM_THREADS": "1"}
"""The child's environment, beside the caller's: numpy's OpenBLAS would otherwise start a
thread per core, which spins for a while (0.07-0.1 s of CPU), though nothing here uses it."""

SCRATCH_PRAGMAS = {"OGR_SQLITE_SYNCHRONOUS": "OFF", "OGR_SQLITE_JOURNAL": "OFF"}
"""SQLite settings of the child: no journal, no sync at each commit. Safe because it writes
into a staging file that is discarded if it fails; the parent's later commits (the other
layers and the styles) sync the whole file before it is moved into place."""


@dataclass(frozen=True)
class ArrowLayer:
    """A polygon layer ready for :func:`pyogrio.write_arrow`.

    Attributes
    ----------
    table : pyarrow.Table or pyarrow.RecordBatchReader
        The attribute columns, then ``geometry`` as WKB (a reader: written
        batch by batch, and encoded as it is read when it comes from
        ``arrow_layer(..., lazy=True)``).
    geometry_type : str
        ``Polygon``, ``MultiPolygon`` (polygons made multi when both kinds are
        present: a GeoPackage column holds one type) or ``Unknown`` (no rows).
    crs : str
        ``EPSG:<code>`` or WKT.
    """

    table: pa.Table | pa.RecordBatchReader
    geometry_type: str
    crs: str


@dataclass(frozen=True)
class SourceWkb:
    """The WKB a layer's geometries were read as, to write them again without encoding them.

    Encoding a million parcels as WKB takes about 1.4 s (GEOS's writer, then
    Python bytes into Arrow), on the thread that renders the other outputs
    meanwhile; the bytes GDAL gave when the layer was read are taken instead
    for every geometry still the one decoded from them.

    Attributes
    ----------
    geometries : numpy.ndarray of shapely geometries
        Aligned with ``wkb`` (the layer as read): the geometry decoded from each
        row's bytes where validation kept it as it is; None where it dropped or
        changed it (repaired, reprojected, made 2D), so those are not held.
    wkb : pyarrow.ChunkedArray of binary
        The bytes of each row (in the chunks GDAL gave them: not copied into
        one array).
    """

    geometries: np.ndarray
    wkb: pa.ChunkedArray

    @classmethod
    def matching(
        cls,
        read: np.ndarray,
        wkb: pa.ChunkedArray | None,
        layer: np.ndarray,
        rows: np.ndarray | None = None,
    ) -> SourceWkb | None:
        """Pair a validated layer's geometries with the WKB of the geometries read.

        ``read`` and ``wkb``: the layer as read; ``layer``: as validated, its
        features from ``read``'s ``rows`` (default: all, in order). A geometry
        keeps its bytes when it is the very object decoded from them (shapely
        geometries are immutable, and validation makes new ones where it
        changes one). None without WKB, or when no geometry is left as read.
        """
        rows = np.arange(len(layer)) if rows is None else np.asarray(rows, dtype=np.int64)
        if wkb is None or len(wkb) != len(read) or len(rows) != len(layer):
            return None
        if wkb.type != pa.binary():
            try:
                wkb = wkb.cast(pa.binary())
            except pa.ArrowInvalid:  # over 2 GiB of bytes: a large_binary stays one
                return None
        kept = rows[_same_objects(layer, read[rows])]
        if kept.size == 0:
            return None
        geometries = np.full(len(read), None, dtype=object)
        geometries[kept] = read[kept]
        return cls(geometries, wkb)

    def take(self, geometries: np.ndarray, rows: np.ndarray) -> KnownWkb:
        """Return the WKB of ``geometries``, each expected to be the one read at ``rows``.

        ``rows``: 0-based, in the layer as read. Known where it is that very
        geometry; not where it is not (a part cut from it, a geometry of
        another run) or validation changed it.
        """
        import shapely

        rows = np.asarray(rows, dtype=np.int64)
        inside = (rows >= 0) & (rows < len(self.geometries))
        at = np.where(inside, rows, 0)
        read = self.geometries[at]  # None where dropped or changed: never the same object
        known = inside & ~shapely.is_missing(read) & _same_objects(geometries, read)
        return KnownWkb(self.wkb, np.where(known, at, -1))


@dataclass(frozen=True)
class KnownWkb:
    """The WKB of some of a layer's geometries: ``source[rows[i]]`` where ``rows[i] >= 0``.

    Taken batch by batch (:meth:`slice`), so the bytes are copied into
    buffers Arrow reuses, not into a new array the size of the layer (whose
    first use costs a page fault every 4 KiB: 0.3 s at a million parcels).
    """

    source: pa.ChunkedArray
    rows: np.ndarray

    def slice(self, first: int, last: int) -> pa.Array:
        """Return the WKB of geometries ``first`` to ``last`` (excluded), null where unknown.

        Taken from each chunk the rows fall in: Arrow's take on a chunked array
        would first concatenate every chunk (the whole layer's bytes, each batch).
        """
        rows = self.rows[first:last]
        known = rows >= 0
        wanted = rows[known]
        starts = np.cumsum([0, *(len(chunk) for chunk in self.source.chunks)])
        chunk_of = np.searchsorted(starts, wanted, side="right") - 1
        order = np.argsort(chunk_of, kind="stable")
        parts = [
            self.source.chunk(int(c)).take(
                pa.array(wanted[order][chunk_of[order] == c] - starts[c])
            )
            for c in np.unique(chunk_of)
        ]
        values = pa.concat_arrays(parts) if parts else pa.array([], self.source.type)
        at = np.zeros(len(rows), dtype=np.int64)
        at[np.flatnonzero(known)[order]] = np.arange(len(wanted))
        return values.take(pa.array(at, mask=~known))


def _same_objects(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether each item of ``a`` is the same object as the aligned item of ``b``."""
    return np.fromiter((x is y for x, y in zip(a, b, strict=True)), dtype=bool, count=len(a))


def arrow_layer(
    layer: object, *, multi: bool = True, lazy: bool = False, wkb: KnownWkb | None = None
) -> ArrowLayer:
    """Convert a polygon GeoDataFrame as :func:`pyogrio.write_dataframe` would write it.

    Parameters
    ----------
    layer : geopandas.GeoDataFrame
        Polygons and multipolygons (empty ones allowed), with a CRS; the other
        columns plain numbers or strings.
    multi : bool, default True
        Make polygons multi where both kinds are present; False leaves the
        geometries as they are (a part of a layer, promoted when the whole is
        known: :class:`geo.landuse_layer.PiecesSpill`).
    lazy : bool, default False
        Return the table as a reader that encodes :data:`BATCH_ROWS` features
        each time a batch is read (for :class:`LayerWrite`, whose child then
        writes the first batches while the last ones are encoded).
    wkb : KnownWkb, optional
        The WKB of geometries known already (:meth:`SourceWkb.take`): only
        the others are encoded. A polygon's own bytes are not used where
        polygons are made multi.

    Returns
    -------
    ArrowLayer

    Raises
    ------
    ValueError
        If a geometry is not polygonal or the layer has no CRS.
    """
    import geopandas as gpd
    import shapely

    if not isinstance(layer, gpd.GeoDataFrame) or layer.crs is None:
        raise ValueError("arrow_layer needs a GeoDataFrame with a CRS")
    geometries = layer.geometry.to_numpy()
    kinds = shapely.get_type_id(geometries)
    if not np.isin(kinds, [_POLYGON, _MULTIPOLYGON]).all():
        raise ValueError("arrow_layer writes polygon layers only")
    promote = False
    if (kinds == _POLYGON).all():
        geometry_type = "Polygon" if len(kinds) else "Unknown"
    else:
        geometry_type = "MultiPolygon"
        promote = multi
    columns = {
        str(name): _arrow_column(layer[name])
        for name in layer.columns
        if name != layer.geometry.name
    }

    def encode(part: np.ndarray, part_kinds: np.ndarray) -> np.ndarray:
        if not promote:
            return np.asarray(shapely.to_wkb(part, byte_order=1), dtype=object)
        return multi_polygon_wkb(part, part_kinds)

    def encoded(first: int, last: int) -> pa.Array:
        part, part_kinds = geometries[first:last], kinds[first:last]
        known = None if wkb is None else wkb.slice(first, last)
        if known is None or known.null_count == len(known):
            return pa.array(encode(part, part_kinds), type=pa.binary())
        need = np.asarray(known.is_null(), dtype=bool)
        if promote:
            need |= part_kinds == _POLYGON
        values = np.full(len(part), None, dtype=object)
        if need.any():
            values[need] = encode(part[need], part_kinds[need])
        return pc.if_else(pa.array(~need), known, pa.array(values, type=pa.binary()))

    crs = crs_text(layer.crs)
    if not lazy:
        table = pa.table({**columns, "geometry": encoded(0, len(geometries))})
        return ArrowLayer(table, geometry_type, crs)
    schema = pa.schema(
        [*(pa.field(n, c.type) for n, c in columns.items()), pa.field("geometry", pa.binary())]
    )

    def batches() -> Iterator[pa.RecordBatch]:
        for first in range(0, len(geometries), BATCH_ROWS):
            last = min(first + BATCH_ROWS, len(geometries))
            part = [c.slice(first, last - first) for c in columns.values()]
            yield pa.record_batch([*part, encoded(first, last)], schema=schema)

    return ArrowLayer(pa.RecordBatchReader.from_batches(schema, batches()), geometry_type, crs)


def crs_text(crs: object) -> str:
    """Return a CRS as :func:`pyogrio.write_dataframe` passes it to GDAL: EPSG code, else WKT."""
    from pyproj import CRS

    crs = CRS.from_user_input(crs)
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_wkt("WKT1_GDAL")


_MULTI_OF_ONE = b"\x01\x06\x00\x00\x00\x01\x00\x00\x00"
"""The head of a little-endian WKB MultiPolygon of one part (its polygon follows)."""

_POLYGON_HEAD = b"\x01\x03\x00\x00\x00"
"""The head of a little-endian 2D WKB Polygon."""


def multi_polygon_wkb(geometries: np.ndarray, kinds: np.ndarray) -> np.ndarray:
    """Return little-endian WKB of the geometries with each polygon made a multipolygon of one.

    ``kinds``: the geometries' type ids. The polygons are not made into new
    multipolygons: their WKB is put after the head of a multipolygon of one part
    (:func:`polygons_made_multi`), the bytes ``shapely.to_wkb`` gives of one.
    """
    import shapely

    return polygons_made_multi(shapely.to_wkb(geometries, byte_order=1), kinds == _POLYGON)


def polygons_made_multi(wkb: np.ndarray, single: np.ndarray | None = None) -> np.ndarray:
    """Put the head of a multipolygon of one part before each polygon's little-endian WKB.

    ``single`` says which items are polygons; by default read from their
    heads (the WKB :func:`arrow_layer` writes: little-endian, 2D). Modified
    in place and returned.
    """
    if single is None:
        single = np.fromiter((one[:5] == _POLYGON_HEAD for one in wkb), dtype=bool, count=len(wkb))
    at = np.flatnonzero(single)
    if at.size:
        wkb[at] = [_MULTI_OF_ONE + one for one in wkb[at]]
    return wkb


def _arrow_column(column: pd.Series) -> pa.Array:
    """Return a column as Arrow; text with no value at all stays text (a TEXT field)."""
    array = pa.array(column, from_pandas=True)
    if isinstance(array, pa.ChunkedArray):  # text of concatenated frames: one array for batches
        array = array.combine_chunks()
    return array.cast(pa.string()) if pa.types.is_null(array.type) else array


def write_layer(layer: ArrowLayer, path: Path, name: str) -> None:
    """Write ``layer`` as layer ``name`` of the GeoPackage ``path`` (added if it exists)."""
    pyogrio.write_arrow(
        layer.table,
        path,
        layer=name,
        driver="GPKG",
        geometry_name="geometry",
        geometry_type=layer.geometry_type,
        crs=layer.crs,
    )


PIPE_BYTES = 1 << 20
"""The child's input pipe, in bytes (Linux; the most an unprivileged process may ask by
default). Through Linux's default 64 KiB, the 260 MB of a million pieces took 0.39 s and
0.15 s of the sender's CPU; through 1 MiB, 0.20 s and 0.08 s."""


def _widen_pipe(pipe: IO[bytes] | None) -> None:
    """Make a pipe's buffer :data:`PIPE_BYTES` where the system allows it; else leave it."""
    setting = getattr(fcntl, "F_SETPIPE_SZ", None)  # None without fcntl, or off Linux
    if pipe is None or setting is None:
        return
    with contextlib.suppress(OSError):  # above the system's limit: the default stays
        fcntl.fcntl(pipe.fileno(), setting, PIPE_BYTES)


def can_spawn() -> bool:
    """Whether a child Python can run this file (not in a frozen, single-file application)."""
    return bool(sys.executable) and not getattr(sys, "frozen", False)


class LayerWrite:
    """A layer being written into a GeoPackage by a child process.

    The child is started first, on its own: it spends about 0.3 s importing
    pyarrow and pyogrio (:data:`_CHILD_START`), which the caller spends
    building the layer and writing the other ones. :meth:`send` then hands it the layer: its
    batches are read here (a lazy reader encodes them now) and sent down a pipe
    as an Arrow IPC stream by a thread, so the child inserts the first batches
    while the next ones are encoded, and the caller goes on once the last one
    is encoded.

    Parameters
    ----------
    path : Path
        The GeoPackage; nothing else may write to it from :meth:`send` until
        :meth:`wait` returns.
    name : str
        The layer's name.

    Notes
    -----
    The child's messages go to ``<path>.<name>.log``; :meth:`wait` and
    :meth:`cancel` delete it. A child given no layer (its input closed before
    :meth:`send`) writes nothing and exits.
    """

    def __init__(self, path: Path, name: str) -> None:
        self.path = Path(path)
        self.name = name
        self.log_path = self.path.with_name(f"{self.path.name}.{name}.log")
        self.log: IO[bytes] = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-P",  # not geo/ on sys.path: its modules would shadow top-level ones
                "-c",
                _CHILD_START,
                *(str(Path(__file__)), str(self.path), name),
            ],
            stdin=subprocess.PIPE,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **_CHILD_ENV},
        )
        _widen_pipe(self.process.stdin)
        self._batches: queue.SimpleQueue[pa.RecordBatch | None] = queue.SimpleQueue()
        self._failed: list[BaseException] = []
        self._sender: threading.Thread | None = None

    def send(self, layer: ArrowLayer) -> None:
        """Hand the child ``layer`` (once); return when its last batch is encoded."""
        if self._sender is not None:
            raise RuntimeError(f"{self.path.name}: layer {self.name} was sent already")
        header = json.dumps({"geometry_type": layer.geometry_type, "crs": layer.crs})
        schema = layer.table.schema
        self._sender = threading.Thread(
            target=self._send, args=(header.encode() + b"\n", schema), daemon=True
        )
        self._sender.start()
        try:
            source = layer.table
            for batch in source.to_batches() if isinstance(source, pa.Table) else source:
                self._batches.put(batch)
        except BaseException:
            self._batches.put(None)
            self.cancel()
            raise
        self._batches.put(None)

    def _send(self, header: bytes, schema: pa.Schema) -> None:
        """Write the header line, then the queued batches as an Arrow IPC stream, to the child.

        Each batch goes down the pipe in one write (its IPC message, made in
        memory): the writer then takes the GIL once a batch, not once for each
        of its buffers while the caller's thread encodes the next batch (which
        held the child back by up to a second at L). Dictionary columns need
        messages of their own: pyarrow's stream writer sends those.
        """
        stdin = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(header)
            if any(pa.types.is_dictionary(field.type) for field in schema):
                with pa.ipc.new_stream(stdin, schema) as stream:
                    while (batch := self._batches.get()) is not None:
                        stream.write_batch(batch)
            else:
                stdin.write(schema.serialize())
                while (batch := self._batches.get()) is not None:
                    stdin.write(batch.serialize())
                stdin.write(_END_OF_STREAM)
        except (OSError, ValueError, pa.ArrowException) as error:  # the child is gone
            self._failed.append(error)
            while self._batches.get() is not None:  # drop the rest
                pass
        finally:
            self._end_input()

    def wait(self) -> None:
        """Wait for the child; raise OSError with its last message if it failed.

        Without :meth:`send` first, the child is told there is no layer.
        """
        if self._sender is None:
            self._end_input()
        else:
            self._sender.join()
        code = self.process.wait()
        self.log.close()
        message = self.log_path.read_text(encoding="utf-8", errors="replace").strip()
        self._close()
        if code != 0 or self._failed:
            last = (
                message.splitlines()[-1]
                if message
                else f"exit status {code}"
                if code
                else f"cannot send it the features: {self._failed[0]}"
            )
            raise OSError(f"{self.path.name}: writing layer {self.name} failed: {last}")

    def cancel(self) -> None:
        """Stop the child if it still runs; remove its log."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self._sender is not None:
            self._sender.join()  # ends at the broken pipe
        else:
            self._end_input()
        self._close()

    def _end_input(self) -> None:
        """Close the child's input: no more is coming (a pipe the child broke is no matter)."""
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()

    def _close(self) -> None:
        self.log.close()
        self.log_path.unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    """Run the child: ``layer_writer.py OUT.gpkg NAME``; on stdin, a header line, then batches.

    The header is JSON: ``{"geometry_type": ..., "crs": ...}``. An input closed
    before it means no layer: nothing is written.
    """
    path, name = argv
    header = sys.stdin.buffer.readline()
    if not header.strip():
        return 0
    layer = json.loads(header)
    pyogrio.set_gdal_config_options(SCRATCH_PRAGMAS)
    with pa.ipc.open_stream(sys.stdin.buffer) as batches:
        write_layer(ArrowLayer(batches, layer["geometry_type"], layer["crs"]), Path(path), name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
