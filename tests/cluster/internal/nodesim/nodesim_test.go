package nodesim

import (
	"context"
	"strings"
	"testing"
	"time"

	"drop.io/tests/cluster/internal/scenario"
)

func TestParseImageNormalizesLikeContainerd(t *testing.T) {
	for _, c := range []struct{ in, full, withTag, tagName string }{
		{"nginx:1.25", "docker.io/library/nginx:1.25", "nginx:1.25", "docker.io/library/nginx:1.25"},
		{"nginx", "docker.io/library/nginx:latest", "nginx:latest", "docker.io/library/nginx:latest"},
		{"team/app:2", "docker.io/team/app:2", "team/app:2", "docker.io/team/app:2"},
		{"registry.example.com/base:1", "registry.example.com/base:1", "registry.example.com/base:1", "registry.example.com/base:1"},
		{"localhost:5000/x:y", "localhost:5000/x:y", "localhost:5000/x:y", "localhost:5000/x:y"},
	} {
		r, err := parseImage(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if r.full != c.full || r.withTag != c.withTag {
			t.Errorf("%s: full %q withTag %q", c.in, r.full, r.withTag)
		}
		n := r.names()
		if len(n) != 2 || !strings.HasPrefix(n[0], strings.SplitN(c.full, ":", 2)[0]) || !strings.Contains(n[0], "@sha256:") || n[1] != c.tagName {
			if !strings.HasPrefix(c.in, "localhost") {
				t.Errorf("%s: names %v", c.in, n)
			}
		}
	}
	d := "sha256:" + strings.Repeat("ab", 32)
	r, err := parseImage("quay.io/x/y@" + d)
	if err != nil {
		t.Fatal(err)
	}
	if r.digest != d || len(r.names()) != 1 || r.names()[0] != "quay.io/x/y@"+d {
		t.Errorf("digest ref: %+v %v", r, r.names())
	}
	if _, err := parseImage("Nginx:1"); err == nil {
		t.Error("an invalid reference parsed")
	}
	a, _ := parseImage("nginx:1.25")
	b, _ := parseImage("docker.io/library/nginx:1.25")
	if a.digest != b.digest {
		t.Error("the same image under two spellings has two digests")
	}
}

func TestErrorWording(t *testing.T) {
	r, _ := parseImage("nginx:broken")
	if got := notFoundError(r); got != `rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/library/nginx:broken": failed to resolve reference "docker.io/library/nginx:broken": docker.io/library/nginx:broken: not found` {
		t.Errorf("not found: %s", got)
	}
	if !strings.Contains(unauthorizedError(r), "authorization failed") || !strings.Contains(tooManyRequestsError(r), "toomanyrequests") {
		t.Error("wording")
	}
}

func TestRegistrySharesBandwidth(t *testing.T) {
	// 10 MB/s total, 8 MB/s per pull: one 4 MB pull takes 0.5 s; two at once share 5 MB/s each: 0.8 s.
	reg := newRegistry(10e6, 8e6, 0, 0)
	ctx := context.Background()
	t0 := time.Now()
	if err := reg.move(ctx, 4e6); err != nil {
		t.Fatal(err)
	}
	one := time.Since(t0)
	t0 = time.Now()
	done := make(chan time.Duration, 2)
	for i := 0; i < 2; i++ {
		go func() { _ = reg.move(ctx, 4e6); done <- time.Since(t0) }()
	}
	a, b := <-done, <-done
	if one < 450*time.Millisecond || one > 900*time.Millisecond {
		t.Errorf("one pull took %v, want ~500ms", one)
	}
	if a < 700*time.Millisecond || b < 700*time.Millisecond || b > 2*time.Second {
		t.Errorf("two pulls took %v and %v, want ~800ms each", a, b)
	}
}

func TestRegistryConcurrencyLimit(t *testing.T) {
	reg := newRegistry(0, 0, 0, 2)
	if reg.begin() != nil || reg.begin() != nil {
		t.Fatal("first two pulls refused")
	}
	if reg.begin() != errTooManyRequests {
		t.Error("third concurrent pull admitted")
	}
	reg.end()
	if reg.begin() != nil {
		t.Error("pull refused after one ended")
	}
}

func TestNodeStatusImagesLargestFirstCapped(t *testing.T) {
	sim := &Sim{cfg: Config{MaxImages: 2}, sc: &scenario.Scenario{}}
	n := &node{sim: sim, byName: map[string]*nodeImage{}}
	for i, size := range []int64{10, 30, 20} {
		r, _ := parseImage("reg.io/img:" + string(rune('a'+i)))
		n.addImageLocked(r, size)
	}
	im := n.statusImagesLocked()
	if len(im) != 2 || im[0].SizeBytes != 30 || im[1].SizeBytes != 20 {
		t.Errorf("images %+v", im)
	}
	r, _ := parseImage("reg.io/img:a")
	if !n.has(r) {
		t.Error("an image beyond the reported 50 is still on the node")
	}
}
