package operator

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"drop.io/tests/cluster/internal/testkit"
)

const rolloutObjects = `
apiVersion: drop.io/v1alpha1
kind: PullPolicy
metadata: {name: gentle}
spec: {maxConcurrentNodes: 3, minDelayBetweenPulls: 1s, podTTLAfterFinished: 20s}
---
apiVersion: drop.io/v1alpha1
kind: PullPolicy
metadata: {name: fast}
spec:
  maxConcurrentNodes: 3
  minDelayBetweenPulls: 0s
  pullTimeout: 90s
  podTTLAfterFinished: 15s
  backoff: {initialDelay: 2s, maxDelay: 8s, factor: 2, maxConsecutiveFailures: 2}
---
apiVersion: drop.io/v1alpha1
kind: CachedImage
metadata: {name: base}
spec: {image: registry.example.com/team/base:1, pullPolicyRef: {name: gentle}}
---
apiVersion: drop.io/v1alpha1
kind: CachedImage
metadata: {name: ml}
spec:
  image: registry.example.com/ml/runtime:2
  nodeSelector: {pool: gpu}
  tolerations: [{key: gpu, operator: Exists, effect: NoSchedule}]
  pullPolicyRef: {name: gentle}
---
apiVersion: drop.io/v1alpha1
kind: CachedImage
metadata: {name: broken}
spec: {image: "registry.example.com/team/app:broken", pullPolicyRef: {name: fast}}
`

// phases records every phase each CachedImage shows, polled from the API server.
type phases struct {
	mu   sync.Mutex
	seen map[string][]string
	stop chan struct{}
}

func watchPhases(t *testing.T, c *testkit.Cluster, names ...string) *phases {
	p := &phases{seen: map[string][]string{}, stop: make(chan struct{})}
	go func() {
		for {
			select {
			case <-p.stop:
				return
			case <-time.After(300 * time.Millisecond):
			}
			for _, n := range names {
				s := status(t, c, n)
				p.mu.Lock()
				if l := p.seen[n]; s.Phase != "" && (len(l) == 0 || l[len(l)-1] != s.Phase) {
					p.seen[n] = append(l, s.Phase)
				}
				p.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { close(p.stop) })
	return p
}

func (p *phases) of(name string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen[name]...)
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func TestRollout(t *testing.T) {
	c := testkit.StartCluster(t, "--scenario", filepath.Join("testdata", "rollout.yaml"))
	installDrop(t, c)
	policyOf := map[string]string{"base": "gentle", "ml": "gentle", "slow": "gentle", "broken": "fast"}
	judge := newJudge(t, c, map[string]int{"gentle": 3, "fast": 3}, policyOf)
	// Least privilege: the operator runs as its ServiceAccount with deploy/rbac.yaml's rules.
	op := startOperator(t, c, serviceAccountKubeconfig(t, c), "--leader-elect=false")
	op.waitReady(2 * time.Minute)
	c.MustKubectl(rolloutObjects, "apply", "-f", "-")
	seen := watchPhases(t, c, "base", "ml", "broken")

	t.Run("ReadyThroughKubectlWait", func(t *testing.T) {
		c.T = t
		c.MustKubectl("", "wait", "--for=condition=Ready", "cachedimage/base", "cachedimage/ml", "--timeout=240s")
	})

	cpu := nodeNames(t, c, "pool=cpu")
	gpu := nodeNames(t, c, "pool=gpu")

	t.Run("ANodeThatJoinsLaterGetsTheImage", func(t *testing.T) {
		c.T = t
		testkit.Eventually(t, 3*time.Minute, "late-0 joins and base is Ready on it", func() (bool, string) {
			s := status(t, c, "base")
			return contains(s.CachedNodes, "late-0") && s.Phase == "Ready", fmt.Sprintf("%+v", s)
		})
		cpu = nodeNames(t, c, "pool=cpu")
		// The independent watch may see the last change a moment after kubectl does.
		testkit.Eventually(t, 30*time.Second, "the watch sees base go Pending/Pulling to Ready, Pulling again for late-0, then Ready",
			func() (bool, string) {
				got := seen.of("base")
				return len(got) >= 3 && contains(got, "Pulling") && got[len(got)-1] == "Ready", fmt.Sprintf("phases %v", got)
			})
	})

	t.Run("EveryTargetedNodeEndsWithTheImage", func(t *testing.T) {
		c.T = t
		base, ml := status(t, c, "base"), status(t, c, "ml")
		if strings.Join(base.CachedNodes, ",") != strings.Join(cpu, ",") || base.NodesTargeted != len(cpu) || base.NodesReady != len(cpu) {
			t.Errorf("base: cachedNodes %v, targeted %d, ready %d; want every cpu node %v", base.CachedNodes, base.NodesTargeted, base.NodesReady, cpu)
		}
		if strings.Join(ml.CachedNodes, ",") != strings.Join(gpu, ",") {
			t.Errorf("ml: cachedNodes %v; want the gpu nodes %v (tolerations)", ml.CachedNodes, gpu)
		}
		testkit.Eventually(t, time.Minute, "nodes list the images", func() (bool, string) {
			b := nodesHolding(t, c, "registry.example.com/team/base:1")
			m := nodesHolding(t, c, "registry.example.com/ml/runtime:2")
			return strings.Join(b, ",") == strings.Join(cpu, ",") && strings.Join(m, ",") == strings.Join(gpu, ","),
				fmt.Sprintf("base on %v, ml on %v", b, m)
		})
		if r := base.ready(); r == nil || r.Status != "True" || r.Reason != "AllNodesCached" {
			t.Errorf("base Ready condition %+v", r)
		}
	})

	t.Run("AFailingImageDegradesCountsErrorsAndHeals", func(t *testing.T) {
		c.T = t
		testkit.Eventually(t, 3*time.Minute, "broken Degraded", func() (bool, string) {
			return contains(seen.of("broken"), "Degraded"), fmt.Sprint(seen.of("broken"))
		})
		if m := op.metrics(); !regexp.MustCompile(`drop_pull_errors_total\{image="registry.example.com/team/app:broken",node="[^"]+",reason="[A-Za-z]+"\} [1-9]`).MatchString(m) {
			t.Errorf("drop_pull_errors_total does not count broken's failures:\n%s", grepLines(m, "drop_pull_errors_total"))
		}
		testkit.Eventually(t, 4*time.Minute, "broken heals once the registry has it", func() (bool, string) {
			s := status(t, c, "broken")
			return s.Phase == "Ready" && s.ConsecutiveFailures == 0, fmt.Sprintf("%+v", s)
		})
	})

	t.Run("TargetingAndImagesAlreadyPresent", func(t *testing.T) {
		c.T = t
		for _, cr := range podCreates(t, c) {
			onGPU := strings.HasPrefix(cr.node, "gpu-")
			if cr.cachedImage == "ml" && !onGPU || cr.cachedImage != "ml" && onGPU {
				t.Errorf("pod %s of %s on node %s", cr.pod, cr.cachedImage, cr.node)
			}
			if cr.cachedImage == "base" && strings.HasPrefix(cr.node, "warm-") {
				t.Errorf("pod %s pulled base on %s, which already held it", cr.pod, cr.node)
			}
		}
	})

	t.Run("FinishedPodsGoAfterTheirTTL", func(t *testing.T) {
		c.T = t
		testkit.Eventually(t, 2*time.Minute, "no drop pods left", func() (bool, string) {
			out := c.MustKubectl("", "-n", "drop-system", "get", "pods", "-l", "app.kubernetes.io/managed-by=drop", "-o", "name")
			return strings.TrimSpace(out) == "", out
		})
	})

	t.Run("DeletingACachedImageDeletesItsPods", func(t *testing.T) {
		c.T = t
		c.MustKubectl(`{"apiVersion":"drop.io/v1alpha1","kind":"CachedImage","metadata":{"name":"slow"},"spec":{"image":"registry.example.com/slow/giant:1","pullPolicyRef":{"name":"gentle"}}}`, "apply", "-f", "-")
		testkit.Eventually(t, time.Minute, "a pod of slow", func() (bool, string) {
			out := c.MustKubectl("", "-n", "drop-system", "get", "pods", "-l", "drop.io/cachedimage=slow", "-o", "name")
			return strings.TrimSpace(out) != "", out
		})
		c.MustKubectl("", "delete", "cachedimage", "slow")
		testkit.Eventually(t, time.Minute, "slow's pods gone", func() (bool, string) {
			out := c.MustKubectl("", "-n", "drop-system", "get", "pods", "-l", "drop.io/cachedimage=slow", "-o", "name")
			return strings.TrimSpace(out) == "", out
		})
	})

	t.Run("BadInputGetsAConditionAndNothingElseStops", func(t *testing.T) {
		c.T = t
		c.MustKubectl(`{"apiVersion":"drop.io/v1alpha1","kind":"CachedImage","metadata":{"name":"lost"},"spec":{"image":"registry.example.com/team/base:1","pullPolicyRef":{"name":"nowhere"}}}`, "apply", "-f", "-")
		testkit.Eventually(t, time.Minute, "lost reports PullPolicyNotFound", func() (bool, string) {
			r := status(t, c, "lost").ready()
			return r != nil && r.Reason == "PullPolicyNotFound" && strings.Contains(r.Message, "nowhere"), fmt.Sprintf("%+v", r)
		})
		c.MustKubectl("", "delete", "pullpolicy", "fast")
		testkit.Eventually(t, time.Minute, "broken reports its deleted policy", func() (bool, string) {
			r := status(t, c, "broken").ready()
			return r != nil && r.Reason == "PullPolicyNotFound", fmt.Sprintf("%+v", r)
		})
		// A PullPolicy the schema lets through but drop cannot use has no status of its own: its
		// error is a Warning Event on it, which kubectl describe shows.
		c.MustKubectl(`{"apiVersion":"drop.io/v1alpha1","kind":"PullPolicy","metadata":{"name":"inverted"},"spec":{"backoff":{"initialDelay":"10m","maxDelay":"10s"}}}`, "apply", "-f", "-")
		testkit.Eventually(t, time.Minute, "a Warning Event on PullPolicy inverted", func() (bool, string) {
			out := c.MustKubectl("", "describe", "pullpolicy", "inverted")
			return regexp.MustCompile(`Warning\s+InvalidSpec`).MatchString(out) && strings.Contains(out, "maxDelay is shorter than initialDelay"), out
		})
		_, err := c.Kubectl(`{"apiVersion":"drop.io/v1alpha1","kind":"CachedImage","metadata":{"name":"rejected"},"spec":{"image":"Not An Image"}}`, "apply", "-f", "-")
		if err == nil || !strings.Contains(err.Error(), "spec.image") {
			t.Errorf("the API server should reject a bad image with 422, got %v", err)
		}
		if code, body := op.get(op.healthPort, "/healthz"); code != 200 {
			t.Errorf("/healthz %d %s", code, body)
		}
		if s := status(t, c, "base"); s.Phase != "Ready" {
			t.Errorf("base is %s after the bad input", s.Phase)
		}
	})

	t.Run("PacingLimitsHeld", func(t *testing.T) {
		judge.check(t)
		checkMinDelay(t, podCreates(t, c), policyOf, map[string]time.Duration{"gentle": time.Second})
	})

	t.Run("MetricsAndLogs", func(t *testing.T) {
		m := op.metrics()
		for _, name := range []string{"drop_active_pulls", "drop_pull_errors_total", "drop_pull_duration_seconds",
			"drop_reconcile_total", "drop_pacing_decisions_total", "drop_journal_entries_appended_total"} {
			if !strings.Contains(m, name) {
				t.Errorf("/metrics lacks %s", name)
			}
		}
		if promtool, err := exec.LookPath("promtool"); err == nil {
			cmd := exec.Command(promtool, "check", "metrics")
			cmd.Stdin = strings.NewReader(m)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("promtool check metrics: %v\n%s", err, out)
			}
		} else {
			t.Error("promtool not found (make deps installs Debian's prometheus)")
		}
		creates := 0
		for _, l := range op.logLines() {
			for _, k := range []string{"ts", "level", "msg"} {
				if _, ok := l[k]; !ok {
					t.Errorf("log line without %s: %v", k, l)
				}
			}
			if l["msg"] == "creating drop pod" {
				creates++
				if l["controller"] == nil || l["reconcileID"] == nil || l["pod"] == nil {
					t.Errorf("creation logged without controller/reconcileID/pod: %v", l)
				}
			}
		}
		if creates == 0 {
			t.Error("no \"creating drop pod\" log line")
		}
	})

	t.Run("SIGTERMExitsCleanlyAndTheJournalReplays", func(t *testing.T) {
		if err := op.stop(30 * time.Second); err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, op.tail())
		}
		verifyJournal(t, c, op.journal, "base", "ml")
	})
}

func grepLines(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
