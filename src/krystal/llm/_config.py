"""``LLMConfig``: which provider, which model, and how patient to be.

Checked when built (a bad value raises :class:`krystal.ConfigError` naming the field, the
value and what was expected), so the client can trust it. ``api_key`` never shows in the
repr. :meth:`LLMConfig.from_env` reads the providers' usual environment variables; in
``provider="auto"`` mode the client reads them per provider while detecting.
:meth:`LLMConfig.from_settings` starts from the project's ``llm_*`` settings instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import NamedTuple

from krystal._errors import ConfigError
from krystal.llm._errors import register_secret

PROVIDERS = ("openai", "lmstudio", "vllm", "ollama", "anthropic", "gemini", "mock")
LOCAL_PROVIDERS = ("ollama", "lmstudio", "vllm")
API_PROVIDERS = ("openai", "anthropic", "gemini")


class EnvNames(NamedTuple):
    """The environment variables of one provider (``host`` may also be a base URL)."""

    host: str
    model: str
    api_key: str | None


ENV = {
    "ollama": EnvNames("OLLAMA_HOST", "OLLAMA_MODEL", None),
    "lmstudio": EnvNames("LMSTUDIO_HOST", "LMSTUDIO_MODEL", None),
    "vllm": EnvNames("VLLM_HOST", "VLLM_MODEL", None),
    "openai": EnvNames("OPENAI_BASE_URL", "OPENAI_MODEL", "OPENAI_API_KEY"),
    "anthropic": EnvNames("ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL", "ANTHROPIC_API_KEY"),
    "gemini": EnvNames("GEMINI_BASE_URL", "GEMINI_MODEL", "GEMINI_API_KEY"),
}

#: used when neither the config nor the environment names a model; local servers
#: otherwise use the first model they list
DEFAULT_MODELS = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-haiku-4-5",
    "gemini": "gemini-2.5-flash",
    "mock": "mock",
}


@dataclass
class LLMConfig:
    """Settings of an :class:`~krystal.llm.LLMClient`.

    ``timeout`` is the total deadline of one call in seconds, retries included;
    ``connect_timeout`` bounds each connection attempt and ``probe_timeout`` each
    auto-detection probe.

    >>> LLMConfig(provider="openai", api_key="sk-secret-0123456789")
    LLMConfig(provider='openai', model='', api_key='***', base_url='', ...)
    >>> LLMConfig(temperature=3)
    Traceback (most recent call last):
    ...
    krystal._errors.ConfigError: LLMConfig.temperature: got 3, expected a number in [0, 2]
    """

    provider: str = "auto"
    model: str = ""
    api_key: str = field(default="", repr=False)
    base_url: str = ""
    max_tokens: int = 1024
    temperature: float = 0.7
    timeout: float = 60
    retry_count: int = 3
    retry_delay: float = 1.0
    stream: bool = False
    connect_timeout: float = 10.0
    probe_timeout: float = 0.5

    def __post_init__(self) -> None:
        self.provider = str(self.provider).lower()
        if self.provider not in ("auto", *PROVIDERS):
            _bad("provider", self.provider, f"one of auto, {', '.join(PROVIDERS)}")
        _check(
            isinstance(self.max_tokens, int) and self.max_tokens > 0,
            self,
            "max_tokens",
            "a positive integer",
        )
        _check(
            _number(self.temperature) and 0 <= self.temperature <= 2,
            self,
            "temperature",
            "a number in [0, 2]",
        )
        for name in ("timeout", "connect_timeout", "probe_timeout"):
            _check(
                _number(getattr(self, name)) and getattr(self, name) > 0,
                self,
                name,
                "a positive number of seconds",
            )
        _check(
            isinstance(self.retry_count, int) and self.retry_count >= 0,
            self,
            "retry_count",
            "an integer >= 0",
        )
        _check(
            _number(self.retry_delay) and self.retry_delay >= 0,
            self,
            "retry_delay",
            "a number of seconds >= 0",
        )
        if self.base_url and not self.base_url.startswith(("http://", "https://")):
            _bad("base_url", self.base_url, "an http:// or https:// URL")
        register_secret(self.api_key)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{f.name}={'***' if f.name == 'api_key' and self.api_key else getattr(self, f.name)!r}"
            for f in fields(self)
        )
        return f"LLMConfig({shown})"

    @classmethod
    def from_env(
        cls, provider: str | None = None, environ: Mapping[str, str] | None = None, **kw: object
    ) -> LLMConfig:
        """A config from the environment.

        The provider is ``provider``, else ``KRYSTAL_LLM_PROVIDER``, else ``auto``; for a
        named provider its model, key and host come from its variables (``OPENAI_API_KEY``,
        ``OLLAMA_HOST``…). Keyword arguments override what the environment says.

        >>> LLMConfig.from_env(environ={"KRYSTAL_LLM_PROVIDER": "ollama",
        ...                             "OLLAMA_HOST": "gpu-box", "OLLAMA_MODEL": "qwen3"})
        LLMConfig(provider='ollama', model='qwen3', ..., base_url='http://gpu-box:11434', ...)
        """
        environ = os.environ if environ is None else environ
        name = (provider or environ.get("KRYSTAL_LLM_PROVIDER") or "auto").lower()
        values: dict[str, object] = {"provider": name}
        if name in ENV:
            settings = env_settings(name, environ)
            values.update(
                model=settings.model, api_key=settings.api_key, base_url=settings.base_url
            )
        values.update(kw)
        return cls(**values)  # type: ignore[arg-type]

    @classmethod
    def from_settings(cls, settings: object, **overrides: object) -> LLMConfig:
        """A config from Krystal's layered settings (:func:`krystal.config.load_settings`).

        The ``llm_*`` settings give provider, model, base URL, max tokens, temperature and
        timeout (precedence there: defaults < config file < ``.env`` < ``KRYSTAL_LLM_*``);
        ``overrides`` that are not None beat them (command-line flags); overriding the
        provider drops the model and base URL the settings gave another one. The API key is
        never a setting: for a named provider it comes from its own variable
        (``OPENAI_API_KEY``…); in ``auto`` mode, from the variable of the provider chosen.

        >>> from krystal.config import KrystalSettings
        >>> settings = KrystalSettings(llm_provider="vllm", llm_model="qwen3", llm_timeout=5)
        >>> LLMConfig.from_settings(settings, model="llama3", temperature=None)
        LLMConfig(provider='vllm', model='llama3', ..., timeout=5.0, ...)
        """
        values: dict[str, object] = {
            "provider": getattr(settings, "llm_provider", "auto"),
            "model": getattr(settings, "llm_model", ""),
            "base_url": getattr(settings, "llm_base_url", ""),
            "max_tokens": getattr(settings, "llm_max_tokens", 1024),
            "temperature": getattr(settings, "llm_temperature", 0.7),
            "timeout": getattr(settings, "llm_timeout", 60),
        }
        given = {key: value for key, value in overrides.items() if value is not None}
        if str(given.get("provider", values["provider"])).lower() != values["provider"]:
            # model and base URL in the settings belong to the provider named there
            values.update(model="", base_url="")
        values.update(given)
        name = str(values["provider"]).lower()
        if name in ENV and not values.get("api_key"):
            values["api_key"] = env_settings(name).api_key
        return cls(**values)  # type: ignore[arg-type]


class Settings(NamedTuple):
    """Where one provider is and what to use there, as the environment says."""

    base_url: str
    model: str
    api_key: str


def env_settings(name: str, environ: Mapping[str, str] | None = None) -> Settings:
    """The base URL, model and key the environment gives provider ``name`` ('' if unset).

    >>> env_settings("lmstudio", {"LMSTUDIO_HOST": "localhost:1234"}).base_url
    'http://localhost:1234/v1'
    """
    environ = os.environ if environ is None else environ
    names = ENV[name]
    host = environ.get(names.host, "").strip()
    return Settings(
        base_url=normalise_host(name, host) if host else "",
        model=environ.get(names.model, "").strip(),
        api_key=environ.get(names.api_key, "").strip() if names.api_key else "",
    )


def normalise_host(name: str, host: str) -> str:
    """A full base URL from what users put in ``*_HOST`` (``gpu-box``, ``:11434``…)."""
    if "://" not in host:
        host = "http://" + host
    scheme, _, rest = host.partition("://")
    netloc, _, path = rest.partition("/")
    if netloc.startswith(":"):
        netloc = "localhost" + netloc
    if netloc.startswith("0.0.0.0"):
        netloc = "127.0.0.1" + netloc[7:]
    if ":" not in netloc and name in LOCAL_PROVIDERS:
        netloc += {"ollama": ":11434", "lmstudio": ":1234", "vllm": ":8000"}[name]
    path = path.rstrip("/")
    if not path and name in ("lmstudio", "vllm"):
        path = "v1"
    return f"{scheme}://{netloc}" + (f"/{path}" if path else "")


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check(ok: bool, config: LLMConfig, name: str, expected: str) -> None:
    if not ok:
        _bad(name, getattr(config, name), expected)


def _bad(name: str, value: object, expected: str) -> None:
    raise ConfigError(f"LLMConfig.{name}: got {value!r}, expected {expected}")
