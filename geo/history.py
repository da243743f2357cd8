"""Dated snapshots of every criterion value and status, kept in SQLite.

Each snapshot records, for one date (the run's ``as_of``), the value,
threshold, status and gap of every criterion for every unit and hamlet, so
that :mod:`geo.progress` can follow a roadmap over time. The history lives in
the project folder as ``history.sqlite`` (:data:`HISTORY_FILE`): an embedded
SQLite database, nothing to install; QGIS, DB Browser for SQLite, Python's
``sqlite3`` and ``pandas`` open it.

A snapshot for a date already recorded is replaced only when asked
(``replace=True``, ``--replace``), never silently. Every write is one
transaction: an interrupted or failed run (Ctrl-C, a crash, a full disk)
leaves the history exactly as it was before the run.

Schema (``PRAGMA user_version = 1``)::

    CREATE TABLE snapshots (
        as_of        TEXT PRIMARY KEY,   -- YYYY-MM-DD: the date the values describe
        created_at   TEXT NOT NULL,      -- ISO 8601 timestamp of the recording
        project_name TEXT NOT NULL,      -- [project] name
        tool_version TEXT NOT NULL       -- geo version that computed the values
    );
    CREATE TABLE "values" (              -- a reserved word in SQL: always quote it
        as_of           TEXT NOT NULL REFERENCES snapshots(as_of) ON DELETE CASCADE,
        level           TEXT NOT NULL,   -- unit | hamlet
        id              TEXT NOT NULL,   -- the feature's id
        name            TEXT,            -- the feature's name
        unit_id         TEXT,            -- for hamlets: the unit it belongs to
        family          TEXT,            -- criteria family (ward, ntm, …)
        set_id          TEXT,            -- criteria set in force on as_of (ward-2023, …)
        criterion       TEXT NOT NULL,   -- criterion id (ward.population, ntm.02, …)
        criterion_vi    TEXT,            -- its Vietnamese name
        criterion_en    TEXT,            -- its English name
        value           REAL,            -- NULL when unknown
        operator        TEXT,            -- >= > <= < is_true: the criterion's direction
        threshold       REAL,            -- NULL when not on record
        unit_of_measure TEXT,
        status          TEXT NOT NULL,   -- pass | fail | not_assessed
        gap             REAL,            -- how much is missing, in the criterion's unit
        PRIMARY KEY (as_of, level, id, criterion)
    );

For example, the population of every unit over time::

    SELECT as_of, id, name, value FROM "values"
    WHERE criterion = 'ward.population' ORDER BY id, as_of;

Examples
--------
>>> import geo
>>> from geo import history
>>> result = geo.run(geo.load_project("layers/quyet-thang"))  # doctest: +SKIP
>>> history.record(result).describe()  # doctest: +SKIP
'snapshot 2025-03-01: 233 values (pass 2, fail 0, not_assessed 231) recorded in …'
"""

from __future__ import annotations

import contextlib
import math
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from geo.criteria import STATUSES
from geo.errors import GeoInputError

if TYPE_CHECKING:
    from geo.pipeline import RunResult

HISTORY_FILE = "history.sqlite"
"""Name of the history database in the project folder."""
SCHEMA_VERSION = 1
"""``PRAGMA user_version`` of the schema this module writes."""
SNAPSHOTS_TABLE = "snapshots"
VALUES_TABLE = "values"
"""Name of the values table; a reserved word in SQL, so always quoted."""
SNAPSHOT_COLUMNS = ["as_of", "created_at", "project_name", "tool_version"]
VALUE_COLUMNS = [
    "as_of",
    "level",
    "id",
    "name",
    "unit_id",
    "family",
    "set_id",
    "criterion",
    "criterion_vi",
    "criterion_en",
    "value",
    "operator",
    "threshold",
    "unit_of_measure",
    "status",
    "gap",
]
"""Columns of the values table, in order."""
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {SNAPSHOTS_TABLE} (
    as_of TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    project_name TEXT NOT NULL,
    tool_version TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS "{VALUES_TABLE}" (
    as_of TEXT NOT NULL REFERENCES {SNAPSHOTS_TABLE}(as_of) ON DELETE CASCADE,
    level TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT,
    unit_id TEXT,
    family TEXT,
    set_id TEXT,
    criterion TEXT NOT NULL,
    criterion_vi TEXT,
    criterion_en TEXT,
    value REAL,
    operator TEXT,
    threshold REAL,
    unit_of_measure TEXT,
    status TEXT NOT NULL,
    gap REAL,
    PRIMARY KEY (as_of, level, id, criterion)
);
"""
"""The SQL that creates the schema (see the module docstring)."""
_SELECT_CREATED = f"SELECT created_at FROM {SNAPSHOTS_TABLE} WHERE as_of = ?"  # noqa: S608
_DELETE_VALUES = f'DELETE FROM "{VALUES_TABLE}" WHERE as_of = ?'  # noqa: S608
_DELETE_SNAPSHOT = f"DELETE FROM {SNAPSHOTS_TABLE} WHERE as_of = ?"  # noqa: S608
_INSERT_SNAPSHOT = f"INSERT INTO {SNAPSHOTS_TABLE} VALUES (?, ?, ?, ?)"  # noqa: S608
_INSERT_VALUES = (
    f'INSERT INTO "{VALUES_TABLE}" ({", ".join(VALUE_COLUMNS)}) '  # noqa: S608
    f"VALUES ({', '.join('?' for _ in VALUE_COLUMNS)})"
)
_LIST_SNAPSHOTS = f"""
    SELECT s.as_of, s.created_at, s.project_name, s.tool_version,
           COUNT(v.criterion),
           COALESCE(SUM(v.status = 'pass'), 0),
           COALESCE(SUM(v.status = 'fail'), 0),
           COALESCE(SUM(v.status = 'not_assessed'), 0),
           COALESCE(SUM(v.value IS NOT NULL), 0)
    FROM {SNAPSHOTS_TABLE} AS s LEFT JOIN "{VALUES_TABLE}" AS v ON v.as_of = s.as_of
    GROUP BY s.as_of ORDER BY s.as_of
"""  # noqa: S608
_SELECT_VALUES = f'SELECT {", ".join(VALUE_COLUMNS)} FROM "{VALUES_TABLE}"'  # noqa: S608
BUSY_TIMEOUT = 30.0
"""Seconds a write waits for another process writing the same history."""


class HistoryError(GeoInputError, OSError):
    """The history database cannot be read or written (not SQLite, newer schema, read-only)."""


class SnapshotExistsError(GeoInputError, ValueError):
    """A snapshot for this date is already recorded and replacing it was not asked for."""


@dataclass(frozen=True)
class Snapshot:
    """One recorded snapshot: its date, when and by what it was recorded, its counts.

    Attributes
    ----------
    path : Path
        The history database.
    as_of : datetime.date
    created_at : str
        ISO 8601 timestamp.
    project_name, tool_version : str
    counts : dict of str to int
        Number of values per status (``pass``, ``fail``, ``not_assessed``).
    replaced : bool
        Whether an earlier snapshot of the same date was replaced.
    """

    path: Path
    as_of: date
    created_at: str
    project_name: str
    tool_version: str
    counts: dict[str, int]
    replaced: bool = False

    @property
    def rows(self) -> int:
        """Number of values in the snapshot."""
        return sum(self.counts.values())

    def describe(self) -> str:
        """Return one line saying what was recorded where."""
        counts = ", ".join(f"{status} {n}" for status, n in self.counts.items())
        verb = "replaced" if self.replaced else "recorded"
        return (
            f"snapshot {self.as_of.isoformat()}: {self.rows} values ({counts}) {verb} in "
            f"{self.path}"
        )


def history_path(project_root: str | Path) -> Path:
    """Return the default history database of a project folder (``<folder>/history.sqlite``)."""
    return Path(project_root) / HISTORY_FILE


def snapshot_rows(result: RunResult) -> pd.DataFrame:
    """Return a run's criteria rows in the shape of the values table (without ``as_of``).

    Parameters
    ----------
    result : RunResult

    Returns
    -------
    pandas.DataFrame
        Columns :data:`VALUE_COLUMNS` but ``as_of``; ``unit_id`` is set for
        hamlets (the unit each was assigned to).
    """
    rows = result.criteria.rename(columns={"set": "set_id"}).copy()
    rows["id"] = rows["id"].astype(str)
    unit_of: dict[str, str] = {}
    if result.hamlets is not None and "unit_id" in result.hamlets.columns:
        unit_of = {
            str(ident): str(unit)
            for ident, unit in zip(result.hamlets["id"], result.hamlets["unit_id"], strict=True)
            if not pd.isna(unit)
        }
    rows["unit_id"] = [
        unit_of.get(ident) if level == "hamlet" else None
        for level, ident in zip(rows["level"], rows["id"], strict=True)
    ]
    return rows[VALUE_COLUMNS[1:]].reset_index(drop=True)


def record(
    result: RunResult,
    *,
    replace: bool = False,
    path: str | Path | None = None,
    created_at: str | None = None,
) -> Snapshot:
    """Record a run as the snapshot of its ``as_of`` date.

    Parameters
    ----------
    result : RunResult
        A run (:func:`geo.run`); its ``project.as_of`` is the snapshot's date.
    replace : bool
        Replace a snapshot already recorded for that date. Without it, an
        existing snapshot is left as it is and :class:`SnapshotExistsError` raised.
    path : str or Path, optional
        The history database (default ``<project folder>/history.sqlite``).
    created_at : str, optional
        Timestamp to record (default now, local time, ISO 8601).

    Returns
    -------
    Snapshot

    Raises
    ------
    SnapshotExistsError
        If the date is already recorded and ``replace`` is false.
    HistoryError
        If the database cannot be written.
    """
    project = result.project
    return write_snapshot(
        path or history_path(project.root),
        project.as_of,
        snapshot_rows(result),
        project_name=project.name,
        replace=replace,
        created_at=created_at,
    )


def write_snapshot(
    path: str | Path,
    as_of: date,
    rows: pd.DataFrame,
    *,
    project_name: str,
    replace: bool = False,
    created_at: str | None = None,
    tool_version: str | None = None,
) -> Snapshot:
    """Write one snapshot in a single transaction (see :func:`record`).

    Parameters
    ----------
    path : str or Path
        The history database; created with the schema if missing.
    as_of : datetime.date
    rows : pandas.DataFrame
        Columns :data:`VALUE_COLUMNS` but ``as_of`` (``unit_id``,
        ``criterion_vi``, ``criterion_en``, ``operator`` and
        ``unit_of_measure`` may be missing).
    project_name : str
    replace : bool
        Replace an existing snapshot of the same date.
    created_at, tool_version : str, optional
        Default: now, and the installed geo version.

    Returns
    -------
    Snapshot

    Raises
    ------
    SnapshotExistsError, HistoryError
    """
    path = Path(path)
    if tool_version is None:
        from geo import __version__

        tool_version = __version__
    created = created_at or datetime.now().astimezone().isoformat(timespec="seconds")
    day = as_of.isoformat()
    found = rows["status"].value_counts()
    counts = {status: int(found.get(status, 0)) for status in STATUSES}
    counts |= {str(status): int(n) for status, n in found.items() if status not in STATUSES}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _connect(path, write=True) as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                _ensure_schema(connection, path)
                existing = connection.execute(_SELECT_CREATED, (day,)).fetchone()
                if existing is not None and not replace:
                    raise SnapshotExistsError(
                        f"{path}: a snapshot for {day} is already recorded (at {existing[0]}); "
                        "rerun with --replace to replace it, or choose another --as-of"
                    )
                if existing is not None:
                    connection.execute(_DELETE_VALUES, (day,))
                    connection.execute(_DELETE_SNAPSHOT, (day,))
                connection.execute(_INSERT_SNAPSHOT, (day, created, project_name, tool_version))
                connection.executemany(_INSERT_VALUES, _records(day, rows))
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
    except sqlite3.IntegrityError as error:
        raise HistoryError(
            f"{path}: the snapshot for {day} repeats a (level, id, criterion): {error}; "
            "check that feature ids are unique"
        ) from error
    except sqlite3.Error as error:
        raise HistoryError(f"{path}: cannot write the history: {error}") from error
    except OSError as error:
        if isinstance(error, GeoInputError):
            raise
        raise HistoryError(f"{path}: cannot write the history: {error}") from error
    return Snapshot(
        path=path,
        as_of=as_of,
        created_at=created,
        project_name=project_name,
        tool_version=tool_version,
        counts=counts,
        replaced=existing is not None,
    )


def _records(day: str, rows: pd.DataFrame) -> Iterator[tuple[Any, ...]]:
    """Yield the rows as tuples in :data:`VALUE_COLUMNS` order, NaN as NULL."""
    frame = rows.reindex(columns=VALUE_COLUMNS[1:])
    for row in frame.itertuples(index=False, name=None):
        yield (day, *(_sql_value(value) for value in row))


def _sql_value(value: Any) -> object:
    """Return a cell as SQLite stores it: NaN, None, NA and NaT as NULL, numpy scalars unboxed."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, int | str):
        return value
    return str(value)


def snapshots(path: str | Path) -> pd.DataFrame:
    """List the snapshots of a history, oldest first, with their status counts.

    Parameters
    ----------
    path : str or Path
        The history database. A missing file is an empty history.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SNAPSHOT_COLUMNS`, then ``values``, ``pass``, ``fail``,
        ``not_assessed`` (counts) and ``with_value`` (values that are known).
    """
    columns = [*SNAPSHOT_COLUMNS, "values", "pass", "fail", "not_assessed", "with_value"]
    rows = _query(path, _LIST_SNAPSHOTS, ())
    return pd.DataFrame(rows, columns=columns)


def load_values(
    path: str | Path,
    *,
    until: date | None = None,
    criteria: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Read the values of every snapshot (up to a date), oldest first.

    Parameters
    ----------
    path : str or Path
        The history database. A missing file is an empty history.
    until : datetime.date, optional
        Only snapshots on or before this date.
    criteria : iterable of str, optional
        Only these criterion ids.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`VALUE_COLUMNS`; ``as_of`` as ``datetime.date``,
        ``value``, ``threshold`` and ``gap`` as float (NaN where NULL).
    """
    where, params = [], []
    if until is not None:
        where.append("as_of <= ?")
        params.append(until.isoformat())
    wanted = None if criteria is None else sorted(set(criteria))
    if wanted is not None:
        where.append(f"criterion IN ({', '.join('?' for _ in wanted)})")
        params += wanted
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    order = "ORDER BY as_of, level, id, criterion"
    rows = _query(path, f"{_SELECT_VALUES} {clause} {order}", tuple(params))
    frame = pd.DataFrame(rows, columns=VALUE_COLUMNS)
    frame["as_of"] = [date.fromisoformat(day) for day in frame["as_of"]]
    for column in ("value", "threshold", "gap"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame


def _query(path: str | Path, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    path = Path(path)
    if not path.exists():
        return []
    try:
        with _connect(path, write=False) as connection:
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            _check_version(version, path)
            if version == 0:
                return []
            return list(connection.execute(sql, params).fetchall())
    except sqlite3.Error as error:
        raise HistoryError(
            f"{path}: cannot read the history ({error}); is it a geo history.sqlite?"
        ) from error


@contextlib.contextmanager
def _connect(path: Path, *, write: bool) -> Iterator[sqlite3.Connection]:
    """Open the database (closed on exit), in autocommit mode: transactions are explicit.

    Reads open it read-write when possible, so that a transaction left by an
    interrupted writer (a hot journal) is rolled back first; read-only otherwise.
    """
    if write:
        connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    else:
        uri = path.resolve().as_uri()
        try:
            connection = sqlite3.connect(
                f"{uri}?mode=rw", uri=True, timeout=BUSY_TIMEOUT, isolation_level=None
            )
        except sqlite3.OperationalError:
            connection = sqlite3.connect(
                f"{uri}?mode=ro", uri=True, timeout=BUSY_TIMEOUT, isolation_level=None
            )
    try:
        connection.execute("PRAGMA foreign_keys = ON")
        yield connection
    finally:
        connection.close()


def _ensure_schema(connection: sqlite3.Connection, path: Path) -> None:
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    _check_version(version, path)
    if version == 0:
        tables = connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        if tables:
            raise HistoryError(
                f"{path}: a SQLite database with other tables "
                f"({', '.join(t[0] for t in tables)}), not a geo history; choose another file"
            )
        for statement in SCHEMA.split(";"):
            if statement.strip():
                connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _check_version(version: int, path: Path) -> None:
    if version > SCHEMA_VERSION:
        raise HistoryError(
            f"{path}: written by a newer geo (schema {version}, this one reads "
            f"{SCHEMA_VERSION}); update geo"
        )
