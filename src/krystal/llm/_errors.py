"""The LLM layer's exception tree, and the redaction that keeps API keys out of it.

Every error the client raises on purpose is an :class:`LLMError` that knows the
``provider``, the HTTP ``status_code`` (``None`` when no answer came) and the provider's
own ``provider_message``. Adapters build them in ``map_error``; the transport maps httpx's
exceptions in one place. ``retryable`` says whether the transport may try again.

``TimeoutError`` and ``ConnectionError`` also derive from the builtins of the same name, so
``except TimeoutError`` in calling code catches them either way.

>>> err = AuthError("invalid key sk-abcdefghijklmnop", provider="openai", status_code=401)
>>> "sk-abc" in str(err), err.provider, err.status_code
(False, 'openai', 401)
"""

from __future__ import annotations

import builtins
import re

from krystal._errors import KrystalError

# Key shapes of the providers we speak to; values registered at run time are added.
_KEY_PATTERN = re.compile(
    r"(sk-[A-Za-z0-9_\-]{6,}|AIza[0-9A-Za-z_\-]{20,}|(?i:bearer)\s+[A-Za-z0-9._\-]{6,})"
)
_SECRETS: set[str] = set()


def register_secret(value: str) -> None:
    """Remember an API key so that :func:`redact` hides it wherever it shows up."""
    if value and len(value) >= 4:
        _SECRETS.add(value)


def redact(text: str) -> str:
    """``text`` with every known API key and key-shaped token replaced.

    >>> redact("auth failed for sk-proj-1234567890")
    'auth failed for [redacted]'
    """
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "[redacted]")
    return _KEY_PATTERN.sub("[redacted]", text)


class LLMError(KrystalError):
    """Base class of the errors the LLM client raises."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status_code: int | None = None,
        provider_message: str = "",
    ) -> None:
        self.provider = provider
        self.status_code = status_code
        self.provider_message = redact(provider_message)
        super().__init__(redact(message))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({str(self)!r}, provider={self.provider!r}, "
            f"status_code={self.status_code!r})"
        )


class AuthError(LLMError):
    """The API key was missing, wrong or not allowed to use this model (401/403)."""


class RateLimitError(LLMError):
    """Too many requests (429); ``retry_after`` is the wait the provider asked for, seconds."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        provider: str = "",
        status_code: int | None = None,
        provider_message: str = "",
    ) -> None:
        super().__init__(
            message,
            provider=provider,
            status_code=status_code,
            provider_message=provider_message,
        )
        self.retry_after = retry_after


class TimeoutError(LLMError, builtins.TimeoutError):
    """No answer within the connect or read timeout, or the total deadline passed."""

    retryable = True


class ConnectionError(LLMError, builtins.ConnectionError):
    """The server could not be reached, or dropped the connection (mid-stream included)."""

    retryable = True


class BadRequestError(LLMError):
    """The provider rejected the request as malformed (400, 404, 422)."""


class ContextLengthError(BadRequestError):
    """The prompt (plus ``max_tokens``) does not fit the model's context window."""


class ContentFilterError(LLMError):
    """The provider refused the prompt or the answer on content grounds."""


class ServerError(LLMError):
    """The provider failed (5xx, overloaded); worth retrying."""

    retryable = True


class ProviderError(LLMError):
    """The provider answered something that is not its wire format: bad JSON, a cut stream."""


class UnavailableError(LLMError):
    """No provider could be used: auto-detection found none, or the circuit is open."""


def error_for_status(status: int, message: str = "") -> type[LLMError]:
    """The error class a bare HTTP status means, before looking at the body.

    >>> error_for_status(429).__name__, error_for_status(503).__name__
    ('RateLimitError', 'ServerError')
    """
    lowered = message.lower()
    if status in (401, 403):
        return AuthError
    if status == 429:
        return RateLimitError
    if status == 408:
        return TimeoutError
    if status >= 500:
        return ServerError
    if status == 413 or any(
        word in lowered
        for word in ("context length", "context_length", "maximum context", "too long")
    ):
        return ContextLengthError
    if "content filter" in lowered or "content_filter" in lowered or "safety" in lowered:
        return ContentFilterError
    if 400 <= status < 500:
        return BadRequestError
    return ProviderError
