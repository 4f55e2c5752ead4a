"""Lazy imports of optional dependencies that fail with an actionable message."""

import importlib
from types import ModuleType

from krystal._errors import MissingExtraError


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming the extra to install.

    >>> require("json", "cli").__name__
    'json'
    >>> require("no_such_module_xyz", "cli")
    Traceback (most recent call last):
    ...
    krystal._errors.MissingExtraError: this feature needs ... "krystal-sdk[cli]"
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        if exc.name is not None and exc.name.split(".")[0] != top:
            raise
        raise MissingExtraError(
            f"this feature needs {top!r}, which is not installed: "
            f'pip install "krystal-sdk[{extra}]"'
        ) from exc
