"""Fixtures of the service tests: see live_server.py."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed")

from live_server import db_url, postgres, serve

__all__ = ["db_url", "postgres", "serve"]
