"""Access control: an API key (``Authorization: Bearer …`` or ``X-API-Key``) and its role.

Reads need ``viewer``, decide/reward ``operator``, agent and key management ``admin``;
each role may do what the roles below it may (see :data:`krystal.storage.ROLES`). With
authentication off (the default, for a service bound to loopback) every request acts
as a local superadmin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, NamedTuple

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from krystal.storage import role_rank

_bearer = HTTPBearer(auto_error=False, description="An API key from `krystal keys create`.")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The same key, as a header.")


class Principal(NamedTuple):
    """Who is calling: the key's role, id and label (``local`` when auth is off)."""

    role: str
    key_id: str | None
    name: str


LOCAL = Principal("superadmin", None, "local")


def requires(role: str) -> Callable[..., Awaitable[Principal]]:
    """A FastAPI dependency that admits keys of ``role`` or above."""
    needed = role_rank(role)

    async def check(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        header: Annotated[str | None, Depends(_header)],
    ) -> Principal:
        service = request.app.state.service
        if not service.settings.auth:
            return LOCAL
        token = bearer.credentials if bearer is not None else header
        if not token:
            raise HTTPException(
                401,
                "authentication required: send an API key as 'Authorization: Bearer <key>' "
                "or 'X-API-Key: <key>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        key = service.authenticate(token)
        if key is None:
            raise HTTPException(
                401, "invalid or revoked API key", headers={"WWW-Authenticate": "Bearer"}
            )
        if role_rank(key.role) < needed:
            raise HTTPException(403, f"this needs the {role} role; the key has {key.role}")
        return Principal(key.role, key.id, key.name)

    return check
