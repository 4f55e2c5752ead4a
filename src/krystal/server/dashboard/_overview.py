"""``/``: every agent with its phase, recent mean reward and decision rate, live; and the
places where the generative platform's approvals and the LLM providers will appear."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from krystal.server.dashboard._frame import (
    REFRESH_SECONDS,
    current,
    open_page,
    to_login,
)

PHASE_COLOURS = {"SOLID": "blue-8", "LIQUID": "teal-7", "GAS": "orange-8", "PLASMA": "red-7"}

_COLUMNS = [
    {"name": "name", "label": "Agent", "field": "name", "align": "left", "sortable": True},
    {"name": "preset", "label": "Preset", "field": "preset", "align": "left"},
    {"name": "phase", "label": "Phase", "field": "phase", "align": "left", "sortable": True},
    {"name": "cycle", "label": "Cycle", "field": "cycle", "sortable": True},
    {"name": "decisions", "label": "Decisions", "field": "decisions", "sortable": True},
    {"name": "pending", "label": "Awaiting reward", "field": "pending"},
    {"name": "recent_mean_reward", "label": "Recent mean reward", "field": "recent_mean_reward"},
    {"name": "rate", "label": "Decisions / min", "field": "rate", "sortable": True},
]

_NAME_CELL = (
    '<q-td :props="props"><a :href="\'/agents/\' + props.value" class="text-primary">'
    "{{ props.value }}</a></q-td>"
)
_PHASE_CELL = (
    '<q-td :props="props"><q-badge :color="props.row.phase_colour" :label="props.value" /></q-td>'
)


def overview_rows() -> list[dict[str, Any]]:
    """One table row per agent, numbers rounded for reading."""
    rows = []
    for agent in current().service.agents():
        info = agent.summary()
        mean = info["recent_mean_reward"]
        rows.append(
            {
                "name": info["name"],
                "preset": info["preset"] or "—",
                "phase": info["phase"],
                "phase_colour": PHASE_COLOURS.get(info["phase"], "grey"),
                "cycle": info["cycle"],
                "decisions": info["decisions"],
                "pending": info["pending"],
                "recent_mean_reward": "—" if mean is None else f"{mean:.3f}",
                "rate": round(60 * info["decision_rate"], 1),
            }
        )
    return rows


@ui.page("/", title="Krystal · agents")
async def overview_page(request: Request) -> RedirectResponse | None:
    principal = await open_page(request)
    if principal is None:
        return to_login(request)
    with ui.tabs().classes("w-full") as tabs:
        agents_tab = ui.tab("Agents")
        approvals_tab = ui.tab("Approvals").props("data-testid=tab-approvals")
        providers_tab = ui.tab("LLM providers").props("data-testid=tab-providers")
    with ui.tab_panels(tabs, value=agents_tab).classes("w-full"):
        with ui.tab_panel(agents_tab):
            table = ui.table(columns=_COLUMNS, rows=overview_rows(), row_key="name").classes(
                "w-full"
            )
            table.props("data-testid=agents-table flat bordered")
            table.add_slot("body-cell-name", _NAME_CELL)
            table.add_slot("body-cell-phase", _PHASE_CELL)
            ui.label(
                "Phase: how the agent explores (SOLID settled · LIQUID adjusting · GAS "
                "exploring · PLASMA searching hard after a shift). Recent mean reward: the "
                "last 100 rewards. Updated every second."
            ).classes("text-caption text-grey-7")

            def refresh() -> None:
                table.rows = overview_rows()
                table.update()

            ui.timer(REFRESH_SECONDS, refresh)
        with ui.tab_panel(approvals_tab):
            _placeholder(
                "Approvals",
                "When the generative platform is installed, the actions its agents propose "
                "that need a person's approval (a new prompt, a tool call, a deployment) "
                "will be listed here to approve or reject, with who decided and when.",
            )
        with ui.tab_panel(providers_tab):
            _placeholder(
                "LLM providers",
                "The status of each configured LLM provider (local servers such as Ollama, "
                "LM Studio and vLLM, and API providers) will show here: reachable or not, "
                "latency, errors and spend. Until then, the command krystal llm status reports it "
                "from the command line.",
            )
    return None


def _placeholder(title: str, text: str) -> None:
    with ui.card().classes("w-full bg-grey-1"):
        ui.label(title).classes("text-h6")
        ui.label("Not available yet.").classes("text-subtitle2 text-grey-8")
        ui.label(text)
