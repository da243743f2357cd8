"""Replay the 1 July 2025 reorganisation of Thái Nguyên's communes from the old units.

Builds the new communes and wards (Resolution 1683/NQ-UBTVQH15) from the 2009 outlines of the
old communes and their 2019 census population with ``geo.scenario``, and compares them with the
official new units: dissolved area beside the official area, and the 2019 population and area
against the ward standards of Resolution 112/2025/UBTVQH15 (21,000 people, 5.5 km²). Then runs
the merger advisor on the old province.

    python scripts/replay_thai_nguyen_2025.py [DATA_DIR] [--out REPLAY.md] [--maps DIR]

DATA_DIR defaults to ../shared/data/thai-nguyen (the files listed in FILES; the test fixture
tests/data/tn-merger-2025 holds a subset with the same names). The printed report is written
to layers/thai-nguyen-2025/REPLAY.md unless --out says otherwise; --maps DIR also writes the
scenario's outputs (map, tables) and the advisor's into DIR/replay and DIR/advice.

Matching (every step is reported):

1. 2009 outline → pre-2025 commune (GSO code): by district, type (xã, phường, thị trấn) and
   name; then district and name; then name alone when unique (communes that changed district
   between 2009 and 2025). Names compared with geo.names.match_key.
2. 2019 census row → 2009 outline: the same three steps.
3. 2009 outlines with no pre-2025 commune (merged between 2009 and 2025): placed in the new
   unit holding at least OVERLAP_MIN of their area (the 2025 outlines are used only to place
   them, never for the areas compared); otherwise unplaced, and every new unit holding a
   tenth of one is marked incomplete.
4. A new unit is complete when each of its pre-2025 communes has a 2009 outline (or 2009
   outlines were placed in it by overlap) and none of them was split between new units (the
   parts' shares are not published, so a split commune leaves both new units incomplete).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from geo import scenario as sc  # noqa: E402
from geo.names import fold, match_key  # noqa: E402
from geo.outputs import write_csv  # noqa: E402
from geo.pipeline import run  # noqa: E402
from geo.project import load_project  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "thai-nguyen"
DEFAULT_OUT = REPO / "layers" / "thai-nguyen-2025" / "REPLAY.md"
FILES = {
    "old": "tn_communes_2009_censusVN2009.geojson",
    "census": "tn_province2025_population_2019_hgscarlette.csv",
    "legacy": "tn_legacy_communes_centroids_vietnamadminunits.csv",
    "mapping": "tn_old_to_new_2025_mapping_dvhcvn.csv",
    "new": "tn_2025_wards_sapnhap_thanglequoc.geojson",
}
SOURCES = {
    "old": "2009 outlines of the 181 old communes of Thái Nguyên: R package censusVN2009 "
    "(choisy/censusVN2009), MIT",
    "census": "2019 Population and Housing Census (GSO) by old commune, via "
    "hgscarlette/vn-demographic (public figures; the repository states no licence)",
    "legacy": "pre-2025 commune names and GSO codes: PyPI vietnamadminunits 1.0.4, MIT",
    "mapping": "official old → new mapping, 1 July 2025: daohoangson/dvhcvn "
    "(20250701/mapping/splits.json), MIT",
    "new": "the 92 new units and their official natural areas (areaKm2): "
    "thanglequoc/vietnamese-provinces-database, MIT",
}
CRS = "EPSG:9213"
AS_OF = date(2026, 1, 1)
"""NQ 112/2025/UBTVQH15 (ward-2026 in layers/criteria) is in force from this day."""
OVERLAP_MIN = 0.8
FLAG_OVERLAP = 0.1
OLD_PROVINCE = "Tỉnh Thái Nguyên"


def district_key(name: str) -> str:
    """Fold a district name without its type: "Thị xã Sông Công" → "songcong"."""
    folded = re.sub(r"^(huyen|thanh pho|thi xa|quan)\s*", "", fold(str(name)))
    return re.sub(r"[^a-z0-9]", "", folded)


def type_key(name: str) -> str:
    """The unit type of a full name or a title: "Thị trấn Quân Chu" or "ThịTrấn" → "thitran"."""
    folded = fold(str(name)).replace(" ", "")
    for kind in ("thitran", "phuong", "xa"):
        if folded.startswith(kind):
            return kind
    return ""


def tiered_match(
    left: pd.DataFrame, right: pd.DataFrame, tiers: list[tuple[tuple[str, ...], str]]
) -> pd.DataFrame:
    """Match rows one to one, tier by tier, on keys unique on both sides among the unmatched.

    Returns ``left``'s index with ``right`` (an index of ``right``, or NaN) and ``how``.
    """
    found = pd.DataFrame({"right": pd.Series(np.nan, index=left.index, dtype=object), "how": ""})
    free_left, free_right = left.copy(), right.copy()
    for columns, label in tiers:
        lkey = free_left[list(columns)].astype(str).agg("|".join, axis=1)
        rkey = free_right[list(columns)].astype(str).agg("|".join, axis=1)
        lunique = lkey[~lkey.duplicated(keep=False)]
        runique = rkey[~rkey.duplicated(keep=False)]
        pairs = pd.Series(runique.index, index=runique.to_numpy())
        hits = lunique[lunique.isin(pairs.index)]
        for index, key in hits.items():
            found.loc[index, ["right", "how"]] = [pairs[key], label]
        free_left = free_left.drop(hits.index)
        free_right = free_right.drop(pairs[hits.to_numpy()].to_numpy())
    return found


@dataclass
class Replay:
    """The replay's results (see :func:`replay`)."""

    table: pd.DataFrame
    old: gpd.GeoDataFrame
    extra: dict[str, object]
    notes: list[str] = field(default_factory=list)
    scenario: sc.Scenario | None = None
    advice: sc.Advice | None = None
    advice_scenario: sc.Scenario | None = None
    agreement: tuple[int, int] = (0, 0)


def load(data_dir: Path) -> dict[str, pd.DataFrame]:
    """Read the five source files of ``data_dir``."""
    missing = [name for name in FILES.values() if not (data_dir / name).is_file()]
    if missing:
        raise SystemExit(f"{data_dir}: missing {', '.join(missing)}")
    return {
        "old": gpd.read_file(data_dir / FILES["old"]).to_crs(CRS),
        "census": pd.read_csv(data_dir / FILES["census"], dtype={"ward_id": str}),
        "legacy": pd.read_csv(data_dir / FILES["legacy"], dtype=str),
        "mapping": pd.read_csv(data_dir / FILES["mapping"], dtype=str),
        "new": gpd.read_file(data_dir / FILES["new"]).to_crs(CRS),
    }


def match_old(data: dict[str, pd.DataFrame]) -> tuple[gpd.GeoDataFrame, dict[str, object]]:
    """Return the 2009 outlines with their pre-2025 code, census row and new unit.

    Also the leftovers: census rows and pre-2025 communes matched to no outline, and each
    outline's overlaps with the new units (share of its area, at least FLAG_OVERLAP).
    """
    extra: dict[str, object] = {}
    old = data["old"].copy()
    old["id"] = old["commune_id"].astype("int64").astype(str)
    old["name"] = old["commune_vn"]
    old["dk"], old["tk"], old["wk"] = (
        old["district_vn"].map(district_key),
        old["commune_vn"].map(type_key),
        old["commune_vn"].map(match_key),
    )
    legacy = data["legacy"].copy()
    legacy["dk"], legacy["tk"], legacy["wk"] = (
        legacy["district"].map(district_key),
        legacy["wardType"].map(type_key),
        legacy["ward"].map(match_key),
    )
    tiers = [
        (("dk", "tk", "wk"), "district, type and name"),
        (("dk", "wk"), "district and name"),
        (("wk",), "name (district changed)"),
    ]
    found = tiered_match(old, legacy, tiers)
    old["old_code"] = [None if pd.isna(r) else legacy.loc[r, "wardCode"] for r in found["right"]]
    old["old_name"] = [None if pd.isna(r) else legacy.loc[r, "ward"] for r in found["right"]]
    old["code_how"] = found["how"]
    census = data["census"]
    census = census.loc[census["city"] == "TháiNguyên"].copy()
    census["dk"], census["tk"], census["wk"] = (
        census["district"].map(district_key),
        census["ward_title"].map(type_key),
        census["ward"].map(match_key),
    )
    rows = tiered_match(old, census, tiers)
    old["population"] = [
        math.nan if pd.isna(r) else float(census.loc[r, "total"]) for r in rows["right"]
    ]
    old["census_how"] = rows["how"]
    extra["census_unmatched"] = census.drop([r for r in rows["right"] if not pd.isna(r)])[
        ["district", "ward", "ward_title", "total"]
    ]
    extra["legacy_unmatched"] = legacy.drop([r for r in found["right"] if not pd.isna(r)])[
        ["district", "ward", "wardCode"]
    ]
    new_geoms = data["new"].geometry.to_numpy()
    new_codes = data["new"]["code"].astype(str).to_numpy()
    old_geoms = old.geometry.to_numpy()
    left, right = shapely.STRtree(new_geoms).query(old_geoms, predicate="intersects")
    shares = shapely.area(shapely.intersection(old_geoms[left], new_geoms[right])) / shapely.area(
        old_geoms[left]
    )
    pairs = pd.DataFrame({"old": left, "code": new_codes[right], "share": shares})
    best = pairs.sort_values("share", ascending=False).drop_duplicates("old").set_index("old")
    best = best.reindex(range(len(old)))
    old["overlap_code"] = best["code"].to_numpy()
    old["overlap_share"] = best["share"].fillna(0.0).to_numpy()
    flagged = pairs.loc[pairs["share"] >= FLAG_OVERLAP]
    extra["overlaps"] = {
        str(old["id"].iloc[position]): dict(zip(group["code"], group["share"], strict=True))
        for position, group in flagged.groupby("old")
    }
    mapping = data["mapping"]
    targets = mapping.groupby("old_code")["new_code"].agg(list)
    new_code = []
    placement = []
    for code, overlap_code, share in zip(
        old["old_code"], old["overlap_code"], old["overlap_share"], strict=True
    ):
        if code is not None and code in targets.index:
            codes = targets[code]
            new_code.append(codes[0] if len(codes) == 1 else None)
            placement.append("mapping" if len(codes) == 1 else "split")
        elif share >= OVERLAP_MIN:
            new_code.append(overlap_code)
            placement.append("overlap")
        else:
            new_code.append(None)
            placement.append("unplaced")
    old["new_code"] = new_code
    old["placement"] = placement
    return old, extra


def replay(
    data_dir: Path, *, maps: Path | None = None, advise: bool = True, max_size: int = 4
) -> Replay:
    """Run the replay on the files of ``data_dir``; see the module docstring."""
    data = load(data_dir)
    old, extra = match_old(data)
    new = data["new"]
    placed = old.loc[old["new_code"].notna()].copy()
    names = dict(zip(new["code"].astype(str), new["name"].astype(str), strict=True))
    grouping = pd.DataFrame(
        {
            "old_id": placed["id"],
            "new_id": placed["new_code"],
            "new_name": placed["new_code"].map(names).fillna(placed["new_code"]),
        }
    )
    agree = old.loc[old["placement"] == "mapping"]
    agreement = (int((agree["new_code"] == agree["overlap_code"]).sum()), len(agree))
    with tempfile.TemporaryDirectory() as folder:
        before = run(_project(Path(folder), placed, "replay"))
        scenario = sc.apply_grouping(before, grouping, source="official mapping")
    result = Replay(
        _table(old, extra, scenario, data), old, extra, scenario=scenario, agreement=agreement
    )
    if advise:
        complete = old.loc[old["population"].notna()]
        with tempfile.TemporaryDirectory() as folder:
            province = run(_project(Path(folder), complete, "advice"))
        result.advice = sc.advise(province, max_size=max_size)
        result.advice_scenario = sc.apply_grouping(
            province,
            result.advice.grouping,
            source="advice",
            title="Thái Nguyên cũ — đề xuất sắp xếp / old Thái Nguyên: proposed merger",
        )
        result.notes.append(
            f"advisor: {len(complete)} of {len(old)} 2009 units have a 2019 population"
        )
    if maps is not None:
        sc.write_scenario(scenario, maps / "replay")
        if result.advice is not None and result.advice_scenario is not None:
            advice = result.advice
            sc.write_scenario(
                result.advice_scenario,
                maps / "advice",
                {
                    "advice.csv": lambda path: write_csv(advice.candidates, path),
                    "grouping.csv": lambda path: write_csv(advice.grouping, path),
                },
            )
    return result


def _project(folder: Path, units: gpd.GeoDataFrame, what: str) -> object:
    layer = gpd.GeoDataFrame(
        {"id": units["id"], "name": units["name"], "population": units["population"]},
        geometry=units.geometry.to_numpy(),
        crs=units.crs,
    )
    layer.to_file(folder / "units.geojson", driver="GeoJSON")
    (folder / "project.toml").write_text(
        f"""[project]
name = "Thái Nguyên cũ ({what}: 2009 outlines, 2019 census)"
province = "Thái Nguyên"
as_of = "{AS_OF.isoformat()}"
criteria = ["ward"]
sources = "censusVN2009 (MIT); 2019 census (GSO) via hgscarlette/vn-demographic; dvhcvn (MIT)"
note = "Ranh giới 2009 (thô), dân số 2019 / coarse 2009 outlines, 2019 census population"

[layers.units]
path = "units.geojson"
id = "id"
name = "name"
population = "population"
""",
        encoding="utf-8",
    )
    return load_project(folder)


def _table(
    old: gpd.GeoDataFrame,
    extra: dict[str, object],
    scenario: sc.Scenario,
    data: dict[str, pd.DataFrame],
) -> pd.DataFrame:
    """One row per new unit: parts, completeness, areas, population, checks, verdict."""
    mapping = data["mapping"]
    new = data["new"]
    splits = mapping.groupby("old_code")["new_code"].nunique()
    after = scenario.after.units.set_index("id")
    overlaps: dict[str, dict[str, float]] = extra["overlaps"]  # type: ignore[assignment]
    unplaced = old.loc[old["placement"] == "unplaced"]
    matched_codes = set(old["old_code"].dropna())
    standard = scenario.after.standard
    population_min = float(standard.criterion("ward.population").threshold_for({})[0] or math.nan)
    area_min = float(standard.criterion("ward.area").threshold_for({})[0] or math.nan)
    census_bk = _bac_kan_population(data)
    rows = []
    for unit in new.sort_values("code").itertuples():
        code = str(unit.code)
        parts = mapping.loc[mapping["new_code"] == code]
        province = parts["old_province"].iloc[0] if len(parts) else ""
        members = old.loc[old["new_code"] == code]
        by_overlap = members.loc[members["placement"] == "overlap"]
        problems = []
        if province and province != OLD_PROVINCE:
            problems.append("no 2009 outlines (old Bắc Kạn)")
        else:
            for part in parts.itertuples():
                if splits.get(part.old_code, 1) > 1:
                    problems.append(f"{part.old_name} split (share not published)")
                elif part.old_code not in matched_codes and by_overlap.empty:
                    problems.append(f"{part.old_name} has no 2009 outline")
            for ident, name in zip(unplaced["id"], unplaced["name"], strict=True):
                share = overlaps.get(ident, {}).get(code)
                if share is not None:
                    problems.append(f"2009 {name} unplaced ({share:.0%} of it lies here)")
        complete = not problems
        official = float(unit.areaKm2)
        area = float(after.loc[code, "area_km2"]) if code in after.index else math.nan
        # the scenario's sum, NaN when a part has no census row; then the known parts' sum,
        # a lower bound, as for incomplete units
        population = float(after.loc[code, "population"]) if code in after.index else math.nan
        population_known = complete and not math.isnan(population)
        lower_bound = not population_known
        if province != OLD_PROVINCE and province:
            population = census_bk.get(code, math.nan)
        elif not population_known:
            known = members["population"].dropna()
            population = float(known.sum()) if len(known) else math.nan
        kind = "Phường" if str(unit.fullName).startswith("Phường") else "Xã"
        pop_ok = (
            population >= population_min
            if population_known or (lower_bound and population >= population_min)
            else None
        )
        area_ok = area >= area_min if complete else None
        verdict = "—"
        if kind == "Phường":
            if pop_ok is True and area_ok is True:
                verdict = "meets"
            elif pop_ok is False or area_ok is False:
                verdict = "does not meet"
            else:
                verdict = "unknown"
        rows.append(
            {
                "code": code,
                "name": str(unit.fullName),
                "type": kind,
                "n_old": len(parts),
                "old_parts": ", ".join(
                    re.sub(r"^(Xã|Phường|Thị trấn) ", "", str(n)) for n in parts["old_name"]
                ),
                "by_overlap": ", ".join(
                    f"{n} ({s:.0%})"
                    for n, s in zip(by_overlap["name"], by_overlap["overlap_share"], strict=True)
                ),
                "complete": complete,
                "problems": "; ".join(problems),
                "area_parts_km2": area,
                "area_km2": area if complete else math.nan,
                "official_km2": official,
                "diff_pct": (area - official) / official * 100 if complete else math.nan,
                "population": population,
                "population_lower_bound": lower_bound,
                "population_ok": pop_ok,
                "area_ok": area_ok,
                "verdict": verdict,
                "exempt_3plus": len(parts) >= 3,
            }
        )
    return pd.DataFrame.from_records(rows)


def _bac_kan_population(data: dict[str, pd.DataFrame]) -> dict[str, float]:
    """2019 population of old Bắc Kạn's new units, by name: a lower bound (see report)."""
    census = data["census"]
    census = census.loc[census["city"] == "BắcKạn"].copy()
    census["wk"] = census["ward"].map(match_key)
    mapping = data["mapping"]
    mapping = mapping.loc[mapping["old_province"] != OLD_PROVINCE].copy()
    mapping["wk"] = mapping["old_name"].map(match_key)
    unique = census.loc[~census["wk"].duplicated(keep=False)].set_index("wk")["total"]
    single = mapping.groupby("old_code")["new_code"].transform("nunique") == 1
    mapping["population"] = mapping["wk"].map(unique).where(single)
    return mapping.groupby("new_code")["population"].sum(min_count=1).to_dict()


# ----------------------------------------------------------------------------- report


def _num(value: float, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.{digits}f}"


def _check(flag: object) -> str:
    return {True: "yes", False: "no"}.get(flag, "?")  # type: ignore[call-overload]


def _names(frame: pd.DataFrame) -> str:
    return ", ".join(frame["name"]) or "none"


def _summary(result: Replay) -> list[str]:
    """Return the summary bullets of the report."""
    table, old = result.table, result.old
    tn = table.loc[table["problems"] != "no 2009 outlines (old Bắc Kạn)"]
    complete = tn.loc[tn["complete"]]
    diffs = complete["diff_pct"].abs().sort_values(ascending=False)
    largest = ", ".join(
        f"{r.name} {_num(r.diff_pct, 1)} %" for r in complete.loc[diffs.index[:3]].itertuples()
    )
    wards = table.loc[table["type"] == "Phường"]
    meets = wards.loc[wards["verdict"] == "meets"]
    fails = wards.loc[wards["verdict"] == "does not meet"]
    unknown = wards.loc[wards["verdict"] == "unknown"]
    hows = old["code_how"].replace("", None).value_counts()
    placement = old["placement"].value_counts()
    by_overlap = int(complete["by_overlap"].ne("").sum())
    exempt = fails.loc[fails["exempt_3plus"]]
    return [
        (
            f"- New units: {len(table)} ({len(wards)} wards); {len(tn)} come from old Thái "
            f"Nguyên, {len(table) - len(tn)} from old Bắc Kạn (no old outlines: not rebuilt)."
        ),
        (
            f"- Rebuilt completely: **{len(complete)} of {len(tn)}** new units of old Thái Nguyên "
            f"({by_overlap} of them with 2009 units placed by overlap); {len(tn) - len(complete)} "
            "incomplete (a split commune, or a 2009 unit that could not be placed): their area is "
            "not compared."
        ),
        (
            f"- Dissolved 2009 area against the official area, complete units: median |difference| "
            f"{_num(float(diffs.median()), 1)} %, {int((diffs <= 5).sum())} within 5 %, "
            f"{int((diffs > 10).sum())} off by more than 10 % (largest: {largest or 'none'}). The "
            "2009 outlines are coarse and older than the 2019–2025 units, so the differences "
            "measure the data as much as the merger."
        ),
        (
            f"- Matching: {int(old['old_code'].notna().sum())} of {len(old)} 2009 outlines matched "
            f"a pre-2025 commune by name ({', '.join(f'{n} by {h}' for h, n in hows.items())}); "
            f"{int(placement.get('overlap', 0))} placed by overlap; "
            f"{int(placement.get('split', 0))} belong to a split commune; "
            f"{int(placement.get('unplaced', 0))} unplaced. Check: for {result.agreement[0]} of "
            f"{result.agreement[1]} outlines matched by name, the new unit of the official mapping "
            "is also the one that holds most of the outline."
        ),
        (
            f"- 2019 census: {int(old['population'].notna().sum())} of {len(old)} 2009 outlines "
            "matched a census row (by the same three steps)."
        ),
        f"- Wards meeting NQ 112/2025 on 2019 figures (population and area): "
        f"**{len(meets)} of {len(wards)}**: {_names(meets)}. Not meeting: {_names(fails)}"
        + (f" ({len(exempt)} of them formed from three or more units)" if len(exempt) else "")
        + f". Unknown (parts missing): {_names(unknown)}.",
        (
            f"- NQ 76/2025/UBTVQH15 Article 5 clause 2: a unit formed from three or more units "
            f"need not be checked against the standards; {int(table['exempt_3plus'].sum())} of "
            f"the {len(table)} new units ({int(wards['exempt_3plus'].sum())} of the {len(wards)} "
            "wards) were. Article 5 clause 1 set the arrangement's own ward thresholds (21,000 "
            "people, 15,000 in mountainous, highland or border areas, and 5.5 km²) on figures "
            "at 31 December 2024, not on the 2019 census used here."
        ),
    ]


def report(result: Replay, data_dir: Path) -> str:
    """Return the replay as Markdown (what the script prints and writes to REPLAY.md)."""
    table = result.table
    old = result.old
    lines = [
        "# Replay of the 2025 reorganisation of Thái Nguyên (2009 outlines, 2019 census)",
        "",
        "Written by `scripts/replay_thai_nguyen_2025.py` from `"
        + (
            f"../{data_dir.relative_to(REPO.parent)}"
            if data_dir.is_relative_to(REPO.parent)
            else str(data_dir)
        )
        + "`; do not edit by hand. The new units of Resolution 1683/NQ-UBTVQH15 (in force "
        "1 July 2025) are rebuilt from the old communes with `geo.scenario` (outlines "
        "dissolved in EPSG:9213, 2019 population added up) and compared with the official "
        "areas, and with the ward standards of NQ 112/2025/UBTVQH15 (`ward-2026`: "
        "population ≥ 21,000, natural area ≥ 5.5 km²).",
        "",
        "## Sources",
        "",
        *[f"- `{FILES[k]}`: {v}" for k, v in SOURCES.items()],
        "",
        "## Summary",
        "",
        *_summary(result),
        "",
        "## New units",
        "",
        (
            "Area: the dissolved 2009 outlines (km², EPSG:9213) beside the official `areaKm2`; "
            "`—` when the unit is incomplete. Population: 2019 census added up; `≥` marks a "
            "lower bound (parts missing, or old Bắc Kạn matched by name only). Checks: population "
            "≥ 21,000 and area ≥ 5.5 km²; the verdict is given for wards only."
        ),
        "",
        (
            "| code | new unit | old units | dissolved km² | official km² | diff % | "
            "population 2019 | ≥ 21,000 | ≥ 5.5 km² | ward verdict | ≥ 3 units | note |"
        ),
        "|---|---|---|---:|---:|---:|---:|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        population = _num(r.population, 0)
        if r.population_lower_bound and population != "—":
            population = f"≥ {population}"
        note = r.problems
        if r.by_overlap:
            note = (note + "; " if note else "") + f"placed by overlap: {r.by_overlap}"
        lines.append(
            f"| {r.code} | {r.name} | {r.n_old}: {r.old_parts} | {_num(r.area_km2)} | "
            f"{_num(r.official_km2)} | {_num(r.diff_pct, 1)} | {population} | "
            f"{_check(r.population_ok)} | {_check(r.area_ok)} | {r.verdict} | "
            f"{'yes' if r.exempt_3plus else 'no'} | {note} |"
        )
    unplaced = old.loc[old["placement"].isin(["unplaced", "overlap"])]
    lines += [
        "",
        "## Unmatched units",
        "",
        (
            "2009 outlines with no pre-2025 commune by name (merged or renamed between 2009 and "
            "2025), and where they went:"
        ),
        "",
        *[
            f"- {r.name} ({r.district_vn}): "
            + (
                f"placed in {r.new_code} by overlap ({r.overlap_share:.1%})"
                if r.placement == "overlap"
                else f"unplaced (at most {r.overlap_share:.1%} in one new unit)"
            )
            for r in unplaced.itertuples()
        ],
        "",
        "Pre-2025 communes with no 2009 outline by name: "
        + (
            ", ".join(
                f"{r.ward} ({r.district}, {r.wardCode})"
                for r in result.extra["legacy_unmatched"].itertuples()  # type: ignore[attr-defined]
            )
            or "none"
        )
        + ".",
        "",
        "2009 outlines with no 2019 census row: "
        + (", ".join(old.loc[old["population"].isna(), "name"]) or "none")
        + ". 2019 census rows of old Thái Nguyên with no 2009 outline: "
        + (
            ", ".join(
                f"{r.ward} ({r.district}, {r.total:,})"
                for r in result.extra["census_unmatched"].itertuples()  # type: ignore[attr-defined]
            )
            or "none"
        )
        + ".",
    ]
    if result.advice is not None and result.advice_scenario is not None:
        lines += ["", *advice_report(result.advice, result.advice_scenario)]
    lines += ["", *[f"Note: {n}" for n in result.notes]]
    return "\n".join(lines) + "\n"


def advice_report(advice: sc.Advice, scenario: sc.Scenario) -> list[str]:
    """Return the advisor's section of the report."""
    units = scenario.before.units
    candidates = advice.candidates
    failing = candidates["unit_id"].nunique() if len(candidates) else 0
    helped = candidates.loc[candidates["meets"].astype(bool), "unit_id"].nunique()
    groups = advice.groups
    after = scenario.after.units
    rows = scenario.after.criteria
    judged = rows.loc[rows["criterion"].isin(["ward.population", "ward.area"])]
    passing = int(judged.groupby("id")["status"].agg(lambda s: (s == "pass").all()).sum())
    sizes = groups["n_units"].value_counts().sort_index()
    lines = [
        "## Merger advisor on the old province",
        "",
        (
            f"`geo.scenario.advise` on the {len(units)} 2009 units of old Thái Nguyên that have a "
            "2019 population, against the ward standard in force on 2026-01-01 "
            "(a what-if: every unit a ward)."
        ),
        "",
        *[f"- {line}" for line in sc.advice_notes(advice)],
        (
            f"- {failing} units fail alone; {helped} have a merger of up to {advice.max_size} "
            "adjacent units that meets the standards."
        ),
        f"- Proposed grouping: {len(groups)} groups ("
        + ", ".join(f"{n} of {size} units" for size, n in sizes.items())
        + f"); rebuilt with `apply_grouping` (dissolved, re-evaluated): {passing} of "
        f"{len(after)} groups pass both ward.population and ward.area.",
        "",
        "| group | members | population 2019 | area km² |",
        "|---|---|---:|---:|",
    ]
    value = {s.criterion.indicator: f"value_{s.criterion.id}" for s in advice.standards}
    for r in groups.loc[groups["n_units"] > 1].to_dict("records"):
        names = units.set_index("id").loc[str(r["members"]).split(";"), "name"]
        lines.append(
            f"| {r['new_id']} | {', '.join(names)} | "
            f"{_num(r.get(value.get('population', ''), math.nan), 0)} | "
            f"{_num(r.get(value.get('area_km2', ''), math.nan))} |"
        )
    return lines


FIXTURE_UNITS = ("05455", "05482", "05710", "05467", "05533")
"""New wards of the test fixture: Quyết Thắng, Quan Triều, Linh Sơn, Gia Sàng, Bá Xuyên."""
FIXTURE_SIMPLIFY_DEG = 5e-4
LEGACY_COLUMNS = ["province", "district", "ward", "wardType", "wardCode"]


def make_fixture(data_dir: Path, out: Path, codes: tuple[str, ...] = FIXTURE_UNITS) -> None:
    """Copy the rows of the five source files that the new units ``codes`` need into ``out``.

    The old outlines, census rows and mapping rows are copied unchanged (the mapping also
    keeps the other rows of split communes); the legacy table keeps LEGACY_COLUMNS; the new
    outlines are simplified as a coverage (FIXTURE_SIMPLIFY_DEG) and rounded to 6 decimals.
    """
    data = load(data_dir)
    old, _ = match_old(data)
    mapping = data["mapping"]
    legacy_codes = set(mapping.loc[mapping["new_code"].isin(codes), "old_code"])
    rows = mapping.loc[mapping["old_code"].isin(legacy_codes)]
    keep = old.loc[old["old_code"].isin(legacy_codes) | old["new_code"].isin(codes)]
    out.mkdir(parents=True, exist_ok=True)
    raw = gpd.read_file(data_dir / FILES["old"])
    raw.loc[raw["commune_id"].astype("int64").astype(str).isin(keep["id"])].to_file(
        out / FILES["old"], driver="GeoJSON", COORDINATE_PRECISION=6
    )
    census = data["census"]
    census.loc[
        (census["city"] == "TháiNguyên")
        & census["district"].map(district_key).isin(keep["dk"])
        & census["ward"].map(match_key).isin(keep["wk"])
    ].to_csv(out / FILES["census"], index=False)
    legacy = data["legacy"]
    legacy.loc[legacy["wardCode"].isin(legacy_codes), LEGACY_COLUMNS].to_csv(
        out / FILES["legacy"], index=False
    )
    rows.to_csv(out / FILES["mapping"], index=False)
    new = gpd.read_file(data_dir / FILES["new"])
    new = new.loc[new["code"].isin(codes), ["code", "name", "fullName", "areaKm2", "geometry"]]
    simplified = shapely.coverage_simplify(new.geometry.to_numpy(), FIXTURE_SIMPLIFY_DEG)
    new = new.set_geometry(shapely.set_precision(simplified, 1e-6))
    new.to_file(out / FILES["new"], driver="GeoJSON", COORDINATE_PRECISION=6)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the Markdown report")
    parser.add_argument("--maps", type=Path, help="also write the scenario and advice outputs")
    parser.add_argument("--no-advice", action="store_true", help="skip the advisor")
    parser.add_argument(
        "--make-fixture", type=Path, metavar="DIR", help="write the test fixture's files to DIR"
    )
    args = parser.parse_args(argv)
    if args.make_fixture:
        make_fixture(args.data, args.make_fixture)
        return 0
    result = replay(args.data, maps=args.maps, advise=not args.no_advice)
    text = report(result, args.data.resolve())
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
