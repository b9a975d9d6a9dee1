package operator

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"drop.io/tests/cluster/internal/testkit"
)

const twoImages = `
apiVersion: drop.io/v1alpha1
kind: PullPolicy
metadata: {name: rollout}
spec: {maxConcurrentNodes: %d, minDelayBetweenPulls: 0s, podTTLAfterFinished: 10s}
---
apiVersion: drop.io/v1alpha1
kind: CachedImage
metadata: {name: app}
spec: {image: registry.example.com/team/app:7, pullPolicyRef: {name: rollout}}
---
apiVersion: drop.io/v1alpha1
kind: CachedImage
metadata: {name: sidecar}
spec: {image: registry.example.com/team/sidecar:3, pullPolicyRef: {name: rollout}}
`

func allReady(t *testing.T, c *testkit.Cluster, nodes int, names ...string) (bool, string) {
	var state []string
	ok := true
	for _, n := range names {
		s := status(t, c, n)
		state = append(state, fmt.Sprintf("%s %s %d/%d", n, s.Phase, s.NodesReady, s.NodesTargeted))
		ok = ok && s.Phase == "Ready" && s.NodesReady == nodes && s.NodesTargeted == nodes
	}
	return ok, strings.Join(state, ", ")
}

// verifyJournal checks, with drop-replay, that the journal's decisions follow from its inputs
// and that it folds to the statuses the operator wrote to the cluster.
func verifyJournal(t *testing.T, c *testkit.Cluster, journal string, names ...string) {
	t.Helper()
	replay := filepath.Join(buildDir(t), "replay", "drop-replay")
	if _, err := os.Stat(replay); err != nil {
		t.Fatalf("drop-replay not built: %v", err)
	}
	if out, err := exec.Command(replay, "--journal", journal, "verify").CombinedOutput(); err != nil {
		t.Errorf("drop-replay verify: %v\n%s", err, out)
	}
	checkRecordedBuild(t, replay, journal)
	checkStateAtWrites(t, c, replay, journal, 25)
	for _, name := range names {
		out, err := exec.Command(replay, "--journal", journal, "state", "cachedimage/"+name, "-o", "json").Output()
		if err != nil {
			t.Errorf("drop-replay state cachedimage/%s: %v\n%s", name, err, out)
			continue
		}
		var folded struct {
			Status cachedImageStatus `json:"status"`
		}
		if err := json.Unmarshal(out, &folded); err != nil {
			t.Errorf("drop-replay state cachedimage/%s -o json: %v\n%s", name, err, out)
			continue
		}
		got, want := folded.Status, status(t, c, name)
		if got.Phase != want.Phase || got.NodesReady != want.NodesReady || got.NodesTargeted != want.NodesTargeted ||
			strings.Join(got.CachedNodes, ",") != strings.Join(want.CachedNodes, ",") {
			t.Errorf("cachedimage/%s: the journal folds to %s %d/%d, the cluster holds %s %d/%d (or their cachedNodes differ)",
				name, got.Phase, got.NodesReady, got.NodesTargeted, want.Phase, want.NodesReady, want.NodesTargeted)
		}
	}
}

// checkRecordedBuild: every start of the operator recorded its build, as its --version names
// it, and drop-replay of the same build names itself alike.
func checkRecordedBuild(t *testing.T, replay, journal string) {
	t.Helper()
	version := func(bin string) string {
		out, err := exec.Command(bin, "--version").Output()
		if err != nil {
			t.Fatalf("%s --version: %v", bin, err)
		}
		return strings.TrimSpace(string(out))
	}
	build := version(filepath.Join(buildDir(t), "drop-controller-manager"))
	if got := version(replay); got != build {
		t.Errorf("drop-replay --version says %q, drop-controller-manager --version %q: one build names itself alike", got, build)
	}
	out, err := exec.Command(replay, "--journal", journal, "info", "-o", "json").Output()
	if err != nil {
		t.Fatalf("drop-replay info: %v", err)
	}
	var info struct {
		RecordedBy []struct {
			Build  string `json:"build"`
			Starts int    `json:"starts"`
		} `json:"recordedBy"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatalf("drop-replay info -o json: %v\n%s", err, out)
	}
	if len(info.RecordedBy) != 1 || info.RecordedBy[0].Build != build || info.RecordedBy[0].Starts == 0 {
		t.Errorf("drop-replay info: recorded by %+v; want every start by %s", info.RecordedBy, build)
	}
}

func TestCrashes(t *testing.T) {
	const nodes, limit = 200, 10
	c := testkit.StartCluster(t, "--scenario", filepath.Join("testdata", "crash.yaml"))
	installDrop(t, c)
	policyOf := map[string]string{"app": "rollout", "sidecar": "rollout"}
	judge := newJudge(t, c, map[string]int{"rollout": limit}, policyOf)
	op := startOperator(t, c, serviceAccountKubeconfig(t, c), "--leader-elect=false")
	op.waitReady(2 * time.Minute)
	c.MustKubectl(fmt.Sprintf(twoImages, limit), "apply", "-f", "-")

	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	kills := 0
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		if ok, _ := allReady(t, c, nodes, "app", "sidecar"); ok && kills >= 10 {
			break
		}
		time.Sleep(time.Duration(500+rng.Intn(4000)) * time.Millisecond)
		op.kill()
		kills++
		op.start()
	}
	t.Logf("SIGKILLed the operator %d times", kills)
	if kills < 10 {
		t.Errorf("only %d kills before the deadline", kills)
	}
	testkit.Eventually(t, 5*time.Minute, "both CachedImages Ready on every node", func() (bool, string) {
		return allReady(t, c, nodes, "app", "sidecar")
	})
	judge.check(t)
	if err := op.stop(30 * time.Second); err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
	verifyJournal(t, c, op.journal, "app", "sidecar")
}

const rejectFlowSchema = `
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: PriorityLevelConfiguration
metadata: {name: drop-test-scarce}
spec: {type: Limited, limited: {nominalConcurrencyShares: 1, lendablePercent: 0, limitResponse: {type: Reject}}}
---
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: FlowSchema
metadata: {name: drop-test-scarce}
spec:
  priorityLevelConfiguration: {name: drop-test-scarce}
  matchingPrecedence: 100
  distinguisherMethod: {type: ByUser}
  rules:
  - subjects: [{kind: ServiceAccount, serviceAccount: {name: drop-controller-manager, namespace: drop-system}}]
    resourceRules: [{verbs: ["*"], apiGroups: ["*"], resources: ["*"], namespaces: ["*"], clusterScope: true}]
`

func TestClusterFaults(t *testing.T) {
	const nodes, limit = 40, 5
	c := testkit.StartCluster(t, "--scenario", filepath.Join("testdata", "faults.yaml"))
	c.Direct()
	installDrop(t, c)
	c.MustKubectl(rejectFlowSchema, "apply", "-f", "-")
	policyOf := map[string]string{"app": "rollout", "sidecar": "rollout"}
	judge := newJudge(t, c, map[string]int{"rollout": limit}, policyOf)
	// Through the fault proxy (the kubeconfig points at it), as the ServiceAccount APF limits.
	op := startOperator(t, c, serviceAccountKubeconfig(t, c), "--leader-elect=false")
	op.waitReady(3 * time.Minute)
	c.MustKubectl(fmt.Sprintf(twoImages, limit), "apply", "-f", "-")
	for i := 0; i < 2; i++ {
		time.Sleep(8 * time.Second)
		if out, err := c.Testcluster("restart", "--dir", c.Dir, "apiserver"); err != nil {
			t.Fatalf("restart apiserver: %v\n%s", err, out)
		}
	}
	testkit.Eventually(t, 8*time.Minute, "both CachedImages Ready on every node", func() (bool, string) {
		return allReady(t, c, nodes, "app", "sidecar")
	})
	judge.check(t)
	m := op.metrics()
	t.Logf("API writes that failed, by controller:\n%s", grepLines(m, "drop_reconcile_total"))
	if err := op.stop(30 * time.Second); err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
	verifyJournal(t, c, op.journal, "app", "sidecar")
	audit, _ := os.ReadFile(filepath.Join(c.Dir, "audit.jsonl"))
	t.Logf("429s answered to drop: %d", strings.Count(string(audit), `"code":429`))
}
