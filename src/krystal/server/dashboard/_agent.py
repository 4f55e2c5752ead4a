"""``/agents/{name}``: one agent live: reward over time, phase timeline, actions over time
and its recent decisions."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from krystal.server._errors import NotFoundError
from krystal.server._hosted import RECENT_DECISIONS, HostedAgent
from krystal.server.dashboard._charts import action_options, phase_options, reward_options
from krystal.server.dashboard._frame import (
    REFRESH_SECONDS,
    current,
    open_page,
    to_login,
)
from krystal.server.dashboard._overview import PHASE_COLOURS

TABLE_ROWS = 50

_COLUMNS = [
    {"name": "time", "label": "Time (UTC)", "field": "time", "align": "left"},
    {"name": "decision_id", "label": "Decision", "field": "decision_id", "align": "left"},
    {"name": "phase", "label": "Phase", "field": "phase", "align": "left"},
    {"name": "action", "label": "Action", "field": "action", "align": "left"},
    {"name": "reward", "label": "Reward", "field": "reward"},
    {"name": "source", "label": "Source", "field": "source", "align": "left"},
    {"name": "td_error", "label": "TD error", "field": "td_error"},
]


def decision_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Table rows for recent decisions (newest first), formatted for reading.

    >>> decision_rows([{"decision_id": "d1", "created_at": 0.0, "phase": "GAS",
    ...     "action": {"replicas": 3}, "reward": 0.5, "source": "client",
    ...     "td_error": 0.25, "superseded": False}])[0]["action"]
    'replicas=3'
    """
    rows = []
    for record in records:
        action = record["action"]
        if isinstance(action, dict):
            shown = ", ".join(f"{k}={_short(v)}" for k, v in action.items())
        else:
            shown = json.dumps([round(float(v), 3) for v in action])
        reward = record["reward"]
        rows.append(
            {
                "decision_id": record["decision_id"],
                "time": time.strftime("%H:%M:%S", time.gmtime(record["created_at"])),
                "phase": record["phase"],
                "action": shown,
                "reward": "waiting" if reward is None else f"{reward:.3f}",
                "source": (record["source"] or "—")
                + (" (superseded)" if record["superseded"] else ""),
                "td_error": "—" if record["td_error"] is None else f"{record['td_error']:.3f}",
            }
        )
    return rows


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _stats(agent: HostedAgent) -> dict[str, str]:
    info = agent.summary()
    metrics = agent.metrics()
    mean = info["recent_mean_reward"]
    return {
        "Cycle": str(info["cycle"]),
        "Decisions": str(info["decisions"]),
        "Rewards": f"{info['rewards']} ({info['default_rewards']} by default)",
        "Awaiting reward": str(info["pending"]),
        "Recent mean reward": "—" if mean is None else f"{mean:.3f}",
        "Decisions / min": f"{60 * info['decision_rate']:.1f}",
        "Temperature": f"{metrics.get('temperature', 0.0):.3f}",
    }


class _AgentView:
    """The live parts of the page and how to refresh them from the agent."""

    def __init__(self, agent: HostedAgent) -> None:
        self.agent = agent
        self.seen: tuple[Any, ...] = ()
        with ui.row().classes("items-center q-mt-sm"):
            ui.label(agent.name).classes("text-h5").props("data-testid=agent-name")
            self.badge = ui.badge("").props("data-testid=agent-phase")
            preset = agent.spec["preset"]
            ui.label(f"preset {preset}" if preset else "custom").classes("text-grey-7")
        self.stats: dict[str, ui.label] = {}
        with ui.row().classes("q-gutter-sm"):
            for title in _stats(agent):
                with ui.card().tight().classes("q-pa-sm").style("min-width: 8.5rem"):
                    ui.label(title).classes("text-caption text-grey-7")
                    slug = title.lower().replace(" / ", "-").replace(" ", "-")
                    self.stats[title] = (
                        ui.label("").classes("text-subtitle1").props(f"data-testid=stat-{slug}")
                    )
        with ui.grid(columns=2).classes("w-full q-mt-md"):
            self.reward_chart = self._chart("Reward over time", "chart-reward")
            self.phase_chart = self._chart("Phase timeline", "chart-phase")
            with ui.element().classes("col-span-2"):
                self.action_chart = self._chart(
                    "Actions over time (each knob between its low and high)", "chart-actions"
                )
        ui.label(f"Recent decisions (newest first, last {TABLE_ROWS})").classes("text-h6 q-mt-md")
        self.table = ui.table(columns=_COLUMNS, rows=[], row_key="decision_id").classes("w-full")
        self.table.props("data-testid=decisions-table flat bordered dense")
        self.gone = ui.label("").classes("text-h6 text-negative").props("data-testid=agent-gone")
        self.refresh()

    def _chart(self, title: str, element_id: str) -> ui.echart:
        with ui.card().classes("w-full"):
            ui.label(title).classes("text-subtitle1")
            return ui.echart({}).classes("w-full h-64").props(f"data-testid={element_id}")

    def refresh(self) -> None:
        try:
            current().service.agent(self.agent.name)
        except NotFoundError:
            self.gone.set_text(f"Agent {self.agent.name!r} has been deleted.")
            return
        agent = self.agent
        state = (agent.decisions, agent.rewards, agent.krystal.cycle, agent.seq)
        stats = _stats(agent)
        for title, label in self.stats.items():
            label.set_text(stats[title])
        phase = agent.krystal.get_phase()
        self.badge.set_text(phase)
        self.badge.props(f"color={PHASE_COLOURS.get(phase, 'grey')}")
        if state == self.seen:
            return
        self.seen = state
        newest_first = agent.recent_decisions(RECENT_DECISIONS)
        oldest_first = list(reversed(newest_first))
        metrics = agent.metrics()
        _replace(self.reward_chart, reward_options(oldest_first))
        _replace(
            self.phase_chart,
            phase_options(metrics["phase_history"], metrics["cycle"], metrics["phase"]),
        )
        _replace(self.action_chart, action_options(oldest_first, agent.spec["space"]))
        self.table.rows = decision_rows(newest_first[:TABLE_ROWS])
        self.table.update()


def _replace(chart: ui.echart, options: dict[str, Any]) -> None:
    chart.options.clear()
    chart.options.update(options)
    chart.update()


@ui.page("/agents/{name}", title="Krystal · agent")
async def agent_page(request: Request, name: str) -> RedirectResponse | None:
    principal = await open_page(request)
    if principal is None:
        return to_login(request)
    try:
        agent = current().service.agent(name)
    except NotFoundError:
        ui.label(f"There is no agent named {name!r}.").classes("text-h6 q-mt-lg").props(
            "data-testid=agent-missing"
        )
        ui.link("Back to the agents", "/")
        return None
    view = _AgentView(agent)
    ui.timer(REFRESH_SECONDS, view.refresh)
    return None
