"""Layered settings for the ``krystal`` command and services (needs the ``cli`` extra).

Values come, lowest priority first, from the field defaults, a config file
(``krystal.yaml``, ``krystal.yml`` or ``krystal.toml`` in the current directory, or an
explicit path), a ``.env`` file in the current directory, and ``KRYSTAL_*`` environment
variables. Unknown keys and invalid values raise :class:`krystal.ConfigError` with a
message naming the file (or variable), the key, the value and what was expected.

pydantic-settings is imported on first use of this package's names, so ``import
krystal`` stays free of it; without the extra, that first use raises
:class:`krystal.MissingExtraError` saying ``pip install "krystal-sdk[cli]"``.
"""

from typing import TYPE_CHECKING, Any

from krystal._imports import require

if TYPE_CHECKING:
    from krystal.config._settings import (
        CONFIG_FILE_NAMES,
        KrystalSettings,
        SettingsIssue,
        explain_settings,
        find_config_file,
        load_settings,
        validate_config_file,
    )

__all__ = [
    "CONFIG_FILE_NAMES",
    "KrystalSettings",
    "SettingsIssue",
    "explain_settings",
    "find_config_file",
    "load_settings",
    "validate_config_file",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        require("pydantic_settings", "cli")
        from krystal.config import _settings

        value = getattr(_settings, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'krystal.config' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
