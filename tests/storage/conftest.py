"""Fixtures of the storage tests: see tests/server/live_server.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))

from live_server import db_url, postgres, serve

__all__ = ["db_url", "postgres", "serve"]
