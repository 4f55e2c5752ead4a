"""Errors of the service layer, each with the HTTP status it is answered with."""

from __future__ import annotations

from krystal._errors import (
    CallOrderError,
    ConfigError,
    InputError,
    KrystalError,
    MissingExtraError,
)
from krystal.storage import CommitError


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


#: The errors answered as ``{"detail": message}`` with a status of their own (a
#: :class:`ServiceError` carries its own); anything else is a bug, answered 500.
KNOWN_ERRORS: tuple[type[Exception], ...] = (
    ServiceError,
    CallOrderError,
    InputError,
    ConfigError,
    MissingExtraError,  # e.g. an agent with backend="numpy" where numpy is missing
    CommitError,  # the writer process has stopped: nothing more can be stored
)
_STATUS = (
    (CallOrderError, 409),
    (InputError, 422),
    (ConfigError, 422),
    (MissingExtraError, 422),
    (CommitError, 503),
)


def status_of(exc: Exception) -> int:
    """The HTTP status an error of the service is answered with.

    >>> status_of(NotFoundError("agent: none")), status_of(InputError("reward: bad"))
    (404, 422)
    """
    if isinstance(exc, ServiceError):
        return exc.status
    return next((code for kind, code in _STATUS if isinstance(exc, kind)), 500)


#: Seconds a client should wait before retrying a 503 (the ``Retry-After`` header): the
#: service's upkeep, which starts a new writer process and reloads agents whose change
#: was not stored, runs at least this often.
RETRY_AFTER_SECONDS = 1


def retry_headers(status: int) -> dict[str, str]:
    """The extra headers of an error answer: ``Retry-After`` on a 503.

    >>> retry_headers(503), retry_headers(404)
    ({'retry-after': '1'}, {})
    """
    return {"retry-after": str(RETRY_AFTER_SECONDS)} if status == 503 else {}
