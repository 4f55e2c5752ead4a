"""The dashboard shares the app with the API without changing how the API answers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
from live_server import LiveServer

from krystal.server.dashboard._mount import is_dashboard_path


def test_dashboard_at_root_and_the_api_unchanged(
    tmp_path: Path, serve: Callable[..., LiveServer]
) -> None:
    server = serve(f"sqlite:///{tmp_path / 'krystal.db'}")
    client = httpx.Client(base_url=server.url, timeout=30)

    for path in ("/", "/agents/default", "/keys", "/login"):
        page = client.get(path)
        assert page.status_code == 200, (path, page.status_code)
        assert page.headers["content-type"].startswith("text/html"), path
        assert "<title>Krystal" in page.text, path
    # no auth: the login page says no key is needed instead of asking for one
    assert "no key is needed" in client.get("/login").text

    # API paths keep FastAPI's JSON answers: no HTML page for an unknown path or method
    missing = client.get("/v1/no-such-thing")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}
    wrong_method = client.put("/health")
    assert wrong_method.status_code == 405 and wrong_method.json()["detail"]
    assert client.get("/v1/agents").json()["agents"][0]["name"] == "default"
    assert client.get("/docs").status_code == 200

    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if is_dashboard_path(p)], sorted(paths)
    assert "/v1/agents/{name}/decide" in paths
