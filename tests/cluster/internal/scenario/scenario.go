// Package scenario reads the test cluster's scenario file (DESIGN.md section 9): the simulated
// nodes, the registry model, the image rules and the timed events. drop-nodesim plays it;
// drop-testcluster reads it to know which nodes to wait for and which faults to switch on.
package scenario

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// Scenario is the whole file. Every field is optional.
type Scenario struct {
	// TimeScale divides every scenario duration and the kubelet's backoff (and multiplies the
	// registry's byte rates), so a scenario can run faster than the wall clock.
	TimeScale float64 `json:"timeScale,omitempty"`
	// Heartbeat is the node Lease renewal interval.
	Heartbeat  *metav1.Duration `json:"heartbeat,omitempty"`
	NodeGroups []NodeGroup      `json:"nodeGroups,omitempty"`
	Registry   Registry         `json:"registry,omitempty"`
	Images     []ImageRule      `json:"images,omitempty"`
	Events     []Event          `json:"events,omitempty"`
	// Faults is read by drop-testcluster only (the same switches exist as its flags).
	Faults *Faults `json:"faults,omitempty"`
}

// NodeGroup is Count nodes named NamePrefix0 .. NamePrefix(Count-1).
type NodeGroup struct {
	Count         int               `json:"count,omitempty"`
	NamePrefix    string            `json:"namePrefix,omitempty"`
	Labels        map[string]string `json:"labels,omitempty"`
	Taints        []corev1.Taint    `json:"taints,omitempty"`
	Images        []NodeImage       `json:"images,omitempty"`
	Ready         *bool             `json:"ready,omitempty"`
	Unschedulable bool              `json:"unschedulable,omitempty"`
	// Capacity overrides the default node capacity (cpu 32, memory 128Gi, pods 110,
	// ephemeral-storage 500Gi); allocatable equals capacity.
	Capacity corev1.ResourceList `json:"capacity,omitempty"`
}

// NodeImage is an image already present on a node.
type NodeImage struct {
	Name      string `json:"name"`
	SizeBytes int64  `json:"sizeBytes,omitempty"`
}

// Registry is the modelled registry every pull goes to.
type Registry struct {
	Bandwidth          *resource.Quantity `json:"bandwidth,omitempty"` // bytes/s shared by all pulls; 0 = unlimited
	PerPull            *resource.Quantity `json:"perPull,omitempty"`   // bytes/s ceiling of one pull; 0 = unlimited
	Latency            *metav1.Duration   `json:"latency,omitempty"`   // before a pull moves bytes
	MaxConcurrentPulls int                `json:"maxConcurrentPulls,omitempty"`
}

// ImageRule applies to the images whose reference matches Match (a glob on the full reference,
// `*` matching any run of characters, `/` included; `?` one character).
type ImageRule struct {
	Match    string             `json:"match"`
	Error    string             `json:"error,omitempty"`  // NotFound
	Secret   string             `json:"secret,omitempty"` // pull only with this imagePullSecret
	Size     *resource.Quantity `json:"size,omitempty"`
	ExitCode *int32             `json:"exitCode,omitempty"`
	// RunFor (an extension) keeps containers of this image running this long before they exit.
	RunFor *metav1.Duration `json:"runFor,omitempty"`
}

// Event is something that happens At a time after the scenario starts (nodes registered).
type Event struct {
	At         metav1.Duration `json:"at"`
	AddNodes   *NodeGroup      `json:"addNodes,omitempty"`
	NotReady   string          `json:"notReady,omitempty"`
	Ready      string          `json:"ready,omitempty"`
	RemoveNode string          `json:"removeNode,omitempty"`
	Image      *ImageRule      `json:"image,omitempty"`
}

// Faults switches on the control plane's real faults and the TCP fault proxy.
type Faults struct {
	MinRequestTimeout           *metav1.Duration `json:"minRequestTimeout,omitempty"`
	EtcdCompactionInterval      *metav1.Duration `json:"etcdCompactionInterval,omitempty"`
	WatchCache                  *bool            `json:"watchCache,omitempty"`
	MaxRequestsInflight         int              `json:"maxRequestsInflight,omitempty"`
	MaxMutatingRequestsInflight int              `json:"maxMutatingRequestsInflight,omitempty"`
	Proxy                       *ProxyFaults     `json:"proxy,omitempty"`
}

// ProxyFaults configures the TCP fault proxy in front of the API server. Present (even empty)
// means the proxy runs and D/kubeconfig points at it.
type ProxyFaults struct {
	Latency          *metav1.Duration `json:"latency,omitempty"`          // added to every chunk each way
	ResetProbability float64          `json:"resetProbability,omitempty"` // per chunk: close the connection with a TCP RST
	StallProbability float64          `json:"stallProbability,omitempty"` // per chunk: stop forwarding for StallDuration
	StallDuration    *metav1.Duration `json:"stallDuration,omitempty"`
}

// Defaults of the registry and images when the scenario leaves them out.
var (
	DefaultBandwidth = resource.MustParse("1Gi")
	DefaultPerPull   = resource.MustParse("100Mi")
	DefaultLatency   = 200 * time.Millisecond
	DefaultImageSize = resource.MustParse("200Mi")
	DefaultHeartbeat = 10 * time.Second
	DefaultNodes     = 3
)

// Load reads and validates a scenario file. Unknown fields are errors.
func Load(path string) (*Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(b)
}

// Parse parses and validates scenario YAML (or JSON).
func Parse(b []byte) (*Scenario, error) {
	s := &Scenario{}
	if err := yaml.UnmarshalStrict(b, s); err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	return s, nil
}

// Default is the scenario used when none is given: n plain Ready nodes node-0 .. node-(n-1).
func Default(n int) *Scenario {
	return &Scenario{NodeGroups: []NodeGroup{{Count: n, NamePrefix: "node-"}}}
}

// Validate checks the values that would otherwise fail later.
func (s *Scenario) Validate() error {
	if s.TimeScale < 0 {
		return fmt.Errorf("timeScale must be > 0")
	}
	if s.Heartbeat != nil && s.Heartbeat.Duration <= 0 {
		return fmt.Errorf("heartbeat must be > 0")
	}
	for i, g := range s.NodeGroups {
		if g.Count < 0 {
			return fmt.Errorf("nodeGroups[%d].count must be >= 0", i)
		}
	}
	for i, r := range s.Images {
		if err := r.validate(); err != nil {
			return fmt.Errorf("images[%d]: %w", i, err)
		}
	}
	for i, e := range s.Events {
		n := 0
		if e.AddNodes != nil {
			n++
		}
		for _, v := range []string{e.NotReady, e.Ready, e.RemoveNode} {
			if v != "" {
				n++
			}
		}
		if e.Image != nil {
			n++
			if err := e.Image.validate(); err != nil {
				return fmt.Errorf("events[%d].image: %w", i, err)
			}
		}
		if n != 1 {
			return fmt.Errorf("events[%d]: exactly one of addNodes, notReady, ready, removeNode, image", i)
		}
	}
	if s.Registry.MaxConcurrentPulls < 0 {
		return fmt.Errorf("registry.maxConcurrentPulls must be >= 0")
	}
	return nil
}

func (r *ImageRule) validate() error {
	if r.Match == "" {
		return fmt.Errorf("match is required")
	}
	switch r.Error {
	case "", "NotFound":
	default:
		return fmt.Errorf("error %q: the only error is NotFound", r.Error)
	}
	return nil
}

// Scale is the time scale (1 when unset).
func (s *Scenario) Scale() float64 {
	if s.TimeScale <= 0 {
		return 1
	}
	return s.TimeScale
}

// Real converts a scenario duration to wall-clock time.
func (s *Scenario) Real(d time.Duration) time.Duration {
	return time.Duration(float64(d) / s.Scale())
}

// HeartbeatReal is the wall-clock Lease renewal interval.
func (s *Scenario) HeartbeatReal() time.Duration {
	d := DefaultHeartbeat
	if s.Heartbeat != nil {
		d = s.Heartbeat.Duration
	}
	return s.Real(d)
}

// NodeSpec is one concrete node of the scenario.
type NodeSpec struct {
	Name  string
	Group NodeGroup
}

// Namer hands out node names per prefix, continuing the numbering of a prefix used before.
type Namer map[string]int

// Expand gives the names of a group's nodes.
func (n Namer) Expand(g NodeGroup) []NodeSpec {
	prefix := g.NamePrefix
	if prefix == "" {
		prefix = "node-"
	}
	out := make([]NodeSpec, 0, g.Count)
	for i := 0; i < g.Count; i++ {
		out = append(out, NodeSpec{Name: fmt.Sprintf("%s%d", prefix, n[prefix]), Group: g})
		n[prefix]++
	}
	return out
}

// InitialNodes lists the nodes registered at start, in order.
func (s *Scenario) InitialNodes(namer Namer) []NodeSpec {
	var out []NodeSpec
	for _, g := range s.NodeGroups {
		out = append(out, namer.Expand(g)...)
	}
	return out
}

// IsReady tells whether a node group starts Ready (the default).
func (g NodeGroup) IsReady() bool { return g.Ready == nil || *g.Ready }

// SortedEvents returns the events in time order (stable for equal times).
func (s *Scenario) SortedEvents() []Event {
	ev := append([]Event(nil), s.Events...)
	sort.SliceStable(ev, func(i, j int) bool { return ev[i].At.Duration < ev[j].At.Duration })
	return ev
}

var (
	globMu    sync.Mutex
	globCache = map[string]*regexp.Regexp{}
)

// Glob reports whether ref matches pattern: `*` is any run of characters (including `/`),
// `?` one character, everything else literal.
func Glob(pattern, ref string) bool {
	globMu.Lock()
	re, ok := globCache[pattern]
	if !ok {
		var b strings.Builder
		b.WriteString("^")
		for _, r := range pattern {
			switch r {
			case '*':
				b.WriteString(".*")
			case '?':
				b.WriteString(".")
			default:
				b.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
		b.WriteString("$")
		re = regexp.MustCompile(b.String())
		globCache[pattern] = re
	}
	globMu.Unlock()
	return re.MatchString(ref)
}

// GetSize is the rule's image size in bytes, or -1 when it gives none.
func (r ImageRule) GetSize() int64 {
	if r.Size == nil {
		return -1
	}
	return r.Size.Value()
}

// GetExitCode is the exit code of the rule's containers (0 when it gives none).
func (r ImageRule) GetExitCode() int32 {
	if r.ExitCode == nil {
		return 0
	}
	return *r.ExitCode
}

// GetRunFor is how long the rule's containers run (scenario time).
func (r ImageRule) GetRunFor() time.Duration {
	if r.RunFor == nil {
		return 0
	}
	return r.RunFor.Duration
}

// Resolve gives the scenario of a file (or the default one) with --nodes applied: without a
// file, nodes plain nodes (DefaultNodes when 0); with one, nodes > 0 replaces the count of its
// first node group (or adds a group when it has none).
func Resolve(file string, nodes int) (*Scenario, error) {
	if file == "" {
		if nodes <= 0 {
			nodes = DefaultNodes
		}
		return Default(nodes), nil
	}
	sc, err := Load(file)
	if err != nil {
		return nil, err
	}
	if nodes > 0 {
		if len(sc.NodeGroups) == 0 {
			sc.NodeGroups = Default(nodes).NodeGroups
		} else {
			sc.NodeGroups[0].Count = nodes
		}
	}
	return sc, nil
}
