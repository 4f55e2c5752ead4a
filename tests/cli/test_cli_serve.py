"""``krystal serve``: options, the loopback rule and the startup line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))

from live_server import LiveServer


def test_help_lists_the_options(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("serve", "--help")
    assert result.exit_code == 0
    for option in ("--host", "--port", "--db", "--reload", "--auth"):
        assert option in result.stdout


def test_a_public_address_without_auth_is_refused(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("serve", "--host", "0.0.0.0")
    assert result.exit_code == 2
    assert "refusing to listen on 0.0.0.0 without authentication" in result.stderr
    assert "--auth" in result.stderr


def test_a_bad_database_url_is_a_usage_error(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("serve", "--db", "mysql://db/x")
    assert result.exit_code == 2 and "db: expected a SQLite or PostgreSQL URL" in result.stderr


def test_serve_says_where_the_dashboard_and_docs_are(tmp_path: Path) -> None:
    import httpx

    server = LiveServer(f"sqlite:///{tmp_path / 'k.db'}", tmp_path).start()
    try:
        assert httpx.get(server.url + "/docs").status_code == 200
        output = server.output()
    finally:
        server.stop()
    assert f"dashboard {server.url}/" in output and f"API docs {server.url}/docs" in output
    assert "auth off" in output


def test_serve_refuses_a_database_another_service_is_serving(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db = f"sqlite:///{tmp_path / 'k.db'}"
    server = LiveServer(db, tmp_path).start()
    try:
        assert server.process is not None
        result = cli("serve", "--db", db, "--port", "1")
        assert result.exit_code == 1
        assert f"already being served by process {server.process.pid}" in result.stderr
        assert "another database" in result.stderr
    finally:
        server.stop()
    unreachable = cli("serve", "--db", "postgresql://nobody@127.0.0.1:1/none")
    assert unreachable.exit_code == 1 and "db: cannot open" in unreachable.stderr
