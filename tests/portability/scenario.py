"""Fixed-seed kernel scenario that runs unchanged on CPython, Pyodide and MicroPython.

It imports the kernel only as the top-level package ``kernel`` (the harness puts a copy of
``src/krystal/kernel`` on ``sys.path`` under that name) and prints one JSON document:

    {"runtime": ..., "sections": {name: {"status": "ok", "data": ...}
                                   | {"status": "skipped", "reason": ...}
                                   | {"status": "error", "error": ...}}}

Floats are written as ``"f64:<16 hex digits>"`` (the IEEE-754 bits, big-endian) so that no
port's float formatting or JSON encoder can blur them; the test decodes them and compares
integers exactly and floats with a relative tolerance.

To cover a new kernel module, write a ``section_<name>(module)`` function and add one line
to ``SECTIONS``. A section whose module is missing is recorded as skipped; any other
failure is recorded as an error (and fails the parity test). Keep this file inside the
MicroPython subset: no ``typing``, no f-strings with ``=``, no ``dataclasses``.
"""

import json
import math
import struct
import sys

from kernel.rng import Rng

# ---------------------------------------------------------------------------------------
# Encoding


def _bits(x):
    return struct.pack(">d", x).hex()


def encode(value):
    """Make ``value`` JSON-friendly with exact floats (``"f64:<hex>"``)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return "f64:" + _bits(value)
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        out = {}
        for key in value:
            out[str(key)] = encode(value[key])
        return out
    raise TypeError("encode: unsupported type " + repr(type(value)))


# ---------------------------------------------------------------------------------------
# Sections


def section_rng(mod):
    out = {}
    # Rng(0)'s first output is the published SplitMix64 vector; recorded, and checked.
    first = mod.Rng(0).next_u64()
    out["splitmix64_vector_ok"] = first == 0xE220A8397B1DCDAF
    for seed in (0, 42, 123456789, 2**64 - 1, -1):
        rng = mod.Rng(seed)
        rec = {}
        rec["u64"] = [rng.next_u64() for _ in range(6)]
        rec["random"] = [rng.random() for _ in range(6)]
        rec["uniform"] = [rng.uniform(-3.0, 5.0) for _ in range(4)]
        rec["gauss"] = [rng.gauss() for _ in range(7)]
        rec["gauss_mu_sigma"] = [rng.gauss(10.0, 0.5) for _ in range(3)]
        rec["randint"] = [rng.randint(0, 9) for _ in range(16)]
        rec["randint_wide"] = [rng.randint(-5, 2**40) for _ in range(4)]
        rec["choice"] = [rng.choice(["a", "b", "c", "d", "e"]) for _ in range(8)]
        items = list(range(12))
        rng.shuffle(items)
        rec["shuffle"] = items
        state = rng.get_state()
        ahead = [rng.next_u64(), rng.gauss(), rng.random()]
        rng.set_state(json.loads(json.dumps(state)))
        again = [rng.next_u64(), rng.gauss(), rng.random()]
        rec["state"] = state
        rec["restore_repeats"] = ahead == again
        out["seed_" + str(seed)] = rec
    return out


def section_features(mod):
    rng = Rng(7)
    z = [rng.gauss() for _ in range(3)]
    a = [rng.random() for _ in range(2)]
    phi = mod.state_features(z)
    return {
        "state_size": [mod.state_size(d) for d in (1, 3, 8)],
        "action_size": [mod.action_size(s, m) for s, m in ((1, 1), (3, 2), (8, 4))],
        "state_features": phi,
        "action_features": mod.action_features(phi, z, a),
    }


def section_normalizer(mod):
    rng = Rng(11)
    norm = mod.RunningNormalizer(3, horizon=20.0, clip=3.0)
    transformed = []
    for step in range(80):
        x = [rng.gauss(10.0, 2.0), rng.uniform(100.0, 300.0), rng.gauss(-1.0, 0.1)]
        if step % 7 == 3:
            x[1] = None
        if step == 60:
            x[0] = 1000.0  # an outlier: clipped
        norm.update(x)
        transformed.append(norm.transform(x))
    return {"transformed": transformed, "state": norm.get_state()}


def section_linear_model(mod):
    rng = Rng(13)
    model = mod.BayesLinear(4, prior_var=10.0, forgetting=0.98)
    errors = []
    for _ in range(80):
        x = [1.0, rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0), rng.gauss()]
        y = 1.0 + 2.0 * x[1] - x[2] + 0.5 * x[3] + rng.gauss(0.0, 0.05)
        errors.append(model.update(x, y))
    probe = [1.0, 0.3, -0.2, 0.1]
    return {
        "errors": errors,
        "predict": model.predict(probe),
        "variance": model.variance(probe),
        "state": model.get_state(),
    }


def section_td(mod):
    # A five-state chain with one-hot features; reward 1 on reaching the last state.
    rng = Rng(17)
    critic = mod.TDLambda(5, alpha=0.3, gamma=0.9, lam=0.7)
    deltas = []
    state = 0
    for _ in range(200):
        psi = [1.0 if i == state else 0.0 for i in range(5)]
        deltas.append(critic.begin(psi))
        state = min(4, state + 1) if rng.random() < 0.8 else max(0, state - 1)
        reward = 1.0 if state == 4 else 0.0
        deltas.append(critic.reward(reward))
        if state == 4:
            critic.reset_traces()
            state = 0
    values = [critic.value([1.0 if i == s else 0.0 for i in range(5)]) for s in range(5)]
    return {"deltas": deltas, "values": values, "state": critic.get_state()}


def section_phase(mod):
    rng = Rng(19)
    engine = mod.PhaseEngine(initial_temperature=0.6, anneal_steps=80.0, patience=150.0)
    temperatures = []
    phases = []
    for step in range(500):
        if step < 300:
            td_error, reward = rng.gauss(0.0, 0.1), 1.0 + rng.gauss(0.0, 0.05)
        else:  # the world shifts: surprise and a falling reward
            td_error, reward = rng.gauss(0.0, 2.0), -1.0 + rng.gauss(0.0, 0.3)
        temperatures.append(engine.update(td_error, reward))
        phases.append(engine.phase)
    return {
        "phase_of": [mod.phase_of(t) for t in (0.0, 0.149, 0.15, 0.39, 0.4, 0.69, 0.7, 1.0)],
        "temperatures": temperatures[::5],
        "phases": phases,
        "signals": engine.signals(),
        "state": engine.get_state(),
    }


def section_pid(mod):
    out = {}
    # First-order plant dy/dt = (u - y) / tau with a setpoint step and a load disturbance.
    for windup in ("clamp", "back_calculation"):
        pid = mod.Pid(2.0, 1.5, 0.1, -1.0, 3.0, setpoint=1.0, windup=windup, derivative_filter=0.05)
        y, tau, dt = 0.0, 0.5, 0.02
        outputs, measurements = [], []
        for step in range(400):
            if step == 200:
                pid.update(y, dt, setpoint=2.5)  # a step past what the actuator can hold
            u = pid.update(y, dt)
            load = -0.5 if step >= 300 else 0.0
            y += (u + load - y) * dt / tau
            outputs.append(u)
            measurements.append(y)
        pid.set_gains(1.0, 0.5, 0.0)
        bumpless = pid.update(y, dt)
        out[windup] = {
            "outputs": outputs[::4],
            "measurements": measurements[::4],
            "after_set_gains": bumpless,
            "state": pid.get_state(),
        }
    return out


def section_replay(mod):
    rng = Rng(23)
    uniform = mod.ReplayBuffer(5, rng)
    for item in range(8):
        uniform.add(item)
    out = {"uniform_items": uniform.items(), "uniform_sample": uniform.sample(20)}
    replay = mod.PrioritizedReplay(8, rng, alpha=0.6, beta=0.4)
    for item in range(11):
        replay.add("item" + str(item), priority=float(item % 4) + 0.5)
    batches = []
    for _ in range(6):
        indices, items, weights = replay.sample(4)
        batches.append([indices, items, weights])
        replay.update(indices, [rng.random() * 3.0 for _ in indices])
    out["prioritized_batches"] = batches
    out["prioritized_total"] = replay.total()
    out["prioritized_state"] = replay.get_state()
    out["uniform_state"] = uniform.get_state()
    return out


def section_swarm(mod):
    rng = Rng(29)
    swarm = mod.ParticleSwarm(2, rng, particles=6, low=[-2.0, -2.0], high=[2.0, 2.0], patience=5)
    asked = []
    for _ in range(240):
        x = swarm.ask()
        swarm.tell(x, -((x[0] - 0.3) ** 2) - 2.0 * (x[1] + 0.7) ** 2)
        asked.append(x)
    out = {
        "asked": asked[::6],
        "best_position": swarm.best_position,
        "best_score": swarm.best_score,
        "evaluations": swarm.evaluations,
        "restarts": swarm.restarts,
        "state": swarm.get_state(),
    }
    if hasattr(mod, "optimize"):
        best, score = mod.optimize(
            lambda x: -((x[0] - 0.25) ** 2), dim=1, budget=60, rng=Rng(31), particles=5
        )
        out["optimize"] = [best, score]
    return out


def section_policy(mod):
    rng = Rng(37)
    policy = mod.ResponseSurfacePolicy(2, 2, rng)
    actions, errors = [], []
    for step in range(120):
        z = [rng.gauss(), rng.gauss()]
        psi = [1.0] + z  # noqa: RUF005 - MicroPython has no [*x] displays
        temperature = 0.8 if step < 60 else 0.1
        a = policy.propose(psi, z, temperature)
        best = 0.5 + 0.2 * z[0]
        reward = 1.0 - (a[0] - best) ** 2 - (a[1] - 0.3) ** 2 + rng.gauss(0.0, 0.02)
        errors.append(policy.learn(psi, z, a, reward))
        actions.append(a)
    probe_z = [0.5, -0.5]
    probe_psi = [1.0] + probe_z  # noqa: RUF005 - as above
    return {
        "actions": actions[::3],
        "errors": errors[::3],
        "greedy": policy.greedy(probe_psi, probe_z),
        "predict": policy.predict(probe_psi, probe_z, [0.6, 0.3]),
        "state": policy.get_state(),
    }


def section_arms(mod):
    # A contextual choice among three unordered arms, then the same through a learner.
    rng = Rng(53)
    policy = mod.ArmsPolicy([[0.0], [0.5], [1.0]], 2, rng)
    arms, errors = [], []
    for step in range(120):
        z = [rng.gauss(), rng.gauss()]
        psi = [1.0] + z  # noqa: RUF005 - MicroPython has no [*x] displays
        a = policy.propose(psi, z, 0.8 if step < 60 else 0.1)
        best = 0.0 if z[0] < -0.4 else (0.5 if z[0] < 0.4 else 1.0)
        reward = (1.0 if a[0] == best else 0.0) + rng.gauss(0.0, 0.05)
        errors.append(policy.learn(psi, z, a, reward))
        arms.append(a[0])
    probe_z = [1.0, 0.0]
    probe_psi = [1.0] + probe_z  # noqa: RUF005 - as above
    from kernel.learner import Learner

    learner = Learner(state_dim=1, action_dim=1, seed=59, arms=[[0.0], [1.0]])
    chosen = []
    for step in range(60):
        x = [float(step % 3)]
        learner.observe(x)
        a = learner.decide()
        learner.reward(1.0 if (a[0] == 1.0) == (x[0] > 0.5) else 0.0)
        chosen.append(a[0])
    return {
        "arms": arms[::3],
        "errors": errors[::3],
        "greedy": policy.greedy(probe_psi, probe_z),
        "predict": policy.predict(probe_psi, probe_z, [0.5]),
        "state": policy.get_state(),
        "learner_arms": chosen,
        "learner_metrics": learner.metrics(),
    }


def section_autotune(mod):
    # The relay experiment on a first-order plant with dead time, the gain rules, then
    # the gain adapter reading a plant whose gain doubles.
    tuner = mod.RelayTuner(setpoint=1.0, amplitude=1.0, bias=0.5, hysteresis=0.01)
    y, dt, pipe, outputs = 0.0, 0.05, [0.0] * 10, []
    while not tuner.done:
        pipe.append(tuner.update(y, dt))
        y += (pipe.pop(0) - y) * dt
        outputs.append(pipe[-1])
    gains = {}
    for rule in ("tyreus_luyben_pi", "tyreus_luyben", "ziegler_nichols"):
        gains[rule] = list(tuner.gains(rule))
    adapter = mod.GainAdapter(window=10, tolerance=0.01, min_step=0.1)
    scales = []
    for gain in (3.0, 3.0, 6.0):
        for u in (1.0, 2.0):
            for _ in range(10):
                adapter.update(u, gain * u + 0.5)
        scales.append(adapter.scale())
    return {
        "outputs": outputs[::7],
        "ultimate": [tuner.ultimate_gain, tuner.ultimate_period, tuner.time],
        "failed": tuner.failed,
        "gains": gains,
        "adapter": [adapter.gain, scales],
    }


def section_learner(mod):
    # A context-dependent optimum that shifts half-way: exercises the normaliser, critic,
    # phase engine, policy, swarm and both replay buffers together.
    env = Rng(41)
    learner = mod.Learner(state_dim=2, action_dim=2, seed=43)
    actions, td_errors, phases = [], [], []
    for step in range(240):
        x = [env.uniform(0.0, 100.0), env.gauss(5.0, 1.0)]
        if step % 17 == 5:
            x[1] = None
        learner.observe(x)
        a = learner.decide()
        shift = 0.3 if step >= 150 else 0.0
        best0 = 0.2 + 0.006 * x[0] + shift
        reward = 1.0 - (a[0] - best0) ** 2 - 2.0 * (a[1] - 0.6 + shift) ** 2
        td_errors.append(learner.reward(reward))
        actions.append(a)
        phases.append(learner.phase.phase)
    # A state saved as JSON and restored into a fresh learner continues identically.
    saved = json.loads(json.dumps(learner.get_state()))
    twin = mod.Learner(state_dim=2, action_dim=2, seed=0)
    twin.set_state(saved)
    continued = []
    for step in range(10):
        x = [float(step * 10), 5.0]
        pair = []
        for which in (learner, twin):
            which.observe(x)
            a = which.decide()
            which.reward(1.0 - (a[0] - 0.5) ** 2)
            pair.append(a)
        continued.append(pair[0] == pair[1])
    learner.observe([50.0, 5.0])
    metrics = learner.metrics()
    return {
        "actions": actions[::4],
        "td_errors": td_errors[::4],
        "phases": phases,
        "greedy": learner.greedy(),
        "metrics": metrics,
        "restored_continues_identically": continued,
        "critic_weights": learner.critic.weights,
        "model_weights": learner.policy.model.weights,
    }


def section_floats(_mod):
    # Not a kernel module: the runtime's float behaviour the kernel relies on.
    literals = ["0.1", "0.7298", "1.49618", "2.05", "1e-300", "6.283185307179586", "1e22"]
    literals += ["0.30000000000000004", "123456.789e-3", "5e-324", "1.7976931348623157e308"]
    rng = Rng(47)
    values = [rng.gauss() * 10.0 ** rng.randint(-8, 8) for _ in range(40)]
    text = json.dumps(values)
    inputs = [0.1, 0.5, 1.0, 2.5, 10.0, 123.456, 1e-5]
    return {
        "float_literals": [float(s) for s in literals],
        "json_loads_literals": [json.loads(s) for s in literals],
        "json_roundtrip_exact": [a == b for a, b in zip(values, json.loads(text))],
        "repr_roundtrip_exact": [float(repr(v)) == v for v in values],
        "exp": [math.exp(x) for x in inputs] + [math.exp(-x) for x in inputs],
        "log": [math.log(x) for x in inputs],
        "sqrt": [math.sqrt(x) for x in inputs],
        "sin": [math.sin(x) for x in inputs],
        "cos": [math.cos(x) for x in inputs],
        "pow": [x**0.6 for x in inputs] + [x**-0.4 for x in inputs],
        "int_ops": [2**64 // 3, (2**64 - 1) % 1000003, -(2**70) >> 3, (-1) & 0xFFFFFFFFFFFFFFFF],
    }


# name, module (None: always run), function. One line per kernel module.
SECTIONS = [
    ("floats", None, section_floats),
    ("rng", "kernel.rng", section_rng),
    ("features", "kernel.features", section_features),
    ("normalizer", "kernel.normalizer", section_normalizer),
    ("linear_model", "kernel.linear_model", section_linear_model),
    ("td", "kernel.td", section_td),
    ("phase", "kernel.phase", section_phase),
    ("pid", "kernel.pid", section_pid),
    ("autotune", "kernel.autotune", section_autotune),
    ("replay", "kernel.replay", section_replay),
    ("swarm", "kernel.swarm", section_swarm),
    ("policy", "kernel.policy", section_policy),
    ("arms", "kernel.arms", section_arms),
    ("learner", "kernel.learner", section_learner),
]


# ---------------------------------------------------------------------------------------
# Driver


def _import(name):
    module = __import__(name)
    for part in name.split(".")[1:]:
        module = getattr(module, part)
    return module


def _describe(exc):
    return type(exc).__name__ + ": " + str(exc)


def _traceback(exc):
    try:  # CPython and Pyodide
        import traceback

        return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    except ImportError:
        pass
    try:  # MicroPython
        import io

        buf = io.StringIO()
        sys.print_exception(exc, buf)
        return buf.getvalue()
    except Exception:  # best effort only
        return _describe(exc)


def run_section(module_name, function):
    if module_name is None:
        module = None
    else:
        try:
            module = _import(module_name)
        except ImportError as exc:
            # Only the module itself being absent is a skip; a module that exists but
            # fails to import (e.g. it imports `typing`) is an error.
            if module_name in str(exc):
                return {"status": "skipped", "reason": "module not present: " + _describe(exc)}
            return {"status": "error", "error": _traceback(exc)}
        except Exception as exc:  # recorded; the test reports it
            return {"status": "error", "error": _traceback(exc)}
    try:
        data = function(module)
    except Exception as exc:  # recorded; the test reports it
        return {"status": "error", "error": _traceback(exc)}
    return {"status": "ok", "module": module_name, "data": encode(data)}


def main():
    impl = sys.implementation
    sections = {}
    for name, module_name, function in SECTIONS:
        sections[name] = run_section(module_name, function)
    doc = {
        "runtime": impl.name,
        "version": ".".join([str(v) for v in impl.version[:3]]),
        "order": [s[0] for s in SECTIONS],
        "sections": sections,
    }
    print(json.dumps(doc))


if __name__ == "__main__":
    main()
