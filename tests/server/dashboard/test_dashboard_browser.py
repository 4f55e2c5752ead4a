"""The dashboard in a real browser (Debian's Chromium) against ``krystal serve`` on loopback.

Screenshots of each step go to test-artifacts/dashboard/.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_server import LiveServer

from krystal.storage import Storage

pytestmark = pytest.mark.slow

WAIT_MS = 15_000  # live refreshes come every second; a loaded CI machine may lag


def _make_keys(db: str) -> dict[str, tuple[str, str]]:
    storage = Storage(db)
    try:
        made = {}
        for name, role in (("root", "superadmin"), ("watcher", "viewer")):
            key, token = storage.create_key(name, role)
            made[name] = (key.id, token)
        return made
    finally:
        storage.close()


def _series_lengths(page: Any, test_id: str) -> list[int]:
    # What the chart in the browser holds now (NiceGUI's getElement gives the component).
    return page.evaluate(
        """(testId) => {
            const el = document.querySelector(`[data-testid=${testId}]`);
            const chart = getElement(el.id.slice(1)).chart;
            return chart.getOption().series.map((s) => s.data.length);
        }""",
        test_id,
    )


def _wait_for_points(page: Any, test_id: str, count: int) -> None:
    page.wait_for_function(
        """([testId, count]) => {
            const el = document.querySelector(`[data-testid=${testId}]`);
            const chart = el && getElement(el.id.slice(1))?.chart;
            const series = chart && chart.getOption().series;
            return !!series && series.length > 0 && series[0].data.length === count;
        }""",
        arg=[test_id, count],
        timeout=WAIT_MS,
    )


def _log_in(page: Any, base: str, token: str) -> None:
    page.goto(base + "/")
    page.get_by_label("API key").wait_for()
    assert page.url.startswith(base + "/login")
    page.get_by_label("API key").fill(token)
    page.get_by_role("button", name="Log in").click()


def test_dashboard_login_live_agent_and_keys(
    tmp_path: Path, serve: Callable[..., LiveServer], browser: Any, screenshots: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'krystal.db'}"
    keys = _make_keys(db)
    root = keys["root"][1]
    server = serve(db, auth=True)
    api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {root}"}, timeout=30)
    created = api.post("/v1/agents", json={"name": "autoscaler", "preset": "server"})
    assert created.status_code == 201, created.text

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()

    # A wrong key is refused with a clear message and no way in.
    _log_in(page, server.url, "krs_not-a-real-key")
    error = page.get_by_test_id("login-error")
    error.get_by_text("not valid").wait_for(timeout=WAIT_MS)
    page.screenshot(path=screenshots / "01-login-wrong-key.png")
    page.goto(server.url + "/")
    page.get_by_label("API key").wait_for()
    assert "/login" in page.url

    # The right key opens the overview, with the agent listed.
    page.get_by_label("API key").fill(root)
    page.get_by_role("button", name="Log in").click()
    table = page.get_by_test_id("agents-table")
    table.get_by_role("link", name="autoscaler").wait_for(timeout=WAIT_MS)
    assert page.get_by_test_id("whoami").inner_text() == "root · superadmin"
    page.screenshot(path=screenshots / "02-overview.png", full_page=True)
    page.get_by_test_id("tab-approvals").click()
    page.get_by_text("Not available yet.").first.wait_for()
    page.get_by_test_id("tab-providers").click()
    page.get_by_text("status of each configured LLM provider").wait_for()
    page.get_by_text("Agents", exact=True).first.click()

    # The agent page, empty at first.
    table.get_by_role("link", name="autoscaler").click()
    page.get_by_test_id("chart-reward").wait_for(timeout=WAIT_MS)
    assert page.url == server.url + "/agents/autoscaler"
    _wait_for_points(page, "chart-reward", 0)
    assert page.get_by_test_id("stat-decisions").inner_text() == "0"

    # Events posted through the API show up without a reload.
    rng = random.Random(4)
    rewards = []
    for _ in range(12):
        decision = api.post(
            "/v1/agents/autoscaler/decide", json={"observation": {"rps": rng.random()}}
        )
        assert decision.status_code == 200, decision.text
        reward = round(rng.random(), 3)
        rewards.append(reward)
        answer = api.post(
            "/v1/agents/autoscaler/rewards",
            json={"decision_id": decision.json()["decision_id"], "reward": reward},
        )
        assert answer.status_code == 200, answer.text
    last_id = decision.json()["decision_id"]
    _wait_for_points(page, "chart-reward", 12)
    _wait_for_points(page, "chart-actions", 12)
    assert _series_lengths(page, "chart-actions") == [12, 12]  # replicas and concurrency
    decisions = page.get_by_test_id("decisions-table")
    decisions.get_by_text(last_id).wait_for(timeout=WAIT_MS)
    first_row = decisions.locator("tbody tr").first
    assert f"{rewards[-1]:.3f}" in first_row.inner_text()
    assert decisions.locator("tbody tr").count() == 12
    assert page.get_by_test_id("stat-decisions").inner_text() == "12"
    page.screenshot(path=screenshots / "03-agent-live.png", full_page=True)

    # Keys: create one (its token is shown once and works on the API), then revoke it.
    page.get_by_test_id("nav-keys").click()
    page.get_by_label("Label").wait_for(timeout=WAIT_MS)
    page.get_by_label("Label").fill("ci-runner")
    page.get_by_label("Role").click()
    page.get_by_role("option", name="operator").click()
    page.get_by_role("button", name="Create key").click()
    token = page.get_by_test_id("new-token").inner_text(timeout=WAIT_MS).strip()
    assert token.startswith("krs_")
    page.get_by_test_id("keys-table").get_by_text("ci-runner").wait_for(timeout=WAIT_MS)
    page.screenshot(path=screenshots / "04-key-created.png", full_page=True)
    as_ci = {"Authorization": f"Bearer {token}"}
    ci_decide = httpx.post(
        server.url + "/v1/agents/autoscaler/decide", json={"observation": {"rps": 0.5}},
        headers=as_ci, timeout=30,
    )  # fmt: skip
    assert ci_decide.status_code == 200, ci_decide.text
    listed = {k["name"]: k["role"] for k in api.get("/v1/keys").json()["keys"]}
    assert listed["ci-runner"] == "operator"

    page.get_by_test_id("revoke-ci-runner").click()
    page.get_by_role("button", name="Revoke", exact=True).last.click()
    page.get_by_test_id("keys-table").get_by_text("ci-runner").wait_for(
        state="detached", timeout=WAIT_MS
    )
    page.get_by_text("Key 'ci-runner' revoked.").wait_for(timeout=WAIT_MS)
    page.get_by_test_id("confirm-revoke").wait_for(state="detached", timeout=WAIT_MS)
    page.screenshot(path=screenshots / "05-key-revoked.png", full_page=True)
    assert page.get_by_test_id("new-token").count() == 0  # the revoked token is gone too
    refused = httpx.get(server.url + "/v1/agents", headers=as_ci, timeout=30)
    assert refused.status_code == 401
    assert "ci-runner" not in {k["name"] for k in api.get("/v1/keys").json()["keys"]}
    context.close()


def test_viewer_cannot_manage_keys_and_a_revoked_key_is_logged_out(
    tmp_path: Path, serve: Callable[..., LiveServer], browser: Any, screenshots: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'krystal.db'}"
    keys = _make_keys(db)
    server = serve(db, auth=True)
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    _log_in(page, server.url, keys["watcher"][1])
    page.get_by_test_id("agents-table").wait_for(timeout=WAIT_MS)
    assert page.get_by_test_id("whoami").inner_text() == "watcher · viewer"
    assert page.get_by_test_id("nav-keys").count() == 0

    page.goto(server.url + "/keys")
    page.get_by_test_id("forbidden").wait_for(timeout=WAIT_MS)
    assert "needs the admin role" in page.get_by_test_id("forbidden").inner_text()
    assert page.get_by_label("Label").count() == 0
    page.screenshot(path=screenshots / "06-viewer-forbidden.png")

    # Revoking the key in use (here through the API) ends the browser's session too.
    page.goto(server.url + "/")
    page.get_by_test_id("agents-table").wait_for(timeout=WAIT_MS)
    revoked = httpx.delete(
        f"{server.url}/v1/keys/{keys['watcher'][0]}",
        headers={"Authorization": f"Bearer {keys['root'][1]}"},
        timeout=30,
    )
    assert revoked.status_code == 200, revoked.text
    page.get_by_test_id("login-expired").wait_for(timeout=WAIT_MS)
    assert "/login" in page.url
    page.screenshot(path=screenshots / "07-revoked-session.png")
    context.close()
