"""The inputs table (figures no layer holds), ``geo template`` and ``geo criteria``."""

from __future__ import annotations

import pandas as pd
import pytest

import geo
from geo.cli import main
from geo.errors import ValidationError


@pytest.fixture
def template(tiny_project, tmp_path):
    out = tmp_path / "inputs.csv"
    assert main(["template", str(tiny_project), "--out", str(out)]) == 0
    return pd.read_csv(out, encoding="utf-8-sig", dtype=str, keep_default_na=False)


def test_template_lists_every_input_of_the_sets_in_force(template):
    assert list(template.columns) == [
        "level", "id", "name", "indicator", "description_vi", "description_en",
        "unit_of_measure", "criteria", "value", "year", "source",
    ]  # fmt: skip
    units = template.loc[template["level"] == "unit"]
    hamlets = template.loc[template["level"] == "hamlet"]
    assert set(units["id"]) == {"001", "002"}
    assert set(hamlets["id"]) == {"A1", "A2", "B1"}
    recognised = units.loc[
        (units["id"] == "001") & (units["indicator"] == "urban_infrastructure_recognised")
    ]
    assert recognised["unit_of_measure"].tolist() == ["1 = có / yes, 0 = không / no"]
    assert recognised["criteria"].tolist() == ["ward.infrastructure"]
    income = units.loc[(units["id"] == "001") & (units["indicator"] == "income_per_capita_mvnd")]
    assert income["criteria"].tolist() == ["ntm.10 ntm-advanced.10 ntm-model.2"]
    # a threshold read from the inputs is an input too, at unit level only
    assert "ntm_advanced_income_threshold_mvnd" in set(units["indicator"])
    assert set(hamlets["indicator"]) == {
        "income_per_capita_mvnd",
        "multidimensional_poverty_rate_pct",
    }
    assert (template["value"] == "").all()
    # per unit: 25 distinct inputs; per hamlet: 2
    assert len(units) == 2 * 25
    assert len(hamlets) == 3 * 2


def fill(template, tiny_project, values: dict[tuple[str, str], str]):
    for (ident, indicator), value in values.items():
        template.loc[(template["id"] == ident) & (template["indicator"] == indicator), "value"] = (
            value
        )
    template.to_csv(tiny_project / "inputs.csv", index=False)
    text = (tiny_project / "project.toml").read_text(encoding="utf-8")
    (tiny_project / "project.toml").write_text(
        text + '\n[inputs]\npath = "inputs.csv"\n', encoding="utf-8"
    )


def test_filled_inputs_are_judged(template, tiny_project):
    fill(
        template,
        tiny_project,
        {
            ("001", "urban_infrastructure_recognised"): "có",
            ("002", "urban_infrastructure_recognised"): "không",
            ("001", "income_per_capita_mvnd"): "66,5",
            ("001", "ntm_advanced_income_threshold_mvnd"): "60",
            ("001", "ntm_advanced_recognised"): "1",
            ("A1", "income_per_capita_mvnd"): "1.250,5",
        },
    )
    result = geo.run(geo.load_project(tiny_project))
    rows = result.criteria.set_index(["id", "criterion"])
    assert rows.loc[("001", "ward.infrastructure"), "status"] == "pass"
    assert rows.loc[("002", "ward.infrastructure"), "status"] == "fail"
    assert rows.loc[("001", "ntm-model.1"), "status"] == "pass"
    assert rows.loc[("001", "ntm-model.2"), "threshold"] == pytest.approx(66.0)
    assert rows.loc[("001", "ntm-model.2"), "status"] == "pass"
    assert rows.loc[("001", "ntm-model.2"), "ratio"] == pytest.approx(66.5 / 66)
    assert result.hamlets.set_index("id").loc["A1", "income_per_capita_mvnd"] == 1250.5
    assert (
        result.units.set_index("id").loc["001", "ntm_model_verdict"] == "not_assessed"
    )  # .3, .4 open
    assert "unmatched_row" not in set(result.findings["kind"])
    assert "unused_input" not in set(result.findings["kind"])


def test_bad_inputs_name_the_row(template, tiny_project):
    fill(template, tiny_project, {("001", "income_per_capita_mvnd"): "cao"})
    row = (
        template.index[
            (template["id"] == "001") & (template["indicator"] == "income_per_capita_mvnd")
        ][0]
        + 2
    )
    with pytest.raises(
        ValidationError, match=rf"row {row}: value 'cao' is neither a number nor yes/no"
    ):
        geo.run(geo.load_project(tiny_project))


def test_duplicate_unknown_and_computed_inputs(template, tiny_project):
    extra = pd.DataFrame(
        [
            {"level": "unit", "id": "003", "indicator": "income_per_capita_mvnd", "value": "50"},
            {"level": "unit", "id": "001", "indicator": "favourite_colour", "value": "1"},
        ]
    )
    template = pd.concat([template, extra], ignore_index=True).fillna("")
    fill(template, tiny_project, {})
    result = geo.run(geo.load_project(tiny_project))
    kinds = result.findings.set_index("kind")["message"].to_dict()
    assert kinds["unmatched_row"].startswith("unit id 003 is not in the layer (closest: 002, 001)")
    assert (
        kinds["unused_input"]
        == "favourite_colour is read by no unit-level criterion in force; ignored"
    )
    computed = pd.concat(
        [
            template,
            pd.DataFrame([{"level": "unit", "id": "001", "indicator": "area_km2", "value": "9"}]),
        ]
    )
    computed.fillna("").to_csv(tiny_project / "inputs.csv", index=False)
    with pytest.raises(ValidationError, match="area_km2 is computed from the layers"):
        geo.run(geo.load_project(tiny_project))
    twice = pd.concat([template, template.iloc[[0]]]).assign(value="1")
    twice.to_csv(tiny_project / "inputs.csv", index=False)
    with pytest.raises(ValidationError, match="is given more than once"):
        geo.run(geo.load_project(tiny_project))


def test_criteria_list_and_show(capsys):
    assert main(["criteria", "list", "--as-of", "2026-01-01"]) == 0
    listed = capsys.readouterr().out
    assert listed.startswith("ward-2026  [ward]  2026-01-01 – …")
    assert "9 criteria: 9 secondary" in listed
    assert main(["criteria", "show", "ward.area", "--as-of", "2024-05-01"]) == 0
    shown = capsys.readouterr().out
    assert "ward.area (ward-2023, level unit)" in shown
    assert "area_km2 >= 5.5 km²" in shown
    assert "source: VBHN 19/VBHN-VPQH" in shown
    assert "confidence: verified" in shown
    assert "ward-2016" not in shown
    assert main(["criteria", "show", "ntm-model-2021"]) == 0
    assert "ntm-model.2 (ntm-model-2021, level unit)" in capsys.readouterr().out
    assert main(["criteria", "show", "ward.populaton"]) == 2
    assert "did you mean ward.population" in capsys.readouterr().err
