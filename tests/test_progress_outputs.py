"""`geo run` outputs with a roadmap: progress.csv, progress-hamlets.csv, trends/, in one staged write."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pandas as pd
import pytest
from openpyxl import load_workbook

import geo
import geo.outputs
from geo.outputs import write_outputs
from geo.progress import find_progress, read_roadmap, roadmap_path
from geo.resources import sample_project_dir


@pytest.fixture(scope="module")
def sample():
    return geo.run(geo.load_project(sample_project_dir()))


@pytest.fixture
def tiny(tiny_project):
    return geo.run(geo.load_project(tiny_project))


def test_write_outputs_adds_the_progress_files(sample, tmp_path, monkeypatch):
    out = tmp_path / "out"
    calls = []

    def counted(project):
        calls.append(project.name)
        return find_progress(project)

    monkeypatch.setattr(geo.outputs, "find_progress", counted)
    names = []
    written = write_outputs(sample, out, progress=lambda name, done, total: names.append(name))
    assert calls == ["Quyết Thắng"]  # computed once, shared by the workbook and the report
    assert {"progress.csv", "progress-hamlets.csv", "trends"} <= {p.name for p in written}
    assert names[-3:] == ["progress.csv", "progress-hamlets.csv", "trends"]  # one bar step each

    roadmap = read_roadmap(roadmap_path(sample.project.root))
    table = pd.read_csv(out / "progress.csv", encoding="utf-8-sig", dtype={"id": str})
    assert table["criterion"].tolist() == roadmap["criterion"].tolist()
    assert table["status"].value_counts().to_dict() == {
        "at_risk": 3,
        "met": 3,
        "on_track": 2,
        "late": 1,
        "no_data": 1,
    }
    assert (out / "progress.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    hamlets = pd.read_csv(out / "progress-hamlets.csv", encoding="utf-8-sig")
    assert len(hamlets) == 10
    charts = sorted(p.name for p in (out / "trends").iterdir())
    assert charts == sorted(f"{c}.svg" for c in dict.fromkeys(roadmap["criterion"]))
    for chart in charts:
        ET.parse(out / "trends" / chart)

    assert "Tiến độ" in load_workbook(out / "report.xlsx", read_only=True).sheetnames
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count("<div class='trend'") == len(charts)
    assert not list(out.glob(".*"))  # no staging folder left


def test_trends_replaced_whole_and_removed_without_a_roadmap(sample, tiny, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "trends").mkdir()
    (out / "trends" / "old-criterion.svg").write_text("<svg/>", encoding="utf-8")
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    write_outputs(sample, out)
    assert not (out / "trends" / "old-criterion.svg").exists()  # one run's charts only
    assert len(list((out / "trends").iterdir())) == 7

    assert find_progress(tiny.project) is None
    write_outputs(tiny, out)  # a project without roadmap.csv, into the same folder
    names = sorted(p.name for p in out.iterdir())
    assert "progress.csv" not in names
    assert "progress-hamlets.csv" not in names
    assert "trends" not in names
    assert "notes.txt" in names  # other files are left alone
    assert "Tiến độ" not in load_workbook(out / "report.xlsx", read_only=True).sheetnames
    assert '<section class="progress' not in (out / "report.html").read_text(encoding="utf-8")


def test_a_trends_folder_holding_other_files_is_kept(tiny, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "trends").mkdir()
    (out / "trends" / "notes.txt").write_text("mine", encoding="utf-8")
    write_outputs(tiny, out)
    assert (out / "trends" / "notes.txt").read_text(encoding="utf-8") == "mine"
