// Package operator tests drop-controller-manager end to end on the test cluster. The verdicts
// come from the cluster's side only: an independent client-go watch of the drop pods, the API
// server's audit log, object statuses, node.status.images, kubectl and the metrics endpoint.
package operator

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"drop.io/tests/cluster/internal/cluster"
	"drop.io/tests/cluster/internal/testkit"
)

// buildDir is the C++ build tree: DROP_BUILD_DIR, else three levels above the cluster binaries
// (build/tests/cluster/bin).
func buildDir(t *testing.T) string {
	if d := os.Getenv("DROP_BUILD_DIR"); d != "" {
		return d
	}
	return filepath.Clean(filepath.Join(testkit.BinDir(t), "..", "..", ".."))
}

// repoDir is the source tree (for deploy/): DROP_SOURCE_DIR, else found from the build tree's
// CMakeCache.
func repoDir(t *testing.T) string {
	if d := os.Getenv("DROP_SOURCE_DIR"); d != "" {
		return d
	}
	b, err := os.ReadFile(filepath.Join(buildDir(t), "CMakeCache.txt"))
	if err != nil {
		t.Fatalf("CMakeCache.txt: %v (set DROP_SOURCE_DIR)", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "CMAKE_HOME_DIRECTORY:INTERNAL=") {
			return strings.TrimPrefix(line, "CMAKE_HOME_DIRECTORY:INTERNAL=")
		}
	}
	t.Fatal("CMAKE_HOME_DIRECTORY not in CMakeCache.txt (set DROP_SOURCE_DIR)")
	return ""
}

// installDrop applies drop's namespace, CRDs and RBAC, as a user would.
func installDrop(t *testing.T, c *testkit.Cluster) {
	t.Helper()
	deploy := filepath.Join(repoDir(t), "deploy")
	c.MustKubectl("", "apply", "-f", filepath.Join(deploy, "namespace.yaml"), "-f", filepath.Join(deploy, "crds"),
		"-f", filepath.Join(deploy, "rbac.yaml"))
	c.MustKubectl("", "wait", "--for", "condition=established", "crd", "--all", "--timeout", "60s")
	testkit.Eventually(t, time.Minute, "ServiceAccount drop-controller-manager", func() (bool, string) {
		_, err := c.Kubectl("", "-n", "drop-system", "get", "serviceaccount", "drop-controller-manager")
		return err == nil, fmt.Sprint(err)
	})
}

// serviceAccountKubeconfig writes a kubeconfig for drop's ServiceAccount (the RBAC of
// deploy/rbac.yaml and nothing else), pointing where the admin kubeconfig points.
func serviceAccountKubeconfig(t *testing.T, c *testkit.Cluster) string {
	t.Helper()
	token := strings.TrimSpace(c.MustKubectl("", "-n", "drop-system", "create", "token",
		"drop-controller-manager", "--duration", "4h"))
	admin, err := clientcmd.LoadFromFile(c.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := admin.Contexts[admin.CurrentContext]
	cluster := admin.Clusters[ctx.Cluster]
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = cluster
	cfg.AuthInfos["drop"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["drop"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "drop"}
	cfg.CurrentContext = "drop"
	path := filepath.Join(c.Dir, "drop-sa.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// freePorts gives n distinct ports nothing listens on, below the ephemeral range (the operator is
// restarted on them).
func freePorts(t *testing.T, n int) []int {
	used := map[int]bool{}
	var ports []int
	for range n {
		p, err := cluster.FreePort(used)
		if err != nil {
			t.Fatal(err)
		}
		used[p] = true
		ports = append(ports, p)
	}
	return ports
}

// operator is one drop-controller-manager process (and its successors after restarts), all
// writing the same journal.
type operator struct {
	t           *testing.T
	bin         string
	args        []string
	journal     string
	metricsPort int
	healthPort  int
	log         *os.File
	cmd         *exec.Cmd
	exited      chan error
	starts      int
}

func startOperator(t *testing.T, c *testkit.Cluster, kubeconfig string, extra ...string) *operator {
	t.Helper()
	ports := freePorts(t, 2)
	o := &operator{t: t, bin: filepath.Join(buildDir(t), "drop-controller-manager"),
		journal: filepath.Join(c.Dir, "journal"), metricsPort: ports[0], healthPort: ports[1]}
	if _, err := os.Stat(o.bin); err != nil {
		t.Fatalf("drop-controller-manager not built: %v", err)
	}
	log, err := os.Create(filepath.Join(c.Dir, "operator.log"))
	if err != nil {
		t.Fatal(err)
	}
	o.log = log
	o.args = append([]string{
		"--kubeconfig", kubeconfig,
		"--journal-dir", o.journal,
		"--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", o.metricsPort),
		"--health-probe-bind-address", fmt.Sprintf("127.0.0.1:%d", o.healthPort),
		"--operator-image", "registry.example.com/drop/operator:test",
		"--log-level", "info",
	}, extra...)
	o.start()
	t.Cleanup(func() {
		if o.cmd != nil && o.cmd.ProcessState == nil {
			o.cmd.Process.Kill()
			<-o.exited
		}
		o.log.Close()
	})
	return o
}

func (o *operator) start() {
	o.t.Helper()
	o.starts++
	fmt.Fprintf(o.log, "=== start %d\n", o.starts)
	o.cmd = exec.Command(o.bin, o.args...)
	o.cmd.Stdout, o.cmd.Stderr = o.log, o.log
	if err := o.cmd.Start(); err != nil {
		o.t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func(cmd *exec.Cmd) { exited <- cmd.Wait() }(o.cmd)
	o.exited = exited
}

// kill sends SIGKILL: a crash at an arbitrary moment.
func (o *operator) kill() {
	o.cmd.Process.Signal(syscall.SIGKILL)
	<-o.exited
}

// stop sends SIGTERM and returns the exit error (nil for exit 0).
func (o *operator) stop(timeout time.Duration) error {
	o.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-o.exited:
		return err
	case <-time.After(timeout):
		o.cmd.Process.Kill()
		<-o.exited
		return fmt.Errorf("did not exit within %v of SIGTERM", timeout)
	}
}

func (o *operator) get(port int, path string) (int, string) {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

func (o *operator) metrics() string {
	_, body := o.get(o.metricsPort, "/metrics")
	return body
}

func (o *operator) waitReady(timeout time.Duration) {
	o.t.Helper()
	testkit.Eventually(o.t, timeout, "operator /readyz", func() (bool, string) {
		code, body := o.get(o.healthPort, "/readyz")
		return code == 200, fmt.Sprintf("%d %s (log: %s)", code, body, o.tail())
	})
}

func (o *operator) tail() string {
	b, _ := os.ReadFile(o.log.Name())
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// logLines returns the operator's log as parsed JSON objects (the "=== start" markers aside).
func (o *operator) logLines() []map[string]any {
	o.t.Helper()
	b, _ := os.ReadFile(o.log.Name())
	var out []map[string]any
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "=== ") {
			continue
		}
		m := map[string]any{}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			o.t.Errorf("a log line is not one JSON object: %q", line)
			continue
		}
		out = append(out, m)
	}
	return out
}

// judge watches the drop pods with client-go, independently of drop, and checks at every
// event: no policy has more active pods than its limit (active: Pending or Running, not waiting
// on an image pull error), and no node has two pods of one CachedImage.
type judge struct {
	mu         sync.Mutex
	limits     map[string]int    // PullPolicy -> maxConcurrentNodes ("" is the default policy)
	policyOf   map[string]string // CachedImage -> PullPolicy
	pods       map[string]*corev1.Pod
	listRV     string // the resourceVersion of the last whole list
	maxActive  map[string]int
	violations []string
	stop       chan struct{}
}

func newJudge(t *testing.T, c *testkit.Cluster, limits map[string]int, policyOf map[string]string) *judge {
	j := &judge{limits: limits, policyOf: policyOf, pods: map[string]*corev1.Pod{},
		maxActive: map[string]int{}, stop: make(chan struct{})}
	lw := cache.NewListWatchFromClient(c.CS.CoreV1().RESTClient(), "pods", "drop-system", fields.Everything())
	// After a watch breaks, the informer relists, then hands over the listed pods before the
	// deletions of those no longer listed: for a moment its view held new pods beside gone ones,
	// more than ever existed at once. The list itself is one moment of the API server's.
	list := lw.ListFunc
	lw.ListFunc = func(o metav1.ListOptions) (runtime.Object, error) {
		obj, err := list(o)
		if pods, ok := obj.(*corev1.PodList); ok && err == nil && o.Continue == "" && pods.Continue == "" {
			j.listed(pods)
		}
		return obj, err
	}
	_, informer := cache.NewInformerWithOptions(cache.InformerOptions{
		ListerWatcher: lw,
		ObjectType:    &corev1.Pod{},
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { j.update(obj.(*corev1.Pod), false) },
			UpdateFunc: func(_, obj any) { j.update(obj.(*corev1.Pod), false) },
			DeleteFunc: func(obj any) {
				if p, ok := obj.(*corev1.Pod); ok {
					j.update(p, true)
				} else if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
					j.update(d.Obj.(*corev1.Pod), true)
				}
			},
		},
	})
	go informer.Run(j.stop)
	t.Cleanup(func() { close(j.stop) })
	testkit.Eventually(t, time.Minute, "judge synced", func() (bool, string) { return informer.HasSynced(), "" })
	return j
}

func pullError(p *corev1.Pod) bool {
	statuses := append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
	for _, s := range statuses {
		if w := s.State.Waiting; w != nil {
			switch w.Reason {
			case "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull":
				return true
			}
		}
	}
	return false
}

func olderVersion(a, b string) bool {
	x, errA := strconv.ParseUint(a, 10, 64)
	y, errB := strconv.ParseUint(b, 10, 64)
	return errA == nil && errB == nil && x < y
}

// listed takes a whole list as the view: the pods it holds, as it holds them, and no others.
func (j *judge) listed(pods *corev1.PodList) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.pods = map[string]*corev1.Pod{}
	j.listRV = pods.ResourceVersion
	for i := range pods.Items {
		j.pods[pods.Items[i].Name] = pods.Items[i].DeepCopy()
	}
}

func (j *judge) update(p *corev1.Pod, deleted bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	key := p.Name
	if deleted {
		delete(j.pods, key)
		return
	}
	// An event from before the list (the informer hands over what the broken watch had queued)
	// is in the list already, or its pod is gone: taken now, a pod deleted since would count as
	// active beside the ones the list holds.
	if olderVersion(p.ResourceVersion, j.listRV) {
		return
	}
	// A change the informer still held from before a relist must not undo the list: resource
	// versions are etcd revisions here, so an older one is a step back.
	if held, ok := j.pods[key]; ok && olderVersion(p.ResourceVersion, held.ResourceVersion) {
		return
	}
	j.pods[key] = p.DeepCopy()
	active := map[string]int{}
	perNode := map[string]int{}
	for _, q := range j.pods {
		ci := q.Labels["drop.io/cachedimage"]
		perNode[ci+"/"+q.Labels["drop.io/node"]]++
		if (q.Status.Phase == corev1.PodPending || q.Status.Phase == corev1.PodRunning || q.Status.Phase == "") && !pullError(q) {
			active[j.policyOf[ci]]++
		}
	}
	for policy, n := range active {
		if n > j.maxActive[policy] {
			j.maxActive[policy] = n
		}
		if limit, ok := j.limits[policy]; ok && n > limit {
			j.violations = append(j.violations, fmt.Sprintf("%s: %d active pods under PullPolicy %q (limit %d)",
				time.Now().Format(time.RFC3339Nano), n, policy, limit))
		}
	}
	for k, n := range perNode {
		if n > 1 {
			j.violations = append(j.violations, fmt.Sprintf("%s: %d drop pods of one CachedImage on one node (%s)",
				time.Now().Format(time.RFC3339Nano), n, k))
		}
	}
}

func (j *judge) check(t *testing.T) {
	t.Helper()
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, v := range j.violations {
		t.Error(v)
	}
	t.Logf("most active pods seen per policy: %v (limits %v)", j.maxActive, j.limits)
}

// auditCreate is a pod creation the API server accepted from drop, read from its audit log.
type auditCreate struct {
	pod, cachedImage, node string
	at                     time.Time
}

// forEachAudit calls `each` with every line (one event) of the API server's audit log.
func forEachAudit(t *testing.T, c *testkit.Cluster, each func(line []byte)) {
	t.Helper()
	f, err := os.Open(filepath.Join(c.Dir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		each(sc.Bytes())
	}
}

func podCreates(t *testing.T, c *testkit.Cluster) []auditCreate {
	t.Helper()
	var out []auditCreate
	forEachAudit(t, c, func(line []byte) {
		var e struct {
			Verb      string `json:"verb"`
			UserAgent string `json:"userAgent"`
			ObjectRef struct {
				Resource, Namespace, Name, Subresource string
			} `json:"objectRef"`
			ResponseStatus struct {
				Code int `json:"code"`
			} `json:"responseStatus"`
			RequestReceived time.Time   `json:"requestReceivedTimestamp"`
			RequestObject   *corev1.Pod `json:"requestObject"`
		}
		if err := json.Unmarshal(line, &e); err != nil {
			return
		}
		if e.Verb != "create" || e.ObjectRef.Resource != "pods" || e.ObjectRef.Subresource != "" ||
			e.ObjectRef.Namespace != "drop-system" || e.ResponseStatus.Code != 201 || !strings.HasPrefix(e.UserAgent, "drop/") {
			return
		}
		ac := auditCreate{pod: e.ObjectRef.Name, at: e.RequestReceived}
		if e.RequestObject != nil {
			if ac.pod == "" {
				ac.pod = e.RequestObject.Name
			}
			ac.cachedImage = e.RequestObject.Labels["drop.io/cachedimage"]
			ac.node = e.RequestObject.Labels["drop.io/node"]
		}
		out = append(out, ac)
	})
	sort.Slice(out, func(a, b int) bool { return out[a].at.Before(out[b].at) })
	return out
}

// checkMinDelay: creations under one policy, as the API server received them, are never closer
// than the policy's minDelayBetweenPulls (less a tolerance for the request's own transit).
func checkMinDelay(t *testing.T, creates []auditCreate, policyOf map[string]string, minDelay map[string]time.Duration) {
	t.Helper()
	const transit = 250 * time.Millisecond
	last := map[string]time.Time{}
	for _, c := range creates {
		policy := policyOf[c.cachedImage]
		if prev, ok := last[policy]; ok {
			if gap := c.at.Sub(prev); gap < minDelay[policy]-transit {
				t.Errorf("pod %s created %v after the previous one under PullPolicy %q (minDelayBetweenPulls %v)",
					c.pod, gap, policy, minDelay[policy])
			}
		}
		last[policy] = c.at
	}
}

type cachedImageStatus struct {
	ObservedGeneration  int64              `json:"observedGeneration"`
	Phase               string             `json:"phase"`
	NodesTargeted       int                `json:"nodesTargeted"`
	NodesReady          int                `json:"nodesReady"`
	CachedNodes         []string           `json:"cachedNodes"`
	ConsecutiveFailures int                `json:"consecutiveFailures"`
	Conditions          []metav1.Condition `json:"conditions"`
}

func status(t *testing.T, c *testkit.Cluster, name string) cachedImageStatus {
	t.Helper()
	out, err := c.Kubectl("", "get", "cachedimage", name, "-o", "jsonpath={.status}")
	var s cachedImageStatus
	if err == nil && out != "" {
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("status of %s: %v: %s", name, err, out)
		}
	}
	return s
}

func (s cachedImageStatus) ready() *metav1.Condition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == "Ready" {
			return &s.Conditions[i]
		}
	}
	return nil
}

func nodesHolding(t *testing.T, c *testkit.Cluster, image string) []string {
	t.Helper()
	nodes, err := c.CS.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range nodes.Items {
		for _, im := range n.Status.Images {
			for _, name := range im.Names {
				if name == image {
					out = append(out, n.Name)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func nodeNames(t *testing.T, c *testkit.Cluster, selector string) []string {
	t.Helper()
	nodes, err := c.CS.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range nodes.Items {
		out = append(out, n.Name)
	}
	sort.Strings(out)
	return out
}
