"""The exception tree shared by every Krystal layer.

Every error Krystal raises on purpose derives from :class:`KrystalError`, so a caller
can catch them all in one place. Messages name the field, the value received and what
was expected.
"""


class KrystalError(Exception):
    """Base class of all errors raised by Krystal."""


class InputError(KrystalError, ValueError):
    """A value passed to Krystal was malformed; nothing was changed.

    >>> from krystal import InputError
    >>> issubclass(InputError, ValueError)
    True
    """


class ConfigError(KrystalError, ValueError):
    """A configuration value or file was invalid."""


class StateFileError(KrystalError):
    """A saved agent file could not be read: corrupt, truncated or a foreign version."""


class MissingExtraError(KrystalError, ImportError):
    """An optional dependency is not installed; the message says which extra to install."""


class CallOrderError(KrystalError, RuntimeError):
    """A method was called out of order (e.g. ``decide()`` before any ``observe()``)."""
