"""Named action spaces: typed knobs to and from the unit box."""

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from krystal import InputError
from krystal.agent import ActionSpace, Boolean, Choice, Dimension, FloatRange, Integer

UNIT = st.floats(min_value=-0.5, max_value=1.5, allow_nan=False)


def test_float_range_linear() -> None:
    knob = FloatRange(-2.0, 6.0)
    assert knob.decode(0.0) == -2.0
    assert knob.decode(1.0) == 6.0
    assert knob.decode(0.25) == 0.0
    assert knob.decode(-3.0) == -2.0 and knob.decode(7.0) == 6.0
    assert knob.encode(2.0) == 0.5
    assert knob.encode(100.0) == 1.0 and knob.encode(-100.0) == 0.0
    assert knob.to_spec() == {"type": "float", "low": -2.0, "high": 6.0}


def test_float_range_log() -> None:
    knob = FloatRange(1e-4, 1e-1, log=True)
    assert knob.decode(0.0) == pytest.approx(1e-4)
    assert knob.decode(1.0 / 3.0) == pytest.approx(1e-3)
    assert knob.decode(1.0) == pytest.approx(1e-1)
    assert knob.encode(1e-2) == pytest.approx(2.0 / 3.0)
    assert knob.to_spec() == {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}


@pytest.mark.parametrize(
    ("low", "high", "log"),
    [
        (1.0, 1.0, False), (2.0, 1.0, False), (math.nan, 1.0, False),
        (0.0, math.inf, False), (0.0, 1.0, True), (-1.0, 1.0, True),
    ],
)  # fmt: skip
def test_float_range_rejects_bad_bounds(low: float, high: float, log: bool) -> None:
    with pytest.raises(InputError, match="float range"):
        FloatRange(low, high, log=log)


@pytest.mark.parametrize("value", [-2.1, 6.5, math.nan, "1", True, None])
def test_float_range_check_rejects(value: Any) -> None:
    with pytest.raises(InputError, match=r"^speed: expected a number in \[-2.0, 6.0\]"):
        FloatRange(-2.0, 6.0).check("speed", value)


def test_integer_knob() -> None:
    knob = Integer(1, 16)
    assert (knob.decode(0.0), knob.decode(1.0), knob.decode(0.5)) == (1, 16, 9)  # 1 + round(7.5)
    assert (knob.decode(0.03), knob.decode(0.04)) == (1, 2)  # nearest level: 0.45 -> 0, 0.6 -> 1
    assert knob.decode(2.0) == 16 and knob.decode(-1.0) == 1
    assert knob.encode(16) == 1.0 and knob.encode(1) == 0.0
    knob.check("n", 5)
    for bad in (0, 17, 5.0, True, "5"):
        with pytest.raises(InputError, match=r"^n: expected an integer in \[1, 16\]"):
            knob.check("n", bad)
    assert knob.to_spec() == {"type": "int", "low": 1, "high": 16}


@pytest.mark.parametrize(("low", "high"), [(1.5, 3), (3, 3), (4, 2), (True, 3), (0, False)])
def test_integer_rejects_bad_bounds(low: Any, high: Any) -> None:
    with pytest.raises(InputError, match="integer range"):
        Integer(low, high)


def test_choice_knob() -> None:
    knob = Choice(["low", "medium", "high"])
    assert [knob.decode(u) for u in (0.0, 0.24, 0.26, 0.74, 0.76, 1.0)] == [
        "low", "low", "medium", "medium", "high", "high",
    ]  # fmt: skip
    assert knob.encode("medium") == 0.5
    knob.check("q", "high")
    with pytest.raises(InputError, match=r"^q: expected one of \['low', 'medium', 'high'\]"):
        knob.check("q", "ultra")
    with pytest.raises(InputError, match="at least two"):
        Choice(["only"])
    with pytest.raises(InputError, match="distinct"):
        Choice(["a", "a"])


def test_choice_does_not_confuse_bools_with_integers() -> None:
    numbers = Choice([0, 1, 2])
    numbers.check("n", 1)
    with pytest.raises(InputError):
        numbers.check("n", True)
    flags = Choice([True, False])
    flags.check("f", False)
    with pytest.raises(InputError):
        flags.check("f", 0)


def test_boolean_knob() -> None:
    knob = Boolean()
    assert (knob.decode(0.49), knob.decode(0.5)) == (False, True)
    assert (knob.encode(True), knob.encode(False)) == (1.0, 0.0)
    knob.check("b", True)
    with pytest.raises(InputError, match=r"^b: expected true or false"):
        knob.check("b", 1)
    assert knob.to_spec() == {"type": "bool"}


def test_base_dimension_is_abstract() -> None:
    base = Dimension()
    for call in (
        lambda: base.encode(1),
        lambda: base.decode(0.5),
        base.to_spec,
        lambda: base.check("x", 1),
    ):
        with pytest.raises(NotImplementedError):
            call()


SPEC = {
    "lr": {"type": "float", "low": 1e-3, "high": 1.0, "log": True},
    "n": {"type": "int", "low": 0, "high": 4},
    "mode": {"type": "choice", "options": ["a", "b", "c"]},
    "on": {"type": "bool"},
}


def test_space_from_spec_decode_encode_and_order() -> None:
    space = ActionSpace.from_spec(SPEC)
    assert list(space) == ["lr", "n", "mode", "on"] and len(space) == 4
    assert isinstance(space["n"], Integer)
    values = space.decode([1.0, 0.5, 0.0, 0.9])
    assert values == {"lr": pytest.approx(1.0), "n": 2, "mode": "a", "on": True}
    assert space.encode({"lr": 1e-3, "n": 4, "mode": "b", "on": False}) == [0.0, 1.0, 0.5, 0.0]
    assert space.to_spec() == SPEC
    assert ActionSpace.from_spec(space) is space
    assert ActionSpace.from_spec({"x": Boolean()}).to_spec() == {"x": {"type": "bool"}}
    assert repr(space).startswith("ActionSpace({'lr'")


@given(st.lists(UNIT, min_size=4, max_size=4))
def test_decoded_values_are_always_legal_and_snap_is_idempotent(units: list[float]) -> None:
    space = ActionSpace.from_spec(SPEC)
    values = space.decode(units)
    space.check(values)
    snapped = space.snap(units)
    assert all(0.0 <= u <= 1.0 for u in snapped)
    again = space.decode(snapped)
    space.check(again)
    # discrete knobs come back exactly; the log-scale float up to rounding
    assert again["lr"] == pytest.approx(values["lr"], rel=1e-12)
    assert [again[k] for k in ("n", "mode", "on")] == [values[k] for k in ("n", "mode", "on")]
    assert space.snap(snapped) == pytest.approx(snapped, abs=1e-12)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "at least one named knob"),
        ([("x", {"type": "bool"})], "expected a mapping"),
        ({"x": "bool"}, "^x: expected a spec with a 'type' key"),
        ({"x": {"low": 1}}, "^x: expected a spec with a 'type' key"),
        ({"x": {"type": "complex"}}, r"^x: expected type float, int, choice or bool, got 'comp"),
        ({"x": {"type": "float", "low": 1.0}}, "^x: the float spec needs the key 'high'"),
        ({"x": {"type": "choice"}}, "^x: the choice spec needs the key 'options'"),
        ({"x": {"type": "int", "low": 3, "high": 1}}, r"^x: integer range: expected low < high"),
        ({"x": {"type": "int", "low": "a", "high": 3}}, "^x: invalid int spec"),
        ({"x": {"type": "float", "low": "a", "high": 3}}, "^x: invalid float spec"),
        ({"": {"type": "bool"}}, "knob names must be non-empty strings"),
        ({1: {"type": "bool"}}, "knob names must be non-empty strings"),
    ],
)
def test_from_spec_errors_name_the_knob(spec: Any, message: str) -> None:
    with pytest.raises(InputError, match=message):
        ActionSpace.from_spec(spec)


def test_space_rejects_non_dimension_objects() -> None:
    with pytest.raises(InputError, match=r"^x: expected a FloatRange"):
        ActionSpace({"x": object()})  # type: ignore[dict-item]


def test_check_reports_unknown_missing_and_bad_values() -> None:
    space = ActionSpace.from_spec(SPEC)
    good = {"lr": 0.01, "n": 1, "mode": "c", "on": True}
    space.check(good)
    with pytest.raises(InputError, match=r"^action: expected a dict"):
        space.check([0.1, 1, "c", True])  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"^extra: unknown knob"):
        space.check({**good, "extra": 1})
    with pytest.raises(InputError, match=r"^on: missing from the action"):
        space.check({k: v for k, v in good.items() if k != "on"})
    with pytest.raises(InputError, match=r"^n: expected an integer"):
        space.check({**good, "n": 9})
    with pytest.raises(InputError, match=r"^n: expected an integer"):
        space.encode({**good, "n": 9})


def test_listed_points_decode_and_snap_as_computed_and_decode_is_a_fresh_dict() -> None:
    spec = {
        "mode": {"type": "choice", "options": ["a", 2, None]},
        "n": {"type": "int", "low": 1, "high": 3},
        "cache": {"type": "bool"},
    }
    listed, plain = ActionSpace.from_spec(spec), ActionSpace.from_spec(spec)
    points = listed.points(64)
    assert points is not None and len(points) == 18
    for point in points:
        assert listed.decode(point) == plain.decode(point)
        assert listed.snap(point) == plain.snap(point) == point
    first = listed.decode(points[0])
    first["mode"] = "changed"
    assert listed.decode(points[0])["mode"] == "a"
    # a unit point that is not listed is decoded the long way
    assert listed.decode([0.4, 0.4, 0.4]) == plain.decode([0.4, 0.4, 0.4])
    assert listed.snap([0.4, 0.4, 0.4]) == plain.snap([0.4, 0.4, 0.4])
