"""Prometheus metrics of one app: counters read from the agents at scrape time, plus the
decide latency histogram and the error counter, in a registry of the app's own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from krystal.agent import Phase

if TYPE_CHECKING:
    from krystal.server._service import Service

# Decide answers in well under a millisecond when the commit is quick; the buckets
# resolve that range and still show a slow disk.
_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)


class ServiceMetrics:
    """The registry served at ``/metrics`` and the two instruments the routes update."""

    def __init__(self, service: Service) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_AgentCollector(service))
        self.decide_latency = Histogram(
            "krystal_decide_latency_seconds",
            "Time to answer a decide request, commit included.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "krystal_errors",
            "Requests answered with an error, by HTTP status.",
            ["status"],
            registry=self.registry,
        )


class _AgentCollector:
    def __init__(self, service: Service) -> None:
        self._service = service

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        decisions = CounterMetricFamily(
            "krystal_decisions", "Decisions made, per agent.", labels=["agent"]
        )
        rewards = CounterMetricFamily(
            "krystal_rewards",
            "Rewards received, per agent and source (client, or default after the wait).",
            labels=["agent", "source"],
        )
        phase = GaugeMetricFamily(
            "krystal_agent_phase",
            "1 for the agent's current phase, 0 for the others.",
            labels=["agent", "phase"],
        )
        cycles = GaugeMetricFamily(
            "krystal_agent_cycles", "Rewarded decisions learned from.", labels=["agent"]
        )
        pending = GaugeMetricFamily(
            "krystal_pending_decisions", "Decisions waiting for a reward.", labels=["agent"]
        )
        for agent in self._service.agents():
            info = agent.summary()
            decisions.add_metric([agent.name], info["decisions"])
            rewards.add_metric([agent.name, "client"], info["rewards"] - info["default_rewards"])
            rewards.add_metric([agent.name, "default"], info["default_rewards"])
            for name in Phase:
                phase.add_metric(
                    [agent.name, name.value], 1.0 if info["phase"] == name.value else 0.0
                )
            cycles.add_metric([agent.name], info["cycle"])
            pending.add_metric([agent.name], info["pending"])
        yield from (decisions, rewards, phase, cycles, pending)
