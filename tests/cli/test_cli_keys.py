"""``krystal keys``: create, list and revoke API keys on the service's database."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))

from live_server import LiveServer


def test_create_list_and_revoke(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db = f"sqlite:///{tmp_path / 'keys.db'}"
    made = cli("keys", "create", "--role", "operator", "--name", "ci", "--db", db, "--json")
    assert made.exit_code == 0, made.stderr
    key = json.loads(made.stdout)
    assert key["role"] == "operator" and key["token"].startswith("krs_")
    listed = json.loads(cli("keys", "list", "--db", db, "--json").stdout)["keys"]
    assert [(k["id"], k["name"]) for k in listed] == [(key["id"], "ci")]
    assert "token" not in listed[0] and key["token"] not in (
        tmp_path / "keys.db"
    ).read_bytes().decode("latin-1")
    revoked = cli("keys", "revoke", key["id"], "--db", db)
    assert revoked.exit_code == 0 and key["id"] in revoked.stdout
    assert json.loads(cli("keys", "list", "--db", db, "--json").stdout)["keys"] == []
    everything = json.loads(cli("keys", "list", "--all", "--db", db, "--json").stdout)["keys"]
    assert everything[0]["revoked_at"] is not None
    again = cli("keys", "revoke", key["id"], "--db", db)
    assert again.exit_code == 1 and "no active key" in again.stderr


def test_the_token_is_printed_once_on_stdout(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    made = cli("keys", "create", "--role", "viewer")  # default database: ./krystal.db
    assert made.exit_code == 0
    assert made.stdout.strip().startswith("krs_") and "shown once" in made.stderr
    assert (tmp_path / "krystal.db").exists()
    table = cli("keys", "list")
    assert "viewer" in table.stdout and made.stdout.strip() not in table.stdout


def test_bad_role_and_bad_database_are_usage_errors(cli) -> None:  # type: ignore[no-untyped-def]
    bad = cli("keys", "create", "--role", "root")
    assert bad.exit_code == 2 and "role: expected one of viewer, operator, admin" in bad.stderr
    nowhere = cli("keys", "list", "--db", "mysql://db/x")
    assert nowhere.exit_code == 2 and "SQLite or PostgreSQL" in nowhere.stderr


def test_first_superadmin_key_opens_an_authenticated_server(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import httpx

    db = f"sqlite:///{tmp_path / 'auth.db'}"
    token = json.loads(cli("keys", "create", "--role", "superadmin", "--db", db, "--json").stdout)[
        "token"
    ]
    server = LiveServer(db, tmp_path, auth=True).start()
    try:
        assert httpx.get(server.url + "/v1/agents").status_code == 401
        me = httpx.get(server.url + "/v1/whoami", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["role"] == "superadmin"
    finally:
        server.kill()
