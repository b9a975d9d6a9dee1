#!/usr/bin/env bash
# `make bench`: runs every benchmark that has been built and prints its figures.
set -euo pipefail
build=${1:-build}
for b in "$build"/tests/bench/bench_*; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b")"
  "$b" --benchmark_counters_tabular=true
done
