// Package nodesim plays the nodes of a scenario against a real API server: it registers them,
// renews their Leases as the kubelet does, and plays kubelet for the pods bound to them, pulling
// images from a modelled registry and reporting what the real kubelet reports.
package nodesim

import (
	"context"
	"fmt"
	"hash/fnv"
	"log"
	"sync"
	"time"

	"drop.io/tests/cluster/internal/scenario"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// Config is what the simulator needs.
type Config struct {
	Scenario *scenario.Scenario
	Client   kubernetes.Interface
	// MaxImages is the kubelet's --node-status-max-images: at most this many images (the
	// largest) are reported in node.status.images; < 0 = all.
	MaxImages int
	// KubeletVersion is reported in node.status.nodeInfo.
	KubeletVersion string
	// RegisterWorkers is how many nodes register at once.
	RegisterWorkers int
	Log             *log.Logger
}

// Sim is a running simulation.
type Sim struct {
	cfg   Config
	sc    *scenario.Scenario
	cs    kubernetes.Interface
	log   *log.Logger
	reg   *registry
	start time.Time

	mu     sync.Mutex
	nodes  map[string]*node
	namer  scenario.Namer
	nextIP int
	pods   map[types.UID]*podWorker

	rulesMu sync.RWMutex
	rules   []scenario.ImageRule

	broadcasters []record.EventBroadcaster
	nodeLister   func(name string) (*corev1.Node, bool)
}

const eventShards = 8

// New prepares a simulation; Run starts it.
func New(cfg Config) *Sim {
	if cfg.MaxImages == 0 {
		cfg.MaxImages = 50
	}
	if cfg.RegisterWorkers <= 0 {
		cfg.RegisterWorkers = 32
	}
	if cfg.Log == nil {
		cfg.Log = log.Default()
	}
	sc := cfg.Scenario
	ts := sc.Scale()
	bw := float64(scenario.DefaultBandwidth.Value())
	if sc.Registry.Bandwidth != nil {
		bw = float64(sc.Registry.Bandwidth.Value())
	}
	pp := float64(scenario.DefaultPerPull.Value())
	if sc.Registry.PerPull != nil {
		pp = float64(sc.Registry.PerPull.Value())
	}
	lat := scenario.DefaultLatency
	if sc.Registry.Latency != nil {
		lat = sc.Registry.Latency.Duration
	}
	s := &Sim{
		cfg: cfg, sc: sc, cs: cfg.Client, log: cfg.Log,
		reg:   newRegistry(bw*ts, pp*ts, sc.Real(lat), sc.Registry.MaxConcurrentPulls),
		nodes: map[string]*node{}, namer: scenario.Namer{}, pods: map[types.UID]*podWorker{},
		rules: append([]scenario.ImageRule(nil), sc.Images...),
	}
	for i := 0; i < eventShards; i++ {
		b := record.NewBroadcaster()
		b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cfg.Client.CoreV1().Events("")})
		s.broadcasters = append(s.broadcasters, b)
	}
	return s
}

func (s *Sim) recorder(nodeName string) record.EventRecorder {
	h := fnv.New32a()
	h.Write([]byte(nodeName))
	b := s.broadcasters[int(h.Sum32())%len(s.broadcasters)]
	return b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: nodeName})
}

// Run registers the scenario's nodes, then plays pods and timed events until ctx ends.
// ready is called once every initial node is registered.
func (s *Sim) Run(ctx context.Context, ready func()) error {
	// Watch nodes (to notice a Ready condition the node lifecycle controller changed) and the
	// pods bound to any node.
	factory := informers.NewSharedInformerFactoryWithOptions(s.cs, 0)
	nodeInf := factory.Core().V1().Nodes().Informer()
	podFactory := informers.NewSharedInformerFactoryWithOptions(s.cs, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "spec.nodeName!=" }))
	podInf := podFactory.Core().V1().Pods().Informer()
	s.nodeLister = func(name string) (*corev1.Node, bool) {
		o, ok, err := nodeInf.GetStore().GetByKey(name)
		if err != nil || !ok {
			return nil, false
		}
		return o.(*corev1.Node), true
	}
	_, _ = podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o interface{}) { s.onPod(ctx, o) },
		UpdateFunc: func(_, o interface{}) { s.onPod(ctx, o) },
		DeleteFunc: func(o interface{}) { s.onPodDeleted(o) },
	})
	factory.Start(ctx.Done())

	initial := s.sc.InitialNodes(s.namer)
	t0 := time.Now()
	if err := s.register(ctx, initial); err != nil {
		return err
	}
	s.log.Printf("registered %d nodes in %v", len(initial), time.Since(t0).Round(time.Millisecond))
	podFactory.Start(ctx.Done())
	cache.WaitForCacheSync(ctx.Done(), nodeInf.HasSynced, podInf.HasSynced)
	s.start = time.Now()
	if ready != nil {
		ready()
	}
	go s.playEvents(ctx)
	<-ctx.Done()
	for _, b := range s.broadcasters {
		b.Shutdown()
	}
	return nil
}

// register creates nodes with a pool of workers.
func (s *Sim) register(ctx context.Context, specs []scenario.NodeSpec) error {
	work := make(chan *node)
	errs := make(chan error, len(specs))
	var wg sync.WaitGroup
	for i := 0; i < s.cfg.RegisterWorkers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range work {
				if err := n.register(ctx); err != nil {
					errs <- fmt.Errorf("node %s: %w", n.name, err)
					continue
				}
				go n.run(ctx)
			}
		}()
	}
	for _, spec := range specs {
		n := s.newNode(spec)
		select {
		case work <- n:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	return ctx.Err()
}

func (s *Sim) newNode(spec scenario.NodeSpec) *node {
	s.mu.Lock()
	defer s.mu.Unlock()
	idx := s.nextIP
	s.nextIP++
	n := newNode(s, spec, idx)
	s.nodes[spec.Name] = n
	return n
}

func (s *Sim) node(name string) *node {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nodes[name]
}

// rule gives the first image rule matching the reference (as written or normalized).
func (s *Sim) rule(ref *imageRef) scenario.ImageRule {
	s.rulesMu.RLock()
	defer s.rulesMu.RUnlock()
	for _, r := range s.rules {
		if scenario.Glob(r.Match, ref.raw) || scenario.Glob(r.Match, ref.full) || scenario.Glob(r.Match, ref.withTag) {
			return r
		}
	}
	return scenario.ImageRule{Match: "*"}
}

// setRule replaces the rule with the same match, or puts a new one first.
func (s *Sim) setRule(r scenario.ImageRule) {
	s.rulesMu.Lock()
	defer s.rulesMu.Unlock()
	for i := range s.rules {
		if s.rules[i].Match == r.Match {
			s.rules[i] = r
			return
		}
	}
	s.rules = append([]scenario.ImageRule{r}, s.rules...)
}

// playEvents applies the timed events at their (scaled) times after the start.
func (s *Sim) playEvents(ctx context.Context) {
	for _, e := range s.sc.SortedEvents() {
		if err := sleep(ctx, time.Until(s.start.Add(s.sc.Real(e.At.Duration)))); err != nil {
			return
		}
		switch {
		case e.AddNodes != nil:
			specs := s.namer.Expand(*e.AddNodes)
			s.log.Printf("event at %v: adding %d nodes", e.At.Duration, len(specs))
			if err := s.register(ctx, specs); err != nil {
				s.log.Printf("adding nodes: %v", err)
			}
		case e.NotReady != "":
			s.log.Printf("event at %v: node %s stops heartbeating", e.At.Duration, e.NotReady)
			if n := s.node(e.NotReady); n != nil {
				n.setUp(false)
			}
		case e.Ready != "":
			s.log.Printf("event at %v: node %s is back", e.At.Duration, e.Ready)
			if n := s.node(e.Ready); n != nil {
				n.setUp(true)
			}
		case e.RemoveNode != "":
			s.log.Printf("event at %v: removing node %s", e.At.Duration, e.RemoveNode)
			if n := s.node(e.RemoveNode); n != nil {
				s.mu.Lock()
				delete(s.nodes, e.RemoveNode)
				s.mu.Unlock()
				n.remove(ctx)
			}
		case e.Image != nil:
			s.log.Printf("event at %v: image rule %q changed", e.At.Duration, e.Image.Match)
			s.setRule(*e.Image)
		}
	}
}

// defaultSize is the size of an image no rule sizes: the `*` rule's, else 200Mi.
func (s *Sim) defaultSize() int64 {
	s.rulesMu.RLock()
	defer s.rulesMu.RUnlock()
	for _, r := range s.rules {
		if r.Match == "*" && r.Size != nil {
			return r.Size.Value()
		}
	}
	return scenario.DefaultImageSize.Value()
}
