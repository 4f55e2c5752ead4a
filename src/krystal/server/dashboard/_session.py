"""Who is looking at the dashboard: an API key per browser session, checked like the API.

A browser logs in with an API key once; the key is held in the server's memory against
the browser's session cookie (never written to disk, gone when the server restarts) and
checked again through :meth:`Service.authenticate` on every page and every refresh, so a
revoked key loses the dashboard as quickly as it loses the API. With authentication off
every browser is the local superadmin, as every API request is.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from krystal.server._auth import LOCAL, Principal
from krystal.storage import role_rank

if TYPE_CHECKING:
    from krystal.server._service import Service


class Sessions:
    """Browser session id → API key, in memory.

    >>> sessions = Sessions()
    >>> sessions.log_in("browser-1", "krs_token"); sessions.token("browser-1")
    'krs_token'
    >>> sessions.log_out("browser-1"); sessions.token("browser-1") is None
    True
    """

    def __init__(self) -> None:
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    def log_in(self, session_id: str, token: str) -> None:
        with self._lock:
            self._tokens[session_id] = token

    def log_out(self, session_id: str) -> None:
        with self._lock:
            self._tokens.pop(session_id, None)

    def token(self, session_id: str) -> str | None:
        with self._lock:
            return self._tokens.get(session_id)


def check_key(service: Service, token: str) -> Principal | None:
    """The principal of an active key, or None (unknown or revoked)."""
    key = service.authenticate(token.strip())
    return None if key is None else Principal(key.role, key.id, key.name)


def principal_of(service: Service, sessions: Sessions, session_id: str) -> Principal | None:
    """Who this browser session acts as; None when it must log in (again)."""
    if not service.settings.auth:
        return LOCAL
    token = sessions.token(session_id)
    if token is None:
        return None
    principal = check_key(service, token)
    if principal is None:
        sessions.log_out(session_id)
    return principal


def allows(principal: Principal, role: str) -> bool:
    """Whether ``principal`` may do what needs ``role`` (the API's rule).

    >>> allows(Principal("viewer", "k1", "ci"), "admin"), allows(LOCAL, "admin")
    (False, True)
    """
    return role_rank(principal.role) >= role_rank(role)
