"""Data safety: inputs are never modified; outputs are replaced whole or not at all."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import geo.outputs
from geo._lock import output_lock
from geo.cli import main


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def cli(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    return subprocess.Popen(
        [sys.executable, "-m", "geo", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = process.communicate(timeout=120)
    return process.returncode, err


@pytest.fixture
def first_run(tiny_project, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(tiny_project), "--out", str(out)]) == 0
    capsys.readouterr()
    return out, digest(out)


def test_inputs_untouched_by_good_and_failed_runs(tiny_project, tmp_path, capsys):
    before = digest(tiny_project)
    assert main(["run", str(tiny_project), "--out", str(tmp_path / "a")]) == 0
    assert digest(tiny_project) == before
    (tiny_project / "population.csv").write_text(
        "name,dan_so,so_ho\nxom cay thi,abc,1\n", encoding="utf-8"
    )
    before = digest(tiny_project)
    assert main(["run", str(tiny_project), "--out", str(tmp_path / "b")]) == 2
    assert digest(tiny_project) == before
    assert "which is not a number" in capsys.readouterr().err


def test_a_failure_while_writing_leaves_earlier_outputs_intact(
    tiny_project, first_run, monkeypatch, capsys
):
    out, before = first_run
    calls = []

    def failing(frame, path):
        calls.append(path.name)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        frame.to_csv(path)

    monkeypatch.setattr(geo.outputs, "write_csv", failing)
    assert main(["run", str(tiny_project), "--out", str(out), "--as-of", "2026-01-01"]) == 2
    assert "cannot write the outputs (No space left on device)" in capsys.readouterr().err
    assert digest(out) == before
    assert not [p for p in out.iterdir() if p.name.startswith(".geo-run-")]


def test_an_interrupted_run_leaves_earlier_outputs_intact(
    tiny_project, first_run, monkeypatch, capsys
):
    out, before = first_run

    def interrupted(frame, path):
        raise KeyboardInterrupt

    monkeypatch.setattr(geo.outputs, "write_csv", interrupted)
    assert main(["run", str(tiny_project), "--out", str(out), "--as-of", "2026-01-01"]) == 130
    assert "interrupted; earlier outputs were left as they were" in capsys.readouterr().err
    assert digest(out) == before


def test_outputs_of_an_earlier_run_that_this_run_does_not_make_are_removed(tiny_project, first_run):
    out, _ = first_run
    text = (tiny_project / "project.toml").read_text(encoding="utf-8")
    start, end = text.index("[layers.hamlets]"), text.index("[layers.landuse]")
    text = text[:start] + text[end:]
    text = text[: text.index("[tables.population]")]
    (tiny_project / "project.toml").write_text(text, encoding="utf-8")
    assert main(["run", str(tiny_project), "--out", str(out)]) == 0
    assert not (out / "hamlets.csv").exists()
    assert (out / "units.csv").exists()


def test_a_run_waits_for_another_writing_the_same_folder(tiny_project, first_run):
    out, before = first_run
    with output_lock(out):
        process = cli("run", str(tiny_project), "--out", str(out), "--as-of", "2026-01-01")
        time.sleep(4)
        assert process.poll() is None  # still waiting for the lock
        assert digest(out) == before
    code, err = finish(process)
    assert code == 0, err
    assert "ward-2026" in set(pd.read_csv(out / "criteria.csv", encoding="utf-8-sig")["set"])


def test_two_runs_at_once_leave_one_consistent_set(tiny_project, tmp_path, capsys):
    days = ("2025-03-01", "2026-01-01")
    alone = {}
    for day in days:  # what each run writes when it is alone
        assert main(["run", str(tiny_project), "--out", str(tmp_path / day), "--as-of", day]) == 0
        alone[day] = {n: (tmp_path / day / n).read_bytes() for n in ("criteria.csv", "units.csv")}
    capsys.readouterr()
    out = tmp_path / "out"
    runs = [cli("run", str(tiny_project), "--out", str(out), "--as-of", day) for day in days]
    assert [finish(p)[0] for p in runs] == [0, 0]
    final = {n: (out / n).read_bytes() for n in ("criteria.csv", "units.csv")}
    assert final in list(alone.values())  # both files from the same run
    assert not [p for p in out.iterdir() if p.name.startswith(".geo-run-")]
