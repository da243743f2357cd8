"""Ward standards: thresholds at their edges, variants and the 2026 switch."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from geo import criteria as crit
from geo.errors import CriteriaFileError


@pytest.fixture(scope="module")
def sets():
    return crit.bundled_sets()


def judge(sets, day, population, area, variant="provincial-city"):
    standard = crit.set_in_force(sets, day)
    units = pd.DataFrame(
        {"id": ["x"], "name": ["X"], "population": [population], "area_km2": [area]}
    )
    rows = crit.evaluate(standard, units, level="unit", variant=variant).set_index("criterion")
    return standard, rows


@pytest.mark.parametrize(
    ("population", "status", "gap"),
    [(6_999, "fail", 1.0), (7_000, "pass", 0.0), (7_001, "pass", 0.0)],
)
def test_population_edge_of_a_provincial_city_ward(sets, population, status, gap):
    _, rows = judge(sets, date(2025, 3, 1), population, 10.0)
    assert rows.loc["ward.population", "threshold"] == 7_000
    assert rows.loc["ward.population", "status"] == status
    assert rows.loc["ward.population", "gap"] == gap


@pytest.mark.parametrize(("area", "status"), [(5.49, "fail"), (5.5, "pass")])
def test_area_edge(sets, area, status):
    _, rows = judge(sets, date(2025, 3, 1), 20_000, area)
    assert rows.loc["ward.area", "status"] == status
    assert rows.loc["ward.area", "gap"] == pytest.approx(0.01 if status == "fail" else 0.0)


@pytest.mark.parametrize(
    ("variant", "threshold"), [("district", 15_000), ("provincial-city", 7_000), ("town", 5_000)]
)
def test_variants_before_2026(sets, variant, threshold):
    for day in (date(2016, 6, 1), date(2025, 12, 31)):
        _, rows = judge(sets, day, threshold - 1, 6.0, variant=variant)
        assert rows.loc["ward.population", "threshold"] == threshold
        assert rows.loc["ward.population", "status"] == "fail"


def test_standards_switch_on_2026_01_01(sets):
    before, rows_before = judge(sets, date(2025, 12, 31), 17_252, 11.13)
    after, rows_after = judge(sets, date(2026, 1, 1), 17_252, 11.13)
    assert (before.id, after.id) == ("ward-2023", "ward-2026")
    assert rows_before.loc["ward.population", "status"] == "pass"
    assert rows_after.loc["ward.population", "threshold"] == 21_000
    assert rows_after.loc["ward.population", "status"] == "fail"
    assert rows_after.loc["ward.population", "gap"] == 21_000 - 17_252
    assert rows_after.loc["ward.population", "confidence"] == "secondary"


def test_2023_set_is_verified_and_cited(sets):
    standard = crit.set_in_force(sets, date(2024, 6, 1))
    for criterion in standard.criteria:
        assert criterion.confidence == "verified"
        assert "19/VBHN-VPQH" in criterion.source


def test_every_shipped_threshold_has_source_and_confidence(sets):
    assert len(sets) == 3
    for criteria_set in sets:
        for criterion in criteria_set.criteria:
            assert criterion.source.strip()
            assert criterion.confidence in crit.CONFIDENCES


def test_missing_value_or_variant_is_not_assessed(sets):
    _, rows = judge(sets, date(2025, 3, 1), float("nan"), 6.0)
    assert rows.loc["ward.population", "status"] == "not_assessed"
    assert "population" in rows.loc["ward.population", "note"]
    _, rows = judge(sets, date(2025, 3, 1), 9_000, 6.0, variant=None)
    assert rows.loc["ward.population", "status"] == "not_assessed"
    assert "project.ward_of" in rows.loc["ward.population", "note"]
    assert rows.loc["ward.area", "status"] == "pass"


def test_no_standard_before_2016(sets):
    with pytest.raises(CriteriaFileError, match="no ward-"):
        crit.set_in_force(sets, date(2010, 1, 1))


def test_verdicts_combine_statuses():
    rows = pd.DataFrame(
        {
            "id": ["a", "a", "b", "b", "c", "c"],
            "status": ["pass", "pass", "pass", "fail", "pass", "not_assessed"],
        }
    )
    assert crit.verdicts(rows).to_dict() == {"a": "pass", "b": "fail", "c": "not_assessed"}


GOOD = """
[set]
id = "ward-test"
name_vi = "Thử"
name_en = "Test"
in_force_from = 2020-01-01

[[criteria]]
id = "ward.population"
name_vi = "Dân số"
name_en = "Population"
level = "unit"
indicator = "population"
operator = ">="
unit_of_measure = "người"
threshold = 100
source = "test"
confidence = "verified"
"""


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (('confidence = "verified"', 'confidence = "sure"'), "criteria[0].confidence"),
        (("threshold = 100", 'threshold = "100"'), "criteria[0].threshold"),
        (("threshold = 100\n", ""), "criteria[0].confidence"),
        (('operator = ">="', 'operator = "=>"'), "criteria[0].operator"),
        (('source = "test"\n', ""), "criteria[0].source"),
        (('level = "unit"', 'levl = "unit"'), "criteria[0].levl"),
        (("in_force_from = 2020-01-01", 'in_force_from = "soon"'), "set.in_force_from"),
    ],
)
def test_a_broken_criteria_file_names_the_key(tmp_path: Path, change, key):
    path = tmp_path / "broken.toml"
    path.write_text(GOOD.replace(*change), encoding="utf-8")
    with pytest.raises(CriteriaFileError) as caught:
        crit.load_criteria_set(path)
    assert key in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_good_criteria_file_loads(tmp_path: Path):
    path = tmp_path / "good.toml"
    path.write_text(GOOD, encoding="utf-8")
    loaded = crit.load_criteria_set(path)
    assert loaded.criteria[0].threshold == 100.0
    assert loaded.in_force(date(2030, 1, 1))
