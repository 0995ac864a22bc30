"""Headless Chromium for the explorer's browser tests: Debian's /usr/bin/chromium (scripts/test
installs it; nothing is downloaded), driven by Playwright."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import playwright.sync_api as playwright

CHROMIUM = "/usr/bin/chromium"
#: Screenshots of the last run, for a person to look at.
SHOTS = Path("/tmp/explorer-shots")


@contextmanager
def chromium() -> Iterator[playwright.Browser]:
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield b
        b.close()


@contextmanager
def strict_page(browser: playwright.Browser) -> Iterator[playwright.Page]:
    """A fresh page that fails the test on any console error or warning, or uncaught error."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, color_scheme="light")
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    yield page
    context.close()
    assert problems == []


def shot(page: playwright.Page, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    SHOTS.mkdir(exist_ok=True)
    shutil.copy(path, SHOTS / path.name)
