// drop-nodesim registers the nodes of a scenario with a real API server and plays kubelet for
// the pods bound to them (see tests/cluster/README.md and DESIGN.md section 9).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"drop.io/tests/cluster/internal/nodesim"
	"drop.io/tests/cluster/internal/scenario"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/component-base/version"
)

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of an identity allowed to manage nodes, leases, pods/status and events")
	scenarioFile := flag.String("scenario", "", "scenario YAML (DESIGN.md section 9); default: --nodes plain Ready nodes")
	nodes := flag.Int("nodes", 0, fmt.Sprintf("node count: without --scenario, that many nodes node-0..; with it, the count of its first node group (default %d without a scenario)", scenario.DefaultNodes))
	maxImages := flag.Int("node-status-max-images", 50, "as the kubelet's flag: at most this many images in node.status.images (-1: all)")
	qps := flag.Float64("kube-api-qps", 2000, "client QPS")
	burst := flag.Int("kube-api-burst", 4000, "client burst")
	readyFile := flag.String("ready-file", "", "file written once every initial node is registered")
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix("drop-nodesim: ")

	sc, err := scenario.Resolve(*scenarioFile, *nodes)
	if err != nil {
		log.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		log.Fatalf("kubeconfig: %v", err)
	}
	cfg.QPS, cfg.Burst = float32(*qps), *burst
	cfg.UserAgent = "drop-nodesim"
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		log.Fatal(err)
	}
	kv := kubeletVersion()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	sim := nodesim.New(nodesim.Config{Scenario: sc, Client: cs, MaxImages: *maxImages, KubeletVersion: kv, Log: log.Default()})
	err = sim.Run(ctx, func() {
		log.Printf("nodes registered; playing the scenario (timeScale %g, heartbeat %v)", sc.Scale(), sc.HeartbeatReal())
		if *readyFile != "" {
			if err := os.WriteFile(*readyFile, []byte("ready\n"), 0o644); err != nil {
				log.Printf("ready file: %v", err)
			}
		}
	})
	if err != nil && ctx.Err() == nil {
		log.Fatal(err)
	}
	log.Printf("stopped")
}

// kubeletVersion is the Kubernetes release the simulated kubelets report: the build's version
// stamp, else the release of the client-go it is built with (v0.X.Y is Kubernetes v1.X.Y).
func kubeletVersion() string {
	if v := version.Get().GitVersion; !strings.HasPrefix(v, "v0.0.0") {
		return v
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "k8s.io/client-go" && strings.HasPrefix(d.Version, "v0.") {
				return "v1." + strings.TrimPrefix(d.Version, "v0.")
			}
		}
	}
	return "v1.34.0"
}
