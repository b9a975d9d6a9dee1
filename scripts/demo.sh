#!/usr/bin/env bash
# `make demo`: runs drop. Until the operator and the test cluster exist, it runs the core demo
# (the real core on a simulated cluster) and says so.
set -euo pipefail
build=${1:-build}
exec "$build/tests/demo/core_demo"
