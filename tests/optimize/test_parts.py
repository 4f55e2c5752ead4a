"""The pieces inside Auto: linear algebra, quadratic models, trust region, CMA-ES run."""

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from krystal.kernel.rng import Rng
from krystal.optimize._cmaes import CmaRun
from krystal.optimize._linalg import solve_spd, symmetric_eigen
from krystal.optimize._model import fit_quadratic, model_point, trust_region_step
from krystal.optimize._trust import TrustRegion

entries = st.floats(min_value=-10.0, max_value=10.0, allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(min_value=1, max_value=8).flatmap(
        lambda n: st.lists(entries, min_size=n * n, max_size=n * n)
    )
)
def test_eigen_decomposition_rebuilds_a_symmetric_matrix(flat: list[float]) -> None:
    n = math.isqrt(len(flat))
    m = [[flat[i * n + j] for j in range(n)] for i in range(n)]
    a = [[0.5 * (m[i][j] + m[j][i]) for j in range(n)] for i in range(n)]
    values, vectors = symmetric_eigen(a)
    scale = 1.0 + max(abs(v) for row in a for v in row)
    for i in range(n):
        for j in range(n):
            rebuilt = sum(vectors[i][k] * values[k] * vectors[j][k] for k in range(n))
            assert rebuilt == pytest.approx(a[i][j], abs=1e-9 * scale)
            dot = sum(vectors[k][i] * vectors[k][j] for k in range(n))
            assert dot == pytest.approx(1.0 if i == j else 0.0, abs=1e-9)


def test_solve_spd_solves_and_refuses_an_indefinite_matrix() -> None:
    rng = random.Random(0)
    b = [[rng.gauss(0, 1) for _ in range(5)] for _ in range(5)]
    a = [[sum(b[i][k] * b[j][k] for k in range(5)) + (i == j) for j in range(5)] for i in range(5)]
    x = solve_spd(a, [1.0, 2.0, 3.0, 4.0, 5.0])
    assert x is not None
    assert [sum(a[i][j] * x[j] for j in range(5)) for i in range(5)] == pytest.approx(
        [1.0, 2.0, 3.0, 4.0, 5.0]
    )
    assert solve_spd([[1.0, 2.0], [2.0, 1.0]], [1.0, 1.0]) is None


@pytest.mark.parametrize("full", [True, False, None])
def test_fit_quadratic_recovers_a_model_of_its_own_kind(full: bool | None) -> None:
    rng = random.Random(1)
    zs = [[rng.uniform(-1, 1) for _ in range(3)] for _ in range(40)]
    g_true = [0.5, -1.0, 2.0]
    h_true = [[2.0, 0.3, 0.0], [0.3, 1.0, -0.2], [0.0, -0.2, 4.0]]
    if full is False:
        h_true = [[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 4.0]]
    if full is None:
        h_true = [[0.0] * 3 for _ in range(3)]

    def model(z: list[float]) -> float:
        quad = sum(z[i] * h_true[i][j] * z[j] for i in range(3) for j in range(3))
        return 7.0 + sum(a * b for a, b in zip(g_true, z)) + 0.5 * quad

    fitted = fit_quadratic(zs, [model(z) for z in zs], full)
    assert fitted is not None
    g, h, c = fitted
    assert g == pytest.approx(g_true, abs=1e-6)
    assert [v for row in h for v in row] == pytest.approx(
        [v for row in h_true for v in row], abs=1e-6
    )
    assert c == pytest.approx(7.0, abs=1e-6)
    assert fit_quadratic(zs[:5], [model(z) for z in zs[:5]], True) is None  # too few points


@settings(max_examples=60, deadline=None)
@given(
    st.lists(entries, min_size=3, max_size=3),
    st.lists(entries, min_size=3, max_size=3),
    st.floats(min_value=0.1, max_value=5.0),
)
def test_trust_region_step_stays_inside_and_never_increases_the_model(
    g: list[float], diagonal: list[float], radius: float
) -> None:
    h = [[diagonal[i] if i == j else 0.1 * (i + j) for j in range(3)] for i in range(3)]
    w = trust_region_step(g, h, radius)
    assert math.sqrt(sum(v * v for v in w)) <= radius * (1 + 1e-6)
    value = sum(a * b for a, b in zip(g, w)) + 0.5 * sum(
        w[i] * h[i][j] * w[j] for i in range(3) for j in range(3)
    )
    assert value <= 1e-9


def test_model_point_finds_the_bottom_of_a_bowl_from_scattered_points() -> None:
    rng = random.Random(2)
    target = [0.3, 0.6, 0.45]
    archive = []
    for _ in range(30):
        x = [rng.uniform(0.2, 0.7) for _ in range(3)]
        archive.append((x, sum((a - b) ** 2 for a, b in zip(x, target))))
    identity = [[1.0 if i == j else 0.0 for j in range(3)] for i in range(3)]
    point = model_point(archive, [0.45] * 3, 0.2, identity, [1.0] * 3)
    assert point == pytest.approx(target, abs=1e-6)
    assert model_point(archive[:4], [0.45] * 3, 0.2, identity, [1.0] * 3) is None


def test_trust_region_converges_on_a_smooth_valley_and_stops() -> None:
    def cost(u: list[float]) -> float:
        x, y = 4 * u[0] - 2, 4 * u[1] - 2  # Rosenbrock on [-2, 2]^2
        return 100 * (y - x * x) ** 2 + (1 - x) ** 2

    tr = TrustRegion([0.5, 0.5], Rng(0))
    while not tr.done and tr.evaluations < 400:
        u = tr.propose()
        assert all(0.0 <= v <= 1.0 for v in u)
        tr.observe(u, cost(u))
    assert tr.done
    assert tr.best_cost < 1e-8
    assert tr.evaluations < 300


def test_cma_run_stops_when_its_fitness_is_flat() -> None:
    run = CmaRun(3, Rng(0), [0.5] * 3, 0.3)
    run.update(run.sample(), [1.0] * run.popsize)
    assert run.stop_reason() == "flat"
