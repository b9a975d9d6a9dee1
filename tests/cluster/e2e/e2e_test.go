package e2e

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	testcluster "drop.io/tests/cluster/internal/cluster"
	"drop.io/tests/cluster/internal/testkit"
)

//go:embed testdata/e2e.yaml
var e2eScenario string

// scenarioFile writes the e2e scenario (embedded in the test binary) to a file.
func scenarioFile(t *testing.T) string {
	f := filepath.Join(t.TempDir(), "e2e.yaml")
	if err := os.WriteFile(f, []byte(e2eScenario), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestBasics runs one cluster with the e2e scenario (testdata/e2e.yaml) through the behaviours
// other tests rely on.
func TestBasics(t *testing.T) {
	c := testkit.StartCluster(t, "--scenario", scenarioFile(t))
	ctx := context.Background()

	t.Run("KubectlListsNodesWithLabelsAndTaints", func(t *testing.T) {
		c.T = t
		out := c.MustKubectl("", "get", "nodes", "-o", "json")
		var list corev1.NodeList
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatal(err)
		}
		byName := map[string]corev1.Node{}
		for _, n := range list.Items {
			byName[n.Name] = n
		}
		for _, name := range []string{"gpu-0", "gpu-1", "gpu-2", "cpu-0", "cpu-1"} {
			n, ok := byName[name]
			if !ok {
				t.Fatalf("kubectl get nodes: no %s in %v", name, keys(byName))
			}
			pool := strings.TrimSuffix(strings.SplitN(name, "-", 2)[0], "-")
			if n.Labels["pool"] != pool {
				t.Errorf("%s: label pool=%q, want %q", name, n.Labels["pool"], pool)
			}
			tainted := false
			for _, tn := range n.Spec.Taints {
				if tn.Key == "gpu" && tn.Value == "true" && tn.Effect == corev1.TaintEffectNoSchedule {
					tainted = true
				}
			}
			if tainted != (pool == "gpu") {
				t.Errorf("%s: taints %v", name, n.Spec.Taints)
			}
			if pool == "gpu" && !nodeHasImage(&n, "registry.example.com/base:1") {
				t.Errorf("%s: images %v lack registry.example.com/base:1", name, n.Status.Images)
			}
		}
		wide := c.MustKubectl("", "get", "nodes", "-L", "pool")
		if !strings.Contains(wide, "gpu-0") || !strings.Contains(wide, "Ready") {
			t.Errorf("kubectl get nodes -L pool:\n%s", wide)
		}
		// A pod whose image becomes pullable by a timed event (checked in ImageRuleEvent).
		if _, err := c.CS.CoreV1().Pods("default").Create(ctx,
			dropPod("default", "fixed-later", "cpu-1", "registry.example.com/team/app:fixed-later", "ghcr.io/drop/drop:0.1", nil, nil),
			metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		desc := c.MustKubectl("", "describe", "node", "gpu-1")
		if !strings.Contains(desc, "gpu=true:NoSchedule") {
			t.Errorf("kubectl describe node gpu-1 shows no taint gpu=true:NoSchedule:\n%s", desc)
		}
	})

	t.Run("PinnedPodPendingToSucceeded", func(t *testing.T) {
		c.T = t
		c.Namespace("drop-system")
		// Watch the pod's phases from before it exists.
		w, err := c.CS.CoreV1().Pods("drop-system").Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=drop-pinned-abc"})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		pod := dropPod("drop-system", "drop-pinned-abc", "cpu-0", "registry.example.com/team/app:1.4.2", "ghcr.io/drop/drop:0.1", nil, nil)
		b, _ := json.Marshal(pod)
		c.MustKubectl(string(b), "apply", "-f", "-")
		c.MustKubectl("", "wait", "-n", "drop-system", "--for=jsonpath={.status.phase}=Succeeded", "pod/drop-pinned-abc", "--timeout=120s")
		var phases []string
		timeout := time.After(10 * time.Second)
	collect:
		for {
			select {
			case ev := <-w.ResultChan():
				if p, ok := ev.Object.(*corev1.Pod); ok {
					ph := string(p.Status.Phase)
					if len(phases) == 0 || phases[len(phases)-1] != ph {
						phases = append(phases, ph)
					}
					if ph == "Succeeded" {
						break collect
					}
				}
			case <-timeout:
				break collect
			}
		}
		if len(phases) < 2 || phases[0] != "Pending" || phases[len(phases)-1] != "Succeeded" {
			t.Errorf("phases seen %v, want Pending ... Succeeded", phases)
		}
		got, err := c.CS.CoreV1().Pods("drop-system").Get(ctx, "drop-pinned-abc", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Spec.NodeName != "cpu-0" {
			t.Errorf("scheduled to %q, want cpu-0", got.Spec.NodeName)
		}
		cs := got.Status.ContainerStatuses
		if len(cs) != 1 || cs[0].State.Terminated == nil || cs[0].State.Terminated.ExitCode != 0 || cs[0].State.Terminated.Reason != "Completed" {
			t.Errorf("container status %+v", cs)
		}
		if ics := got.Status.InitContainerStatuses; len(ics) != 1 || ics[0].State.Terminated == nil {
			t.Errorf("init container status %+v", ics)
		}
		ev := podEvents(c, "drop-system", "drop-pinned-abc")
		for _, want := range []string{
			"Scheduled: Successfully assigned drop-system/drop-pinned-abc to cpu-0",
			`Pulling: Pulling image "ghcr.io/drop/drop:0.1"`,
			`Pulled: Successfully pulled image "ghcr.io/drop/drop:0.1" in `,
			"Created: Created container: copy-noop",
			"Started: Started container copy-noop",
			`Pulling: Pulling image "registry.example.com/team/app:1.4.2"`,
			`Pulled: Successfully pulled image "registry.example.com/team/app:1.4.2" in `,
			"Created: Created container: pull",
			"Started: Started container pull",
		} {
			if !hasEvent(ev, want) {
				t.Errorf("no event %q in %q", want, ev)
			}
		}
		desc := c.MustKubectl("", "describe", "pod", "-n", "drop-system", "drop-pinned-abc")
		if !strings.Contains(desc, "Status:           Succeeded") && !strings.Contains(desc, "Succeeded") {
			t.Errorf("kubectl describe pod:\n%s", desc)
		}
		// The pulled image joins the node's images (at the kubelet's next status update).
		testkit.Eventually(t, 90*time.Second, "image on cpu-0", func() (bool, string) {
			n, err := c.CS.CoreV1().Nodes().Get(ctx, "cpu-0", metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			return nodeHasImage(n, "registry.example.com/team/app:1.4.2"), fmt.Sprint(n.Status.Images)
		})
		// A second pod for the same image on the same node finds it present.
		pod2 := dropPod("drop-system", "drop-pinned-again", "cpu-0", "registry.example.com/team/app:1.4.2", "ghcr.io/drop/drop:0.1", nil, nil)
		if _, err := c.CS.CoreV1().Pods("drop-system").Create(ctx, pod2, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		c.MustKubectl("", "wait", "-n", "drop-system", "--for=jsonpath={.status.phase}=Succeeded", "pod/drop-pinned-again", "--timeout=120s")
		if ev := podEvents(c, "drop-system", "drop-pinned-again"); !hasEvent(ev, `Pulled: Container image "registry.example.com/team/app:1.4.2" already present on machine`) {
			t.Errorf("second pod: no 'already present' event in %q", ev)
		}
		// Deleting a finished pod removes it.
		c.MustKubectl("", "delete", "pod", "-n", "drop-system", "drop-pinned-again", "--wait=true", "--timeout=60s")
	})

	t.Run("NotFoundImageErrImagePullThenBackOff", func(t *testing.T) {
		c.T = t
		w, err := c.CS.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=broken"})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		pod := dropPod("default", "broken", "cpu-1", "registry.example.com/team/app:broken", "ghcr.io/drop/drop:0.1", nil, nil)
		if _, err := c.CS.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var reasons []string
		deadline := time.After(90 * time.Second)
		for done := false; !done; {
			select {
			case ev := <-w.ResultChan():
				p, ok := ev.Object.(*corev1.Pod)
				if !ok {
					continue
				}
				if p.Status.Phase != corev1.PodPending {
					t.Fatalf("phase %s, want Pending throughout", p.Status.Phase)
				}
				for _, s := range p.Status.ContainerStatuses {
					if s.State.Waiting != nil && (len(reasons) == 0 || reasons[len(reasons)-1] != s.State.Waiting.Reason) {
						reasons = append(reasons, s.State.Waiting.Reason)
						if s.State.Waiting.Reason == "ErrImagePull" && !strings.Contains(s.State.Waiting.Message, "not found") {
							t.Errorf("ErrImagePull message %q", s.State.Waiting.Message)
						}
					}
				}
				done = strings.Contains(strings.Join(reasons, ","), "ErrImagePull,ImagePullBackOff")
			case <-deadline:
				t.Fatalf("waiting reasons seen %v, want ErrImagePull then ImagePullBackOff", reasons)
			}
		}
		ev := podEvents(c, "default", "broken")
		for _, want := range []string{
			`Failed: Failed to pull image "registry.example.com/team/app:broken": `,
			"Failed: Error: ErrImagePull",
			`BackOff: Back-off pulling image "registry.example.com/team/app:broken"`,
			"Failed: Error: ImagePullBackOff",
		} {
			if !hasEvent(ev, want) {
				t.Errorf("no event %q in %q", want, ev)
			}
		}
		out := c.MustKubectl("", "get", "pod", "broken")
		if !strings.Contains(out, "ImagePullBackOff") && !strings.Contains(out, "ErrImagePull") {
			t.Errorf("kubectl get pod broken:\n%s", out)
		}
	})

	t.Run("PrivateImageNeedsItsSecret", func(t *testing.T) {
		c.T = t
		c.Namespace("priv")
		img := "private.example.com/team/secret-app:2"
		nosecret := dropPod("priv", "nosecret", "cpu-1", img, "ghcr.io/drop/drop:0.1", nil, nil)
		if _, err := c.CS.CoreV1().Pods("priv").Create(ctx, nosecret, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 60*time.Second, "nosecret in ErrImagePull/ImagePullBackOff", func() (bool, string) {
			p, err := c.CS.CoreV1().Pods("priv").Get(ctx, "nosecret", metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			for _, s := range p.Status.ContainerStatuses {
				if s.State.Waiting != nil && (s.State.Waiting.Reason == "ErrImagePull" || s.State.Waiting.Reason == "ImagePullBackOff") {
					return strings.Contains(s.State.Waiting.Message, "authorization failed"), s.State.Waiting.Message
				}
			}
			return false, fmt.Sprint(p.Status.ContainerStatuses)
		})
		// Referencing a secret that does not exist does not help either.
		missing := dropPod("priv", "missingsecret", "cpu-1", img, "ghcr.io/drop/drop:0.1", nil, []string{"regcred"})
		if _, err := c.CS.CoreV1().Pods("priv").Create(ctx, missing, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 60*time.Second, "missingsecret warned and failing", func() (bool, string) {
			ev := podEvents(c, "priv", "missingsecret")
			return hasEvent(ev, "FailedToRetrieveImagePullSecret: Unable to retrieve some image pull secrets (regcred)") &&
				hasEvent(ev, "Failed: Error: ErrImagePull"), fmt.Sprint(ev)
		})
		// With the secret in the namespace and referenced, the pull succeeds.
		_, err := c.CS.CoreV1().Secrets("priv").Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "regcred"},
			Type:       corev1.SecretTypeDockerConfigJson,
			Data:       map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{"private.example.com":{"auth":"dTpw"}}}`)},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		withSecret := dropPod("priv", "withsecret", "cpu-1", img, "ghcr.io/drop/drop:0.1", nil, []string{"regcred"})
		if _, err := c.CS.CoreV1().Pods("priv").Create(ctx, withSecret, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		c.MustKubectl("", "wait", "-n", "priv", "--for=jsonpath={.status.phase}=Succeeded", "pod/withsecret", "--timeout=120s")
		p, err := c.CS.CoreV1().Pods("priv").Get(ctx, "nosecret", metav1.GetOptions{})
		if err != nil || p.Status.Phase != corev1.PodPending {
			t.Errorf("nosecret: %v %v, want still Pending", err, p.Status.Phase)
		}
	})

	t.Run("UntoleratedTaintsStayPendingUnschedulable", func(t *testing.T) {
		c.T = t
		pod := dropPod("default", "gpu-notoleration", "gpu-0", "registry.example.com/team/app:1.4.2", "ghcr.io/drop/drop:0.1", nil, nil)
		if _, err := c.CS.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 60*time.Second, "PodScheduled=False Unschedulable", func() (bool, string) {
			p, err := c.CS.CoreV1().Pods("default").Get(ctx, "gpu-notoleration", metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Reason == "Unschedulable" {
					return strings.Contains(cond.Message, "untolerated taint"), cond.Message
				}
			}
			return false, fmt.Sprint(p.Status.Conditions)
		})
		time.Sleep(3 * time.Second)
		p, err := c.CS.CoreV1().Pods("default").Get(ctx, "gpu-notoleration", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Spec.NodeName != "" || p.Status.Phase != corev1.PodPending {
			t.Errorf("node %q phase %s, want unscheduled and Pending", p.Spec.NodeName, p.Status.Phase)
		}
		// The same pod tolerating the taint runs there.
		tol := []corev1.Toleration{{Key: "gpu", Operator: corev1.TolerationOpEqual, Value: "true", Effect: corev1.TaintEffectNoSchedule}}
		ok := dropPod("default", "gpu-toleration", "gpu-0", "registry.example.com/base:1", "ghcr.io/drop/drop:0.1", tol, nil)
		if _, err := c.CS.CoreV1().Pods("default").Create(ctx, ok, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		c.MustKubectl("", "wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/gpu-toleration", "--timeout=120s")
		if ev := podEvents(c, "default", "gpu-toleration"); !hasEvent(ev, `Pulled: Container image "registry.example.com/base:1" already present on machine`) {
			t.Errorf("gpu-toleration: a scenario image should be present; events %q", ev)
		}
	})

	t.Run("TimedEventNodeGetsPods", func(t *testing.T) {
		c.T = t
		// The scenario adds late-0 (pool=late) 15 s after its start.
		testkit.Eventually(t, 120*time.Second, "late-0 Ready", func() (bool, string) {
			n, err := c.CS.CoreV1().Nodes().Get(ctx, "late-0", metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			for _, cond := range n.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					for _, tn := range n.Spec.Taints {
						if tn.Key == "node.kubernetes.io/not-ready" {
							return false, "not-ready taint still on"
						}
					}
					return n.Labels["pool"] == "late", fmt.Sprint(n.Labels)
				}
			}
			return false, fmt.Sprint(n.Status.Conditions)
		})
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "on-late", Namespace: "default"},
			Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				NodeSelector:  map[string]string{"pool": "late"},
				Containers:    []corev1.Container{{Name: "c", Image: "busybox:1.36"}},
			},
		}
		if _, err := c.CS.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		c.MustKubectl("", "wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/on-late", "--timeout=120s")
		p, _ := c.CS.CoreV1().Pods("default").Get(ctx, "on-late", metav1.GetOptions{})
		if p.Spec.NodeName != "late-0" {
			t.Errorf("on-late ran on %q, want late-0", p.Spec.NodeName)
		}
	})

	t.Run("ImageRuleEvent", func(t *testing.T) {
		c.T = t
		// NotFound until the scenario's event at 30 s; the kubelet's back-off retry then pulls it.
		c.MustKubectl("", "wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/fixed-later", "--timeout=180s")
		if ev := podEvents(c, "default", "fixed-later"); !hasEvent(ev, "Failed: Error: ErrImagePull") || !hasEvent(ev, `Pulled: Successfully pulled image "registry.example.com/team/app:fixed-later"`) {
			t.Errorf("fixed-later events %q", ev)
		}
	})

	t.Run("NodeEvents", func(t *testing.T) {
		c.T = t
		// removeNode at 10 s.
		testkit.Eventually(t, 60*time.Second, "flaky-1 removed", func() (bool, string) {
			_, err := c.CS.CoreV1().Nodes().Get(ctx, "flaky-1", metav1.GetOptions{})
			return apierrors.IsNotFound(err), fmt.Sprint(err)
		})
		// notReady at 5 s: heartbeats stop and the node lifecycle controller marks it Unknown;
		// ready at 45 s: the node reports Ready again.
		nodeReady := func() (corev1.ConditionStatus, string) {
			n, err := c.CS.CoreV1().Nodes().Get(ctx, "flaky-0", metav1.GetOptions{})
			if err != nil {
				return "", err.Error()
			}
			for _, cond := range n.Status.Conditions {
				if cond.Type == corev1.NodeReady {
					return cond.Status, cond.Reason + ": " + cond.Message
				}
			}
			return "", "no Ready condition"
		}
		testkit.Eventually(t, 150*time.Second, "flaky-0 marked NotReady by the node lifecycle controller, then Ready again", func() (bool, string) {
			out, err := c.Kubectl("", "get", "events", "-n", "default", "--field-selector", "involvedObject.kind=Node,involvedObject.name=flaky-0,reason=NodeNotReady", "-o", "name")
			st, msg := nodeReady()
			return err == nil && strings.TrimSpace(out) != "" && st == corev1.ConditionTrue, fmt.Sprint(out, err, st, " ", msg)
		})
	})

	t.Run("AuditLog", func(t *testing.T) {
		c.T = t
		b, err := os.ReadFile(filepath.Join(c.Dir, "audit.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		var podCreate, statusPatch, leaseWrite bool
		for _, line := range strings.Split(string(b), "\n") {
			if line == "" {
				continue
			}
			var e struct {
				Level     string `json:"level"`
				Verb      string `json:"verb"`
				ObjectRef struct {
					Resource, Subresource, Name string
				} `json:"objectRef"`
				RequestObject json.RawMessage `json:"requestObject"`
			}
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("audit line: %v: %s", err, line)
			}
			switch {
			case e.ObjectRef.Resource == "pods" && e.ObjectRef.Subresource == "" && e.Verb == "create" && e.ObjectRef.Name == "drop-pinned-abc":
				podCreate = e.Level == "RequestResponse" && len(e.RequestObject) > 0
			case e.ObjectRef.Resource == "pods" && e.ObjectRef.Subresource == "status" && e.Verb == "patch":
				statusPatch = statusPatch || (e.Level == "RequestResponse" && len(e.RequestObject) > 0)
			case e.ObjectRef.Resource == "leases" && e.Verb == "update":
				leaseWrite = leaseWrite || e.Level == "Metadata"
			}
		}
		if !podCreate || !statusPatch || !leaseWrite {
			t.Errorf("audit.jsonl: pod create at RequestResponse %v, pods/status patch at RequestResponse %v, lease update at Metadata %v",
				podCreate, statusPatch, leaseWrite)
		}
	})
}

// TestCompaction checks that a watch from an old resourceVersion gets 410 Gone once the API
// server has compacted etcd (a short --etcd-compaction-interval; the watch cache off so the
// watch reads etcd).
func TestCompaction(t *testing.T) {
	c := testkit.StartCluster(t, "--nodes", "1", "--etcd-compaction-interval", "3s", "--watch-cache=false")
	ctx := context.Background()
	cms := c.CS.CoreV1().ConfigMaps("default")
	cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "counter"}, Data: map[string]string{"n": "0"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	oldRV := cm.ResourceVersion
	// A watch from that version works now.
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: oldRV, FieldSelector: fields.OneTermEqualSelector("metadata.name", "counter").String()})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["n"] = "1"
	if cm, err = cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.ResultChan():
		if ev.Type != watch.Modified {
			t.Fatalf("first event %v %v, want MODIFIED", ev.Type, ev.Object)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no event from a fresh watch")
	}
	w.Stop()
	// Writes move the revision on; two compaction rounds later the old version is gone.
	var gone *metav1.Status
	testkit.Eventually(t, 90*time.Second, "410 Gone for an old resourceVersion", func() (bool, string) {
		cm.Data["n"] = time.Now().String()
		if u, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err == nil {
			cm = u
		}
		w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: oldRV})
		if err != nil {
			if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
				s := err.(apierrors.APIStatus).Status()
				gone = &s
				return true, ""
			}
			return false, err.Error()
		}
		defer w.Stop()
		select {
		case ev := <-w.ResultChan():
			if ev.Type == watch.Error {
				if s, ok := ev.Object.(*metav1.Status); ok && s.Code == http.StatusGone {
					gone = s
					return true, ""
				}
			}
			return false, fmt.Sprintf("event %v", ev.Type)
		case <-time.After(2 * time.Second):
			return false, "no event"
		}
	})
	t.Logf("watch from resourceVersion %s: %d %s: %s", oldRV, gone.Code, gone.Reason, gone.Message)
	// kubectl sees it too.
	out, err := c.Kubectl("", "get", "--raw", "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion="+oldRV)
	if err == nil && !strings.Contains(out, "410") && !strings.Contains(out, "Expired") {
		t.Errorf("kubectl get --raw watch: %s", out)
	}
}

// TestRestart restarts each control plane component; the data stays and the cluster works on.
func TestRestart(t *testing.T) {
	c := testkit.StartCluster(t, "--nodes", "2")
	ctx := context.Background()
	c.MustKubectl("", "create", "configmap", "keep", "--from-literal=k=v")
	before := c.MustKubectl("", "get", "configmap", "keep", "-o", "jsonpath={.metadata.uid}/{.data.k}")
	pod := dropPod("default", "before", "node-0", "registry.example.com/a:1", "ghcr.io/drop/drop:0.1", nil, nil)
	if _, err := c.CS.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.MustKubectl("", "wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/before", "--timeout=120s")

	for i, comp := range []string{"apiserver", "etcd", "scheduler", "controller-manager", "apiserver"} {
		args := []string{"restart", "--dir", c.Dir, comp}
		if comp == "etcd" {
			args = append(args, "--kill")
		}
		t0 := time.Now()
		if out, err := c.Testcluster(args...); err != nil {
			t.Fatalf("restart %s: %v\n%s", comp, err, out)
		}
		t.Logf("restart %s: %v", comp, time.Since(t0).Round(time.Millisecond))
		testkit.Eventually(t, 60*time.Second, "configmap after restarting "+comp, func() (bool, string) {
			out, err := c.Kubectl("", "get", "configmap", "keep", "-o", "jsonpath={.metadata.uid}/{.data.k}")
			return err == nil && out == before, fmt.Sprint(out, err)
		})
		p, err := c.CS.CoreV1().Pods("default").Get(ctx, "before", metav1.GetOptions{})
		if err != nil || p.Status.Phase != corev1.PodSucceeded {
			t.Fatalf("pod before after restarting %s: %v %v", comp, err, p.Status.Phase)
		}
		// The whole cluster still works: a new pod is scheduled, run and reported.
		name := fmt.Sprintf("after-%d", i)
		pod := dropPod("default", name, "node-1", "registry.example.com/a:1", "ghcr.io/drop/drop:0.1", nil, nil)
		testkit.Eventually(t, 60*time.Second, "create "+name, func() (bool, string) {
			_, err := c.CS.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
			return err == nil || apierrors.IsAlreadyExists(err), fmt.Sprint(err)
		})
		c.MustKubectl("", "wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/"+name, "--timeout=120s")
	}
	out := c.MustKubectl("", "get", "nodes")
	if strings.Count(out, " Ready ") != 2 {
		t.Errorf("nodes after restarts:\n%s", out)
	}
	if _, err := c.Testcluster("restart", "--dir", c.Dir, "nosuch"); err == nil {
		t.Error("restart of an unknown component succeeded")
	}
}

// TestFaults: watches closed by the API server, 429s from API Priority and Fairness for a
// service account, and the TCP fault proxy's latency and resets.
func TestFaults(t *testing.T) {
	c := testkit.StartCluster(t, "--nodes", "1", "--min-request-timeout", "2s",
		"--max-requests-inflight", "5", "--max-mutating-requests-inflight", "5", "--fault-proxy")
	ctx := context.Background()
	direct := c.Client(filepath.Join(c.Dir, "kubeconfig.direct"))

	t.Run("KubeconfigPointsAtProxy", func(t *testing.T) {
		c.T = t
		st, err := os.ReadFile(filepath.Join(c.Dir, "cluster.json"))
		if err != nil {
			t.Fatal(err)
		}
		var state struct{ Server, ProxyServer string }
		if err := json.Unmarshal(st, &state); err != nil {
			t.Fatal(err)
		}
		cfg, err := clientcmd.LoadFromFile(c.Kubeconfig())
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Clusters[cfg.Contexts[cfg.CurrentContext].Cluster].Server; got != state.ProxyServer || state.ProxyServer == state.Server {
			t.Errorf("kubeconfig server %s, proxy %s, direct %s", got, state.ProxyServer, state.Server)
		}
		c.MustKubectl("", "get", "nodes")
	})

	t.Run("WatchClosedByServer", func(t *testing.T) {
		c.T = t
		t0 := time.Now()
		w, err := direct.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		for {
			select {
			case _, open := <-w.ResultChan():
				if !open {
					t.Logf("watch closed by the API server after %v", time.Since(t0).Round(time.Millisecond))
					return
				}
			case <-time.After(60 * time.Second):
				t.Fatal("watch still open after 60s with --min-request-timeout=2s")
			}
		}
	})

	t.Run("TooManyRequestsForServiceAccount", func(t *testing.T) {
		c.T = t
		sa, err := direct.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "load"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = direct.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "load-view"},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "view"},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa.Name, Namespace: "default"}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := direct.CoreV1().ServiceAccounts("default").CreateToken(ctx, "load", &authnv1.TokenRequest{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		base, err := clientcmd.BuildConfigFromFlags("", filepath.Join(c.Dir, "kubeconfig.direct"))
		if err != nil {
			t.Fatal(err)
		}
		cfg := rest.AnonymousClientConfig(base)
		cfg.BearerToken = tok.Status.Token
		cfg.QPS, cfg.Burst = -1, 0
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		// A priority level of one seat that rejects rather than queues, for this service account:
		// API Priority and Fairness answers 429 to what it cannot run at once.
		zero := int32(0)
		if _, err := direct.FlowcontrolV1().PriorityLevelConfigurations().Create(ctx, &flowcontrolv1.PriorityLevelConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: "drop-test-reject"},
			Spec: flowcontrolv1.PriorityLevelConfigurationSpec{Type: flowcontrolv1.PriorityLevelEnablementLimited,
				Limited: &flowcontrolv1.LimitedPriorityLevelConfiguration{
					NominalConcurrencyShares: &zero, LendablePercent: &zero,
					LimitResponse: flowcontrolv1.LimitResponse{Type: flowcontrolv1.LimitResponseTypeReject}}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := direct.FlowcontrolV1().FlowSchemas().Create(ctx, &flowcontrolv1.FlowSchema{
			ObjectMeta: metav1.ObjectMeta{Name: "drop-test-reject"},
			Spec: flowcontrolv1.FlowSchemaSpec{
				PriorityLevelConfiguration: flowcontrolv1.PriorityLevelConfigurationReference{Name: "drop-test-reject"},
				MatchingPrecedence:         100,
				DistinguisherMethod:        &flowcontrolv1.FlowDistinguisherMethod{Type: flowcontrolv1.FlowDistinguisherMethodByUserType},
				Rules: []flowcontrolv1.PolicyRulesWithSubjects{{
					Subjects: []flowcontrolv1.Subject{{Kind: flowcontrolv1.SubjectKindServiceAccount,
						ServiceAccount: &flowcontrolv1.ServiceAccountSubject{Name: "load", Namespace: "default"}}},
					ResourceRules: []flowcontrolv1.ResourcePolicyRule{{Verbs: []string{"*"}, APIGroups: []string{"*"},
						Resources: []string{"*"}, Namespaces: []string{"*"}, ClusterScope: true}},
				}},
			},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second) // the API server takes up new flow schemas within a moment
		var n429, nOK, nOther atomic.Int64
		var other atomic.Value
		deadline := time.Now().Add(2 * time.Minute)
		for n429.Load() == 0 && time.Now().Before(deadline) {
			var wg sync.WaitGroup
			for i := 0; i < 200; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					// No client-side retries: client-go would otherwise retry a 429 after its Retry-After.
					err := cs.CoreV1().RESTClient().Get().AbsPath("/api/v1/pods").MaxRetries(0).Do(ctx).Error()
					switch {
					case err == nil:
						nOK.Add(1)
					case apierrors.IsTooManyRequests(err):
						n429.Add(1)
					default:
						nOther.Add(1)
						other.Store(err.Error())
					}
				}()
			}
			wg.Wait()
		}
		t.Logf("as a service account: %d ok, %d 429, %d other (%v)", nOK.Load(), n429.Load(), nOther.Load(), other.Load())
		if n429.Load() == 0 {
			t.Errorf("no 429 from API Priority and Fairness")
		}
	})

	t.Run("ProxyLatencyAndResets", func(t *testing.T) {
		c.T = t
		timeGet := func() (time.Duration, error) {
			t0 := time.Now()
			_, err := c.Kubectl("", "get", "--raw", "/version", "--request-timeout=20s")
			return time.Since(t0), err
		}
		fast, err := timeGet()
		if err != nil {
			t.Fatal(err)
		}
		if out, err := c.Testcluster("fault", "--dir", c.Dir, "--latency", "400ms"); err != nil {
			t.Fatalf("fault: %v %s", err, out)
		}
		testkit.Eventually(t, 30*time.Second, "latency through the proxy", func() (bool, string) {
			d, err := timeGet()
			// A TLS handshake and a request cross the proxy several times.
			return err == nil && d >= fast+800*time.Millisecond, fmt.Sprint(d, err)
		})
		if out, err := c.Testcluster("fault", "--dir", c.Dir, "--reset-probability", "1"); err != nil {
			t.Fatalf("fault: %v %s", err, out)
		}
		testkit.Eventually(t, 30*time.Second, "connection reset through the proxy", func() (bool, string) {
			_, err := timeGet()
			return err != nil && (strings.Contains(err.Error(), "reset") || strings.Contains(err.Error(), "EOF")), fmt.Sprint(err)
		})
		// The direct address is unaffected.
		if _, err := direct.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil {
			t.Errorf("direct: %v", err)
		}
		if out, err := c.Testcluster("fault", "--dir", c.Dir); err != nil {
			t.Fatalf("fault: %v %s", err, out)
		}
		testkit.Eventually(t, 30*time.Second, "proxy healthy again", func() (bool, string) {
			d, err := timeGet()
			return err == nil, fmt.Sprint(d, err)
		})
	})
}

func keys[V any](m map[string]V) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

// TestPorts: a port another process takes between the cluster choosing it and its component
// binding it is chosen again, and the cluster comes up on the new one. The test takes etcd's
// port on the first start, with a server that answers etcd's health check as a live etcd would,
// and the API server's on the second.
func TestPorts(t *testing.T) {
	dir := t.TempDir()
	t.Cleanup(func() {
		if err := testcluster.Down(dir); err != nil {
			t.Errorf("down: %v", err)
		}
	})
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	taken := map[string]int{}
	take := map[string]bool{testcluster.Etcd: true, testcluster.APIServer: true}
	var out, notes strings.Builder
	st, err := testcluster.Up(context.Background(), testcluster.Options{
		Dir: dir, Nodes: 1, BinDir: testkit.BinDir(t), Timeout: 3 * time.Minute,
		ExitWithPID: os.Getpid(), Out: &out, Notes: &notes,
		Starting: func(component string, port int) {
			// Each is taken once: etcd's on the first start, the API server's on the second
			// (the first never reaches it).
			if !take[component] {
				return
			}
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				t.Errorf("take %s's port %d: %v", component, port, err)
				return
			}
			if component == testcluster.Etcd {
				go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					fmt.Fprint(w, `{"health":"true","reason":""}`)
				}))
			}
			held = append(held, l)
			taken[component] = port
			delete(take, component)
		},
	})
	if err != nil {
		t.Fatalf("up: %v\nnotes:\n%s", err, notes.String())
	}
	if len(taken) != 2 {
		t.Fatalf("took the ports of %v; want etcd's and the API server's", taken)
	}
	for component, port := range taken {
		if st.Ports[component] == port {
			t.Errorf("%s runs on port %d, which the test holds", component, port)
		}
	}
	if want := fmt.Sprintf("cluster ready: export KUBECONFIG=%s\n", st.Kubeconfig); out.String() != want {
		t.Errorf("up printed %q; want %q (notes go apart)", out.String(), want)
	}
	for _, component := range []string{"etcd", "apiserver"} {
		if !strings.Contains(notes.String(), component+": its port was taken before it could bind it; starting the cluster again\n") {
			t.Errorf("up did not say that %s lost its port:\n%s", component, notes.String())
		}
	}
	kubectl := exec.Command("kubectl", "--kubeconfig", st.Kubeconfig, "get", "nodes", "--no-headers")
	b, err := kubectl.CombinedOutput()
	if err != nil || strings.Count(string(b), " Ready ") != 1 {
		t.Errorf("kubectl get nodes after the retries: %v\n%s", err, b)
	}
}
