"""History of dated snapshots: schema, replace only when asked, atomic writes, the CLI."""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from geo import history as hist
from geo.cli import main
from geo.errors import GeoInputError


def rows(value_a1: float = 40.0, population: float = 7000.0) -> pd.DataFrame:
    """Three criterion rows: a unit's population, a hamlet's road share, an unknown value."""
    return pd.DataFrame(
        {
            "level": ["unit", "hamlet", "unit"],
            "id": ["001", "A1", "001"],
            "name": ["Xã Thử Nghiệm", "Xóm Cây Thị", "Xã Thử Nghiệm"],
            "unit_id": [None, "001", None],
            "family": ["ward", "ntm", "ntm"],
            "set_id": ["ward-2023", "ntm-2021", "ntm-2021"],
            "criterion": ["ward.population", "ntm.02", "ntm.10"],
            "criterion_vi": ["Quy mô dân số", "Giao thông", "Thu nhập"],
            "criterion_en": ["Population", "Transport", "Income"],
            "value": [population, value_a1, math.nan],
            "operator": [">=", ">=", ">="],
            "threshold": [7000.0, math.nan, math.nan],
            "unit_of_measure": ["người", "%", "triệu đồng"],
            "status": ["pass" if population >= 7000 else "fail", "not_assessed", "not_assessed"],
            "gap": [max(7000.0 - population, 0.0), math.nan, math.nan],
        }
    )


def write(path: Path, day: date, frame: pd.DataFrame, **options) -> hist.Snapshot:
    return hist.write_snapshot(path, day, frame, project_name="Thử", **options)


def test_snapshots_are_written_and_read_back(tmp_path):
    path = tmp_path / "history.sqlite"
    first = write(path, date(2024, 6, 30), rows(30.0, 6500.0), created_at="2024-06-30T17:00:00")
    write(path, date(2025, 3, 1), rows(45.0, 7200.0))
    assert first.counts == {"pass": 0, "fail": 1, "not_assessed": 2}
    assert first.describe().startswith("snapshot 2024-06-30: 3 values (pass 0, fail 1,")

    listed = hist.snapshots(path)
    assert list(listed["as_of"]) == ["2024-06-30", "2025-03-01"]
    assert list(listed["values"]) == [3, 3]
    assert list(listed["fail"]) == [1, 0]
    assert list(listed["with_value"]) == [2, 2]
    assert listed["created_at"].iloc[0] == "2024-06-30T17:00:00"

    values = hist.load_values(path)
    assert list(values.columns) == hist.VALUE_COLUMNS
    a1 = values.loc[values["id"] == "A1"]
    assert list(a1["as_of"]) == [date(2024, 6, 30), date(2025, 3, 1)]
    assert list(a1["value"]) == [30.0, 45.0]
    assert list(a1["unit_id"]) == ["001", "001"]
    unknown = values.loc[values["criterion"] == "ntm.10"]
    assert unknown["value"].isna().all()
    assert unknown["threshold"].isna().all()

    early = hist.load_values(path, until=date(2025, 1, 1), criteria=["ward.population"])
    assert list(early["value"]) == [6500.0]
    assert early["status"].iloc[0] == "fail"


def test_missing_history_is_empty(tmp_path):
    path = tmp_path / "none.sqlite"
    assert hist.snapshots(path).empty
    assert hist.load_values(path).empty
    assert not path.exists()  # reading never creates the file


def test_same_date_is_replaced_only_when_asked(tmp_path):
    path = tmp_path / "history.sqlite"
    write(path, date(2025, 3, 1), rows(45.0), created_at="2025-03-01T09:00:00")
    with pytest.raises(
        hist.SnapshotExistsError, match=r"2025-03-01 is already recorded.*--replace"
    ):
        write(path, date(2025, 3, 1), rows(99.0))
    kept = hist.load_values(path)
    assert kept.loc[kept["id"] == "A1", "value"].tolist() == [45.0]
    assert hist.snapshots(path)["created_at"].tolist() == ["2025-03-01T09:00:00"]

    smaller = rows(99.0).iloc[:2]
    replaced = write(path, date(2025, 3, 1), smaller, replace=True, created_at="2025-03-02T08:00")
    assert replaced.replaced
    assert "replaced in" in replaced.describe()
    now = hist.load_values(path)
    assert len(now) == 2  # the old snapshot's rows are all gone
    assert now.loc[now["id"] == "A1", "value"].tolist() == [99.0]
    assert hist.snapshots(path)["created_at"].tolist() == ["2025-03-02T08:00"]


def test_replace_true_on_a_new_date_just_records(tmp_path):
    path = tmp_path / "history.sqlite"
    snapshot = write(path, date(2025, 3, 1), rows(), replace=True)
    assert not snapshot.replaced
    assert len(hist.load_values(path)) == 3


@pytest.mark.parametrize("replace", [False, True])
def test_interrupted_write_leaves_the_previous_state(tmp_path, monkeypatch, replace):
    path = tmp_path / "history.sqlite"
    write(path, date(2024, 6, 30), rows(30.0))
    write(path, date(2025, 3, 1), rows(45.0))
    before = hist.load_values(path)

    real = hist._records

    def interrupted(day, frame):
        for i, record in enumerate(real(day, frame)):
            if i == 2:
                raise KeyboardInterrupt  # Ctrl-C in the middle of the inserts
            yield record

    monkeypatch.setattr(hist, "_records", interrupted)
    day = date(2025, 3, 1) if replace else date(2026, 1, 1)
    with pytest.raises(KeyboardInterrupt):
        write(path, day, rows(99.0), replace=replace)

    assert hist.snapshots(path)["as_of"].tolist() == ["2024-06-30", "2025-03-01"]
    pd.testing.assert_frame_equal(hist.load_values(path), before)
    assert not (tmp_path / "history.sqlite-journal").exists()


def test_history_survives_a_killed_process(tmp_path):
    """A process killed in the middle of a snapshot leaves a hot journal; the next reader rolls back."""
    path = tmp_path / "history.sqlite"
    write(path, date(2024, 6, 30), rows(30.0))
    before = hist.load_values(path)
    script = textwrap.dedent(
        f"""
        import os, sys
        from datetime import date
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_history import rows
        from geo import history as hist
        real = hist._records
        def killed(day, frame):
            for i, record in enumerate(real(day, frame)):
                if i == 2:
                    os._exit(9)  # no rollback, no cleanup: as if the power went off
                yield record
        hist._records = killed
        hist.write_snapshot({str(path)!r}, date(2024, 6, 30), rows(99.0), project_name="x",
                            replace=True)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], check=False, timeout=60)
    assert done.returncode == 9
    assert (tmp_path / "history.sqlite-journal").exists()  # the transaction was cut

    pd.testing.assert_frame_equal(hist.load_values(path), before)
    assert hist.snapshots(path)["as_of"].tolist() == ["2024-06-30"]


def test_schema_is_the_documented_one(tmp_path):
    path = tmp_path / "history.sqlite"
    write(path, date(2025, 3, 1), rows())
    connection = sqlite3.connect(path)
    try:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        columns = connection.execute('PRAGMA table_info("values")').fetchall()
        snapshot_columns = connection.execute("PRAGMA table_info(snapshots)").fetchall()
    finally:
        connection.close()
    assert version == hist.SCHEMA_VERSION == 1
    assert [c[1] for c in snapshot_columns] == hist.SNAPSHOT_COLUMNS
    assert [c[1] for c in columns] == hist.VALUE_COLUMNS
    key = sorted((c[5], c[1]) for c in columns if c[5])
    assert [name for _, name in key] == ["as_of", "level", "id", "criterion"]
    for name in hist.VALUE_COLUMNS + hist.SNAPSHOT_COLUMNS:
        assert f"{name} " in hist.__doc__


def test_a_file_that_is_not_a_history_is_refused(tmp_path):
    text = tmp_path / "notes.sqlite"
    text.write_text("not a database, just text " * 100, encoding="utf-8")
    with pytest.raises(hist.HistoryError, match="cannot read the history"):
        hist.snapshots(text)
    with pytest.raises(hist.HistoryError, match="cannot write the history"):
        write(text, date(2025, 3, 1), rows())

    other = tmp_path / "other.sqlite"
    connection = sqlite3.connect(other)
    connection.execute("CREATE TABLE parcels (id TEXT)")
    connection.commit()
    connection.close()
    with pytest.raises(hist.HistoryError, match=r"other tables \(parcels\), not a geo history"):
        write(other, date(2025, 3, 1), rows())
    assert issubclass(hist.HistoryError, GeoInputError)


def test_geo_snapshot_and_history(tiny_project, capsys):
    project = str(tiny_project)
    assert main(["snapshot", project, "--as-of", "2025-03-01"]) == 0
    printed = capsys.readouterr().out
    assert (
        "snapshot 2025-03-01: 130 values (pass 2, fail 2, not_assessed 126) recorded in" in printed
    )

    assert main(["snapshot", project, "--as-of", "2025-03-01"]) == 2
    error = capsys.readouterr().err
    assert "a snapshot for 2025-03-01 is already recorded" in error
    assert "--replace" in error

    assert main(["snapshot", project, "--as-of", "2025-03-01", "--replace"]) == 0
    assert "replaced in" in capsys.readouterr().out

    values = hist.load_values(tiny_project / "history.sqlite")
    population = values.loc[values["criterion"] == "ward.population"].set_index("id")
    assert population.loc["001", "value"] == 7000.0
    assert population.loc["001", "status"] == "pass"
    assert population.loc["002", "value"] == 3999.0
    assert population.loc["002", "status"] == "fail"
    assert population.loc["002", "gap"] == 3001.0
    assert population.loc["002", "set_id"] == "ward-2023"
    hamlets = values.loc[values["level"] == "hamlet"].drop_duplicates("id").set_index("id")
    assert hamlets["unit_id"].to_dict() == {"A1": "001", "A2": "001", "B1": "002"}

    assert main(["history", project]) == 0
    listing = capsys.readouterr().out
    assert "Xã Thử Nghiệm: 1 snapshot(s) in" in listing
    assert "2025-03-01" in listing

    assert main(["history", project, "--criterion", "ward.population"]) == 0
    series = capsys.readouterr().out
    assert "  unit   002  Xã Bên Cạnh    3,999 ✗" in series


def test_record_is_the_api_for_geo_run(tiny_project):
    import geo

    result = geo.run(geo.load_project(tiny_project, as_of=date(2024, 1, 1)))
    snapshot = hist.record(result, created_at="2024-01-01T08:00:00")
    assert snapshot.path == tiny_project / "history.sqlite"
    assert snapshot.as_of == date(2024, 1, 1)
    assert snapshot.rows == len(result.criteria)
    with pytest.raises(hist.SnapshotExistsError):
        hist.record(result)
    assert hist.record(result, replace=True).replaced
