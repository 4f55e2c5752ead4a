#!/usr/bin/env bash
# Debian packages the test suite needs (PostgreSQL for the storage tests, Chromium for the
# browser tests, a C/C++ toolchain for the real-model LLM test). Idempotent: installs only
# what is missing. Called by scripts/test.sh; safe to run by hand.
set -euo pipefail

packages=(
  # one package per line; add the binary you need and why in a comment
  postgresql       # initdb/pg_ctl: the service tests start a throwaway PostgreSQL cluster
  chromium         # the dashboard's browser tests (Playwright drives it; no downloaded browser)
  build-essential  # cc/c++: pip compiles llama.cpp for the real-model LLM test (llm-local extra)
  cmake            # llama-cpp-python's build (scikit-build-core) drives llama.cpp's CMake
  ninja-build      # the generator that build uses (else pip fetches ninja from PyPI)
)

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
