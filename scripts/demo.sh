#!/usr/bin/env bash
# `make demo`: drop on its test cluster. Starts the real control plane with 30 simulated nodes
# (tests/demo/scenario.yaml: a tainted GPU pool, an image that does not exist, a node that joins
# late), installs drop's CRDs and RBAC with kubectl, runs drop-controller-manager as its
# ServiceAccount, applies deploy/samples/demo.yaml, and shows `kubectl get cachedimages` until every
# CachedImage is Ready or Degraded. The cluster keeps running afterwards; the last lines say how to
# look at the journal and how to stop everything.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
dir=${DROP_DEMO_DIR:-/tmp/drop-demo}
bin=$build/tests/cluster/bin
export KUBECONFIG=$dir/kubeconfig

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
k() { kubectl "$@" 2> >(grep -v -i 'version skew\|WARNING: version difference' >&2); }

if [ -f "$dir/cluster.json" ]; then
  say "stopping the previous demo in $dir"
  pkill -f "drop-controller-manager.*$dir/journal" 2>/dev/null || true
  "$bin/drop-testcluster" down --dir "$dir" --purge >/dev/null 2>&1 || true
fi
rm -rf "$dir"
say "starting the test cluster (real etcd, kube-apiserver, scheduler, controller-manager; 30 simulated nodes)"
"$bin/drop-testcluster" up --dir "$dir" --scenario "$src/tests/demo/scenario.yaml"
k get nodes -L pool --no-headers | awk '{print "  " $1, $2, $NF}' | column -t | head -40

say "installing drop: namespace, CRDs, RBAC"
k apply -f "$src/deploy/namespace.yaml" -f "$src/deploy/crds" -f "$src/deploy/rbac.yaml" >/dev/null
k wait --for condition=established crd --all --timeout 60s >/dev/null
until k -n drop-system get serviceaccount drop-controller-manager >/dev/null 2>&1; do sleep 1; done
# The user guide's commands for drop pods name no namespace: the demo's kubectl looks in drop's.
k config set-context --current --namespace drop-system >/dev/null

# The operator runs outside the cluster (as the user guide's "run the operator locally"), with its
# ServiceAccount's token: the permissions of deploy/rbac.yaml, nothing more.
token=$(k -n drop-system create token drop-controller-manager --duration 24h)
server=$(k config view --raw -o jsonpath='{.clusters[0].cluster.server}')
k config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d >"$dir/ca.crt"
KUBECONFIG=$dir/drop.kubeconfig kubectl config set-cluster demo --server "$server" \
  --certificate-authority "$dir/ca.crt" --embed-certs >/dev/null
KUBECONFIG=$dir/drop.kubeconfig kubectl config set-credentials drop --token "$token" >/dev/null
KUBECONFIG=$dir/drop.kubeconfig kubectl config set-context demo --cluster demo --user drop >/dev/null
KUBECONFIG=$dir/drop.kubeconfig kubectl config use-context demo >/dev/null

say "starting drop-controller-manager (logs: $dir/operator.log)"
nohup "$build/drop-controller-manager" --kubeconfig "$dir/drop.kubeconfig" \
  --journal-dir "$dir/journal" --metrics-bind-address 127.0.0.1:8443 \
  --health-probe-bind-address 127.0.0.1:8081 \
  --operator-image registry.example.com/drop/operator:demo >"$dir/operator.log" 2>&1 &
echo $! >"$dir/operator.pid"
for _ in $(seq 1 120); do
  curl -sf 127.0.0.1:8081/readyz >/dev/null 2>&1 && break
  kill -0 "$(cat "$dir/operator.pid")" 2>/dev/null || { tail -20 "$dir/operator.log"; exit 1; }
  sleep 0.5
done
echo "  ready: $(curl -s 127.0.0.1:8081/readyz)"

say "applying a PullPolicy pair and three CachedImages (deploy/samples/demo.yaml)"
k apply -f "$src/deploy/samples/demo.yaml"

say "watching the rollout"
start=$(date +%s)
while :; do
  out=$(k get cachedimages)
  printf '\n[%3ss]\n%s\n' "$(( $(date +%s) - start ))" "$out"
  phases=$(k get cachedimages -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}')
  late=$(k get nodes --no-headers 2>/dev/null | grep -c late || true)
  if [ "$late" -gt 0 ] && ! grep -qv -e '^Ready$' -e '^Degraded$' <<<"$phases"; then break; fi
  if [ $(( $(date +%s) - start )) -gt 600 ]; then echo "still rolling out after 10 minutes"; break; fi
  sleep 3
done

say "what drop says"
k get cachedimage broken -o jsonpath='{range .status.conditions[*]}  {.type}={.status} {.reason}: {.message}{"\n"}{end}'
curl -s 127.0.0.1:8443/metrics | grep -E '^drop_(active_pulls|pull_errors_total)' | head -5 | sed 's/^/  /'

say "done"
cat <<EOF2
  The cluster and drop keep running.
  export KUBECONFIG=$dir/kubeconfig
  kubectl get cachedimages; kubectl get pods -l app.kubernetes.io/managed-by=drop -o wide
  drop's journal:   $dir/journal   (logs: $dir/operator.log, metrics: curl -s 127.0.0.1:8443/metrics)
  inspect it:       $build/replay/drop-replay --journal $dir/journal info
                    $build/replay/drop-replay --journal $dir/journal explain cachedimage/broken
                    $build/replay/drop-replay --journal $dir/journal verify
  stop everything:  kill \$(cat $dir/operator.pid); $bin/drop-testcluster down --dir $dir
EOF2
