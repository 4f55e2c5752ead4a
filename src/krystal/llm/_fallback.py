"""The fallback chain: which errors move a call to the next provider, and the record of it.

``LLMClient(config, fallbacks=[...])`` tries ``config`` first, then each fallback config
in order (for example a local server, then an API). A call moves on when the provider
looks unable to answer *right now*: it cannot be reached or reached in time
(:class:`~krystal.llm.ConnectionError`, :class:`~krystal.llm.TimeoutError`), it keeps
failing (:class:`~krystal.llm.ServerError` after the transport's retries), it is
rate-limiting us (:class:`~krystal.llm.RateLimitError`), or it is unavailable
(:class:`~krystal.llm.UnavailableError`: its circuit breaker is open, auto-detection
found nothing, its API key is missing). Errors about the request itself (auth, bad
request, context too long, content filtered, a broken answer) are raised at once: they
would fail the same way everywhere, or need a person to look.

Each switch is a :class:`Fallback`, on ``Response.fallbacks`` (and the final stream
event) for that call and in ``get_metrics()[provider]["fallbacks"]`` for the client.
A stream only falls back before its first event; after that the caller holds text from
one provider, and an error is raised as is.

>>> from krystal.llm._errors import AuthError, ServerError
>>> should_fall_back(ServerError("503")), should_fall_back(AuthError("bad key"))
(True, False)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from krystal.llm._errors import (
    ConnectionError,
    LLMError,
    RateLimitError,
    ServerError,
    TimeoutError,
    UnavailableError,
)

#: the errors that move a call to the next provider of the chain
FALLBACK_ERRORS: tuple[type[LLMError], ...] = (
    ConnectionError,
    TimeoutError,
    ServerError,
    RateLimitError,
    UnavailableError,
)


def should_fall_back(error: BaseException) -> bool:
    """Whether ``error`` means "try the next provider" rather than "stop"."""
    return isinstance(error, FALLBACK_ERRORS)


@dataclass(frozen=True)
class Fallback:
    """One switch: from which provider, to which, and why (the error's type and text)."""

    from_provider: str
    to_provider: str
    reason: str
    error_type: str
    at: float = field(default_factory=time.time)

    @classmethod
    def after(cls, error: LLMError, from_provider: str, to_provider: str) -> Fallback:
        return cls(from_provider, to_provider, str(error), type(error).__name__)
