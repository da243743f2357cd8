"""Size and load-time budgets of the offline HTML maps (issue 5), measured and printed.

Maps measured:

- the bundled sample commune (Quyết Thắng, 18 hamlets, 1,120 parcels): < 2 MB, load < 1 s;
- the same commune with its land use subdivided into 10,000 parcels (deterministic, seeded):
  < 5 MB, load < 2 s;
- the 92 units of Thái Nguyên province: < 5 MB, load < 1 s;
- with ``--large``, the commune with 60,000 parcels, beyond ``MAX_FEATURES``: aggregated,
  with a note (no budget in the issue; printed for the record);
- with ``--scales S M L`` instead, the synthetic benchmark projects of ``generate.py`` (issue 8:
  10,000, 100,000 and 1,000,000 parcels): ``render_result_map`` alone, timed on the run's
  result (median of ``--repeat``), the size, the land-use mode of the large-map rule
  (parcels, merged or shares) and, with ``--runs`` > 0, the load time. Budgets: render < 0.5 s
  at S; at L render < 3 s and < 15 MB. ``--cache DIR`` keeps each scale's ``RunResult``
  (pickled) so that later runs time the map without running the pipeline again.

Each map is built with ``geo.run`` and ``render_result_map`` (the figures of ``geo run``),
written to a temporary folder and opened from disk in headless Debian Chromium through
Playwright, with every request that is not ``file:`` or ``data:`` aborted. The load time is
the page's own ``loadEventEnd`` (navigation timing, from navigation start), median of
``--runs`` fresh pages; failed requests and console errors are counted too. The land-use
layer is built only when its theme is chosen: "land use s" is the median time from choosing
it to the second frame after (the parcels drawn).

Run::

    python benchmarks/map_budget.py [--runs 5] [--large] [--chromium /usr/bin/chromium]
    python benchmarks/map_budget.py --runs 1 --screenshot maps/quyet-thang.png  # README picture
    python benchmarks/map_budget.py --scales S M L --runs 1 --cache /tmp/geo-bench/results

Not part of the test suite; needs the ``playwright`` Python package (``pip install -e
".[test]"``), never a browser download.
"""

from __future__ import annotations

import argparse
import heapq
import json
import pickle
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]  # this checkout's geo, and generate.py

import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402
import shapely  # noqa: E402
from shapely.geometry import box  # noqa: E402

import geo  # noqa: E402
from geo import webmap  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PROVINCE = ROOT / "layers" / "thai-nguyen-2025"
SEED = 20250301


@dataclass
class Budget:
    name: str
    project: geo.Project | Path
    max_mb: float
    max_load_s: float | None


def subdivide(parcels: gpd.GeoDataFrame, target: int, seed: int = SEED) -> gpd.GeoDataFrame:
    """Split parcels until there are ``target`` of them, keeping a tiling and the codes.

    The largest parcel is cut in two across its longer side, at a seeded position between
    35 % and 65 % of it, until the count is reached: deterministic, and the pieces cover
    exactly what the parcels covered.
    """
    rng = np.random.default_rng(seed)
    pairs = zip(parcels.geometry, parcels["code"], strict=True)
    heap = [(-g.area, i, g, c) for i, (g, c) in enumerate(pairs)]
    heapq.heapify(heap)
    counter = len(heap)
    while len(heap) < target:
        _, _, geom, code = heapq.heappop(heap)
        west, south, east, north = geom.bounds
        at = rng.uniform(0.35, 0.65)
        if east - west >= north - south:
            cut = west + at * (east - west)
            halves = (
                box(west - 1, south - 1, cut, north + 1),
                box(cut, south - 1, east + 1, north + 1),
            )
        else:
            cut = south + at * (north - south)
            halves = (
                box(west - 1, south - 1, east + 1, cut),
                box(west - 1, cut, east + 1, north + 1),
            )
        for half in halves:
            piece = shapely.intersection(geom, half)
            if not piece.is_empty and piece.area > 0:
                heapq.heappush(heap, (-piece.area, counter, piece, code))
                counter += 1
    rows = sorted(heap, key=lambda item: item[1])[:target]
    return gpd.GeoDataFrame(
        {"code": [r[3] for r in rows]}, geometry=[r[2] for r in rows], crs=parcels.crs
    )


def commune_with_parcels(count: int, folder: Path) -> geo.Project:
    """Return the sample project with its land use split into ``count`` parcels (in ``folder``)."""
    project = geo.load_project(geo.sample_project_dir())
    spec = project.layers["landuse"]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"landuse-{count}.gpkg"
    subdivide(gpd.read_file(spec.path), count).to_file(path, driver="GPKG")
    return replace(project, layers={**project.layers, "landuse": replace(spec, path=path)})


def render(project: geo.Project | Path, out: Path) -> tuple[Path, float, int]:
    """Run the project and write its map; return the path, the render time and the parcels."""
    result = geo.run(project if isinstance(project, geo.Project) else geo.load_project(project))
    start = time.perf_counter()
    html = webmap.render_result_map(result)
    seconds = time.perf_counter() - start
    out.write_text(html, encoding="utf-8")
    parcels = 0 if result.landuse is None else len(result.landuse)
    return out, seconds, parcels


# Select the land-use theme and wait two frames, so that the parcels are drawn.
LANDUSE_SWITCH_JS = """() => new Promise(resolve => {
  const select = document.getElementById("wm-theme-select");
  if (!Array.from(select.options).some(o => o.value === "landuse")) { resolve(null); return; }
  const start = performance.now();
  select.value = "landuse";
  select.dispatchEvent(new Event("change"));
  requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - start)));
})"""


def _block_network(route: Any) -> None:
    """Let file: and data: requests through; abort anything that would leave the machine."""
    if route.request.url.startswith(("file:", "data:")):
        route.continue_()
    else:
        route.abort()


def measure(page_path: Path, chromium: str, runs: int) -> tuple[list[float], list[float], int, int]:
    """Open the page ``runs`` times.

    Returns the load times (s), the times to switch to the land-use theme and see it
    drawn (s; none without land use), the failed requests and the console errors.
    """
    from playwright.sync_api import sync_playwright

    loads: list[float] = []
    switches: list[float] = []
    seen: Counter[str] = Counter()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
        )
        for _ in range(runs):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("requestfailed", lambda _request: seen.update(["failed"]))
            page.on("console", lambda m: seen.update(["errors"] if m.type == "error" else []))
            page.on("pageerror", lambda _error: seen.update(["errors"]))
            page.route("**/*", _block_network)
            page.goto(page_path.as_uri(), wait_until="load")
            load_ms = page.evaluate(
                "() => { const n = performance.getEntriesByType('navigation')[0];"
                " return n.loadEventEnd || n.loadEventStart; }"
            )
            loads.append(float(load_ms) / 1000.0)
            landuse_ms = page.evaluate(LANDUSE_SWITCH_JS)
            if landuse_ms is not None:
                switches.append(float(landuse_ms) / 1000.0)
            page.close()
        browser.close()
    return loads, switches, seen["failed"], seen["errors"]


def screenshot(html: Path, png: Path, chromium: str, fragment: str) -> None:
    """Save a picture of a map as a reader first sees it (1280 x 860), offline."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.route(
            "**/*",
            lambda route: (
                route.continue_()
                if route.request.url.startswith(("file:", "data:"))
                else route.abort()
            ),
        )
        page.goto(html.as_uri() + fragment, wait_until="load")
        page.wait_for_timeout(300)
        page.screenshot(path=str(png))
        browser.close()


SCALE_BUDGETS: dict[str, tuple[float | None, float | None]] = {
    "S": (None, 0.5),
    "M": (None, None),
    "L": (15.0, 3.0),
}
"""Per benchmark scale: most MB and most render seconds of the map (issue 8), None: no budget."""


def scale_result(scale: str, data: Path, seed: int, cache: Path | None) -> Any:
    """Return the ``geo.run`` result of a benchmark scale (generated and cached on demand)."""
    import generate

    pickled = None if cache is None else cache / f"{scale}-seed{seed}.pkl"
    if pickled is not None and pickled.is_file():
        with pickled.open("rb") as handle:
            return pickle.load(handle)
    folder = generate.cached(generate.SCALES[scale], data, seed)
    if folder is None:
        command = [sys.executable, str(HERE / "generate.py"), "--scale", scale,
                   "--data", str(data), "--seed", str(seed)]  # fmt: skip
        subprocess.run(command, check=True)
        folder = generate.cached(generate.SCALES[scale], data, seed)
        assert folder is not None
    result = geo.run(geo.load_project(folder))
    if pickled is not None:
        pickled.parent.mkdir(parents=True, exist_ok=True)
        with pickled.open("wb") as handle:
            pickle.dump(result, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return result


def landuse_mode(html: str) -> str:
    """Return the land-use mode the large-map rule chose for a map (or "—")."""
    match = re.search(r'<script type="application/json" id="wm-data">(.*?)</script>', html, re.S)
    landuse = json.loads(match.group(1))["landuse"] if match else None
    return str(landuse["mode"]) if landuse else "—"


def measure_scales(args: argparse.Namespace, work: Path) -> bool:
    """Time ``render_result_map`` on each benchmark scale; print a row each; True if in budget."""
    print(f"render_result_map alone, median of {args.repeat}; load: {args.runs} runs, offline")
    print(
        f"{'scale':6} {'parcels':>10} {'land use':>9} {'render s':>9} {'budget':>7}"
        f" {'size MB':>8} {'budget':>7} {'load s':>7}  ok"
    )
    all_ok = True
    for scale in args.scales:
        result = scale_result(scale, args.data, args.seed, args.cache)
        times = []
        html = ""
        for _ in range(args.repeat):
            start = time.perf_counter()
            html = webmap.render_result_map(result)
            times.append(time.perf_counter() - start)
        seconds = statistics.median(times)
        path = work / f"map-{scale}.html"
        path.write_text(html, encoding="utf-8")
        size_mb = path.stat().st_size / 1_000_000
        load, errors = "—", 0
        if args.runs > 0:
            loads, _, failed, errors = measure(path, args.chromium, args.runs)
            load, errors = f"{statistics.median(loads):.2f}", errors + failed
        max_mb, max_s = SCALE_BUDGETS.get(scale, (None, None))
        ok = (
            (max_mb is None or size_mb < max_mb)
            and (max_s is None or seconds < max_s)
            and errors == 0
        )
        all_ok &= ok
        parcels = 0 if result.landuse is None else len(result.landuse)
        print(
            f"{scale:6} {parcels:>10,} {landuse_mode(html):>9} {seconds:>9.2f}"
            f" {'< ' + format(max_s, 'g') if max_s else '—':>7} {size_mb:>8.2f}"
            f" {'< ' + format(max_mb, 'g') if max_mb else '—':>7} {load:>7}"
            f"  {'yes' if ok else 'NO'}"
        )
    return all_ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--large", action="store_true", help="also 60,000 parcels")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--screenshot", type=Path, help="save the sample map's picture here (PNG)")
    parser.add_argument(
        "--view", default="#theme=landuse", help="address fragment of the picture's view"
    )
    parser.add_argument(
        "--scales", nargs="+", choices=sorted(SCALE_BUDGETS), help="benchmark scales instead"
    )
    parser.add_argument("--data", type=Path, default=Path("/tmp/geo-bench"))
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3, help="renders timed per scale")
    parser.add_argument("--cache", type=Path, help="folder of pickled run results to reuse")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="geo-budget-") as tmp:
        work = Path(tmp)
        if args.scales:
            return 0 if measure_scales(args, work) else 1
        budgets = [
            Budget("sample commune (1,120 parcels)", geo.sample_project_dir(), 2.0, 1.0),
            Budget(
                "commune, 10,000 parcels",
                commune_with_parcels(10_000, work / "commune-10k"),
                5.0,
                2.0,
            ),
            Budget("province, 92 units", PROVINCE, 5.0, 1.0),
        ]
        if args.large:
            budgets.append(
                Budget(
                    "commune, 60,000 parcels (aggregated)",
                    commune_with_parcels(60_000, work / "commune-60k"),
                    5.0,
                    None,
                )
            )
        print(f"Chromium: {args.chromium}; {args.runs} runs each; network blocked")
        print(
            f"{'map':40} {'parcels':>8} {'render s':>9} {'size MB':>8} {'budget':>7}"
            f" {'load s (median)':>16} {'budget':>7} {'land use s':>11} {'failed':>7} {'errors':>7}"
            "  ok"
        )
        all_ok = True
        for i, budget in enumerate(budgets):
            path, seconds, parcels = render(budget.project, work / f"map-{i}.html")
            if i == 0 and args.screenshot:
                screenshot(path, args.screenshot, args.chromium, args.view)
            size_mb = path.stat().st_size / 1_000_000
            loads, switches, failed, errors = measure(path, args.chromium, args.runs)
            load = statistics.median(loads)
            switch = f"{statistics.median(switches):.3f}" if switches else "—"
            ok = (
                size_mb < budget.max_mb
                and (budget.max_load_s is None or load < budget.max_load_s)
                and failed == 0
                and errors == 0
            )
            all_ok &= ok
            limit = "—" if budget.max_load_s is None else f"< {budget.max_load_s:g}"
            print(
                f"{budget.name:40} {parcels:>8,} {seconds:>9.2f} {size_mb:>8.2f} "
                f"{'< ' + format(budget.max_mb, 'g'):>7} {load:>16.3f} {limit:>7} {switch:>11} "
                f"{failed:>7} {errors:>7}  {'yes' if ok else 'NO'}"
            )
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
