"""ECharts options for the agent page, built from what the service keeps in memory.

Pure functions of the agent's recent decisions (oldest first, as dicts from
:meth:`HostedAgent.recent_decisions` reversed), its phase history and its action space,
so the figures can be checked without a browser.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from krystal.agent import Phase
from krystal.agent._spaces import ActionSpace

PHASES = [phase.value for phase in Phase]
MEAN_WINDOW = 20

_GRID = {"left": 48, "right": 24, "top": 36, "bottom": 28}
_TIME_AXIS = {"type": "time", "splitNumber": 4, "axisLabel": {"hideOverlap": True}}


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _empty_note(points: Sequence[Any], text: str) -> dict[str, Any]:
    # An empty chart with a word in the middle reads as "nothing yet", not as broken. The
    # browser merges new options into old ones, so the note is hidden, not left out.
    if points:
        return {"title": {"show": False}}
    style = {"color": "#9e9e9e", "fontSize": 14, "fontWeight": "normal"}
    return {
        "title": {"show": True, "text": text, "left": "center", "top": "middle", "textStyle": style}
    }


def reward_options(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Each reward at the time it arrived, and the mean of the last :data:`MEAN_WINDOW`.

    >>> records = [{"rewarded_at": 10.0 + i, "reward": float(i)} for i in range(3)]
    >>> options = reward_options(records)
    >>> options["series"][0]["data"], options["series"][1]["data"][-1]
    ([[10000, 0.0], [11000, 1.0], [12000, 2.0]], [12000, 1.0])
    """
    rewarded = sorted(
        (r for r in records if r.get("reward") is not None and r.get("rewarded_at") is not None),
        key=lambda r: r["rewarded_at"],
    )
    points = [[_ms(r["rewarded_at"]), float(r["reward"])] for r in rewarded]
    means: list[list[float]] = []
    window: list[float] = []
    for time_ms, value in points:
        window.append(value)
        if len(window) > MEAN_WINDOW:
            window.pop(0)
        means.append([time_ms, sum(window) / len(window)])
    return {
        **_empty_note(points, "no rewards yet"),
        "animation": False,
        "grid": _GRID,
        "tooltip": {"trigger": "axis"},
        "legend": {"data": ["reward", f"mean of last {MEAN_WINDOW}"], "top": 4},
        "xAxis": _TIME_AXIS,
        "yAxis": {"type": "value", "scale": True},
        "series": [
            {"name": "reward", "type": "scatter", "symbolSize": 5, "data": points},
            {
                "name": f"mean of last {MEAN_WINDOW}",
                "type": "line",
                "showSymbol": False,
                "data": means,
            },
        ],
    }


def phase_options(history: Sequence[tuple[int, str]], cycle: int, phase: str) -> dict[str, Any]:
    """The phase as a step line over the learner's cycles, up to the current cycle.

    >>> options = phase_options([(0, "GAS"), (40, "LIQUID")], 55, "LIQUID")
    >>> options["series"][0]["data"]
    [[0, 'GAS'], [40, 'LIQUID'], [55, 'LIQUID']]
    """
    points: list[list[Any]] = [[int(c), str(p)] for c, p in history]
    if not points or points[-1][0] < cycle:
        points.append([int(cycle), phase])
    return {
        "animation": False,
        "grid": _GRID,
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "value", "name": "cycle", "nameGap": 4, "min": 0},
        "yAxis": {"type": "category", "data": PHASES},
        "series": [
            {"name": "phase", "type": "line", "step": "end", "showSymbol": False, "data": points}
        ],
    }


def knob_positions(action: Any, space: ActionSpace | None) -> dict[str, float]:
    """Each knob's position in [0, 1] (its place between low and high, or among options).

    >>> space = ActionSpace.from_spec({"replicas": {"type": "int", "low": 1, "high": 9}})
    >>> knob_positions({"replicas": 5}, space), knob_positions([0.25, 1.0], None)
    ({'replicas': 0.5}, {'a0': 0.25, 'a1': 1.0})
    """
    if space is None or not isinstance(action, Mapping):
        return {f"a{i}": float(value) for i, value in enumerate(action)}
    return dict(zip(space, space.encode(action)))


def action_options(
    records: Sequence[Mapping[str, Any]], space_spec: Mapping[str, Any] | None
) -> dict[str, Any]:
    """One line per knob: its position in [0, 1] at each decision (tooltips: the values).

    >>> records = [{"created_at": 1.0, "action": [0.2, 0.8]},
    ...            {"created_at": 2.0, "action": [0.4, 0.6]}]
    >>> [s["data"] for s in action_options(records, None)["series"]]
    [[[1000, 0.2, '0.2'], [2000, 0.4, '0.4']], [[1000, 0.8, '0.8'], [2000, 0.6, '0.6']]]
    """
    space = None if space_spec is None else ActionSpace.from_spec(space_spec)
    series: dict[str, list[list[Any]]] = {}
    for record in records:
        action = record["action"]
        values = action if isinstance(action, Mapping) else None
        for knob, position in knob_positions(action, space).items():
            shown = values[knob] if values is not None else round(position, 4)
            series.setdefault(knob, []).append([_ms(record["created_at"]), position, str(shown)])
    return {
        **_empty_note(records, "no decisions yet"),
        "animation": False,
        "grid": _GRID,
        "tooltip": {"trigger": "axis"},
        "legend": {"data": list(series), "top": 4},
        "xAxis": _TIME_AXIS,
        "yAxis": {"type": "value", "min": 0, "max": 1, "name": "position"},
        "series": [
            {"name": knob, "type": "line", "showSymbol": False, "data": data}
            for knob, data in series.items()
        ],
    }
