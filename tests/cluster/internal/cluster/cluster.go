// Package cluster starts, stops and restarts a test cluster: etcd, kube-apiserver,
// kube-scheduler, kube-controller-manager (all real, built from their Go modules), an optional
// TCP fault proxy, and drop-nodesim, on loopback with free ports, everything kept in one dir.
package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"drop.io/tests/cluster/internal/scenario"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Component names, in start order.
const (
	Etcd              = "etcd"
	APIServer         = "apiserver"
	Proxy             = "proxy"
	Scheduler         = "scheduler"
	ControllerManager = "controller-manager"
	NodeSim           = "nodesim"
	Watchdog          = "watchdog"
)

var startOrder = []string{Etcd, APIServer, Proxy, Scheduler, ControllerManager, NodeSim, Watchdog}

// Options are up's settings (flags, with the scenario's faults filling what flags leave unset).
type Options struct {
	Dir          string
	ScenarioFile string
	Nodes        int
	BinDir       string

	MinRequestTimeout           time.Duration
	EtcdCompactionInterval      time.Duration
	WatchCache                  *bool
	MaxRequestsInflight         int
	MaxMutatingRequestsInflight int
	Proxy                       *scenario.ProxyFaults

	NodeMonitorGracePeriod time.Duration
	KubeAPIQPS             int
	Verbosity              int
	Timeout                time.Duration
	ExitWithPID            int
	Out                    io.Writer
	// Notes takes what up says on its way (a start again), apart from its last line, which goes
	// to Out: standard error when unset.
	Notes io.Writer
	// Starting, when set, is called as each control plane component is about to bind its port
	// (etcd: its client port): a test takes the port there to race the component for it.
	Starting func(component string, port int)
}

// Component is one started process.
type Component struct {
	Args []string `json:"args"`
	Pid  int      `json:"pid"`
	Log  string   `json:"log"`
	// Health is the URL that answers 200 when the component is up ("" = none).
	Health string `json:"health,omitempty"`
	// logFrom is where this start's lines begin in Log (earlier starts append to it too).
	logFrom int64
}

// State is D/cluster.json: what down and restart need.
type State struct {
	Dir        string                `json:"dir"`
	BinDir     string                `json:"binDir"`
	Ports      map[string]int        `json:"ports"`
	Server     string                `json:"server"`                // the API server, direct
	ProxyURL   string                `json:"proxyServer,omitempty"` // the fault proxy in front of it
	Kubeconfig string                `json:"kubeconfig"`
	Direct     string                `json:"directKubeconfig"`
	Nodes      []string              `json:"nodes"`
	Components map[string]*Component `json:"components"`
}

// port is the port the state gives name, 0 without a state.
func (st *State) port(name string) int {
	if st == nil {
		return 0
	}
	return st.Ports[name]
}

func statePath(dir string) string { return filepath.Join(dir, "cluster.json") }

// LoadState reads D/cluster.json.
func LoadState(dir string) (*State, error) {
	b, err := os.ReadFile(statePath(dir))
	if err != nil {
		return nil, err
	}
	st := &State{}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("%s: %w", statePath(dir), err)
	}
	return st, nil
}

func (st *State) save() error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := statePath(st.Dir) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, statePath(st.Dir))
}

// StartError is a component that failed to start, with the tail of its log.
type StartError struct {
	Component string
	Reason    string
	Log       string
	Tail      string
}

// exited is the reason of a StartError whose process ended on its own.
const exited = "the process exited"

func (e *StartError) Error() string {
	return fmt.Sprintf("%s failed to start: %s\n--- last lines of %s ---\n%s", e.Component, e.Reason, e.Log, e.Tail)
}

// freePort picks a port nothing listens on and not among used, below the kernel's ephemeral
// range when it can. A component restarts on its ports (etcd's data records its peer URL), and a
// port from the ephemeral range can meanwhile become the local port of any outgoing connection on
// the machine: etcd then fails to start with "address already in use".
func freePort(used map[int]bool) (int, error) {
	const lowest = 10000
	if first := ephemeralFirst(); first > lowest {
		for range 200 {
			if port := lowest + rand.IntN(first-lowest); !used[port] && portFree(port) {
				return port, nil
			}
		}
	}
	for range 200 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !used[port] {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free port on 127.0.0.1")
}

// FreePort is freePort for other processes' tests (the operator's metrics and health ports): a
// port that outgoing connections do not take while a test restarts a process on it.
func FreePort(used map[int]bool) (int, error) { return freePort(used) }

// ephemeralFirst is the first port of the range the kernel gives outgoing connections (0 when
// it cannot be read).
func ephemeralFirst() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return 0
	}
	first, _ := strconv.Atoi(fields[0])
	return first
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// resolveScenario loads the scenario (or the default one) and applies --nodes.
func resolveScenario(file string, nodes int) (*scenario.Scenario, error) {
	return scenario.Resolve(file, nodes)
}

// Up starts a cluster in opts.Dir and returns once every node of the scenario is Ready.
//
// A port is checked free when it is chosen and bound only when its component starts, so another
// process on the machine can take it in between. A component that then fails on "address already
// in use" is stopped with the rest, and the cluster starts again, within the same timeout. A
// cluster new to its directory chooses that component's ports again and starts its etcd afresh;
// one its directory already holds keeps every port still free (etcd's data records its peer URL).
func Up(ctx context.Context, opts Options) (*State, error) {
	if opts.Out == nil {
		opts.Out = os.Stdout
	}
	if opts.Notes == nil {
		opts.Notes = os.Stderr
	}
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	_, err := LoadState(opts.Dir)
	fresh := errors.Is(err, fs.ErrNotExist)
	const attempts = 3
	var taken []string // components whose ports are chosen again
	for attempt := 1; ; attempt++ {
		st, err := up(ctx, opts, taken)
		var se *StartError
		if attempt == attempts || ctx.Err() != nil || st == nil || !errors.As(err, &se) || !se.portTaken() {
			return st, err
		}
		fmt.Fprintf(opts.Notes, "%s: its port was taken before it could bind it; starting the cluster again\n", se.Component)
		// A cluster its directory already holds keeps the ports still free (etcd's data records
		// its peer URL); a new one chooses the component's ports again, and its etcd, which holds
		// nothing yet, starts afresh.
		if fresh {
			taken = append(taken, se.Component)
			if err := os.RemoveAll(filepath.Join(st.Dir, "etcd")); err != nil {
				return st, err
			}
		}
	}
}

// portTaken reports whether the component exited on a port another process had bound, by what
// this start of it logged.
func (e *StartError) portTaken() bool {
	return e.Reason == exited && strings.Contains(e.Tail, "bind: address already in use")
}

// portsOf names the ports a component binds.
func portsOf(component string) []string {
	if component == Etcd {
		return []string{"etcd", "etcd-peer"}
	}
	return []string{component}
}

func up(ctx context.Context, opts Options, taken []string) (st *State, err error) {
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	old, err := LoadState(dir)
	if err == nil {
		for name, c := range old.Components {
			if alive(c) {
				return nil, fmt.Errorf("%s: a cluster is running there (%s, pid %d); run down first", dir, name, c.Pid)
			}
		}
	} else {
		old = nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	sc, err := resolveScenario(opts.ScenarioFile, opts.Nodes)
	if err != nil {
		return nil, err
	}
	scFile := filepath.Join(dir, "scenario.yaml")
	if err := writeScenario(scFile, opts.ScenarioFile); err != nil {
		return nil, err
	}
	applyScenarioFaults(&opts, sc)
	bin := opts.BinDir
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		exe, _ = filepath.EvalSymlinks(exe)
		bin = filepath.Dir(exe)
	}
	for _, b := range []string{"etcd", "kube-apiserver", "kube-scheduler", "kube-controller-manager", "drop-nodesim"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			return nil, fmt.Errorf("%s not found next to drop-testcluster (in %s): build with `make build`", b, bin)
		}
	}
	p, err := ensurePKI(filepath.Join(dir, "pki"))
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	st = &State{Dir: dir, BinDir: bin, Ports: map[string]int{}, Components: map[string]*Component{}}
	again := map[string]bool{}
	for _, c := range taken {
		for _, name := range portsOf(c) {
			again[name] = true
		}
	}
	names := []string{"etcd", "etcd-peer", APIServer, Scheduler, ControllerManager, Proxy}
	used := map[int]bool{}
	// A cluster started again in its directory keeps its ports (etcd's data records its peer URL).
	for _, name := range names {
		if port := old.port(name); port > 0 && !again[name] && !used[port] && portFree(port) {
			st.Ports[name], used[port] = port, true
		}
	}
	for _, name := range names {
		if st.Ports[name] > 0 {
			continue
		}
		if st.Ports[name], err = freePort(used); err != nil {
			return nil, err
		}
		used[st.Ports[name]] = true
	}
	st.Server = fmt.Sprintf("https://127.0.0.1:%d", st.Ports[APIServer])
	st.Kubeconfig = filepath.Join(dir, "kubeconfig")
	st.Direct = filepath.Join(dir, "kubeconfig.direct")
	for _, n := range sc.InitialNodes(scenario.Namer{}) {
		st.Nodes = append(st.Nodes, n.Name)
	}

	// Kubeconfigs: the admin's (through the proxy when it runs), and one per component.
	if err := writeKubeconfig(st.Direct, st.Server, p, "admin"); err != nil {
		return nil, err
	}
	adminServer := st.Server
	if opts.Proxy != nil {
		st.ProxyURL = fmt.Sprintf("https://127.0.0.1:%d", st.Ports[Proxy])
		adminServer = st.ProxyURL
		if err := WriteFaults(dir, *opts.Proxy); err != nil {
			return nil, err
		}
	}
	if err := writeKubeconfig(st.Kubeconfig, adminServer, p, "admin"); err != nil {
		return nil, err
	}
	for _, c := range []string{"scheduler", "controller-manager", "nodesim"} {
		if err := writeKubeconfig(filepath.Join(dir, c+".kubeconfig"), st.Server, p, c); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "audit-policy.yaml"), []byte(auditPolicy), 0o644); err != nil {
		return nil, err
	}
	st.Components = componentArgs(st, opts, sc, scFile)
	if err := st.save(); err != nil {
		return nil, err
	}

	// From here on, a failure stops what was started.
	defer func() {
		if err != nil {
			_ = stopAll(st, false)
			_ = st.save()
		}
	}()
	for _, name := range startOrder {
		if _, ok := st.Components[name]; !ok || name == Watchdog || name == NodeSim {
			continue
		}
		if opts.Starting != nil {
			opts.Starting(name, st.Ports[name])
		}
		if err := startAndWait(ctx, st, name, p); err != nil {
			return st, err
		}
	}
	if err := waitServiceAccount(ctx, st); err != nil {
		return st, err
	}
	_ = os.Remove(filepath.Join(dir, "nodesim.ready"))
	if err := startAndWait(ctx, st, NodeSim, p); err != nil {
		return st, err
	}
	if err := waitNodes(ctx, st, sc); err != nil {
		return st, err
	}
	if opts.ExitWithPID > 0 {
		if err := start(st, Watchdog); err != nil {
			return st, err
		}
	}
	if err := st.save(); err != nil {
		return st, err
	}
	fmt.Fprintf(opts.Out, "cluster ready: export KUBECONFIG=%s\n", st.Kubeconfig)
	return st, nil
}

func writeScenario(dst, src string) error {
	if src == "" {
		return os.WriteFile(dst, []byte("# no scenario given: the default nodes\n"), 0o644)
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

func applyScenarioFaults(o *Options, sc *scenario.Scenario) {
	f := sc.Faults
	if f == nil {
		return
	}
	if o.MinRequestTimeout == 0 && f.MinRequestTimeout != nil {
		o.MinRequestTimeout = f.MinRequestTimeout.Duration
	}
	if o.EtcdCompactionInterval == 0 && f.EtcdCompactionInterval != nil {
		o.EtcdCompactionInterval = f.EtcdCompactionInterval.Duration
	}
	if o.WatchCache == nil && f.WatchCache != nil {
		o.WatchCache = f.WatchCache
	}
	if o.MaxRequestsInflight == 0 {
		o.MaxRequestsInflight = f.MaxRequestsInflight
	}
	if o.MaxMutatingRequestsInflight == 0 {
		o.MaxMutatingRequestsInflight = f.MaxMutatingRequestsInflight
	}
	if o.Proxy == nil && f.Proxy != nil {
		o.Proxy = f.Proxy
	}
}

const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
# Pods and their status: the full request and response bodies.
- level: RequestResponse
  resources:
  - group: ""
    resources: ["pods", "pods/status", "pods/binding", "pods/eviction"]
# drop's status writes: the request body, so tests can compare what drop wrote with its journal.
- level: Request
  resources:
  - group: "drop.io"
    resources: ["cachedimages/status", "discoverypolicies/status"]
# Health probes and discovery: nothing.
- level: None
  nonResourceURLs: ["/healthz*", "/readyz*", "/livez*", "/version", "/openapi*", "/api", "/api/*", "/apis", "/apis/*", "/metrics"]
# Every other request, writes included: who did what to which object.
- level: Metadata
`

func componentArgs(st *State, o Options, sc *scenario.Scenario, scFile string) map[string]*Component {
	d, bin := st.Dir, st.BinDir
	pki := func(f string) string { return filepath.Join(d, "pki", f) }
	v := strconv.Itoa(o.Verbosity)
	comps := map[string]*Component{}
	logf := func(name string) string { return filepath.Join(d, name+".log") }

	comps[Etcd] = &Component{Log: logf(Etcd), Health: fmt.Sprintf("http://127.0.0.1:%d/health", st.Ports["etcd"]), Args: []string{
		filepath.Join(bin, "etcd"),
		"--name=default",
		"--data-dir=" + filepath.Join(d, "etcd"),
		fmt.Sprintf("--listen-client-urls=http://127.0.0.1:%d", st.Ports["etcd"]),
		fmt.Sprintf("--advertise-client-urls=http://127.0.0.1:%d", st.Ports["etcd"]),
		fmt.Sprintf("--listen-peer-urls=http://127.0.0.1:%d", st.Ports["etcd-peer"]),
		fmt.Sprintf("--initial-advertise-peer-urls=http://127.0.0.1:%d", st.Ports["etcd-peer"]),
		fmt.Sprintf("--initial-cluster=default=http://127.0.0.1:%d", st.Ports["etcd-peer"]),
		"--unsafe-no-fsync=true",
		"--quota-backend-bytes=8589934592",
		"--log-level=warn",
	}}

	api := []string{
		filepath.Join(bin, "kube-apiserver"),
		"--advertise-address=127.0.0.1",
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", st.Ports[APIServer]),
		fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", st.Ports["etcd"]),
		"--cert-dir=" + filepath.Join(d, "pki"),
		"--tls-cert-file=" + pki("apiserver.crt"),
		"--tls-private-key-file=" + pki("apiserver.key"),
		"--client-ca-file=" + pki("ca.crt"),
		"--authorization-mode=Node,RBAC",
		"--service-account-key-file=" + pki("sa.pub"),
		"--service-account-signing-key-file=" + pki("sa.key"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--api-audiences=https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range=10.96.0.0/16",
		"--allow-privileged=true",
		// The only address is loopback, which Endpoints may not hold; nothing in-cluster calls it.
		"--endpoint-reconciler-type=none",
		"--audit-policy-file=" + filepath.Join(d, "audit-policy.yaml"),
		"--audit-log-path=" + filepath.Join(d, "audit.jsonl"),
		"--audit-log-format=json",
		"--audit-log-maxsize=1024",
		"--audit-log-maxbackup=3",
		"--profiling=false",
		"--v=" + v,
	}
	if o.MinRequestTimeout > 0 {
		secs := int(o.MinRequestTimeout.Round(time.Second) / time.Second)
		if secs < 1 {
			secs = 1
		}
		api = append(api, fmt.Sprintf("--min-request-timeout=%d", secs))
	}
	if o.EtcdCompactionInterval > 0 {
		api = append(api, "--etcd-compaction-interval="+o.EtcdCompactionInterval.String())
	}
	if o.WatchCache != nil && !*o.WatchCache {
		api = append(api, "--watch-cache=false")
	}
	if o.MaxRequestsInflight > 0 {
		api = append(api, fmt.Sprintf("--max-requests-inflight=%d", o.MaxRequestsInflight))
	}
	if o.MaxMutatingRequestsInflight > 0 {
		api = append(api, fmt.Sprintf("--max-mutating-requests-inflight=%d", o.MaxMutatingRequestsInflight))
	}
	comps[APIServer] = &Component{Log: logf(APIServer), Health: st.Server + "/readyz", Args: api}

	if o.Proxy != nil {
		self := filepath.Join(bin, "drop-testcluster")
		comps[Proxy] = &Component{Log: logf(Proxy), Args: []string{self, "proxy",
			fmt.Sprintf("--listen=127.0.0.1:%d", st.Ports[Proxy]),
			fmt.Sprintf("--upstream=127.0.0.1:%d", st.Ports[APIServer]),
			"--faults=" + filepath.Join(d, "faults.json"),
		}}
	}

	qps := o.KubeAPIQPS
	if qps <= 0 {
		qps = 100
	}
	kc := func(c string) string { return filepath.Join(d, c+".kubeconfig") }
	comps[Scheduler] = &Component{Log: logf(Scheduler), Health: fmt.Sprintf("https://127.0.0.1:%d/healthz", st.Ports[Scheduler]), Args: []string{
		filepath.Join(bin, "kube-scheduler"),
		"--kubeconfig=" + kc("scheduler"),
		"--authentication-kubeconfig=" + kc("scheduler"),
		"--authorization-kubeconfig=" + kc("scheduler"),
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", st.Ports[Scheduler]),
		"--leader-elect=false",
		fmt.Sprintf("--kube-api-qps=%d", qps),
		fmt.Sprintf("--kube-api-burst=%d", 2*qps),
		"--v=" + v,
	}}

	grace := o.NodeMonitorGracePeriod
	if grace == 0 {
		grace = 5 * sc.HeartbeatReal()
		if grace < 20*time.Second {
			grace = 20 * time.Second
		}
	}
	comps[ControllerManager] = &Component{Log: logf(ControllerManager), Health: fmt.Sprintf("https://127.0.0.1:%d/healthz", st.Ports[ControllerManager]), Args: []string{
		filepath.Join(bin, "kube-controller-manager"),
		"--kubeconfig=" + kc("controller-manager"),
		"--authentication-kubeconfig=" + kc("controller-manager"),
		"--authorization-kubeconfig=" + kc("controller-manager"),
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", st.Ports[ControllerManager]),
		"--leader-elect=false",
		"--controllers=" + strings.Join(controllers, ","),
		"--service-account-private-key-file=" + pki("sa.key"),
		"--root-ca-file=" + pki("ca.crt"),
		"--use-service-account-credentials=true",
		"--node-monitor-grace-period=" + grace.String(),
		fmt.Sprintf("--kube-api-qps=%d", qps),
		fmt.Sprintf("--kube-api-burst=%d", 2*qps),
		"--v=" + v,
	}}

	nodes := []string{
		filepath.Join(bin, "drop-nodesim"),
		"--kubeconfig=" + kc("nodesim"),
		"--ready-file=" + filepath.Join(d, "nodesim.ready"),
	}
	if o.ScenarioFile != "" {
		nodes = append(nodes, "--scenario="+scFile)
	}
	if o.Nodes > 0 {
		nodes = append(nodes, fmt.Sprintf("--nodes=%d", o.Nodes))
	}
	comps[NodeSim] = &Component{Log: logf(NodeSim), Args: nodes}

	if o.ExitWithPID > 0 {
		comps[Watchdog] = &Component{Log: logf(Watchdog), Args: []string{filepath.Join(bin, "drop-testcluster"), "watchdog",
			"--dir=" + d, fmt.Sprintf("--pid=%d", o.ExitWithPID)}}
	}
	return comps
}

// The controllers the cluster runs (kube-controller-manager --controllers).
var controllers = []string{
	"serviceaccount-token-controller", "serviceaccount-controller", "root-ca-certificate-publisher-controller",
	"garbage-collector-controller", "namespace-controller", "node-lifecycle-controller", "taint-eviction-controller",
	"pod-garbage-collector-controller", "job-controller", "cronjob-controller", "ttl-after-finished-controller",
	"deployment-controller", "replicaset-controller", "daemonset-controller", "statefulset-controller",
	"clusterrole-aggregation-controller", "disruption-controller",
}

func writeKubeconfig(path, server string, p *pki, user string) error {
	ca, err := os.ReadFile(p.path("ca.crt"))
	if err != nil {
		return err
	}
	crt, err := os.ReadFile(p.path(user + ".crt"))
	if err != nil {
		return err
	}
	key, err := os.ReadFile(p.path(user + ".key"))
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["drop-testcluster"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: crt, ClientKeyData: key}
	cfg.Contexts["drop-testcluster"] = &clientcmdapi.Context{Cluster: "drop-testcluster", AuthInfo: user}
	cfg.CurrentContext = "drop-testcluster"
	return clientcmd.WriteToFile(*cfg, path)
}

// ---- processes ----

func start(st *State, name string) error {
	c := st.Components[name]
	logf, err := os.OpenFile(c.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	if info, err := logf.Stat(); err == nil {
		c.logFrom = info.Size()
	}
	fmt.Fprintf(logf, "=== %s: starting %s\n", time.Now().Format(time.RFC3339), strings.Join(c.Args, " "))
	cmd := exec.Command(c.Args[0], c.Args[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = st.Dir
	// Its own session: it outlives `up` and is not hit by signals sent to the caller's group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return &StartError{Component: name, Reason: err.Error(), Log: c.Log, Tail: tail(c.Log, c.logFrom, 30)}
	}
	c.Pid = cmd.Process.Pid
	// Reap it if it dies while we are still here; once we exit, init adopts it.
	done := make(chan struct{})
	startedMu.Lock()
	started[c.Pid] = done
	startedMu.Unlock()
	go func() { _ = cmd.Wait(); close(done) }()
	return st.save()
}

// started tracks the processes this process started: their /proc entry may still show this
// program's command line for a moment after the fork, so liveness is known from Wait instead.
var (
	startedMu sync.Mutex
	started   = map[int]chan struct{}{}
)

// running reports whether a component is running: by Wait for the ones this process started,
// else by alive.
func running(c *Component) bool {
	startedMu.Lock()
	ch, ok := started[c.Pid]
	startedMu.Unlock()
	if ok {
		select {
		case <-ch:
			return false
		default:
			return true
		}
	}
	return alive(c)
}

// alive reports whether the component's recorded pid is still that component.
func alive(c *Component) bool {
	if c == nil || c.Pid <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", c.Pid))
	if err != nil || len(b) == 0 {
		return false // gone, or a zombie
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	if len(args) != len(c.Args) {
		return false
	}
	for i := range args {
		if args[i] != c.Args[i] {
			return false
		}
	}
	return true
}

// tail gives the last n lines of the log at path from byte `from` on (where a start began).
func tail(path string, from int64, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if from > 0 && from <= int64(len(b)) {
		b = b[from:]
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func startAndWait(ctx context.Context, st *State, name string, p *pki) error {
	if err := start(st, name); err != nil {
		return err
	}
	return waitHealthy(ctx, st, name, p)
}

// waitHealthy waits for the component's health URL (or, for nodesim, its ready file).
func waitHealthy(ctx context.Context, st *State, name string, p *pki) error {
	c := st.Components[name]
	client, err := httpClient(p)
	if err != nil {
		return err
	}
	fail := func(reason string) error {
		return &StartError{Component: name, Reason: reason, Log: c.Log, Tail: tail(c.Log, c.logFrom, 30)}
	}
	lastErr := "not answering yet"
	for {
		if !running(c) {
			// Give a dying process's last words a moment to reach the log.
			time.Sleep(200 * time.Millisecond)
			return fail(exited)
		}
		switch {
		case name == NodeSim:
			if _, err := os.Stat(filepath.Join(st.Dir, "nodesim.ready")); err == nil {
				return nil
			}
		case c.Health == "":
			if name == Proxy {
				if conn, err := net.DialTimeout("tcp", strings.TrimPrefix(st.ProxyURL, "https://"), time.Second); err == nil {
					conn.Close()
					if listensOn(c.Pid, st.Ports[Proxy]) {
						return nil
					}
					lastErr = fmt.Sprintf("%s answers, but not from pid %d", st.ProxyURL, c.Pid)
				}
			} else {
				return nil
			}
		default:
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.Health, nil)
			resp, err := client.Do(req)
			if err == nil {
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
				resp.Body.Close()
				switch {
				case resp.StatusCode == http.StatusOK && listensOn(c.Pid, st.Ports[name]):
					return nil
				case resp.StatusCode == http.StatusOK:
					// Another process took the port: this one is failing to bind it.
					lastErr = fmt.Sprintf("%s answers, but not from pid %d", c.Health, c.Pid)
				default:
					lastErr = fmt.Sprintf("%s answers %d: %s", c.Health, resp.StatusCode, bytes.TrimSpace(body))
				}
			} else {
				lastErr = err.Error()
			}
		}
		select {
		case <-ctx.Done():
			return fail("not ready in time (" + lastErr + ")")
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// listensOn reports whether process pid holds the socket listening on TCP port `port`, by
// /proc/net/tcp{,6} and the process's file descriptors. A process that is gone holds nothing;
// where /proc does not tell (no table lists a listener on the port), it is taken to.
func listensOn(pid, port int) bool {
	if pid <= 0 || port <= 0 {
		return true
	}
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" { // 0A: LISTEN
				continue
			}
			colon := strings.LastIndexByte(f[1], ':')
			if p, err := strconv.ParseInt(f[1][colon+1:], 16, 32); err == nil && int(p) == port {
				inodes["socket:["+f[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return true
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return false
	}
	for _, fd := range fds {
		if target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && inodes[target] {
			return true
		}
	}
	return false
}

// httpClient talks to the components' health endpoints with the admin's certificate.
func httpClient(p *pki) (*http.Client, error) {
	cert, err := tls.LoadX509KeyPair(p.path("admin.crt"), p.path("admin.key"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(p.caCert)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		// The scheduler and controller-manager serve self-signed certificates of their own.
		InsecureSkipVerify: true, //nolint:gosec // loopback health checks only
	}}}, nil
}

func clientset(st *State) (*kubernetes.Clientset, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", st.Direct)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 200, 400
	cfg.UserAgent = "drop-testcluster"
	return kubernetes.NewForConfig(cfg)
}

// waitServiceAccount waits until the default namespace's default ServiceAccount exists (pods
// cannot be created before it).
func waitServiceAccount(ctx context.Context, st *State) error {
	cs, err := clientset(st)
	if err != nil {
		return err
	}
	c := st.Components[ControllerManager]
	for {
		if _, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err == nil {
			return nil
		}
		if !running(c) {
			return &StartError{Component: ControllerManager, Reason: exited, Log: c.Log, Tail: tail(c.Log, c.logFrom, 30)}
		}
		select {
		case <-ctx.Done():
			return &StartError{Component: ControllerManager, Reason: "the default ServiceAccount did not appear in time", Log: c.Log, Tail: tail(c.Log, c.logFrom, 30)}
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// waitNodes waits until every initial node of the scenario is registered, and the Ready ones
// are Ready with the node lifecycle controller's not-ready taint gone (so pods can schedule).
func waitNodes(ctx context.Context, st *State, sc *scenario.Scenario) error {
	cs, err := clientset(st)
	if err != nil {
		return err
	}
	want := map[string]bool{} // name -> must be Ready
	for _, n := range sc.InitialNodes(scenario.Namer{}) {
		want[n.Name] = n.Group.IsReady()
	}
	factory := informers.NewSharedInformerFactory(cs, 0)
	inf := factory.Core().V1().Nodes().Informer()
	stop := make(chan struct{})
	defer close(stop)
	factory.Start(stop)
	cache.WaitForCacheSync(ctx.Done(), inf.HasSynced)
	c := st.Components[NodeSim]
	var missing []string
	for {
		missing = missing[:0]
		for name, ready := range want {
			o, ok, _ := inf.GetStore().GetByKey(name)
			if !ok {
				missing = append(missing, name)
				continue
			}
			if ready && !schedulableReady(o.(*corev1.Node)) {
				missing = append(missing, name)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		for _, name := range []string{NodeSim, ControllerManager, APIServer, Etcd} {
			if cc := st.Components[name]; !running(cc) {
				return &StartError{Component: name, Reason: "the process exited while nodes were coming up", Log: cc.Log, Tail: tail(cc.Log, cc.logFrom, 30)}
			}
		}
		select {
		case <-ctx.Done():
			sort.Strings(missing)
			if len(missing) > 5 {
				missing = append(missing[:5], fmt.Sprintf("and %d more", len(missing)-5))
			}
			return &StartError{Component: NodeSim, Reason: "nodes not Ready in time: " + strings.Join(missing, ", "), Log: c.Log, Tail: tail(c.Log, c.logFrom, 30)}
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func schedulableReady(n *corev1.Node) bool {
	ready := false
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
			ready = true
		}
	}
	for _, t := range n.Spec.Taints {
		if t.Key == "node.kubernetes.io/not-ready" || t.Key == "node.kubernetes.io/unreachable" {
			return false
		}
	}
	return ready
}

// ---- down and restart ----

// stopComponent stops one component: SIGTERM (SIGKILL with kill), then SIGKILL after 5 s (the API
// server stops serving at once but may linger in shutdown much longer).
func stopComponent(c *Component, kill bool) error {
	if !alive(c) {
		c.Pid = 0
		return nil
	}
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	if err := syscall.Kill(c.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	deadline := time.Now().Add(5 * time.Second)
	for alive(c) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(c.Pid, syscall.SIGKILL)
			deadline = time.Now().Add(5 * time.Second)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// An exiting process gives up its memory (its cmdline reads empty, so it no longer counts as
	// alive) before it closes its files: until then its listening sockets hold their ports, and
	// a restart on them fails with "address already in use".
	for deadline = time.Now().Add(5 * time.Second); !released(c.Pid) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	c.Pid = 0
	return nil
}

// released reports whether process pid has closed its files: it is gone, a zombie whose other
// threads (which share its files) are gone too, or the pid now names a process that has its
// memory (one that reuses the number).
func released(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// pid (comm) state ...: comm may hold spaces and parentheses, the state follows the last ')'.
	stat := string(b)
	i := strings.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return true
	}
	if state := stat[i+2]; state == 'Z' || state == 'X' {
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		return err != nil || len(tasks) <= 1
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err != nil || len(cmdline) > 0
}

func stopAll(st *State, kill bool) error {
	var errs []error
	self := os.Getpid()
	for i := len(startOrder) - 1; i >= 0; i-- {
		c := st.Components[startOrder[i]]
		if c == nil || c.Pid == self {
			continue
		}
		if err := stopComponent(c, kill); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", startOrder[i], err))
		}
	}
	return errors.Join(errs...)
}

// Down stops every component the cluster in dir started, and nothing else.
func Down(dir string) error {
	st, err := LoadState(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	err = stopAll(st, false)
	if serr := st.save(); err == nil {
		err = serr
	}
	return err
}

// Restart stops one component and starts it again with the same ports and data.
func Restart(ctx context.Context, dir, name string, kill bool, timeout time.Duration) error {
	st, err := LoadState(dir)
	if err != nil {
		return err
	}
	c := st.Components[name]
	if c == nil || name == Watchdog {
		var names []string
		for n := range st.Components {
			if n != Watchdog {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		return fmt.Errorf("no component %q (have: %s)", name, strings.Join(names, ", "))
	}
	p, err := ensurePKI(filepath.Join(st.Dir, "pki"))
	if err != nil {
		return err
	}
	if err := stopComponent(c, kill); err != nil {
		return err
	}
	if name == NodeSim {
		_ = os.Remove(filepath.Join(st.Dir, "nodesim.ready"))
	}
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := startAndWait(ctx, st, name, p); err != nil {
		return err
	}
	return st.save()
}

// Watch is the watchdog: it brings the cluster down once pid is gone.
func Watch(dir string, pid int) error {
	for {
		time.Sleep(time.Second)
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return Down(dir)
		}
		if _, err := os.Stat(statePath(dir)); err != nil {
			return nil
		}
	}
}
