// drop-testcluster starts and stops the test cluster: the real Kubernetes control plane plus
// simulated nodes (see tests/cluster/README.md and DESIGN.md section 9).
//
//	drop-testcluster up --dir D [--scenario FILE] [--nodes N] [fault flags]
//	drop-testcluster down --dir D
//	drop-testcluster restart --dir D apiserver|etcd|scheduler|controller-manager|nodesim|proxy
//	drop-testcluster fault --dir D [--latency 100ms] [--reset-probability P] [--stall-probability P] [--stall-duration 5s]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"drop.io/tests/cluster/internal/cluster"
	"drop.io/tests/cluster/internal/faultproxy"
	"drop.io/tests/cluster/internal/scenario"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const usage = `usage:
  drop-testcluster up --dir D [--scenario FILE] [--nodes N] [flags]   start a cluster; returns when every node is Ready
  drop-testcluster down --dir D                                        stop everything the cluster in D started
  drop-testcluster restart --dir D COMPONENT [--kill]                 COMPONENT: apiserver, etcd, scheduler, controller-manager, nodesim, proxy
  drop-testcluster fault --dir D [--latency D] [--reset-probability P] [--stall-probability P] [--stall-duration D]
                                                                       change the fault proxy's faults while it runs
Run "drop-testcluster COMMAND -h" for a command's flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "up":
		err = up(args)
	case "down":
		err = down(args)
	case "restart":
		err = restart(args)
	case "fault":
		err = fault(args)
	case "proxy":
		err = proxy(args)
	case "watchdog":
		err = watchdog(args)
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "drop-testcluster %s: %v\n", cmd, err)
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// parse parses flags and positional arguments in any order.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

type optBool struct{ v *bool }

func (o *optBool) String() string {
	if o.v == nil {
		return ""
	}
	return fmt.Sprint(*o.v)
}
func (o *optBool) Set(s string) error {
	b := s == "true" || s == "1"
	if !b && s != "false" && s != "0" {
		return fmt.Errorf("want true or false")
	}
	o.v = &b
	return nil
}
func (o *optBool) IsBoolFlag() bool { return true }

func up(args []string) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	var o cluster.Options
	fs.StringVar(&o.Dir, "dir", "", "directory of the cluster: data, logs, kubeconfig, pids (required)")
	fs.StringVar(&o.ScenarioFile, "scenario", "", "scenario YAML (DESIGN.md section 9)")
	fs.IntVar(&o.Nodes, "nodes", 0, "node count (without --scenario: that many nodes node-0..; with it: the count of its first group)")
	fs.StringVar(&o.BinDir, "bin-dir", "", "where etcd, kube-* and drop-nodesim are (default: next to this program)")
	fs.DurationVar(&o.MinRequestTimeout, "min-request-timeout", 0, "fault: the API server closes watches after this (to twice this); default the API server's 30m")
	fs.DurationVar(&o.EtcdCompactionInterval, "etcd-compaction-interval", 0, "fault: the API server compacts etcd this often (410 Gone for older versions); default 5m")
	wc := &optBool{}
	fs.Var(wc, "watch-cache", "the API server's watch cache (default true); false makes every watch read etcd, so 410s follow compaction at once")
	fs.IntVar(&o.MaxRequestsInflight, "max-requests-inflight", 0, "fault: the API server's read in-flight limit (with the next, the APF concurrency); default 400")
	fs.IntVar(&o.MaxMutatingRequestsInflight, "max-mutating-requests-inflight", 0, "fault: the API server's mutating in-flight limit; default 200")
	fproxy := fs.Bool("fault-proxy", false, "run the TCP fault proxy in front of the API server; D/kubeconfig points at it (D/kubeconfig.direct does not)")
	latency := fs.Duration("proxy-latency", 0, "fault proxy: latency added to every chunk each way (implies --fault-proxy)")
	resetP := fs.Float64("proxy-reset-probability", 0, "fault proxy: probability per chunk of resetting the connection (implies --fault-proxy)")
	stallP := fs.Float64("proxy-stall-probability", 0, "fault proxy: probability per chunk of stalling the connection (implies --fault-proxy)")
	stallD := fs.Duration("proxy-stall-duration", 5*time.Second, "fault proxy: how long a stall lasts")
	fs.DurationVar(&o.NodeMonitorGracePeriod, "node-monitor-grace-period", 0, "kube-controller-manager's: a node not heartbeating this long turns NotReady (default max(5 heartbeats, 20s))")
	fs.IntVar(&o.KubeAPIQPS, "kube-api-qps", 100, "client QPS of the scheduler and the controller manager (burst twice that)")
	fs.IntVar(&o.Verbosity, "v", 1, "log verbosity of the control plane components")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Minute, "give up when the cluster is not ready by then")
	fs.IntVar(&o.ExitWithPID, "exit-with-pid", 0, "bring the cluster down when this process ends (for tests)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if o.Dir == "" {
		return fmt.Errorf("--dir is required")
	}
	o.WatchCache = wc.v
	if *fproxy || *latency > 0 || *resetP > 0 || *stallP > 0 {
		o.Proxy = &scenario.ProxyFaults{ResetProbability: *resetP, StallProbability: *stallP,
			Latency: &metav1.Duration{Duration: *latency}, StallDuration: &metav1.Duration{Duration: *stallD}}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	_, err := cluster.Up(ctx, o)
	return err
}

func down(args []string) error {
	fs := flag.NewFlagSet("down", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory of the cluster (required)")
	purge := fs.Bool("purge", false, "also remove the directory")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return fmt.Errorf("--dir is required")
	}
	if err := cluster.Down(*dir); err != nil {
		return err
	}
	if *purge {
		return os.RemoveAll(*dir)
	}
	return nil
}

func restart(args []string) error {
	fs := flag.NewFlagSet("restart", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory of the cluster (required)")
	kill := fs.Bool("kill", false, "SIGKILL instead of SIGTERM (a crash rather than a shutdown)")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up when the component is not healthy by then")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *dir == "" || len(pos) != 1 {
		return fmt.Errorf("usage: restart --dir D apiserver|etcd|scheduler|controller-manager|nodesim|proxy")
	}
	name := pos[0]
	if name == "kube-apiserver" || name == "kube-scheduler" || name == "kube-controller-manager" {
		name = name[len("kube-"):]
	}
	if err := cluster.Restart(context.Background(), *dir, name, *kill, *timeout); err != nil {
		return err
	}
	fmt.Printf("%s restarted\n", name)
	return nil
}

func fault(args []string) error {
	fs := flag.NewFlagSet("fault", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory of the cluster (required)")
	latency := fs.Duration("latency", 0, "latency added to every chunk each way")
	resetP := fs.Float64("reset-probability", 0, "probability per chunk of resetting the connection")
	stallP := fs.Float64("stall-probability", 0, "probability per chunk of stalling the connection")
	stallD := fs.Duration("stall-duration", 5*time.Second, "how long a stall lasts")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	st, err := cluster.LoadState(*dir)
	if err != nil {
		return err
	}
	if st.ProxyURL == "" {
		return fmt.Errorf("the cluster in %s runs no fault proxy: start it with up --fault-proxy", *dir)
	}
	return cluster.WriteFaults(st.Dir, scenario.ProxyFaults{ResetProbability: *resetP, StallProbability: *stallP,
		Latency: &metav1.Duration{Duration: *latency}, StallDuration: &metav1.Duration{Duration: *stallD}})
}

// proxy runs the fault proxy (started by up).
func proxy(args []string) error {
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	upstream := fs.String("upstream", "", "address to forward to")
	faults := fs.String("faults", "", "JSON file with the faults (re-read when it changes)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	lg := log.New(os.Stderr, "fault-proxy: ", log.LstdFlags|log.Lmicroseconds)
	p := faultproxy.New(*upstream, lg)
	if *faults != "" {
		p.WatchFile(*faults)
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	lg.Printf("listening on %s, forwarding to %s", l.Addr(), *upstream)
	go func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
		<-ch
		c, r, s := p.Stats()
		lg.Printf("stopping: %d connections, %d resets, %d stalls", c, r, s)
		l.Close()
	}()
	if err := p.Serve(l); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

func watchdog(args []string) error {
	fs := flag.NewFlagSet("watchdog", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory of the cluster")
	pid := fs.Int("pid", 0, "process to watch")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	signal.Ignore(syscall.SIGHUP)
	return cluster.Watch(*dir, *pid)
}
