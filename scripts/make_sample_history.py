"""Write the illustrative history of the Quyết Thắng sample: three dated snapshots.

    python scripts/make_sample_history.py

Writes ``layers/quyet-thang/history.sqlite`` (replacing it) from three runs of
the pipeline, each on a copy of the sample whose data is changed as described
in ``layers/quyet-thang/SOURCES-history.md``:

- 2025-03-01: the sample exactly as shipped (the same values as ``geo run``);
- 2024-06-30 and 2023-06-30: the same sample with ILLUSTRATIVE earlier states:
  fewer concrete lanes, a lower population, no market yet (2023), one or two
  hamlets without a cultural house.

Deterministic: no randomness, fixed timestamps; running it twice gives the same file.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import geo  # noqa: E402
from geo import history  # noqa: E402

SAMPLE = ROOT / "layers" / "quyet-thang"
TOOL_VERSION = f"{geo.__version__} (illustrative history: scripts/make_sample_history.py)"

# Roads concreted (illustrative) between one snapshot and the next, by name: before the
# date they were earth lanes (Ngõ) or gravel roads (Đường liên xóm).
CONCRETED_AFTER_2024 = [
    "Đường liên xóm Giữa – Khuôn 2",
    "Đường liên xóm Núi Nến – Cây Xanh",
    "Ngõ xóm Đồng Tâm",
    "Ngõ xóm Nhà Thờ",
    "Ngõ xóm Khuôn 1",
]
CONCRETED_AFTER_2023 = [
    "Ngõ xóm Khuôn 2",
    "Ngõ xóm Giữa",
    "Ngõ xóm Soi Mít",
    "Ngõ xóm Cây Xanh",
    "Ngõ xóm Núi Nến",
    "Ngõ xóm Cây Thị",
]
MARKET = "Chợ Quyết Thắng"  # opened (illustratively) between 2023-06-30 and 2024-06-30


class State(NamedTuple):
    """The sample's (illustrative) state on one date."""

    population: int | None = None  # commune total; None: as shipped (2019 census)
    households: int | None = None
    unpaved: tuple[str, ...] = ()  # roads not yet concreted
    no_house: tuple[str, ...] = ()  # cultural houses not yet built
    market: bool = True  # the market is open


STATES = {
    date(2023, 6, 30): State(
        16_580,
        3_742,
        (*CONCRETED_AFTER_2024, *CONCRETED_AFTER_2023),
        ("Nhà văn hóa xóm Làng Cả", "Nhà văn hóa xóm Đồng Bãi"),
        market=False,
    ),
    date(2024, 6, 30): State(
        16_930, 3_821, tuple(CONCRETED_AFTER_2024), ("Nhà văn hóa xóm Đồng Bãi",)
    ),
    date(2025, 3, 1): State(),
}


def largest_remainder(weights: np.ndarray, total: int) -> np.ndarray:
    """Integers proportional to ``weights`` summing exactly to ``total``."""
    raw = weights / weights.sum() * total
    counts = np.floor(raw).astype(int)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts


def earlier_state(folder: Path, state: State) -> None:
    """Change the copy of the sample in ``folder`` to an earlier (illustrative) state."""
    population, households, unpaved, no_house, market = state
    if population is not None and households is not None:
        table = pd.read_csv(folder / "population.csv", dtype={"code": str})
        table["population"] = largest_remainder(table["population"].to_numpy(float), population)
        table["households"] = largest_remainder(table["households"].to_numpy(float), households)
        table.to_csv(folder / "population.csv", index=False)
    if not unpaved and not no_house and market:
        return
    roads = gpd.read_file(folder / "roads.gpkg")
    missing = sorted(set(unpaved) - set(roads["name"]))
    assert not missing, missing
    lanes = roads["name"].isin(unpaved)
    roads.loc[lanes, "surface"] = np.where(
        roads.loc[lanes, "name"].str.startswith("Ngõ"), "earth", "gravel"
    )
    roads.to_file(folder / "roads.gpkg", layer="roads", driver="GPKG")
    points = gpd.read_file(folder / "infrastructure.gpkg")
    gone = points["name"].isin(no_house) | (~market & (points["name"] == MARKET))
    assert gone.sum() == len(no_house) + (0 if market else 1)
    points.loc[~gone].to_file(folder / "infrastructure.gpkg", layer="infrastructure", driver="GPKG")


def main() -> None:
    target = SAMPLE / history.HISTORY_FILE
    target.unlink(missing_ok=True)
    for day, state in STATES.items():
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch) / "quyet-thang"
            shutil.copytree(SAMPLE, folder, ignore=shutil.ignore_patterns("history.sqlite*"))
            earlier_state(folder, state)
            result = geo.run(geo.load_project(folder, as_of=day))
        snapshot = history.write_snapshot(
            target,
            day,
            history.snapshot_rows(result),
            project_name=result.project.name,
            created_at=f"{day.isoformat()}T17:00:00+07:00",
            tool_version=TOOL_VERSION,
        )
        print(snapshot.describe())


if __name__ == "__main__":
    main()
