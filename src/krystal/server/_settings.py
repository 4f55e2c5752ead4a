"""``ServerSettings``: what ``krystal serve`` and :func:`create_app` are configured with."""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from krystal._errors import ConfigError

if TYPE_CHECKING:
    from krystal.config import KrystalSettings

DEFAULT_DB = "sqlite:///krystal.db"


@dataclass(frozen=True)
class ServerSettings:
    """Settings of the service, checked when built.

    ``reward_wait`` is how many seconds a decision waits for its reward; after that it
    gets ``default_reward`` (logged like any reward, with source ``default``) and a late
    reward for it is answered 404. ``checkpoint_interval`` is how often (seconds) each
    agent's state is checkpointed; a restart replays only the events after the last one.
    ``max_body`` is the largest request body, in bytes, the service reads (a larger one is
    answered 413 without being read).

    >>> ServerSettings(reward_wait=30).reward_wait
    30
    >>> ServerSettings(host="0.0.0.0").check_bind()
    Traceback (most recent call last):
    ...
    krystal._errors.ConfigError: host: refusing to listen on 0.0.0.0 ...
    """

    db: str = DEFAULT_DB
    host: str = "127.0.0.1"
    port: int = 8000
    auth: bool = False
    reward_wait: float = 60.0
    default_reward: float = 0.0
    checkpoint_interval: float = 30.0
    default_agent: str = "default"
    max_body: int = 1_048_576

    def __post_init__(self) -> None:
        if (
            isinstance(self.port, bool)
            or not isinstance(self.port, int)
            or not 0 <= self.port < 65536
        ):
            raise ConfigError(f"port: expected an integer in 0..65535, got {self.port!r}")
        for name in ("reward_wait", "checkpoint_interval"):
            value = getattr(self, name)
            if not _number(value) or value <= 0:
                raise ConfigError(f"{name}: expected a positive number of seconds, got {value!r}")
        if not _number(self.default_reward):
            raise ConfigError(
                f"default_reward: expected a finite number, got {self.default_reward!r}"
            )
        if (
            isinstance(self.max_body, bool)
            or not isinstance(self.max_body, int)
            or (self.max_body < 1024)
        ):
            raise ConfigError(
                f"max_body: expected a number of bytes >= 1024, got {self.max_body!r}"
            )
        if not isinstance(self.db, str) or not self.db:
            raise ConfigError(f"db: expected a database URL, got {self.db!r}")

    @property
    def loopback(self) -> bool:
        """Whether ``host`` only accepts connections from this machine."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def check_bind(self) -> None:
        """Refuse a non-loopback address without authentication (anyone could drive agents)."""
        if not self.loopback and not self.auth:
            raise ConfigError(
                f"host: refusing to listen on {self.host} without authentication: anyone "
                "who can reach it could drive and delete agents. Enable API keys with "
                "--auth (create one with `krystal keys create --role superadmin`), or "
                "bind to 127.0.0.1."
            )

    @classmethod
    def from_settings(cls, settings: KrystalSettings, **overrides: object) -> ServerSettings:
        """The ``server_*`` fields of the layered settings, with ``overrides`` on top."""
        values: dict[str, object] = {
            "db": settings.server_db,
            "host": settings.server_host,
            "port": settings.server_port,
            "auth": settings.server_auth,
            "reward_wait": settings.server_reward_wait,
            "default_reward": settings.server_default_reward,
            "max_body": settings.server_max_body,
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)  # type: ignore[arg-type]


def _number(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )
