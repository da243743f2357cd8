"""The roadmap-progress layer of the map (issue 10): present with a roadmap, absent without."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from test_webmap import map_data, render_fixture

import geo
from geo.labels import PROGRESS_STATUS_LABELS
from geo.pipeline import RunResult
from geo.progress import RULES, STATUS_COLOURS, STATUSES, Progress, find_progress
from geo.webmap import render_result_map


@pytest.fixture(scope="module")
def sample() -> RunResult:
    return geo.run(geo.load_project(geo.sample_project_dir()))


@pytest.fixture(scope="module")
def progress(sample: RunResult) -> Progress:
    found = find_progress(sample.project)
    assert found is not None  # the sample ships roadmap.csv and history.sqlite
    return found


@pytest.fixture(scope="module")
def data(sample: RunResult) -> dict[str, Any]:
    return map_data(render_result_map(sample))  # finds the roadmap itself


def statuses(spec: dict[str, Any]) -> Counter[str]:
    return Counter(entry["s"] for level in ("unit", "hamlet") for entry in spec[level].values())


def test_sample_map_has_the_layer_with_each_status_counted(data: dict[str, Any]) -> None:
    spec = data["progress"]
    assert spec["asOf"] == "01/03/2025"
    assert {i: e["s"] for i, e in spec["unit"].items()} == {"05491": "late"}
    assert {i: e["s"] for i, e in spec["hamlet"].items()} == {
        "QT04": "on_track",
        "QT10": "met",
        "QT13": "at_risk",
        "QT18": "met",
    }
    assert statuses(spec) == {"met": 2, "on_track": 1, "at_risk": 1, "late": 1}
    assert (spec["lines"], spec["missing"]) == (10, 0)


def test_statuses_agree_with_geo_progress(data: dict[str, Any], progress: Progress) -> None:
    features = progress.features()
    spec = data["progress"]
    shown = {(level, i): e["s"] for level in ("unit", "hamlet") for i, e in spec[level].items()}
    assert shown == {(r.level, r.id): r.status for r in features.itertuples()}
    lines = sum(len(e["l"]) for level in ("unit", "hamlet") for e in spec[level].values())
    assert lines == len(progress.table)


def test_legend_labels_colours_and_rules_come_from_geo_progress(data: dict[str, Any]) -> None:
    legend = data["progress"]["statuses"]
    assert [s["key"] for s in legend] == list(STATUSES)
    for status in legend:
        key = status["key"]
        assert status["label"][:2] == [
            PROGRESS_STATUS_LABELS[key].vi,
            PROGRESS_STATUS_LABELS[key].en,
        ]
        assert status["color"] == STATUS_COLOURS[key]
        assert status["rule"][1] == RULES[key]
    assert data["ui"]["progress"][:2] == ["Tiến độ", "Progress"]


def test_popup_holds_criterion_latest_target_deadline_owner(data: dict[str, Any]) -> None:
    entry = data["progress"]["hamlet"]["QT13"]
    assert (entry["o"], entry["d"]) == ("Trưởng xóm Làng Cả", "31/12/2025")
    [line] = entry["l"]
    assert line["code"] == "ntm.02"
    assert (line["vi"], line["en"]) == ("Giao thông", "Transport")
    assert (line["v"], line["op"], line["t"], line["uom"]) == ("43,75", "≥", "60", "%")
    assert (line["d"], line["o"], line["s"]) == ("31/12/2025", "Trưởng xóm Làng Cả", "at_risk")
    assert line["r"].endswith("→ at risk")
    commune = data["progress"]["unit"]["05491"]
    assert [line["s"] for line in commune["l"]][:2] == ["late", "at_risk"]  # most urgent first
    assert commune["o"] == commune["l"][0]["o"] == "Công chức Địa chính - Xây dựng xã"
    no_value = [line for line in commune["l"] if line["s"] == "no_data"]
    assert [line["v"] for line in no_value] == [None]


def test_no_roadmap_no_layer(sample: RunResult, tmp_path: Path) -> None:
    elsewhere = dataclasses.replace(sample.project, root=tmp_path)  # a folder with no roadmap
    assert find_progress(elsewhere) is None
    result = dataclasses.replace(sample, project=elsewhere)
    assert map_data(render_result_map(result))["progress"] is None
    assert map_data(render_result_map(sample, progress=None))["progress"] is None
    assert map_data(render_fixture())["progress"] is None


def test_lines_about_places_not_on_the_map_are_counted(
    sample: RunResult, progress: Progress
) -> None:
    table = progress.table.copy()
    table.loc[table["id"] == "QT10", "id"] = "QT99"
    moved = dataclasses.replace(progress, table=table)
    spec = map_data(render_result_map(sample, progress=moved))["progress"]
    assert "QT10" not in spec["hamlet"]
    assert "QT99" not in spec["hamlet"]
    assert spec["missing"] == 1
    assert statuses(spec) == {"met": 1, "on_track": 1, "at_risk": 1, "late": 1}
