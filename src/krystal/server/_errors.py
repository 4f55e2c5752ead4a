"""Errors of the service layer, each with the HTTP status it is answered with."""

from __future__ import annotations

from krystal._errors import KrystalError


class ServiceError(KrystalError):
    """A request the service cannot carry out; ``status`` is the HTTP status to answer."""

    status = 500


class NotFoundError(ServiceError):
    """No such agent, decision or key (or the decision expired)."""

    status = 404


class ConflictError(ServiceError):
    """The request contradicts what is stored (a name taken, a reward already different)."""

    status = 409


class UnavailableError(ServiceError):
    """The database could not be written; nothing was acknowledged."""

    status = 503
