"""The numpy model agrees with the pure-Python reference, and the agent can use either."""

import dataclasses
import json
import random

import pytest

from krystal import ConfigError, Krystal, KrystalConfig
from krystal.kernel.linear_model import BayesLinear

pytest.importorskip("numpy")

from krystal.agent._numpy_model import NumpyBayesLinear


@pytest.mark.parametrize("forgetting", [1.0, 0.99, 0.95])
def test_numpy_model_matches_the_reference(forgetting: float) -> None:
    rng = random.Random(4)
    fast, reference = NumpyBayesLinear(6, 2.0, forgetting), BayesLinear(6, 2.0, forgetting)
    for step in range(300):
        # The last feature is never excited, so the variance cap (selective forgetting)
        # is exercised whenever forgetting < 1.
        x = [1.0] + [rng.gauss(0.0, 1.0) for _ in range(4)] + [0.0]
        y = 2.0 * x[1] - x[3] + rng.gauss(0.0, 0.1)
        lam = forgetting if step % 7 else None
        error = fast.update(x, y, lam)
        assert error == pytest.approx(reference.update(x, y, lam), rel=1e-6, abs=1e-8)
    assert fast.weights == pytest.approx(reference.weights, rel=1e-6, abs=1e-8)
    for a, b in zip(fast.covariance, reference.covariance):
        assert a == pytest.approx(b, rel=1e-6, abs=1e-8)
    x = [1.0, 0.5, -0.5, 0.2, 0.1, 0.0]
    assert fast.variance(x) == pytest.approx(reference.variance(x), rel=1e-9)
    assert fast.quadratic_form([1, 3], [0.5, -2.0]) == pytest.approx(
        reference.quadratic_form([1, 3], [0.5, -2.0]), rel=1e-9
    )
    # a second form on other positions: nothing of the first one is left behind
    assert fast.quadratic_form([0, 2, 4], [1.0, 0.3, -0.7]) == pytest.approx(
        reference.quadratic_form([0, 2, 4], [1.0, 0.3, -0.7]), rel=1e-9
    )
    fast.inflate(0.5)
    reference.inflate(0.5)
    assert fast.covariance[2][2] == pytest.approx(reference.covariance[2][2], rel=1e-6)


def test_agents_on_both_backends_decide_alike_on_fixed_seed_vectors() -> None:
    rng = random.Random(9)
    steps = [({f"m{i}": rng.uniform(0, 100) for i in range(8)}, rng.random()) for _ in range(80)]
    agents = [Krystal(KrystalConfig(seed=3, backend=b)) for b in ("python", "numpy")]
    for obs, reward in steps:
        python_action, numpy_action = (a.observe(obs).decide() for a in agents)
        assert numpy_action == pytest.approx(python_action, rel=1e-9, abs=1e-12)
        python_td, numpy_td = (a.reward(reward) for a in agents)
        assert numpy_td == pytest.approx(python_td, rel=1e-9, abs=1e-12)


def test_saved_state_moves_between_backends(tmp_path) -> None:
    fast = Krystal(KrystalConfig(seed=5, state_dim=2, action_dim=2, backend="numpy"))
    for step in range(40):
        fast.observe({"a": float(step), "b": 1.0}).decide()
        fast.reward(0.01 * step)
    path = tmp_path / "agent.json"
    fast.save(path)
    document = json.loads(path.read_text())
    document["config"]["backend"] = "python"
    other = tmp_path / "python.json"
    other.write_text(json.dumps(document))
    reference = Krystal.from_file(other)
    obs = {"a": 7.0, "b": 2.0}
    assert reference.observe(obs).decide() == pytest.approx(fast.observe(obs).decide(), rel=1e-9)


def test_unknown_backend_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="backend"):
        KrystalConfig(backend="cuda")


def test_numpy_backend_sizes_its_model_for_rbf_interactions() -> None:
    config = KrystalConfig(seed=2, state_dim=3, action_dim=2, interactions="rbf")
    agents = [Krystal(config), Krystal(dataclasses.replace(config, backend="numpy"))]
    for step in range(30):
        obs = {"a": float(step % 5), "b": 1.0, "c": -float(step)}
        python_action, numpy_action = (k.observe(obs).decide() for k in agents)
        assert numpy_action == pytest.approx(python_action, rel=1e-9, abs=1e-12)
        for k in agents:
            k.reward(0.1 * (step % 3))


@pytest.mark.parametrize("state_dim", [4, 30])
def test_arms_agents_on_both_backends_choose_alike(state_dim: int) -> None:
    # Arms scored from stacked arrays on one side, one model at a time on the other.
    space = {"label": {"type": "choice", "options": ["a", "b", "c", "d"]}}
    agents = [
        Krystal(KrystalConfig(state_dim=state_dim, seed=7, backend=b), space=space)
        for b in ("python", "numpy")
    ]
    rng = random.Random(3)
    for step in range(300):
        obs = {f"m{i}": rng.gauss(i, 1.0 + i) for i in range(state_dim)}
        if step % 50 == 7:
            del obs["m1"]  # a missing metric now and then
        python_action, numpy_action = (a.observe(obs).decide() for a in agents)
        assert numpy_action == python_action
        r = 1.0 if python_action["label"] == ("a" if obs["m0"] > 0.0 else "c") else 0.0
        python_td, numpy_td = (a.reward(r) for a in agents)
        assert numpy_td == pytest.approx(python_td, rel=1e-9, abs=1e-12)
    assert agents[1].get_metrics()["mean_reward"] == agents[0].get_metrics()["mean_reward"]
