package scenario

import (
	_ "embed"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

//go:embed testdata/design.yaml
var designYAML string

// designFile writes the DESIGN.md example to a file (the test binary may run anywhere).
func designFile(t *testing.T) string {
	f := filepath.Join(t.TempDir(), "design.yaml")
	if err := os.WriteFile(f, []byte(designYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestDesignExampleParses(t *testing.T) {
	s, err := Load(designFile(t))
	if err != nil {
		t.Fatal(err)
	}
	if s.Scale() != 1 || s.HeartbeatReal() != 10*time.Second {
		t.Errorf("timeScale %v heartbeat %v", s.Scale(), s.HeartbeatReal())
	}
	g := s.NodeGroups[0]
	if g.Count != 20 || g.NamePrefix != "gpu-" || g.Labels["pool"] != "gpu" || !g.IsReady() || g.Unschedulable {
		t.Errorf("node group %+v", g)
	}
	if len(g.Taints) != 1 || g.Taints[0].Key != "gpu" || g.Taints[0].Value != "true" || g.Taints[0].Effect != "NoSchedule" {
		t.Errorf("taints %+v", g.Taints)
	}
	if len(g.Images) != 1 || g.Images[0].Name != "registry.example.com/base:1" || g.Images[0].SizeBytes != 50000000 {
		t.Errorf("images %+v", g.Images)
	}
	r := s.Registry
	if r.Bandwidth.Value() != 1<<30 || r.PerPull.Value() != 100<<20 || r.Latency.Duration != 200*time.Millisecond || r.MaxConcurrentPulls != 0 {
		t.Errorf("registry %+v", r)
	}
	if len(s.Images) != 3 || s.Images[0].Error != "NotFound" || s.Images[1].Secret != "regcred" || s.Images[1].GetSize() != 300<<20 ||
		s.Images[2].GetExitCode() != 0 || s.Images[2].GetSize() != 200<<20 {
		t.Errorf("image rules %+v", s.Images)
	}
	ev := s.SortedEvents()
	if len(ev) != 5 || ev[0].AddNodes == nil || ev[0].AddNodes.Count != 5 || ev[1].NotReady != "gpu-3" ||
		ev[2].Ready != "gpu-3" || ev[3].Image == nil || ev[3].Image.GetSize() != 10<<20 || ev[4].RemoveNode != "gpu-4" {
		t.Errorf("events in time order %+v", ev)
	}
	names := s.InitialNodes(Namer{})
	if len(names) != 20 || names[0].Name != "gpu-0" || names[19].Name != "gpu-19" {
		t.Errorf("nodes %v..", names[0].Name)
	}
}

func TestNamerContinuesAPrefix(t *testing.T) {
	n := Namer{}
	a := n.Expand(NodeGroup{Count: 2, NamePrefix: "late-"})
	b := n.Expand(NodeGroup{Count: 1, NamePrefix: "late-"})
	c := n.Expand(NodeGroup{Count: 1})
	if a[1].Name != "late-1" || b[0].Name != "late-2" || c[0].Name != "node-0" {
		t.Errorf("%v %v %v", a, b, c)
	}
}

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		pat, ref string
		want     bool
	}{
		{"*", "anything/at:all", true},
		{"*:broken", "docker.io/library/nginx:broken", true},
		{"*:broken", "nginx:broken2", false},
		{"private.example.com/*", "private.example.com/team/app:1", true},
		{"private.example.com/*", "public.example.com/private.example.com/x", false},
		{"reg.io/app:1.?", "reg.io/app:1.4", true},
		{"reg.io/app:1.?", "reg.io/app:1.40", false},
		{"a+b.c/x", "a+b.c/x", true},
		{"a+b.c/x", "aab.c/x", false},
	} {
		if got := Glob(c.pat, c.ref); got != c.want {
			t.Errorf("Glob(%q, %q) = %v", c.pat, c.ref, got)
		}
	}
}

func TestRejects(t *testing.T) {
	for _, y := range []string{
		"nodeGroup: []",                             // unknown field
		"images: [{match: x, error: Timeout}]",      // unknown error
		"images: [{size: 1Mi}]",                     // no match
		"events: [{at: 1s}]",                        // no action
		"events: [{at: 1s, ready: a, notReady: b}]", // two actions
		"heartbeat: 10",                             // not a duration
		"timeScale: -1",
	} {
		if _, err := Parse([]byte(y)); err == nil {
			t.Errorf("%q parsed", y)
		}
	}
}

func TestTimeScaleAndResolve(t *testing.T) {
	s, err := Parse([]byte("timeScale: 10\nheartbeat: 20s\nnodeGroups: [{count: 2}]"))
	if err != nil {
		t.Fatal(err)
	}
	if s.HeartbeatReal() != 2*time.Second || s.Real(time.Minute) != 6*time.Second {
		t.Errorf("scaled %v %v", s.HeartbeatReal(), s.Real(time.Minute))
	}
	d, err := Resolve("", 0)
	if err != nil || len(d.InitialNodes(Namer{})) != DefaultNodes {
		t.Errorf("default %v %v", d, err)
	}
	d, err = Resolve(designFile(t), 3)
	if err != nil || len(d.InitialNodes(Namer{})) != 3 || !strings.HasPrefix(d.InitialNodes(Namer{})[2].Name, "gpu-2") {
		t.Errorf("--nodes 3 on the design scenario: %v", err)
	}
}
