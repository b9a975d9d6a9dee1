// cluster_capacity measures the test cluster: for each node count, the time `drop-testcluster up`
// takes until every node is Ready, the memory (RSS) of each component, and the most pods per
// second the cluster carries from create to Succeeded when a plain client-go program creates
// them as fast as the cluster allows. It prints figures; it does not pass or fail.
//
// --shape plain creates one-container pods whose image every node holds; --shape drop creates
// pods the way drop makes them (an init container from the operator's image and the target image,
// pinned to a node by affinity, pulled at once from the registry model): the ceiling drop's own
// rollout is compared with.
//
//	cluster_capacity [--nodes 1000,5000] [--pods 2000] [--heartbeat 10s] [--images 50] [--shape plain|drop]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	nodesFlag := flag.String("nodes", "1000,5000", "node counts to measure, comma separated")
	pods := flag.Int("pods", 2000, "pods to create for the throughput figure")
	creators := flag.Int("creators", 32, "concurrent pod creators")
	heartbeat := flag.Duration("heartbeat", 10*time.Second, "node Lease renewal interval")
	images := flag.Int("images", 50, "images already present on every node")
	binDir := flag.String("bin-dir", "", "directory with drop-testcluster and the components (default: ../cluster/bin next to this program, then next to it)")
	workDir := flag.String("work-dir", "", "parent of the clusters' directories (default: a temporary directory)")
	keep := flag.Bool("keep", false, "keep the clusters' directories")
	shape := flag.String("shape", "plain", "plain: one container, its image on every node; drop: drop's pods, pulled at once")
	flag.Parse()
	log.SetFlags(log.Ltime)
	if *shape != "plain" && *shape != "drop" {
		log.Fatalf("--shape %q: use plain or drop", *shape)
	}

	bin := *binDir
	if bin == "" {
		exe, _ := os.Executable()
		for _, d := range []string{filepath.Join(filepath.Dir(exe), "..", "cluster", "bin"), filepath.Dir(exe)} {
			if _, err := os.Stat(filepath.Join(d, "drop-testcluster")); err == nil {
				bin = d
				break
			}
		}
	}
	if bin == "" {
		log.Fatal("drop-testcluster not found: give --bin-dir")
	}
	var results []result
	for _, f := range strings.Split(*nodesFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			log.Fatalf("--nodes: %q", f)
		}
		r, err := measure(bin, *workDir, n, *pods, *creators, *images, *heartbeat, *shape, *keep)
		if err != nil {
			log.Fatalf("%d nodes: %v", n, err)
		}
		results = append(results, r)
		r.print(os.Stdout)
	}
	fmt.Println()
	fmt.Println("summary (cluster_capacity):")
	for _, r := range results {
		fmt.Printf("  %5d nodes: ready in %6.1fs; %5.1f pods/s create->Succeeded (%d pods); RSS MiB idle/peak: %s\n",
			r.nodes, r.ready.Seconds(), r.podsPerSec, r.pods, r.rssLine())
	}
}

type result struct {
	nodes, pods      int
	notReady         int // nodes not Ready at the end
	notReadyEvents   int // NodeNotReady events during the run
	images           int
	heartbeat        time.Duration
	ready            time.Duration
	podsPerSec       float64
	createPerSec     float64
	firstSucceeded   time.Duration
	idle, peak       map[string]int64 // KiB
	components       []string
	podsDuration     time.Duration
	heartbeatsPerSec float64
}

func (r result) rssLine() string {
	var parts []string
	for _, c := range r.components {
		parts = append(parts, fmt.Sprintf("%s %d/%d", c, r.idle[c]/1024, r.peak[c]/1024))
	}
	return strings.Join(parts, ", ")
}

func (r result) print(w *os.File) {
	fmt.Fprintf(w, "\n== %d nodes (%d images each, heartbeat %v)\n", r.nodes, r.images, r.heartbeat)
	fmt.Fprintf(w, "time to Ready (drop-testcluster up until every node Ready): %.1fs\n", r.ready.Seconds())
	fmt.Fprintf(w, "pods: %d created at %.1f/s; all Succeeded after %.1fs: %.1f pods/s create->Succeeded (first Succeeded after %.2fs)\n",
		r.pods, r.createPerSec, r.podsDuration.Seconds(), r.podsPerSec, r.firstSucceeded.Seconds())
	fmt.Fprintf(w, "nodes not Ready at the end: %d; NodeNotReady events: %d\n", r.notReady, r.notReadyEvents)
	fmt.Fprintf(w, "RSS (MiB)               idle   peak\n")
	for _, c := range r.components {
		fmt.Fprintf(w, "  %-20s %6d %6d\n", c, r.idle[c]/1024, r.peak[c]/1024)
	}
}

func scenarioYAML(nodes, images int, heartbeat time.Duration, shape string) string {
	var b strings.Builder
	if shape == "drop" {
		fmt.Fprintf(&b, "heartbeat: %s\nnodeGroups:\n- {count: %d, namePrefix: node-, labels: {pool: bench}}\n", heartbeat, nodes)
		b.WriteString("registry: {bandwidth: 100Gi, perPull: 100Mi, latency: 0s}\nimages:\n- {match: \"*\", size: 1Ki}\n")
		return b.String()
	}
	fmt.Fprintf(&b, "heartbeat: %s\nnodeGroups:\n- count: %d\n  namePrefix: node-\n  labels: {pool: bench}\n  images:\n", heartbeat, nodes)
	for i := 0; i < images; i++ {
		fmt.Fprintf(&b, "  - {name: registry.example.com/bench/img-%02d:1.0, sizeBytes: %d}\n", i, (100+i*37)*1000*1000)
	}
	b.WriteString("registry: {bandwidth: 1Gi, perPull: 100Mi, latency: 200ms}\nimages:\n- {match: \"*\", size: 100Mi}\n")
	return b.String()
}

// rssKiB reads VmRSS (current) and VmHWM (peak) of a process.
func rssKiB(pid int) (cur, peak int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "VmRSS:" {
			cur, _ = strconv.ParseInt(f[1], 10, 64)
		}
		if len(f) >= 2 && f[0] == "VmHWM:" {
			peak, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	return cur, peak
}

type state struct {
	Components map[string]struct {
		Pid int `json:"pid"`
	} `json:"components"`
}

func pids(dir string) (map[string]int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cluster.json"))
	if err != nil {
		return nil, err
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, err
	}
	out := map[string]int{}
	for name, c := range st.Components {
		if c.Pid > 0 && name != "watchdog" {
			out[name] = c.Pid
		}
	}
	return out, nil
}

func measure(bin, work string, nodes, pods, creators, images int, heartbeat time.Duration, shape string, keep bool) (r result, err error) {
	r = result{nodes: nodes, pods: pods, images: images, heartbeat: heartbeat, idle: map[string]int64{}, peak: map[string]int64{}}
	parent, err := os.MkdirTemp(work, fmt.Sprintf("cluster-capacity-%d-", nodes))
	if err != nil {
		return r, err
	}
	dir := filepath.Join(parent, "c")
	defer func() {
		out, derr := exec.Command(filepath.Join(bin, "drop-testcluster"), "down", "--dir", dir).CombinedOutput()
		if derr != nil {
			log.Printf("down: %v %s", derr, out)
		}
		if !keep {
			os.RemoveAll(parent)
		}
	}()
	sc := filepath.Join(parent, "scenario.yaml")
	if err := os.WriteFile(sc, []byte(scenarioYAML(nodes, images, heartbeat, shape)), 0o644); err != nil {
		return r, err
	}
	log.Printf("%d nodes: starting the cluster in %s", nodes, parent)
	t0 := time.Now()
	up := exec.Command(filepath.Join(bin, "drop-testcluster"), "up", "--dir", dir, "--scenario", sc,
		"--timeout", "30m", "--exit-with-pid", strconv.Itoa(os.Getpid()))
	up.Stderr = os.Stderr
	out, err := up.Output()
	if err != nil {
		return r, fmt.Errorf("up: %v: %s", err, out)
	}
	r.ready = time.Since(t0)
	log.Printf("%d nodes: %s (after %v)", nodes, strings.TrimSpace(string(out)), r.ready.Round(time.Millisecond))

	ps, err := pids(dir)
	if err != nil {
		return r, err
	}
	for c := range ps {
		r.components = append(r.components, c)
	}
	sort.Strings(r.components)
	// Memory while idle (nodes heartbeating), after a settling minute.
	time.Sleep(60 * time.Second)
	for c, pid := range ps {
		r.idle[c], _ = rssKiB(pid)
	}

	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "kubeconfig"))
	if err != nil {
		return r, err
	}
	cfg.QPS, cfg.Burst = -1, 0 // as fast as the cluster allows (the admin is exempt from APF)
	cfg.UserAgent = "cluster-capacity"
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return r, err
	}
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bench"}}, metav1.CreateOptions{}); err != nil {
		return r, err
	}
	for {
		if _, err := cs.CoreV1().ServiceAccounts("bench").Get(ctx, "default", metav1.GetOptions{}); err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Count Succeeded pods from a watch.
	var succeeded atomic.Int64
	var firstDone, allDone atomic.Int64
	seen := sync.Map{}
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace("bench"))
	inf := factory.Core().V1().Pods().Informer()
	start := time.Now()
	onPod := func(o interface{}) {
		p, ok := o.(*corev1.Pod)
		if !ok || p.Status.Phase != corev1.PodSucceeded {
			return
		}
		if _, dup := seen.LoadOrStore(p.Name, true); dup {
			return
		}
		n := succeeded.Add(1)
		el := int64(time.Since(start))
		if n == 1 {
			firstDone.Store(el)
		}
		if n == int64(pods) {
			allDone.Store(el)
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: onPod, UpdateFunc: func(_, o interface{}) { onPod(o) }})
	stop := make(chan struct{})
	defer close(stop)
	factory.Start(stop)
	cache.WaitForCacheSync(stop, inf.HasSynced)

	// Sample memory while the pods run.
	sampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-sampling:
				return
			case <-time.After(500 * time.Millisecond):
			}
			for c, pid := range ps {
				if cur, _ := rssKiB(pid); cur > r.peak[c] {
					r.peak[c] = cur
				}
			}
		}
	}()

	log.Printf("%d nodes: creating %d pods with %d creators", nodes, pods, creators)
	start = time.Now()
	jobs := make(chan int)
	var wg sync.WaitGroup
	var createErrs atomic.Int64
	for i := 0; i < creators; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if _, err := cs.CoreV1().Pods("bench").Create(ctx, benchPod(i, images, nodes, shape), metav1.CreateOptions{}); err != nil {
					if createErrs.Add(1) < 5 {
						log.Printf("create: %v", err)
					}
				}
			}
		}()
	}
	for i := 0; i < pods; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	created := time.Since(start)
	r.createPerSec = float64(pods) / created.Seconds()
	deadline := time.Now().Add(30 * time.Minute)
	for succeeded.Load() < int64(pods) && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	close(sampling)
	<-sampled
	if succeeded.Load() < int64(pods) {
		return r, fmt.Errorf("only %d of %d pods Succeeded", succeeded.Load(), pods)
	}
	r.podsDuration = time.Duration(allDone.Load())
	r.firstSucceeded = time.Duration(firstDone.Load())
	r.podsPerSec = float64(pods) / r.podsDuration.Seconds()
	for c, pid := range ps {
		if _, hwm := rssKiB(pid); hwm > r.peak[c] {
			r.peak[c] = hwm
		}
	}
	log.Printf("%d nodes: %d pods Succeeded in %v (%d create errors)", nodes, pods, r.podsDuration.Round(time.Millisecond), createErrs.Load())
	// Did every node stay Ready (heartbeats kept up) through the load?
	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return r, err
	}
	for _, n := range list.Items {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
				r.notReady++
			}
		}
	}
	evs, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "reason=NodeNotReady"})
	if err == nil {
		r.notReadyEvents = len(evs.Items)
	}
	return r, nil
}

// benchPod is a one-container pod, restartPolicy Never, whose image every node already has; or,
// for --shape drop, a pod like drop's (k8s/manifests.cc): the operator's image as an init
// container, the target image (new to the node) as the container, pinned by node affinity.
func benchPod(i, images, nodes int, shape string) *corev1.Pod {
	f := false
	if shape == "drop" {
		node := fmt.Sprintf("node-%d", i%nodes)
		requests := corev1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("1m"), corev1.ResourceMemory: resource.MustParse("8Mi")}}
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-%05d", i), Namespace: "bench"},
			Spec: corev1.PodSpec{
				RestartPolicy:                corev1.RestartPolicyNever,
				AutomountServiceAccountToken: &f,
				Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
					RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
						MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
					}}},
				}},
				InitContainers: []corev1.Container{{
					Name: "noop", Image: "registry.example.com/drop/operator:bench", ImagePullPolicy: corev1.PullIfNotPresent,
					Command: []string{"/drop-noop", "install", "/drop/noop"}, Resources: requests,
				}},
				Containers: []corev1.Container{{
					Name: "image", Image: fmt.Sprintf("registry.example.com/bench/app-%d:1", i/nodes), ImagePullPolicy: corev1.PullIfNotPresent,
					Command: []string{"/drop/noop"}, Resources: requests,
				}},
			},
		}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-%05d", i), Namespace: "bench"},
		Spec: corev1.PodSpec{
			RestartPolicy:                corev1.RestartPolicyNever,
			AutomountServiceAccountToken: &f,
			Containers: []corev1.Container{{
				Name: "c", Image: fmt.Sprintf("registry.example.com/bench/img-%02d:1.0", i%images), ImagePullPolicy: corev1.PullIfNotPresent,
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}},
			}},
		},
	}
}
