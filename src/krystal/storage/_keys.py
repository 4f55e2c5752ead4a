"""API keys: roles, token generation and the one-way hash that is stored.

Tokens are 256 random bits from :mod:`secrets`. A plain SHA-256 of such a token is a
safe thing to store: slow password hashes (bcrypt, scrypt) exist to stop guessing of
*low-entropy* secrets, and nobody can enumerate 2**256 tokens; a fast hash also keeps the
per-request check cheap. The token itself is shown once, at creation, and never stored.
"""

from __future__ import annotations

import hashlib
import secrets

from krystal._errors import InputError

#: The roles, lowest first; each one may do everything the ones before it may.
ROLES = ("viewer", "operator", "admin", "superadmin")
TOKEN_PREFIX = "krs_"


def role_rank(role: str) -> int:
    """Position of ``role`` in :data:`ROLES` (higher may do more).

    >>> role_rank("viewer") < role_rank("operator") < role_rank("admin") < role_rank("superadmin")
    True
    """
    try:
        return ROLES.index(role)
    except ValueError:
        raise InputError(f"role: expected one of {', '.join(ROLES)}, got {role!r}") from None


def new_token() -> tuple[str, str]:
    """A fresh ``(key id, token)``; the id is public (listing, revoking), the token secret.

    >>> key_id, token = new_token()
    >>> len(key_id), token.startswith("krs_"), len(hash_token(token))
    (12, True, 64)
    """
    return secrets.token_hex(6), TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The stored form of ``token``: its SHA-256 in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
