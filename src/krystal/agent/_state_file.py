"""The saved-agent file format, version 1, and its atomic writer and strict reader.

A file is one JSON object::

    {
      "format": "krystal-agent",      # identifies the file
      "version": 1,                   # this layout; other versions are refused
      "krystal_version": "0.1.0",     # the package that wrote it (information only)
      "config": {...},                # KrystalConfig.to_dict()
      "space": {...} | null,          # the named action space spec, if any
      "metrics": ["fps", ...],        # observation names in feature order
      "learner": {...},               # the kernel learner's complete state
      "agent": {...}                  # agent-level counters and the PID state
    }

Writes go to a temporary file in the same directory, are flushed to disk, then renamed
over the target, so a crash leaves either the old file or the new one, never half.
"""

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from krystal._errors import StateFileError

FORMAT = "krystal-agent"
VERSION = 1


def write_state(path: str | os.PathLike[str], document: dict[str, Any]) -> None:
    """Atomically write ``document`` as the agent file at ``path``."""
    target = Path(path)
    payload = json.dumps({"format": FORMAT, "version": VERSION, **document}, allow_nan=False)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix="." + target.name + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_state(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check an agent file; raise :class:`StateFileError` on any defect."""
    target = Path(path)
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise StateFileError(f"{target}: no such agent file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise StateFileError(f"{target}: cannot read the agent file: {exc}") from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateFileError(
            f"{target}: not a valid agent file (corrupt or truncated JSON at line "
            f"{exc.lineno}, column {exc.colno})"
        ) from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise StateFileError(f"{target}: not a Krystal agent file (expected format {FORMAT!r})")
    version = document.get("version")
    if version != VERSION:
        raise StateFileError(
            f"{target}: agent file version {version!r} is not supported; "
            f"this Krystal reads version {VERSION}"
        )
    for key in ("config", "space", "metrics", "learner", "agent"):
        if key not in document:
            raise StateFileError(f"{target}: agent file is missing the {key!r} section")
    return document
