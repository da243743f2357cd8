"""The criteria engine: shipped thresholds at their edges, variants, dates, overrides, schema."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo import criteria as crit
from geo.errors import CriteriaFileError
from geo.resources import layers_dir

SETS = crit.bundled_sets()
PROVINCIAL = layers_dir() / "criteria" / "provincial" / "thai-nguyen.toml"
VARIANTS = {"ward_of": "provincial-city", "region": "TDMNPB", "urban_class": "I"}


def shipped_thresholds():
    for criteria_set in SETS:
        for criterion in criteria_set.criteria:
            if isinstance(criterion.threshold, dict):
                for key, value in sorted(criterion.threshold.items()):
                    yield pytest.param(
                        criteria_set,
                        criterion,
                        key,
                        value,
                        id=f"{criterion.id}@{criteria_set.id}[{key}]",
                    )
            elif criterion.threshold is not None:
                yield pytest.param(
                    criteria_set,
                    criterion,
                    None,
                    criterion.threshold,
                    id=f"{criterion.id}@{criteria_set.id}",
                )


def feature_with(criterion: crit.Criterion, value: float) -> pd.DataFrame:
    """One feature whose indicator equals ``value`` (through the ratio's columns if any)."""
    row: dict[str, object] = {"id": "x", "name": "X"}
    if criterion.ratio is None:
        row[criterion.indicator] = value
    else:
        row[criterion.ratio.numerator[0]] = value
        for other in criterion.ratio.numerator[1:]:
            row[other] = 0.0
        row[criterion.ratio.denominator] = criterion.ratio.scale
    return pd.DataFrame([row])


def judge_one(criteria_set, criterion, value, variant_key=None, variant_value=None):
    variants = dict(VARIANTS)
    if variant_key:
        variants[variant_key] = variant_value
    level = "unit" if criterion.applies_to("unit") else "hamlet"
    rows = crit.evaluate(
        criteria_set, feature_with(criterion, value), level=level, variants=variants
    )
    return rows.set_index("criterion").loc[criterion.id]


@pytest.mark.parametrize(
    ("criteria_set", "criterion", "variant_value", "threshold"), list(shipped_thresholds())
)
def test_every_shipped_threshold_at_its_edge(criteria_set, criterion, variant_value, threshold):
    at = judge_one(criteria_set, criterion, threshold, criterion.variant, variant_value)
    assert at["threshold"] == threshold
    inclusive = criterion.operator in (">=", "<=")
    assert at["status"] == ("pass" if inclusive else "fail")
    step = max(abs(threshold) * 1e-6, 1e-9)
    worse = threshold - step if criterion.operator in (">=", ">") else threshold + step
    better = threshold + step if criterion.operator in (">=", ">") else threshold - step
    below = judge_one(criteria_set, criterion, worse, criterion.variant, variant_value)
    assert below["status"] == "fail"
    assert below["gap"] == pytest.approx(step, rel=1e-3)
    assert (
        judge_one(criteria_set, criterion, better, criterion.variant, variant_value)["status"]
        == "pass"
    )


def test_shipped_numbers_are_those_of_the_legal_notes():
    ward_2023 = crit.set_in_force(SETS, date(2024, 1, 1))
    assert ward_2023.criterion("ward.population").threshold == {
        "district": 15000,
        "provincial-city": 7000,
        "town": 5000,
    }
    assert ward_2023.criterion("ward.area").threshold == 5.5
    ward_2026 = crit.set_in_force(SETS, date(2026, 1, 1))
    expected = {
        "ward.population": 21000,
        "ward.area": 5.5,
        "ward.urban_population_share": 50,
        "ward.budget_balance": 100,
        "ward.industry_services_share": 70,
        "ward.non_agricultural_labour": 70,
    }
    assert {k: ward_2026.criterion(k).threshold for k in expected} == expected
    infra = crit.set_in_force(SETS, date(2020, 1, 1), "ward-infrastructure")
    assert infra.criterion("infra.school_land").threshold == 2.7
    assert infra.criterion("infra.road_density").threshold == {
        "special": 15,
        "I": 13,
        "II": 11,
        "III": 9,
    }
    ntm = crit.set_in_force(SETS, date(2024, 1, 1), "ntm")
    assert ntm.criterion("ntm.15.stunting").threshold["TDMNPB"] == 24
    assert ntm.criterion("ntm.15.ehealth").threshold == {"TDMNPB": 50, "DBSH": 70}
    assert len([c for c in ntm.criteria if c.id.count(".") == 1]) == 19


def test_no_criterion_lacks_source_or_confidence():
    sets = [*SETS, *crit.load_criteria_file(PROVINCIAL)[0]]
    assert len(sets) == 9
    for criteria_set in sets:
        for criterion in criteria_set.criteria:
            assert criterion.source.document.strip()
            assert criterion.confidence in crit.CONFIDENCES
            if criterion.confidence == "unknown":
                assert criterion.threshold is None
                assert not criterion.threshold_from


@pytest.mark.parametrize(
    ("ward_of", "threshold"), [("district", 15_000), ("provincial-city", 7_000), ("town", 5_000)]
)
def test_ward_of_variant_selects_the_population_threshold(ward_of, threshold):
    for day in (date(2016, 6, 1), date(2025, 12, 31)):
        standard = crit.set_in_force(SETS, day)
        criterion = standard.criterion("ward.population")
        row = judge_one(standard, criterion, threshold - 1, "ward_of", ward_of)
        assert (row["threshold"], row["status"], row["gap"]) == (threshold, "fail", 1.0)


def test_region_variant():
    ntm = crit.set_in_force(SETS, date(2024, 1, 1), "ntm")
    stunting = ntm.criterion("ntm.15.stunting")
    assert judge_one(ntm, stunting, 20.0, "region", "TDMNPB")["status"] == "pass"
    dbsh = judge_one(ntm, stunting, 20.0, "region", "DBSH")
    assert (dbsh["threshold"], dbsh["status"], dbsh["gap"]) == (16.5, "fail", 3.5)
    ehealth = judge_one(ntm, ntm.criterion("ntm.15.ehealth"), 60.0, "region", "BTB")
    assert ehealth["status"] == "not_assessed"
    assert "region = 'BTB' not on record" in ehealth["note"]


def test_standards_switch_on_2026_01_01():
    before = crit.set_in_force(SETS, date(2025, 12, 31))
    after = crit.set_in_force(SETS, date(2026, 1, 1))
    assert (before.id, after.id) == ("ward-2023", "ward-2026")
    row = judge_one(after, after.criterion("ward.population"), 17_252)
    assert (row["threshold"], row["status"], row["gap"]) == (21_000, "fail", 21_000 - 17_252)
    assert row["confidence"] == "secondary"
    assert judge_one(before, before.criterion("ward.population"), 17_252)["status"] == "pass"


def test_sets_in_force_by_family():
    day = date(2025, 3, 1)
    assert [s.id for s in crit.sets_in_force(SETS, day)] == [
        "ntm-2021",
        "ntm-advanced-2021",
        "ntm-model-2021",
        "ward-2023",
        "ward-infrastructure-2023",
    ]
    assert [s.id for s in crit.sets_in_force(SETS, date(2026, 11, 28))] == ["ward-2026"]
    with pytest.raises(CriteriaFileError, match="no ward criteria set in force on 2010-01-01"):
        crit.set_in_force(SETS, date(2010, 1, 1))


def test_unknown_thresholds_stay_not_assessed():
    infra = crit.set_in_force(SETS, date(2024, 1, 1), "ward-infrastructure")
    features = pd.DataFrame(
        {
            "id": ["x"],
            "name": ["X"],
            "landuse_DGD_km2": [0.0],
            "population": [10_000],
            "road_km": [1.0],
            "area_km2": [1.0],
        }
    )
    rows = crit.evaluate(infra, features, level="unit", variants=VARIANTS).set_index("criterion")
    assert set(rows["status"]) == {"not_assessed"}
    assert rows.loc["infra.school_land", "value"] == 0.0  # the value is still shown
    assert "2016 table 2.1: 2.7" in rows.loc["infra.school_land", "note"]
    assert rows.loc["infra.road_density", "value"] == 1.0
    assert infra.not_checked[0].startswith("Giá trị bảng 2A")


def test_missing_value_and_missing_variant():
    standard = crit.set_in_force(SETS, date(2025, 3, 1))
    features = pd.DataFrame({"id": ["x"], "name": ["X"], "population": [np.nan], "area_km2": [6.0]})
    rows = crit.evaluate(standard, features, level="unit", variants=VARIANTS).set_index("criterion")
    assert rows.loc["ward.population", "status"] == "not_assessed"
    assert "population" in rows.loc["ward.population", "note"]
    assert rows.loc["ward.area", "status"] == "pass"
    features["population"] = 9_000
    rows = crit.evaluate(standard, features, level="unit", variants={}).set_index("criterion")
    assert rows.loc["ward.population", "status"] == "not_assessed"
    assert "set project.ward_of" in rows.loc["ward.population", "note"]
    assert rows.loc["ward.infrastructure", "note"].startswith(
        "no urban_infrastructure_recognised value"
    )


def test_is_true_and_threshold_from():
    model = crit.set_in_force(SETS, date(2024, 1, 1), "ntm-model")
    features = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "name": ["A", "B", "C"],
            "ntm_advanced_recognised": [1.0, 0.0, np.nan],
            "income_per_capita_mvnd": [66.0, 65.9, 70.0],
            "ntm_advanced_income_threshold_mvnd": [60.0, 60.0, np.nan],
        }
    )
    rows = crit.evaluate(model, features, level="unit", variants=VARIANTS).set_index(
        ["id", "criterion"]
    )
    assert rows.loc[("a", "ntm-model.1"), "status"] == "pass"
    assert rows.loc[("b", "ntm-model.1"), "status"] == "fail"
    assert rows.loc[("c", "ntm-model.1"), "status"] == "not_assessed"
    assert rows.loc[("a", "ntm-model.2"), "threshold"] == pytest.approx(66.0)
    assert rows.loc[("a", "ntm-model.2"), "status"] == "pass"
    assert rows.loc[("b", "ntm-model.2"), "gap"] == pytest.approx(0.1)
    assert "ntm_advanced_income_threshold_mvnd" in rows.loc[("c", "ntm-model.2"), "note"]


def test_ratio_values_treat_missing_count_columns_as_zero():
    infra = crit.set_in_force(SETS, date(2020, 1, 1), "ward-infrastructure")
    stations = infra.criterion("infra.health_stations")
    with_layer = pd.DataFrame({"population": [10_000.0], "count_school": [2]})
    assert crit.indicator_values(stations, with_layer).tolist() == [0.0]
    without_layer = pd.DataFrame({"population": [10_000.0]})
    assert np.isnan(crit.indicator_values(stations, without_layer)[0])
    with_station = with_layer.assign(count_health_station=[3])
    assert crit.indicator_values(stations, with_station).tolist() == [1.5]


def test_hamlet_contributions_sum_to_the_commune_gap():
    infra = crit.set_in_force(SETS, date(2020, 1, 1), "ward-infrastructure")
    hamlets = pd.DataFrame(
        {
            "id": ["h1", "h2", "h3"],
            "name": ["Xóm 1", "Xóm 2", "Xóm 3"],
            "unit_id": ["u", "u", "u"],
            "road_km": [2.0, 10.0, 0.5],
            "area_km2": [1.0, 1.0, 2.0],
        }
    )
    units = pd.DataFrame({"id": ["u"], "name": ["U"], "road_km": [12.5], "area_km2": [4.0]})
    unit_rows = crit.evaluate(infra, units, level="unit", variants=VARIANTS)
    road = unit_rows.set_index("criterion").loc["infra.road_density"]
    assert (road["value"], road["threshold"], road["gap"]) == (3.125, 13.0, 9.875)
    parts = crit.hamlet_contributions(infra, hamlets, unit_rows)
    road_parts = parts.loc[parts["criterion"] == "infra.road_density"].set_index("id")
    # (13·area − km) / Σarea: h1 (13 − 2)/4, h2 (13 − 10)/4, h3 (26 − 0.5)/4
    assert road_parts["contribution"].tolist() == pytest.approx([2.75, 0.75, 6.375])
    assert road_parts["contribution"].sum() == pytest.approx(road["gap"])
    assert road_parts["share_of_gap_pct"].sum() == pytest.approx(100.0)
    assert road_parts.loc["h3", "share_of_gap_pct"] == pytest.approx(6.375 / 9.875 * 100)


def test_provincial_override(tmp_path: Path):
    override = tmp_path / "province.toml"
    override.write_text(
        """
[[override]]
set = "ntm-2021"
criterion = "ntm.02"
threshold = 70
source = { document = "Quyết định 9999/QĐ-UBND (thử)", article = "Điều 2" }
confidence = "verified"
note = "test override"
""",
        encoding="utf-8",
    )
    sets = crit.load_sets([PROVINCIAL, override])
    ntm = crit.set_in_force(sets, date(2024, 1, 1), "ntm")
    roads = ntm.criterion("ntm.02")
    assert (roads.threshold, roads.confidence, roads.overridden_by) == (
        70.0,
        "verified",
        str(override),
    )
    hamlets = pd.DataFrame(
        {
            "id": ["h1", "h2"],
            "name": ["A", "B"],
            "road_km": [1.0, 2.0],
            "road_concrete_km": [0.8, 1.0],
            "road_asphalt_km": [0.0, 0.0],
        }
    )
    rows = crit.evaluate(ntm, hamlets, level="hamlet", variants=VARIANTS).set_index(
        ["id", "criterion"]
    )
    assert rows.loc[("h1", "ntm.02"), "status"] == "pass"  # 80 % hardened
    assert rows.loc[("h2", "ntm.02"), "gap"] == pytest.approx(20.0)  # 50 %
    assert "[override: province.toml]" in rows.loc[("h2", "ntm.02"), "source"]
    assert "model-hamlet" in {s.family for s in sets}
    # the national sets on disk are untouched
    assert crit.set_in_force(SETS, date(2024, 1, 1), "ntm").criterion("ntm.02").threshold is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[override]]\nset = "nope"\ncriterion = "ward.area"\nthreshold = 1\n',
            "override[0].set = 'nope': no such criteria set",
        ),
        (
            '[[override]]\nset = "ward-2023"\ncriterion = "ward.nope"\nthreshold = 1\n',
            "override[0].criterion = 'ward.nope': not in set ward-2023",
        ),
        (
            '[[override]]\nset = "ward-2023"\ncriterion = "ward.area"\nthreshhold = 1\n',
            "override[0].threshhold: unknown key",
        ),
        (
            '[[override]]\nset = "ward-2023"\ncriterion = "ward.area"\nconfidence = "unknown"\n',
            "must not carry one",
        ),
    ],
)
def test_bad_override_names_the_key(tmp_path: Path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CriteriaFileError) as caught:
        crit.load_sets([path])
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


GOOD = """
[set]
id = "ward-test"
family = "test"
name_vi = "Thử"
name_en = "Test"
document = "Văn bản thử"
in_force_from = 2020-01-01

[[criteria]]
id = "t.population"
name_vi = "Dân số"
name_en = "Population"
level = "unit"
indicator = "population"
operator = ">="
unit_of_measure = "người"
threshold = 100
source = { document = "Văn bản thử", article = "Điều 1" }
confidence = "verified"
"""


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (('confidence = "verified"', 'confidence = "sure"'), "criteria[0].confidence = 'sure'"),
        (("threshold = 100", 'threshold = "100"'), "criteria[0].threshold = '100'"),
        (("threshold = 100\n", ""), "criteria[0].confidence: must be 'unknown'"),
        (('operator = ">="', 'operator = "=>"'), "criteria[0].operator = '=>'"),
        (
            ('source = { document = "Văn bản thử", article = "Điều 1" }\n', ""),
            "criteria[0].source: missing",
        ),
        (
            (
                'source = { document = "Văn bản thử", article = "Điều 1" }',
                'source = { article = "Điều 1" }',
            ),
            "criteria[0].source.document: missing",
        ),
        (('level = "unit"', 'levl = "unit"'), "criteria[0].levl: unknown key"),
        (('level = "unit"', 'level = "ward"'), "criteria[0].level = 'ward'"),
        (("in_force_from = 2020-01-01", 'in_force_from = "soon"'), "set.in_force_from = 'soon'"),
        (('family = "test"\n', ""), "set.family: missing"),
        (("threshold = 100", "threshold = { district = 1 }"), "criteria[0].variant = None"),
        (
            ("threshold = 100", 'threshold = { district = 1 }\nvariant = "province"'),
            "criteria[0].variant = 'province'",
        ),
        (
            ('operator = ">="', 'operator = "is_true"'),
            "criteria[0].threshold: an is_true criterion takes no threshold",
        ),
    ],
)
def test_a_broken_criteria_file_names_the_key(tmp_path: Path, change, key):
    assert change[0] in GOOD
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
    criterion = loaded.criterion("t.population")
    assert criterion.threshold == 100.0
    assert criterion.source.cite() == "Văn bản thử, Điều 1"
    assert loaded.in_force(date(2030, 1, 1))
    assert not loaded.in_force(date(2019, 12, 31))


def test_verdicts_combine_statuses():
    rows = pd.DataFrame(
        {
            "id": ["a", "a", "b", "b", "c", "c"],
            "status": ["pass", "pass", "pass", "fail", "pass", "not_assessed"],
        }
    )
    assert crit.verdicts(rows).to_dict() == {"a": "pass", "b": "fail", "c": "not_assessed"}
