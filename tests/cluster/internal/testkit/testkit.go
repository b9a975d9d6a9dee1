// Package testkit starts test clusters for Go tests and drives them: drop-testcluster, the
// machine's kubectl and client-go. The cluster's own e2e tests and the operator's use it.
package testkit

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// BinDir is where the cluster's binaries are: DROP_CLUSTER_BIN, else next to this test binary.
func BinDir(t *testing.T) string {
	if d := os.Getenv("DROP_CLUSTER_BIN"); d != "" {
		return d
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	d := filepath.Dir(exe)
	if _, err := os.Stat(filepath.Join(d, "drop-testcluster")); err != nil {
		t.Fatalf("drop-testcluster not found next to the test binary (%s); run the built test binary, or set DROP_CLUSTER_BIN", d)
	}
	return d
}

// Cluster is a running test cluster (drop-testcluster up) and clients for it.
type Cluster struct {
	T   *testing.T // the test (or subtest) failures are reported to
	Dir string     // the cluster directory: kubeconfig, audit.jsonl, logs
	Bin string     // where the cluster binaries are
	CS  *kubernetes.Clientset

	hands string // the kubeconfig Kubectl uses; "": Kubeconfig()
}

// StartCluster runs `drop-testcluster up` in a temporary directory and brings the cluster down
// when the test ends (and, through the watchdog, if the test process dies).
func StartCluster(t *testing.T, args ...string) *Cluster {
	t.Helper()
	bin := BinDir(t)
	dir, err := os.MkdirTemp("", "drop-testcluster-")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{T: t, Dir: dir, Bin: bin}
	t.Cleanup(func() {
		out, err := exec.Command(filepath.Join(bin, "drop-testcluster"), "down", "--dir", dir).CombinedOutput()
		if err != nil {
			t.Errorf("down: %v\n%s", err, out)
		}
		if t.Failed() || os.Getenv("DROP_KEEP_CLUSTER_DIR") != "" {
			t.Logf("cluster directory kept: %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	full := append([]string{"up", "--dir", dir, "--exit-with-pid", fmt.Sprint(os.Getpid()), "--timeout", "5m"}, args...)
	t0 := time.Now()
	cmd := exec.Command(filepath.Join(bin, "drop-testcluster"), full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("drop-testcluster up: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	want := fmt.Sprintf("cluster ready: export KUBECONFIG=%s\n", filepath.Join(dir, "kubeconfig"))
	if stdout.String() != want {
		t.Fatalf("up printed %q, want %q", stdout.String(), want)
	}
	t.Logf("cluster up in %v: %s", time.Since(t0).Round(time.Millisecond), dir)
	c.CS = c.Client(filepath.Join(dir, "kubeconfig"))
	return c
}

func (c *Cluster) Kubeconfig() string { return filepath.Join(c.Dir, "kubeconfig") }

// Direct points the test's own hands, Kubectl and CS, at the API server itself, past the fault
// proxy: its faults are for drop, which is still given Kubeconfig(). A reset of a request the test
// cannot repeat (kubectl create token) would otherwise fail the test, not drop.
func (c *Cluster) Direct() {
	c.hands = filepath.Join(c.Dir, "kubeconfig.direct")
	c.CS = c.Client(c.hands)
}

func (c *Cluster) Client(kubeconfig string) *kubernetes.Clientset {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		c.T.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		c.T.Fatal(err)
	}
	return cs
}

// Kubectl runs the machine's kubectl against the cluster.
func (c *Cluster) Kubectl(stdin string, args ...string) (string, error) {
	kubeconfig := c.hands
	if kubeconfig == "" {
		kubeconfig = c.Kubeconfig()
	}
	cmd := exec.Command("kubectl", args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

// MustKubectl runs kubectl and fails the test on an error. A request the fault proxy cut
// (connection reset, EOF) is tried again when it is one that may be repeated (apply, get, wait):
// the faults are for drop, not for the test's own hands.
func (c *Cluster) MustKubectl(stdin string, args ...string) string {
	c.T.Helper()
	out, err := c.Kubectl(stdin, args...)
	for try := 0; err != nil && try < 5 && repeatable(args) && cutByProxy(err); try++ {
		time.Sleep(200 * time.Millisecond)
		out, err = c.Kubectl(stdin, args...)
	}
	if err != nil {
		c.T.Fatal(err)
	}
	return out
}

// repeatable: the verb (the first of kubectl's verbs among the arguments) is apply, get or wait.
func repeatable(args []string) bool {
	for _, a := range args {
		switch a {
		case "apply", "get", "wait":
			return true
		case "create", "delete", "patch", "replace", "edit", "label", "annotate", "scale", "cordon", "drain", "taint":
			return false
		}
	}
	return false
}

func cutByProxy(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "connection reset by peer") || strings.Contains(msg, "EOF")
}

func (c *Cluster) Testcluster(args ...string) (string, error) {
	out, err := exec.Command(filepath.Join(c.Bin, "drop-testcluster"), args...).CombinedOutput()
	return string(out), err
}

// Namespace creates a namespace and waits for its default ServiceAccount (pods need it).
func (c *Cluster) Namespace(name string) {
	c.T.Helper()
	ctx := context.Background()
	_, err := c.CS.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		c.T.Fatal(err)
	}
	Eventually(c.T, time.Minute, "default ServiceAccount in "+name, func() (bool, string) {
		_, err := c.CS.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, fmt.Sprint(err)
	})
}

// Eventually polls cond until it holds or the timeout passes (generous: the machine is shared).
func Eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %v; last: %s", what, timeout, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
