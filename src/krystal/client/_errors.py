"""Errors of the remote client."""

from __future__ import annotations

from krystal._errors import KrystalError


class RemoteError(KrystalError):
    """The service answered with an error (``status``) or could not be reached (status 0)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}" if status else detail)
        self.status = status
        self.detail = detail
