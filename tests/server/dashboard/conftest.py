"""Fixtures of the dashboard tests: Debian's Chromium driven by Playwright."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("nicegui", reason="the server extra is not installed")
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

CHROMIUM = "/usr/bin/chromium"
# Flags from DESIGN.md: headless, no sandbox (root in CI), and no calls home.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "dashboard"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium (never a browser downloaded by Playwright).

    Module-scoped: Playwright's sync API keeps an event loop running on the main thread
    while it is open, so it must be closed before later tests call ``asyncio.run()``.
    """
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} not found: scripts/system_deps.sh installs the chromium package")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def screenshots() -> Path:
    """The folder for this run's screenshots (test-artifacts/dashboard, ignored by git)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
