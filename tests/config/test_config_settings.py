"""krystal.config: layered sources, their precedence, provenance and error messages."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from krystal import ConfigError, KrystalConfig
from krystal.config import (
    KrystalSettings,
    explain_settings,
    find_config_file,
    load_settings,
    validate_config_file,
)


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run each test in an empty directory with no KRYSTAL_* variables set."""
    for name in list(os.environ):
        if name.upper().startswith("KRYSTAL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def sources(config_path: str | Path | None = None) -> dict[str, tuple[object, str]]:
    return {key: (value, source) for key, value, source in explain_settings(config_path)}


# -- defaults and discovery -----------------------------------------------------------


def test_defaults_match_the_agent_config_when_nothing_is_set() -> None:
    settings = load_settings()
    agent = KrystalConfig()
    for key in ("state_dim", "action_dim", "learning_rate", "swarm_particles", "seed"):
        assert getattr(settings, key) == getattr(agent, key)
    assert settings.domain == "game"
    assert {source for _, source in sources().values()} == {"default"}


@pytest.mark.parametrize("name", ["krystal.yaml", "krystal.yml"])
def test_yaml_file_in_the_current_directory_is_found(tmp_path: Path, name: str) -> None:
    write(tmp_path / name, "learning_rate: 0.05\nenable_swarm: false\n")
    settings = load_settings()
    assert (settings.learning_rate, settings.enable_swarm) == (0.05, False)
    assert sources()["learning_rate"] == (0.05, name)


def test_toml_file_in_the_current_directory_is_found(tmp_path: Path) -> None:
    write(tmp_path / "krystal.toml", 'domain = "server"\nstate_dim = 12\n')
    assert (load_settings().domain, load_settings().state_dim) == ("server", 12)
    assert sources()["state_dim"] == (12, "krystal.toml")


def test_explicit_path_wins_over_the_discovered_file(tmp_path: Path) -> None:
    write(tmp_path / "krystal.yaml", "seed: 1\n")
    other = write(tmp_path / "elsewhere.toml", "seed = 2\n")
    assert load_settings(other).seed == 2
    assert sources(other)["seed"] == (2, str(other))


def test_two_config_files_in_one_directory_are_an_error(tmp_path: Path) -> None:
    write(tmp_path / "krystal.yaml", "seed: 1\n")
    write(tmp_path / "krystal.toml", "seed = 2\n")
    with pytest.raises(ConfigError, match=r"krystal\.yaml.*krystal\.toml"):
        find_config_file()
    with pytest.raises(ConfigError, match="several config files"):
        load_settings()


def test_missing_explicit_file_and_unknown_suffix_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: config file not found"):
        load_settings(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match=r"unsupported config file type '\.json'"):
        load_settings(write(tmp_path / "krystal.json", "{}"))


# -- precedence: defaults < file < .env < environment ------------------------------------


def test_file_beats_default(tmp_path: Path) -> None:
    write(tmp_path / "krystal.yaml", "learning_rate: 0.2\n")
    assert load_settings().learning_rate == 0.2
    assert sources()["learning_rate"] == (0.2, "krystal.yaml")
    assert sources()["action_dim"] == (4, "default")


def test_dotenv_beats_file(tmp_path: Path) -> None:
    write(tmp_path / "krystal.yaml", "learning_rate: 0.2\nseed: 5\n")
    write(tmp_path / ".env", "KRYSTAL_LEARNING_RATE=0.3\n")
    settings = load_settings()
    assert (settings.learning_rate, settings.seed) == (0.3, 5)
    assert sources()["learning_rate"] == (0.3, ".env")
    assert sources()["seed"] == (5, "krystal.yaml")


def test_environment_beats_dotenv_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "krystal.yaml", "learning_rate: 0.2\nstate_dim: 10\n")
    write(tmp_path / ".env", "KRYSTAL_LEARNING_RATE=0.3\nKRYSTAL_STATE_DIM=11\n")
    monkeypatch.setenv("KRYSTAL_LEARNING_RATE", "0.05")
    settings = load_settings()
    assert (settings.learning_rate, settings.state_dim) == (0.05, 11)
    explained = sources()
    assert explained["learning_rate"] == (0.05, "KRYSTAL_LEARNING_RATE")
    assert explained["state_dim"] == (11, ".env")


def test_environment_names_are_case_insensitive_and_reported_as_spelled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("krystal_seed", "9")
    assert load_settings().seed == 9
    assert sources()["seed"] == (9, "krystal_seed")


def test_empty_environment_value_counts_as_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "krystal.yaml", "seed: 4\n")
    monkeypatch.setenv("KRYSTAL_SEED", "")
    assert load_settings().seed == 4


def test_keyword_arguments_beat_every_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRYSTAL_SEED", "1")
    assert KrystalSettings(seed=2).seed == 2


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rate=st.floats(min_value=1e-6, max_value=1.0, allow_nan=False))
def test_any_valid_learning_rate_survives_the_environment(rate: float) -> None:
    os.environ["KRYSTAL_LEARNING_RATE"] = repr(rate)
    try:
        assert load_settings().learning_rate == rate
    finally:
        del os.environ["KRYSTAL_LEARNING_RATE"]


# -- unknown keys ---------------------------------------------------------------------


def test_unknown_yaml_key_names_file_and_key(tmp_path: Path) -> None:
    write(tmp_path / "krystal.yaml", "learnig_rate: 0.1\n")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "krystal.yaml: learnig_rate: unknown key (did you mean 'learning_rate'?)" in str(
        caught.value
    )


def test_unknown_toml_key_names_file_and_key(tmp_path: Path) -> None:
    write(tmp_path / "krystal.toml", "colour = 'blue'\n")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "krystal.toml: colour: unknown key; valid keys: state_dim" in str(caught.value)


def test_unknown_prefixed_dotenv_key_names_file_and_key(tmp_path: Path) -> None:
    write(tmp_path / ".env", "KRYSTAL_STATE_DIMS=9\n")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert ".env: KRYSTAL_STATE_DIMS: unknown key (did you mean 'state_dim'?)" in str(caught.value)


def test_dotenv_lines_of_other_tools_are_ignored(tmp_path: Path) -> None:
    write(tmp_path / ".env", "DATABASE_URL=sqlite://\nOPENAI_API_KEY=x\nKRYSTAL_SEED=3\n")
    assert load_settings().seed == 3


def test_unknown_krystal_environment_variable_is_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Other layers (the server, the LLM client) read their own KRYSTAL_* variables.
    monkeypatch.setenv("KRYSTAL_SERVER_PORT", "8080")
    assert load_settings().seed is None


# -- invalid values -------------------------------------------------------------------


def test_invalid_yaml_value_names_file_key_value_and_expectation(tmp_path: Path) -> None:
    write(tmp_path / "krystal.yaml", "learning_rate: fast\n")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "krystal.yaml: learning_rate: Input should be a valid number" in message
    assert "got 'fast'" in message


def test_out_of_range_toml_value_names_the_bound(tmp_path: Path) -> None:
    write(tmp_path / "krystal.toml", "state_dim = 0\n")
    with pytest.raises(
        ConfigError, match=r"krystal\.toml: state_dim: .*greater than or equal to 1"
    ):
        load_settings()


def test_invalid_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRYSTAL_ACTION_DIM", "four")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "KRYSTAL_ACTION_DIM: action_dim: Input should be a valid integer" in str(caught.value)
    assert "got 'four'" in str(caught.value)


def test_invalid_dotenv_value_names_dotenv(tmp_path: Path) -> None:
    write(tmp_path / ".env", "KRYSTAL_ENABLE_PHASE=perhaps\n")
    with pytest.raises(ConfigError, match=r"\.env: KRYSTAL_ENABLE_PHASE: .*valid boolean"):
        load_settings()


def test_overridden_bad_value_in_a_lower_source_does_not_matter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "krystal.yaml", "seed: [1, 2]\n")
    monkeypatch.setenv("KRYSTAL_SEED", "7")
    assert load_settings().seed == 7


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    write(tmp_path / "krystal.yaml", "state_dim: -1\nlog_level: loud\nfoo: 1\n")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    for key in ("state_dim", "log_level", "foo"):
        assert f"krystal.yaml: {key}: " in message


def test_unknown_domain_lists_the_presets(tmp_path: Path) -> None:
    from krystal.agent import PRESET_NAMES

    write(tmp_path / "krystal.yaml", "domain: chess\n")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert f"krystal.yaml: domain: unknown domain; expected one of {', '.join(PRESET_NAMES)}" in (
        str(caught.value)
    )
    assert load_settings(write(tmp_path / "ok.yaml", "domain: IoT\n")).domain == "iot"


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("bad.yaml", "a: [1,\n", "could not be read as YAML"),
        ("bad.toml", "a = [\n", "could not be read as TOML"),
        ("list.yaml", "- 1\n- 2\n", "expected a mapping of setting names to values, got list"),
    ],
)
def test_unreadable_files_are_named(tmp_path: Path, name: str, text: str, expected: str) -> None:
    path = write(tmp_path / name, text)
    with pytest.raises(ConfigError, match=f"{name}: {expected}"):
        load_settings(path)


# -- validate_config_file, to_agent_config ----------------------------------------------


def test_validate_config_file_ignores_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "krystal.yaml", "learning_rate: 0.5\n")
    monkeypatch.setenv("KRYSTAL_LEARNING_RATE", "not a number")
    write(tmp_path / ".env", "KRYSTAL_NOPE=1\n")
    assert validate_config_file(path) == []


def test_validate_config_file_lists_each_problem(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", 'learning_rate = 2.0\nenable_phase = "maybe"\nx = 1\n')
    issues = validate_config_file(path)
    assert [(issue.source, issue.key) for issue in issues] == [
        (str(path), "learning_rate"),
        (str(path), "enable_phase"),
        (str(path), "x"),
    ]
    assert str(issues[0]).startswith(f"{path}: learning_rate: Input should be less than")


def test_to_agent_config_builds_the_agent_config(tmp_path: Path) -> None:
    write(tmp_path / "krystal.yaml", "state_dim: 6\nlearning_rate: 0.25\nseed: 11\n")
    config = load_settings().to_agent_config()
    assert isinstance(config, KrystalConfig)
    assert (config.state_dim, config.learning_rate, config.seed) == (6, 0.25, 11)


def test_agent_overrides_hold_only_explicit_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "krystal.yaml", "learning_rate: 0.25\ndomain: ml\n")
    monkeypatch.setenv("KRYSTAL_SEED", "3")
    assert load_settings().agent_overrides() == {"learning_rate": 0.25, "seed": 3}


def test_import_krystal_does_not_import_pydantic() -> None:
    import subprocess
    import sys

    import krystal

    code = "import sys, krystal, krystal.config; print('pydantic' in sys.modules)"
    source_root = str(Path(krystal.__file__).parent.parent)
    env = {**os.environ, "PYTHONPATH": source_root}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "False"


def test_backend_and_horizon_reach_the_agent_and_are_validated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KRYSTAL_BACKEND", "numpy")
    (tmp_path / "krystal.yaml").write_text("horizon: 6\n")
    config = load_settings().to_agent_config()
    assert (config.backend, config.horizon) == ("numpy", 6)
    (tmp_path / "krystal.yaml").write_text("backend: cuda\n")
    monkeypatch.delenv("KRYSTAL_BACKEND")
    with pytest.raises(ConfigError, match="backend"):
        load_settings()
