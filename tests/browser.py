"""Headless Debian Chromium for the tests, with every network request refused.

Two ways in: :func:`dump_dom` runs the ``chromium`` command and returns the DOM after the
page settled; :func:`open_map` loads the page in a Playwright page (the Python package
drives Debian's binary through ``executable_path``; no browser is ever downloaded) and
records console errors, failed and blocked requests and dialogs, so that a test can click,
type and read the page.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HAVE_PLAYWRIGHT = importlib.util.find_spec("playwright") is not None
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
needs_playwright = pytest.mark.skipif(
    CHROMIUM is None or not HAVE_PLAYWRIGHT,
    reason="chromium or the playwright package is not installed",
)
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


def dump_dom(html: str, tmp_path: Path) -> str:
    """Load the page in headless Chromium with the network blocked; return the DOM."""
    page = tmp_path / "map.html"
    page.write_text(html, encoding="utf-8")
    assert CHROMIUM is not None
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--proxy-server=127.0.0.1:9",
            "--virtual-time-budget=3000",
            "--window-size=1280,900",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout


def launch_chromium() -> Any:
    """Start Playwright and Debian's Chromium, headless; return ``(playwright, browser)``."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM is not None
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    )
    return playwright, browser


@dataclass
class OpenedMap:
    """A map opened in a page, with what went wrong while it loaded and ran."""

    page: Any
    errors: list[str] = field(default_factory=list)
    """Console errors and uncaught exceptions."""
    failed: list[str] = field(default_factory=list)
    """Requests that failed (aborted ones included)."""
    blocked: list[str] = field(default_factory=list)
    """Requests that tried to leave the page (anything not file:, data:, blob:)."""
    dialogs: list[str] = field(default_factory=list)
    """alert(), confirm() or prompt() raised by the page (dismissed)."""


def open_map(
    browser: Any,
    html: str,
    tmp_path: Path,
    *,
    fragment: str = "",
    size: tuple[int, int] = (1280, 900),
) -> OpenedMap:
    """Write ``html`` to disk and open it from there with the network blocked.

    Every request that is not to a local scheme is aborted and recorded in
    ``blocked``; console errors, failed requests and dialogs are recorded too.
    Returns once the page's load event has fired.
    """
    path = tmp_path / "map.html"
    path.write_text(html, encoding="utf-8")
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    opened = OpenedMap(page)
    page.on("console", lambda m: opened.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: opened.errors.append(str(e)))
    page.on("requestfailed", lambda r: opened.failed.append(r.url))

    def on_dialog(dialog: Any) -> None:
        opened.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if url.startswith(LOCAL_SCHEMES):
            request_route.continue_()
        else:
            opened.blocked.append(url)
            request_route.abort()

    page.route("**/*", route)
    page.goto(path.as_uri() + fragment, wait_until="load")
    return opened
