#!/usr/bin/env bash
# `make bench`: runs every benchmark that has been built and prints its figures.
set -euo pipefail
build=${1:-build}
for b in "$build"/tests/bench/bench_core "$build"/tests/bench/bench_journal; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b")"
  "$b" --benchmark_counters_tabular=true
done
# The test cluster's capacity (minutes: it starts real clusters); BENCH_CLUSTER=1 to run it.
if [ "${BENCH_CLUSTER:-0}" = 1 ] && [ -x "$build/tests/bench/cluster_capacity" ]; then
  echo "== cluster_capacity"
  "$build/tests/bench/cluster_capacity"
fi
