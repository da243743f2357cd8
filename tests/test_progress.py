"""Roadmap progress: status rules at their edges, the roadmap file, template, charts, the sample."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

import geo
from geo import history as hist
from geo import progress as prog
from geo.cli import main
from geo.encoding import encode_cp1258
from geo.resources import sample_project_dir

D0 = date(2023, 1, 1)
D1 = D0 + timedelta(days=100)  # latest snapshot
DEADLINE = D1 + timedelta(days=100)
YEAR = 365.25


def judge(baseline, latest, target, operator=">=", *, today=D1, deadline=DEADLINE, single=False):
    return prog.classify(
        baseline,
        None if single else D0,
        latest,
        D1,
        target=target,
        deadline=deadline,
        operator=operator,
        today=today,
    )


# ----------------------------------------------------------------------------- the rules


@pytest.mark.parametrize(
    ("baseline", "latest", "target", "operator", "expected"),
    [
        # rising: +10 per 100 days reaches exactly 120 at the deadline
        (100.0, 110.0, 120.0, ">=", "on_track"),
        (100.0, 110.0, 120.0001, ">=", "at_risk"),
        (100.0, 110.0, 119.9999, ">=", "on_track"),
        # strict: reaching the target exactly is not exceeding it
        (100.0, 110.0, 120.0, ">", "at_risk"),
        # falling (poverty rate ≤ target): -5 per 100 days reaches exactly 10
        (20.0, 15.0, 10.0, "<=", "on_track"),
        (20.0, 15.0, 9.9999, "<=", "at_risk"),
        # met exactly at the target, in the criterion's direction
        (100.0, 120.0, 120.0, ">=", "met"),
        (20.0, 10.0, 10.0, "<=", "met"),
        (10.0, 10.0, 10.0, "<", "at_risk"),
        (20.0, 10.0, 10.0, "<", "on_track"),
        # moving the wrong way
        (110.0, 100.0, 120.0, ">=", "at_risk"),
        # yes/no criteria: 1 meets a target of 1
        (0.0, 1.0, 1.0, "is_true", "met"),
    ],
)
def test_status_at_the_edges(baseline, latest, target, operator, expected):
    assert judge(baseline, latest, target, operator).status == expected


def test_projection_is_linear_from_baseline_through_latest():
    judged = judge(100.0, 110.0, 130.0)
    assert judged.projected == 120.0
    assert judged.rate_observed_per_year == pytest.approx(10.0 / (100 / YEAR))
    assert judged.rate_needed_per_year == pytest.approx(20.0 / (100 / YEAR))
    assert "extended to 2023-07-20: 120 not ≥ 130 → at risk" in judged.rule


def test_late_from_the_day_after_the_deadline():
    on_the_day = judge(100.0, 110.0, 120.0, today=DEADLINE)
    assert on_the_day.status == "on_track"  # the deadline day itself is not late
    day_after = judge(100.0, 110.0, 120.0, today=DEADLINE + timedelta(days=1))
    assert day_after.status == "late"
    assert math.isnan(day_after.rate_needed_per_year)
    assert day_after.rule.startswith("deadline 2023-07-20 passed (2023-07-21)")
    assert judge(100.0, 120.0, 120.0, today=DEADLINE + timedelta(days=400)).status == "met"


def test_needed_rate_is_from_the_assessment_date():
    today = D1 + timedelta(days=50)  # latest is 50 days old; 50 days left
    judged = judge(100.0, 110.0, 120.0, today=today)
    assert judged.rate_needed_per_year == pytest.approx(10.0 / (50 / YEAR))
    assert judged.status == "on_track"  # the projection runs from the latest snapshot


def test_one_snapshot_rate_unknown():
    judged = judge(110.0, 110.0, 120.0, single=True)
    assert judged.status == "at_risk"
    assert math.isnan(judged.rate_observed_per_year)
    assert "one snapshot only (2023-04-11): observed rate unknown" in judged.rule
    assert judge(110.0, 120.0, 120.0, single=True).status == "met"
    late = judge(110.0, 110.0, 120.0, single=True, today=DEADLINE + timedelta(days=1))
    assert late.status == "late"


def test_no_data():
    judged = prog.classify(
        math.nan,
        None,
        math.nan,
        None,
        target=50.0,
        deadline=DEADLINE,
        operator=">=",
        today=DEADLINE + timedelta(days=9),
    )
    assert judged.status == "no_data"  # even past the deadline: nothing to judge
    assert judged.rule == "no value on record up to 2023-07-29 → no data"


# ----------------------------------------------------------------------------- a synthetic history


def history_values() -> pd.DataFrame:
    """Three snapshots, one year apart: a unit rising 10 points a year, hamlets, a falling rate."""
    days = [date(2022, 1, 1), date(2023, 1, 1), date(2024, 1, 1)]
    records = []
    for i, day in enumerate(days):
        for level, ident, unit_id, criterion, value, operator in [
            ("unit", "001", None, "ntm.02", 40.0 + 10 * i, ">="),
            ("hamlet", "A1", "001", "ntm.02", 20.0 + 5 * i, ">="),
            ("hamlet", "A2", "001", "ntm.02", 70.0 + 5 * i, ">="),
            ("hamlet", "A3", "001", "ntm.02", 50.0, ">="),
            ("unit", "001", None, "ntm.11", 8.0 - i, "<="),
            ("unit", "001", None, "ntm.10", math.nan, ">="),
        ]:
            records.append(
                {
                    "as_of": day,
                    "level": level,
                    "id": ident,
                    "name": {"001": "Xã Thử", "A1": "Xóm A1", "A2": "Xóm A2", "A3": "Xóm A3"}[
                        ident
                    ],
                    "unit_id": unit_id,
                    "family": "ntm",
                    "set_id": "ntm-2021",
                    "criterion": criterion,
                    "criterion_vi": {"ntm.02": "Giao thông", "ntm.11": "Nghèo đa chiều"}.get(
                        criterion, "Thu nhập"
                    ),
                    "criterion_en": "…",
                    "value": value,
                    "operator": operator,
                    "threshold": math.nan,
                    "unit_of_measure": "%",
                    "status": "not_assessed",
                    "gap": math.nan,
                }
            )
    return pd.DataFrame(records, columns=hist.VALUE_COLUMNS)


ROADMAP = """\ufeffcriterion,level,id,name,target,deadline,owner,note
ntm.02,unit,001,,60,31/12/2026,Ban NTM xã,
ntm.02,,A1,,60,2025-12-31,Trưởng xóm A1,hamlet inferred from the id
ntm.11,unit,001,,"4,5",2026-01-01,Phó Chủ tịch UBND xã,"falls 1 point a year"
ntm.02,unit,001,,100,2023-06-30,Ban NTM xã,late
ntm.10,unit,001,,60,2026-12-31,,no value ever
,,,,,,,
"""


@pytest.fixture
def roadmap(tmp_path) -> Path:
    path = tmp_path / "roadmap.csv"
    path.write_text(ROADMAP, encoding="utf-8")
    return path


def test_progress_table_with_known_rates(roadmap):
    lines = prog.read_roadmap(roadmap)
    assert list(lines["row"]) == [2, 3, 4, 5, 6]  # the empty line is skipped
    assert lines["target"].tolist() == [60.0, 60.0, 4.5, 100.0, 60.0]
    assert lines["deadline"].iloc[0] == date(2026, 12, 31)

    table = prog.progress_table(lines, history_values(), as_of=date(2024, 3, 1))
    assert list(table.columns) == prog.PROGRESS_COLUMNS
    assert table["status"].tolist() == ["met", "at_risk", "on_track", "late", "no_data"]
    assert table["status_vi"].tolist()[0] == "Đạt mục tiêu"
    unit = table.iloc[0]  # 60 ≥ 60
    assert (unit["baseline"], unit["latest"], unit["snapshots"]) == (40.0, 60.0, 3)
    assert (unit["baseline_date"], unit["latest_date"]) == (date(2022, 1, 1), date(2024, 1, 1))
    assert unit["rate_needed_per_year"] == 0.0
    # A1: 20 → 30 in 730 days; 730 more days to the deadline: 40, short of 60
    hamlet = table.iloc[1]
    assert hamlet["level"] == "hamlet"
    assert hamlet["rate_observed_per_year"] == pytest.approx(10.0 / (730 / YEAR))
    assert hamlet["projected"] == 40.0
    assert hamlet["rate_needed_per_year"] == pytest.approx(30.0 / (670 / YEAR))
    # poverty 8 → 6 in 730 days; 731 days to the deadline: 3.997 ≤ 4.5
    poverty = table.iloc[2]
    assert poverty["operator"] == "<="
    assert poverty["rate_observed_per_year"] == pytest.approx(-2.0 / (730 / YEAR))
    assert poverty["projected"] == pytest.approx(6.0 - 2.0 * 731 / 730)
    assert table.iloc[3]["rule"].startswith("deadline 2023-06-30 passed (2024-03-01)")
    assert table.iloc[4]["owner"] == ""


def test_progress_ignores_snapshots_after_the_assessment_date(roadmap):
    lines = prog.read_roadmap(roadmap)
    table = prog.progress_table(lines, history_values(), as_of=date(2023, 6, 1))
    unit = table.iloc[0]
    assert (unit["latest"], unit["latest_date"], unit["snapshots"]) == (50.0, date(2023, 1, 1), 2)


def test_hamlets_holding_a_criterion_back(roadmap):
    lines = prog.read_roadmap(roadmap)
    values = history_values()
    table = prog.progress_table(lines, values, as_of=date(2024, 3, 1))
    view = prog.hamlet_view(table, values, as_of=date(2024, 3, 1))
    assert list(view.columns) == prog.HAMLET_COLUMNS
    # A1 (30) misses its own target 60; A3 (50) and A2 (80) miss the target of the unit's
    # line with the nearest deadline (100 by 2023-06-30).
    assert view[["id", "target", "target_from"]].values.tolist() == [
        ["A3", 100.0, "unit line"],
        ["A1", 60.0, "hamlet line"],
        ["A2", 100.0, "unit line"],
    ]
    assert view.loc[view["id"] == "A1", "shortfall"].item() == 30.0
    assert view.loc[view["id"] == "A1", "owner"].item() == "Trưởng xóm A1"


def test_roadmap_errors_name_the_row(tmp_path):
    path = tmp_path / "roadmap.csv"
    path.write_text("criterion,id,target,dealine,owner\nntm.02,001,70,2026-01-01,x\n", "utf-8")
    with pytest.raises(prog.RoadmapError, match=r"column deadline \(found 'dealine'\?\) missing"):
        prog.read_roadmap(path)
    path.write_text("criterion,id,target,deadline,owner\nntm.02,001,70,cuối năm,x\n", "utf-8")
    with pytest.raises(prog.RoadmapError, match=r"row 2: deadline 'cuối năm' is not a date"):
        prog.read_roadmap(path)
    path.write_text("criterion,id,target,deadline,owner\nntm.02,001,,2026-01-01,x\n", "utf-8")
    with pytest.raises(prog.RoadmapError, match="row 2: target is empty"):
        prog.read_roadmap(path)
    with pytest.raises(geo.GeoInputError, match="no roadmap here; write the template"):
        prog.read_roadmap(tmp_path / "missing.csv")


def test_roadmap_in_a_legacy_encoding(tmp_path):
    path = tmp_path / "roadmap.csv"
    text = "criterion,id,target,deadline,owner\nntm.02,001,21.000,31/12/2025,Trưởng xóm Cây Thị\n"
    path.write_bytes(encode_cp1258(text))
    line = prog.read_roadmap(path).iloc[0]
    assert line["owner"] == "Trưởng xóm Cây Thị"
    assert line["target"] == 21000.0


def test_unknown_criterion_or_id_is_refused(tmp_path):
    path = tmp_path / "roadmap.csv"
    path.write_text("criterion,id,target,deadline,owner\nntm.2,001,70,2026-01-01,x\n", "utf-8")
    with pytest.raises(prog.RoadmapError, match=r"row 2: criterion 'ntm.2' .*did you mean ntm.02"):
        prog.progress_table(prog.read_roadmap(path), history_values(), as_of=date(2024, 3, 1))
    path.write_text("criterion,id,target,deadline,owner\nntm.02,A4,70,2026-01-01,x\n", "utf-8")
    with pytest.raises(
        prog.RoadmapError, match=r"no id 'A4' in the history \(did you mean A3, A2, A1"
    ):
        prog.progress_table(prog.read_roadmap(path), history_values(), as_of=date(2024, 3, 1))


def test_feature_progress_shows_the_most_urgent_line(roadmap):
    table = prog.progress_table(
        prog.read_roadmap(roadmap), history_values(), as_of=date(2024, 3, 1)
    )
    features = prog.feature_progress(table).set_index("id")
    assert list(features.columns) == [c for c in prog.FEATURE_COLUMNS if c != "id"]
    unit = features.loc["001"]
    assert unit["status"] == "late"
    assert unit["status_vi"] == "Trễ hạn"
    assert unit["colour"] == prog.STATUS_COLOURS["late"]
    assert (unit["owner"], unit["deadline"]) == ("Ban NTM xã", "2023-06-30")
    json.dumps(prog.feature_progress(table).to_dict("records"))  # ready for the map
    assert [line["status"] for line in unit["lines"]] == ["late", "no_data", "on_track", "met"]
    assert "by 2023-06-30 (Ban NTM xã): Trễ hạn / Late" in unit["summary"]
    assert features.loc["A1", "status"] == "at_risk"


def test_trend_svg(roadmap):
    table = prog.progress_table(
        prog.read_roadmap(roadmap), history_values(), as_of=date(2024, 3, 1)
    )
    svg = prog.trend_svg("ntm.02", table, history_values(), as_of=date(2024, 3, 1))
    root = ET.fromstring(svg)
    ns = {"s": "http://www.w3.org/2000/svg"}
    assert root.find("s:title", ns).text == "ntm.02 Giao thông / … (%)"
    series = root.findall("s:g[@class='series']", ns)
    assert [g.get("data-id") for g in series] == ["001", "A1", "001"]
    points = series[0].find("s:polyline", ns).get("points").split()
    assert len(points) == 3  # one vertex per snapshot
    assert len(root.findall(".//s:path[@class='target']", ns)) == 3
    assert len(root.findall(".//s:line[@class='projection']", ns)) == 1  # A1, at risk
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")
    charts = prog.trend_svgs(table, history_values())
    assert list(charts) == ["ntm.02", "ntm.11", "ntm.10"]


# ----------------------------------------------------------------------------- the template


def test_template_lists_exactly_the_failing_criteria(tiny_project, tmp_path):
    result = geo.run(geo.load_project(tiny_project))
    template = prog.roadmap_template(result)
    failing = result.criteria.loc[result.criteria["status"] == "fail"]
    assert len(failing) >= 2
    assert sorted(zip(template["level"], template["id"], template["criterion"], strict=True)) == (
        sorted(zip(failing["level"], failing["id"].astype(str), failing["criterion"], strict=True))
    )
    population = template.set_index("criterion").loc["ward.population"]
    assert (population["id"], population["value_now"], population["target"]) == (
        "002",
        3999.0,
        7000.0,
    )
    assert (template[["deadline", "owner", "note"]] == "").all().all()

    path = tmp_path / "roadmap.csv"
    prog.write_roadmap_template(result, path)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    with pytest.raises(geo.GeoInputError, match="a roadmap is already there"):
        prog.write_roadmap_template(result, path)
    assert prog.roadmap_template(None).columns.tolist() == prog.TEMPLATE_COLUMNS


def test_geo_roadmap_never_overwrites(tiny_project, capsys):
    assert main(["roadmap", str(tiny_project)]) == 0
    assert "2 line(s) failing on 2025-03-01 (2 unit, 0 hamlet)" in capsys.readouterr().out
    written = (tiny_project / "roadmap.csv").read_text(encoding="utf-8-sig")
    assert main(["roadmap", str(tiny_project)]) == 2
    assert "a roadmap is already there" in capsys.readouterr().err
    assert (tiny_project / "roadmap.csv").read_text(encoding="utf-8-sig") == written
    # the template is a valid roadmap once deadline and owner are filled in
    filled = written.replace(",,,\n", ",2026-12-31,UBND xã,\n")
    (tiny_project / "roadmap.csv").write_text(filled, encoding="utf-8")
    assert prog.read_roadmap(tiny_project / "roadmap.csv")["owner"].tolist() == ["UBND xã"] * 2


# ----------------------------------------------------------------------------- the sample


def test_geo_progress_on_the_sample(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["progress", str(sample_project_dir()), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert (
        "roadmap progress as of 2025-03-01 (3 snapshots: 2023-06-30, 2024-06-30, 2025-03-01)"
        in (printed)
    )
    assert "Tình trạng" in printed
    assert "Responsible" in printed
    assert "Quy tắc / Rules" in printed
    assert "Trễ hạn / late" in printed

    table = pd.read_csv(out / "progress.csv", encoding="utf-8-sig", dtype={"id": str})
    required = [
        "criterion", "level", "id", "name", "target", "deadline", "owner", "baseline",
        "baseline_date", "latest", "latest_date", "rate_needed_per_year",
        "rate_observed_per_year", "status", "rule",
    ]  # fmt: skip
    assert set(required) <= set(table.columns)
    status = dict(zip(table["criterion"] + " " + table["id"], table["status"], strict=True))
    assert status == {
        "ward.population 05491": "at_risk",
        "ntm.02 05491": "on_track",
        "ntm.02 QT13": "at_risk",
        "ntm.02 QT04": "on_track",
        "ntm.02 QT10": "met",
        "ntm.06 QT18": "met",
        "infra.market 05491": "met",
        "infra.health_stations 05491": "at_risk",
        "infra.green_space 05491": "late",
        "ntm.15.ehealth 05491": "no_data",
    }
    population = table.set_index(["criterion", "id"]).loc[("ward.population", "05491")]
    assert (population["baseline"], population["latest"]) == (16580, 17252)
    assert population["deadline"] == "2025-12-31"
    for row in table.itertuples():
        assert row.owner
        assert row.owner in printed  # who …
        assert row.deadline in printed  # … by when
    hamlets = pd.read_csv(out / "progress-hamlets.csv", encoding="utf-8-sig")
    assert hamlets["id"].iloc[0] == "QT02"  # 48.6 % against the commune's 70 %
    charts = sorted(p.name for p in (out / "trends").iterdir())
    assert charts == [
        "infra.green_space.svg",
        "infra.health_stations.svg",
        "infra.market.svg",
        "ntm.02.svg",
        "ntm.06.svg",
        "ntm.15.ehealth.svg",
        "ward.population.svg",
    ]
    for chart in charts:
        ET.parse(out / "trends" / chart)


def test_sample_history_matches_the_sample(tmp_path):
    """The latest snapshot of the shipped history is what `geo run` computes on the sample."""
    folder = sample_project_dir()
    listed = hist.snapshots(folder / hist.HISTORY_FILE)
    assert listed["as_of"].tolist() == ["2023-06-30", "2024-06-30", "2025-03-01"]
    assert listed["tool_version"].str.contains("illustrative").all()
    result = geo.run(geo.load_project(folder))
    fresh = hist.snapshot_rows(result).set_index(["level", "id", "criterion"])
    stored = hist.load_values(folder / hist.HISTORY_FILE)
    stored = stored.loc[stored["as_of"] == date(2025, 3, 1)].set_index(["level", "id", "criterion"])
    roadmap = prog.read_roadmap(folder / prog.ROADMAP_FILE)
    for criterion in roadmap["criterion"].unique():
        now = fresh.xs(criterion, level="criterion")["value"]
        then = stored.xs(criterion, level="criterion")["value"].reindex(now.index)
        pd.testing.assert_series_equal(
            now, then, check_names=False, obj=f"{criterion}: rerun scripts/make_sample_history.py"
        )
