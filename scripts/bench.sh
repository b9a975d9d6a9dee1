#!/usr/bin/env bash
# `make bench`: runs every benchmark that has been built and prints its figures.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
for b in "$build"/tests/bench/bench_core "$build"/tests/bench/bench_journal "$build"/tests/bench/bench_watch; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b")"
  "$b" --benchmark_counters_tabular=true
done
# drop-replay's simulator at 5,000 nodes and the tool on a 10-million-entry journal (about an
# hour, most of it the simulation); BENCH_PACING=1 to run it.
if [ "${BENCH_PACING:-0}" = 1 ] && [ -x "$build/tests/bench/bench_pacing" ]; then
  echo "== bench_pacing"
  "$build/tests/bench/bench_pacing"
fi
# On real clusters (tens of minutes): the test cluster's capacity, then drop's rollout at 1,000
# nodes (bench_rollout: pacing efficiency, CPU, RSS, journal bytes per pull, pods/s, a registry
# limit); BENCH_CLUSTER=1 to run them.
if [ "${BENCH_CLUSTER:-0}" = 1 ] && [ -x "$build/tests/bench/cluster_capacity" ]; then
  echo "== cluster_capacity"
  "$build/tests/bench/cluster_capacity"
  echo "== bench_rollout"
  (cd "$src/tests/cluster/operator" && DROP_BENCH=1 DROP_BUILD_DIR=$build DROP_SOURCE_DIR=$src \
    "$build/tests/cluster/bin/cluster-operator.test" -test.run '^TestBenchRollout$' -test.v -test.timeout 3h)
fi
