"""``KrystalSettings``: the agent settings plus CLI options, from four layered sources.

Priority, lowest first: field defaults < config file < ``.env`` < ``KRYSTAL_*`` environment
variables (keyword arguments to ``KrystalSettings(...)`` beat them all). Every layer is one
of pydantic-settings' own sources; this module only picks the file, filters the ``.env``
file down to Krystal's keys and turns pydantic's errors into messages that say where the
bad value came from. Because it inspects the same source objects the settings are built
from, :func:`explain_settings` reports where each value really came from.

>>> import os, tempfile
>>> from pathlib import Path
>>> folder = Path(tempfile.mkdtemp())
>>> _ = (folder / "krystal.yaml").write_text("learning_rate: 0.05\\nseed: 3\\n")
>>> settings = load_settings(folder / "krystal.yaml")
>>> settings.learning_rate, settings.seed, settings.state_dim
(0.05, 3, 8)
>>> _ = (folder / "bad.toml").write_text('learning_rate = "fast"\\nlearnig_rate = 0.1\\n')
>>> for issue in validate_config_file(folder / "bad.toml"):
...     print(issue.key, "|", issue.message)
learning_rate | Input should be a valid number, unable to parse string as a number; got 'fast'
learnig_rate | unknown key (did you mean 'learning_rate'?)
"""

from __future__ import annotations

import contextvars
import difflib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
    YamlConfigSettingsSource,
)

from krystal._errors import ConfigError
from krystal._imports import require

if TYPE_CHECKING:
    from krystal.agent import KrystalConfig

ENV_PREFIX = "KRYSTAL_"
ENV_FILE = ".env"
CONFIG_FILE_NAMES = ("krystal.yaml", "krystal.yml", "krystal.toml")
DEFAULT_SOURCE = "default"

# Kept in step with krystal.llm._config.PROVIDERS (a test checks it); not imported from
# there so that reading settings never touches the LLM package.
_LLM_PROVIDERS = ("openai", "lmstudio", "vllm", "ollama", "anthropic", "gemini", "mock")

# The settings that map one-to-one onto ``krystal.KrystalConfig``.
_AGENT_FIELDS = (
    "state_dim",
    "action_dim",
    "learning_rate",
    "swarm_particles",
    "enable_phase",
    "enable_swarm",
    "auto_reward",
    "seed",
    "horizon",
    "backend",
)


class SettingsIssue(NamedTuple):
    """One problem found in the settings: where it came from, which key, what is wrong."""

    source: str
    key: str
    message: str

    def __str__(self) -> str:
        if not self.key:
            return f"{self.source}: {self.message}"
        return f"{self.source}: {self.key}: {self.message}"


class _FileIssueError(ConfigError):
    """A config file that could not be read at all (syntax, encoding, not a mapping)."""

    def __init__(self, issue: SettingsIssue) -> None:
        super().__init__(str(issue))
        self.issue = issue


class _Selection(NamedTuple):
    """Which sources a settings build reads: the config file and whether .env/env count."""

    config_file: Path | None
    use_environment: bool


# ``settings_customise_sources`` is a classmethod with a fixed signature, so the file to
# read reaches it through a context variable set around each build.
_SELECTION: contextvars.ContextVar[_Selection | None] = contextvars.ContextVar(
    "krystal_settings_selection", default=None
)


class KrystalSettings(BaseSettings):
    """Agent settings and CLI options, read from file, ``.env`` and ``KRYSTAL_*`` variables.

    >>> KrystalSettings(learning_rate=0.2).learning_rate
    0.2
    >>> KrystalSettings(state_dim=0)
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for KrystalSettings
    ...
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=ENV_FILE,
        env_ignore_empty=True,
        extra="forbid",
    )

    # Bounds mirror krystal.KrystalConfig's checks, so a file is rejected here with its
    # name in the message rather than later by the agent.
    state_dim: int = Field(
        default=8, ge=1, le=4096, description="State features the agent observes."
    )
    action_dim: int = Field(default=4, ge=1, le=256, description="Action outputs, each in [0, 1].")
    learning_rate: float = Field(default=0.1, gt=0.0, le=1.0, description="TD learning rate.")
    swarm_particles: int = Field(default=5, ge=2, le=1000, description="Particles in the swarm.")
    enable_phase: bool = Field(default=True, description="Adapt exploration with the phase engine.")
    enable_swarm: bool = Field(default=True, description="Use particle swarm in optimize().")
    auto_reward: bool = Field(default=False, description="Derive rewards from observed metrics.")
    seed: int | None = Field(default=None, description="Seed for reproducible runs; None: random.")
    horizon: int = Field(default=1, ge=1, le=64, description="Steps over which an action acts.")
    backend: Literal["python", "numpy"] = Field(
        default="python", description="Reward-model backend (numpy needs the fast extra)."
    )
    domain: str = Field(default="game", description="Preset domain used by `krystal demo`.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="WARNING", description="Logging level of the krystal logger."
    )

    # The LLM client (``krystal llm``, ``LLMConfig.from_settings``). Defaults mirror
    # krystal.llm.LLMConfig. API keys are deliberately not settings: they come only from
    # the providers' own environment variables (OPENAI_API_KEY...), never from a file.
    llm_provider: str = Field(
        default="auto",
        description="LLM provider: auto, or one of " + ", ".join(_LLM_PROVIDERS) + ".",
    )
    llm_model: str = Field(
        default="", description="LLM model; empty: the provider's *_MODEL variable or default."
    )
    llm_base_url: str = Field(
        default="",
        description="Base URL of a named LLM provider; empty: its *_HOST/*_BASE_URL or default.",
    )
    llm_max_tokens: int = Field(default=1024, ge=1, description="Most tokens an answer may use.")
    llm_temperature: float = Field(default=0.7, ge=0.0, le=2.0, description="Sampling temperature.")
    llm_timeout: float = Field(
        default=60.0, gt=0.0, description="Deadline of one LLM call in seconds, retries included."
    )
    # LLMClient.from_settings: the optional parts of the client, all off by default
    llm_fallbacks: str = Field(
        default="",
        description="LLM providers tried in order when llm_provider cannot answer, "
        "comma-separated (a list in a file).",
    )
    llm_rate_limit: float = Field(
        default=0.0, ge=0.0, description="Most LLM requests per second of one client; 0: none."
    )
    llm_tokens_per_minute: float = Field(
        default=0.0, ge=0.0, description="Most LLM tokens per minute of one client; 0: none."
    )
    llm_cache: Literal["off", "memory", "sqlite"] = Field(
        default="off", description="Response cache for temperature-0 answers: off, memory, sqlite."
    )
    llm_cache_path: str = Field(
        default=".krystal-llm-cache.sqlite", description="File of the sqlite response cache."
    )
    llm_prices: dict[str, tuple[float, float]] = Field(
        default_factory=dict,
        description="Model (or prefix) -> [input, output] USD per million tokens, over the "
        "built-in price table.",
    )

    # The service (``krystal serve``, ``krystal keys``); see krystal.server.ServerSettings.
    server_host: str = Field(default="127.0.0.1", description="Address `krystal serve` binds.")
    server_port: int = Field(default=8000, ge=0, le=65535, description="Port of `krystal serve`.")
    server_db: str = Field(
        default="sqlite:///krystal.db", description="Service database URL (SQLite or PostgreSQL)."
    )
    server_auth: bool = Field(default=False, description="Require API keys on the service.")
    server_reward_wait: float = Field(
        default=60.0, gt=0.0, description="Seconds a decision waits for its reward."
    )
    server_default_reward: float = Field(
        default=0.0, allow_inf_nan=False, description="Reward given when the wait runs out."
    )
    server_max_body: int = Field(
        default=1_048_576,
        ge=1024,
        description="Largest request body the service reads, in bytes (larger: 413).",
    )

    @field_validator("domain", mode="before")
    @classmethod
    def _known_domain(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        from krystal.agent import PRESET_NAMES

        name = value.strip().lower()
        if name not in PRESET_NAMES:
            raise ValueError(f"unknown domain; expected one of {', '.join(PRESET_NAMES)}")
        return name

    @field_validator("llm_provider", mode="before")
    @classmethod
    def _known_provider(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        name = value.strip().lower()
        if name not in ("auto", *_LLM_PROVIDERS):
            raise ValueError(
                f"unknown LLM provider; expected auto or one of {', '.join(_LLM_PROVIDERS)}"
            )
        return name

    @field_validator("llm_fallbacks", mode="before")
    @classmethod
    def _known_fallbacks(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):  # a YAML/TOML list in a config file
            value = ",".join(str(name) for name in value)
        if not isinstance(value, str):
            return value
        names = [part.lower() for part in value.replace(",", " ").split()]
        # the mock answers anything: as a silent stand-in for a real model it would hide
        # an outage, so it is only ever used when chosen as llm_provider
        allowed = [name for name in _LLM_PROVIDERS if name != "mock"]
        for name in names:
            if name not in allowed:
                raise ValueError(
                    f"unknown provider {name!r}; expected some of {', '.join(allowed)}"
                )
        return ",".join(names)

    @field_validator("llm_base_url", mode="before")
    @classmethod
    def _http_url(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        url = value.strip()
        if url and not url.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return url

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        selection = _SELECTION.get() or _Selection(find_config_file(), use_environment=True)
        layered = _layered_sources(settings_cls, selection)
        return (init_settings, *(source for _, source in layered))

    def agent_overrides(self) -> dict[str, Any]:
        """The agent settings given explicitly by a file, ``.env`` or the environment.

        Callers that start from a preset's own configuration apply only these, so an
        unset field keeps the preset's value rather than the generic default.
        """
        return {
            name: getattr(self, name) for name in _AGENT_FIELDS if name in self.model_fields_set
        }

    def to_agent_config(self) -> KrystalConfig:
        """The agent part of these settings as a :class:`krystal.KrystalConfig`."""
        from krystal.agent import KrystalConfig

        return KrystalConfig.from_dict({name: getattr(self, name) for name in _AGENT_FIELDS})


class _KrystalDotEnvSource(DotEnvSettingsSource):
    """The ``.env`` file, keeping only Krystal's keys.

    A ``.env`` file is shared with other tools, so lines without the ``KRYSTAL_`` prefix
    are none of our business; a prefixed key that is not a setting stays in the data so
    that ``extra="forbid"`` rejects it.
    """

    def __call__(self) -> dict[str, Any]:
        prefix = ENV_PREFIX.lower()
        fields = self.settings_cls.model_fields
        return {
            key: value
            for key, value in super().__call__().items()
            if key in fields or key.lower().startswith(prefix)
        }


class _CheckedFileMixin:
    """Turns a config file that does not parse into a mapping into a clear ConfigError."""

    _syntax_name = "config"

    def _parse(self, file_path: Path) -> Any:
        raise NotImplementedError

    def _read_file(self, file_path: Path) -> dict[str, Any]:
        try:
            data = self._parse(file_path)
        except (OSError, ValueError) as exc:  # tomllib and unicode errors are ValueErrors
            raise _FileIssueError(
                SettingsIssue(
                    str(file_path), "", f"could not be read as {self._syntax_name}: {exc}"
                )
            ) from exc
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise _FileIssueError(
                SettingsIssue(
                    str(file_path),
                    "",
                    f"expected a mapping of setting names to values, got {type(data).__name__}",
                )
            )
        return data


class _YamlSource(_CheckedFileMixin, YamlConfigSettingsSource):
    _syntax_name = "YAML"

    def _parse(self, file_path: Path) -> Any:
        yaml = require("yaml", "cli")
        try:
            return YamlConfigSettingsSource._read_file(self, file_path)
        except yaml.YAMLError as exc:
            raise ValueError(str(exc)) from exc


class _TomlSource(_CheckedFileMixin, TomlConfigSettingsSource):
    _syntax_name = "TOML"

    def _parse(self, file_path: Path) -> Any:
        return TomlConfigSettingsSource._read_file(self, file_path)


def find_config_file(directory: str | Path | None = None) -> Path | None:
    """The config file in ``directory`` (default: the current one), or None if there is none.

    Raises :class:`krystal.ConfigError` when more than one of ``krystal.yaml``,
    ``krystal.yml`` and ``krystal.toml`` exist, rather than silently picking one.
    """
    folder = Path(directory) if directory is not None else Path()
    found = [folder / name for name in CONFIG_FILE_NAMES if (folder / name).is_file()]
    if len(found) > 1:
        names = ", ".join(str(path) for path in found)
        raise ConfigError(f"found several config files ({names}); keep one or pass --config")
    return found[0] if found else None


def _explicit_file(config_path: str | Path | None) -> Path | None:
    if config_path is None:
        return find_config_file()
    path = Path(config_path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    return path


def _file_source(settings_cls: type[BaseSettings], path: Path) -> PydanticBaseSettingsSource:
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return _YamlSource(settings_cls, yaml_file=path)
    if suffix == ".toml":
        return _TomlSource(settings_cls, toml_file=path)
    raise ConfigError(
        f"{path}: unsupported config file type {suffix!r}; expected .yaml, .yml or .toml"
    )


def _layered_sources(
    settings_cls: type[BaseSettings], selection: _Selection
) -> list[tuple[str, PydanticBaseSettingsSource]]:
    """(label, source) pairs, highest priority first; label ``"env"`` means os.environ."""
    layered: list[tuple[str, PydanticBaseSettingsSource]] = []
    if selection.use_environment:
        layered.append(("env", EnvSettingsSource(settings_cls)))
        layered.append((ENV_FILE, _KrystalDotEnvSource(settings_cls)))
    if selection.config_file is not None:
        layered.append(
            (str(selection.config_file), _file_source(settings_cls, selection.config_file))
        )
    return layered


def _env_var_name(key: str) -> str:
    """The environment variable, as spelled in os.environ, that sets ``key``."""
    wanted = f"{ENV_PREFIX}{key}".upper()
    return next((name for name in os.environ if name.upper() == wanted), wanted)


def _provenance(selection: _Selection) -> dict[str, tuple[str, str]]:
    """key -> (source label, key as written there), from the source that wins for each key."""
    found: dict[str, tuple[str, str]] = {}
    for label, source in reversed(_layered_sources(KrystalSettings, selection)):
        for key in source():
            if label == "env":
                found[key] = (_env_var_name(key), key)
            elif label == ENV_FILE:
                # Settings are keyed by field name; unknown keys keep their prefix.
                known = key in KrystalSettings.model_fields
                found[key] = (label, f"{ENV_PREFIX}{key}".upper() if known else key.upper())
            else:
                found[key] = (label, key)
    return found


def _issue(error: Any, provenance: dict[str, tuple[str, str]]) -> SettingsIssue:
    loc = error.get("loc") or ("",)
    key = str(loc[0])
    source, written = provenance.get(key, (DEFAULT_SOURCE, key))
    if error["type"] == "extra_forbidden":
        bare = key.lower().removeprefix(ENV_PREFIX.lower()) if source == ENV_FILE else key
        if "api_key" in bare.lower():
            return SettingsIssue(
                source,
                written,
                "API keys are not settings; set the provider's own environment variable "
                "(OPENAI_API_KEY, ANTHROPIC_API_KEY or GEMINI_API_KEY) instead",
            )
        close = difflib.get_close_matches(bare, list(KrystalSettings.model_fields), n=1)
        if close:
            return SettingsIssue(source, written, f"unknown key (did you mean {close[0]!r}?)")
        fields = list(KrystalSettings.model_fields)
        if source == ENV_FILE:
            fields = [f"{ENV_PREFIX}{name}".upper() for name in fields]
        return SettingsIssue(source, written, f"unknown key; valid keys: {', '.join(fields)}")
    message = str(error["msg"]).removeprefix("Value error, ")
    return SettingsIssue(source, written, f"{message}; got {error.get('input')!r}")


def _build(selection: _Selection) -> tuple[KrystalSettings | None, list[SettingsIssue]]:
    token = _SELECTION.set(selection)
    try:
        return KrystalSettings(), []
    except _FileIssueError as exc:
        return None, [exc.issue]
    except ValidationError as exc:
        provenance = _provenance(selection)
        return None, [_issue(error, provenance) for error in exc.errors()]
    finally:
        _SELECTION.reset(token)


def load_settings(config_path: str | Path | None = None) -> KrystalSettings:
    """Build the settings from defaults, the config file, ``.env`` and the environment.

    ``config_path`` names the config file; without it, ``krystal.yaml``, ``krystal.yml``
    or ``krystal.toml`` in the current directory is used if present. Raises
    :class:`krystal.ConfigError` listing every problem as ``source: key: message``.
    """
    settings, issues = _build(_Selection(_explicit_file(config_path), use_environment=True))
    if settings is None:
        raise ConfigError("invalid settings:\n" + "\n".join(f"  {issue}" for issue in issues))
    return settings


def validate_config_file(path: str | Path) -> list[SettingsIssue]:
    """Every problem in one config file on its own (no ``.env``, no environment); [] if valid."""
    try:
        _settings, issues = _build(_Selection(_explicit_file(path), use_environment=False))
    except ConfigError as exc:
        return [SettingsIssue(str(path), "", str(exc).removeprefix(f"{Path(path)}: "))]
    return issues


def explain_settings(config_path: str | Path | None = None) -> list[tuple[str, Any, str]]:
    """``(key, value, source)`` for every setting, source being where the value came from.

    The source is ``"default"``, the config file's path, ``".env"`` or the name of the
    environment variable, found by reading each source, highest priority first.
    """
    selection = _Selection(_explicit_file(config_path), use_environment=True)
    settings, issues = _build(selection)
    if settings is None:
        raise ConfigError("invalid settings:\n" + "\n".join(f"  {issue}" for issue in issues))
    provenance = _provenance(selection)
    return [
        (key, getattr(settings, key), provenance.get(key, (DEFAULT_SOURCE, key))[0])
        for key in KrystalSettings.model_fields
    ]
