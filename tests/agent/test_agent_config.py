"""KrystalConfig: validation of every field, dict round trip."""

import dataclasses
import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from krystal import ConfigError, KrystalConfig

BAD = [
    ("state_dim", 0), ("state_dim", 4097), ("state_dim", 2.0), ("state_dim", True),
    ("state_dim", "8"),
    ("action_dim", 0), ("action_dim", 257), ("action_dim", None),
    ("swarm_particles", 1), ("swarm_particles", 1001), ("swarm_particles", 5.5),
    ("horizon", 0), ("horizon", 65), ("horizon", False),
    ("backend", "cuda"), ("backend", None), ("backend", 1),
    ("interactions", "cubic"), ("interactions", None),
    ("policy", "bandit"), ("policy", None),
    ("enable_phase", 1), ("enable_phase", "yes"),
    ("enable_swarm", 0), ("enable_swarm", None),
    ("auto_reward", "false"),
    ("seed", 1.5), ("seed", True), ("seed", "7"),
    ("learning_rate", 0.0), ("learning_rate", 1.01), ("learning_rate", -0.1),
    ("learning_rate", math.nan), ("learning_rate", True), ("learning_rate", "0.1"),
    ("gamma", -0.01), ("gamma", 1.0), ("gamma", math.nan),
    ("trace_decay", -0.01), ("trace_decay", 1.5),
    ("forgetting", 0.89), ("forgetting", 1.01),
    ("prior_variance", 0.0), ("prior_variance", 2e6), ("prior_variance", math.inf),
    ("locality", -0.1), ("locality", 10.5), ("locality", math.nan),
    ("pid_kp", -1.0), ("pid_kp", math.inf), ("pid_kp", math.nan),
    ("pid_ki", -0.1), ("pid_ki", 1e10),
    ("pid_kd", -2.0), ("pid_kd", "1"),
    ("pid_output_min", math.nan), ("pid_output_min", "low"), ("pid_output_min", True),
    ("pid_output_max", math.nan), ("pid_output_max", None),
]  # fmt: skip


@pytest.mark.parametrize(("field", "value"), BAD, ids=[f"{f}={v!r}" for f, v in BAD])
def test_each_field_is_validated_and_named(field: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=f"^{field}: expected "):
        KrystalConfig(**{field: value})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("state_dim", 1), ("state_dim", 4096), ("action_dim", 256), ("swarm_particles", 2),
        ("horizon", 64), ("seed", None), ("seed", -5), ("seed", 2**70), ("learning_rate", 1.0),
        ("learning_rate", 1), ("gamma", 0.0), ("gamma", 0.999), ("trace_decay", 0.0),
        ("trace_decay", 1.0), ("forgetting", 0.9), ("forgetting", 1.0), ("prior_variance", 1e6),
        ("pid_kp", 0.0), ("pid_kd", 1e9),
    ],
)  # fmt: skip
def test_boundary_values_are_accepted(field: str, value: Any) -> None:
    assert getattr(KrystalConfig(**{field: value}), field) == value


def test_output_limits_must_be_ordered() -> None:
    with pytest.raises(
        ConfigError, match=r"^pid_output_max: expected a number above pid_output_min"
    ):
        KrystalConfig(pid_output_min=1.0, pid_output_max=1.0)
    with pytest.raises(ConfigError, match=r"^pid_output_max"):
        KrystalConfig(pid_output_min=math.inf)
    config = KrystalConfig(pid_output_min=-1.0, pid_output_max=2.0)
    assert (config.pid_output_min, config.pid_output_max) == (-1.0, 2.0)


def test_message_names_value_received() -> None:
    with pytest.raises(
        ConfigError, match=r"^state_dim: expected an integer in \[1, 4096\], got 0$"
    ):
        KrystalConfig(state_dim=0)


def test_config_is_frozen() -> None:
    config = KrystalConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 3  # type: ignore[misc]


def test_defaults() -> None:
    config = KrystalConfig()
    assert (config.state_dim, config.action_dim, config.seed, config.horizon) == (8, 4, None, 1)
    assert config.pid_output_min == -math.inf and config.pid_output_max == math.inf


@pytest.mark.parametrize(
    "config",
    [
        KrystalConfig(),
        KrystalConfig(seed=3, state_dim=2, pid_output_min=-5.0),
        KrystalConfig(pid_output_max=7.5, forgetting=0.95, auto_reward=True),
        KrystalConfig(pid_output_min=-1.0, pid_output_max=1.0, enable_phase=False),
    ],
)
def test_dict_round_trip_through_json(config: KrystalConfig) -> None:
    data = config.to_dict()
    text = json.dumps(data, allow_nan=False)  # infinite limits must not leak as Infinity
    assert KrystalConfig.from_dict(json.loads(text)) == config
    assert set(data) == {f.name for f in dataclasses.fields(KrystalConfig)}


def test_infinite_limits_are_written_as_strings() -> None:
    data = KrystalConfig().to_dict()
    assert (data["pid_output_min"], data["pid_output_max"]) == ("-inf", "inf")


@given(
    seed=st.one_of(st.none(), st.integers(-(2**40), 2**40)),
    state_dim=st.integers(1, 4096),
    gamma=st.floats(0.0, 0.999),
    limit=st.one_of(st.just(math.inf), st.floats(0.0, 1e6)),
)
def test_round_trip_property(seed: Any, state_dim: int, gamma: float, limit: float) -> None:
    config = KrystalConfig(
        seed=seed,
        state_dim=state_dim,
        gamma=gamma,
        pid_output_min=-limit - 1.0,
        pid_output_max=limit,
    )
    assert KrystalConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_from_dict_rejects_unknown_keys_and_non_mappings() -> None:
    with pytest.raises(
        ConfigError, match=r"^state_dims: unknown setting; expected one of action_dim, "
    ):
        KrystalConfig.from_dict({"state_dims": 3})
    with pytest.raises(ConfigError, match=r"^config: expected a mapping"):
        KrystalConfig.from_dict([("state_dim", 3)])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^pid_output_min: expected a number"):
        KrystalConfig.from_dict({"pid_output_min": "minus lots"})
    with pytest.raises(ConfigError, match=r"^horizon"):
        KrystalConfig.from_dict({"horizon": 0})
    assert KrystalConfig.from_dict({}) == KrystalConfig()


def test_every_field_has_validation_cases() -> None:
    assert {field for field, _ in BAD} == {f.name for f in dataclasses.fields(KrystalConfig)}
