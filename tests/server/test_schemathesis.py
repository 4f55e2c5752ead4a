"""schemathesis against ``krystal serve``'s own OpenAPI document, on a live uvicorn.

Every operation of /openapi.json gets generated requests (valid ones, and invalid ones
where it has inputs), sent with a superadmin key; each answer must be no 5xx, a status
the document lists for that operation, the content type it lists, and a body matching
its schema. Operations on an agent run both on random names (the 404 path) and on agents
that exist (the decide/reward path, with each reward-model backend). At least 1,000
cases in all.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from live_server import LiveServer

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.core.failures import FailureGroup  # noqa: E402
from schemathesis.generation import GenerationMode  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from krystal.storage import Storage  # noqa: E402

pytestmark = pytest.mark.slow

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# agents that exist while fuzzing, with each backend of the reward model
EXISTING = {"fuzzed": "python", "fuzzed-numpy": "numpy"}
MIN_CASES = 1000
# Per operation and mode; with ~23 operations this gives well over MIN_CASES.
EXAMPLES = 30
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TIME_BUDGET = 150.0  # seconds for the whole run; the test fails rather than overrun


def _runs(operation: Any) -> list[tuple[str, Any]]:
    """(label, strategy) pairs for one operation."""
    runs = [("positive", operation.as_strategy(GenerationMode.POSITIVE))]
    has_inputs = bool(operation.body) or any(True for _ in operation.iter_parameters())
    if has_inputs:
        runs.append(("negative", operation.as_strategy(GenerationMode.NEGATIVE)))
    deletes_it = operation.method.upper() == "DELETE"
    if "{name}" in operation.path and not deletes_it:
        for name in EXISTING:
            strategy = operation.as_strategy(
                GenerationMode.POSITIVE, path_parameters={"name": name}
            )
            runs.append((f"on agent {name!r}", strategy))
    return runs


def test_every_operation_answers_as_its_schema_says(
    tmp_path: Path, serve: Callable[..., LiveServer]
) -> None:
    db = f"sqlite:///{tmp_path / 'krystal.db'}"
    storage = Storage(db)
    _, token = storage.create_key("schemathesis", "superadmin")
    storage.close()
    server = serve(db, auth=True, reward_wait="5")
    auth = {"Authorization": f"Bearer {token}"}
    import httpx

    for name, backend in EXISTING.items():
        spec = {"name": name, "preset": "server", "config": {"backend": backend}}
        made = httpx.post(server.url + "/v1/agents", json=spec, headers=auth)
        assert made.status_code == 201, made.text

    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20, [op.label for op in operations]

    cases: dict[str, int] = {}
    failures: list[str] = []
    deadline = time.monotonic() + TIME_BUDGET

    def runner(key: str, strategy: Any) -> Callable[[], None]:
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def run(case: Any) -> None:
            cases[key] += 1
            case.call_and_validate(base_url=server.url, headers=auth, checks=CHECKS, timeout=30)

        return run

    for operation in operations:
        for label, strategy in _runs(operation):
            key = f"{operation.label} [{label}]"
            cases[key] = 0
            try:
                runner(key, strategy)()
            except (Exception, FailureGroup) as exc:  # collect all, then report every one
                failures.append(f"{key}: {exc}")
            assert time.monotonic() < deadline, f"over the {TIME_BUDGET:g} s budget: {cases}"

    total = sum(cases.values())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "schemathesis.json").write_text(
        json.dumps({"total_cases": total, "cases": cases, "failures": failures}, indent=1)
    )
    assert not failures, "\n\n".join(failures)
    assert total >= MIN_CASES, (total, cases)
    assert all(count > 0 for count in cases.values()), cases
    assert httpx.get(server.url + "/health", timeout=10).status_code == 200
