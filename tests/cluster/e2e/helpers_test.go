// Package e2e tests the test cluster end to end: real control planes started with
// drop-testcluster, driven with the machine's kubectl and with client-go.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
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

// binDir is where the cluster's binaries are: DROP_CLUSTER_BIN, else next to this test binary.
func binDir(t *testing.T) string {
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

type cluster struct {
	t   *testing.T
	dir string
	bin string
	cs  *kubernetes.Clientset
}

// startCluster runs `drop-testcluster up` in a temporary directory and brings the cluster down
// when the test ends (and, through the watchdog, if the test process dies).
func startCluster(t *testing.T, args ...string) *cluster {
	t.Helper()
	bin := binDir(t)
	dir, err := os.MkdirTemp("", "drop-testcluster-")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, dir: dir, bin: bin}
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
	c.cs = c.client(filepath.Join(dir, "kubeconfig"))
	return c
}

func (c *cluster) kubeconfig() string { return filepath.Join(c.dir, "kubeconfig") }

func (c *cluster) client(kubeconfig string) *kubernetes.Clientset {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		c.t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	return cs
}

// kubectl runs the machine's kubectl against the cluster.
func (c *cluster) kubectl(stdin string, args ...string) (string, error) {
	cmd := exec.Command("kubectl", args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig())
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

func (c *cluster) mustKubectl(stdin string, args ...string) string {
	c.t.Helper()
	out, err := c.kubectl(stdin, args...)
	if err != nil {
		c.t.Fatal(err)
	}
	return out
}

func (c *cluster) testcluster(args ...string) (string, error) {
	out, err := exec.Command(filepath.Join(c.bin, "drop-testcluster"), args...).CombinedOutput()
	return string(out), err
}

// namespace creates a namespace and waits for its default ServiceAccount (pods need it).
func (c *cluster) namespace(name string) {
	c.t.Helper()
	ctx := context.Background()
	_, err := c.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		c.t.Fatal(err)
	}
	eventually(c.t, time.Minute, "default ServiceAccount in "+name, func() (bool, string) {
		_, err := c.cs.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, fmt.Sprint(err)
	})
}

// eventually polls cond until it holds or the timeout passes (generous: the machine is shared).
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
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

// dropPod is a pod shaped like the ones the operator creates (DESIGN.md section 3).
func dropPod(ns, name, node, image, initImage string, tolerations []corev1.Toleration, pullSecrets []string) *corev1.Pod {
	f := false
	p := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{
			"app.kubernetes.io/managed-by": "drop", "drop.io/node": node}},
		Spec: corev1.PodSpec{
			RestartPolicy:                corev1.RestartPolicyNever,
			AutomountServiceAccountToken: &f,
			Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
					MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
				}}},
			}},
			Tolerations: tolerations,
			Volumes:     []corev1.Volume{{Name: "bin", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			InitContainers: []corev1.Container{{
				Name: "copy-noop", Image: initImage, ImagePullPolicy: corev1.PullIfNotPresent,
				Command:      []string{"/drop-noop", "--install", "/drop/noop"},
				VolumeMounts: []corev1.VolumeMount{{Name: "bin", MountPath: "/drop"}},
			}},
			Containers: []corev1.Container{{
				Name: "pull", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
				Command:      []string{"/drop/noop"},
				VolumeMounts: []corev1.VolumeMount{{Name: "bin", MountPath: "/drop"}},
			}},
		},
	}
	for _, s := range pullSecrets {
		p.Spec.ImagePullSecrets = append(p.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
	}
	return p
}

// podEvents lists a pod's events as "Reason: message" lines, read with kubectl.
func (c *cluster) podEvents(ns, name string) []string {
	c.t.Helper()
	out := c.mustKubectl("", "get", "events", "-n", ns, "--field-selector", "involvedObject.name="+name, "-o", "json")
	var list corev1.EventList
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		c.t.Fatal(err)
	}
	var ev []string
	for _, e := range list.Items {
		ev = append(ev, e.Reason+": "+e.Message)
	}
	return ev
}

func hasEvent(events []string, prefix string) bool {
	for _, e := range events {
		if strings.HasPrefix(e, prefix) {
			return true
		}
	}
	return false
}

func nodeHasImage(n *corev1.Node, name string) bool {
	for _, im := range n.Status.Images {
		for _, nm := range im.Names {
			if nm == name {
				return true
			}
		}
	}
	return false
}
