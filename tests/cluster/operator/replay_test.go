package operator

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"drop.io/tests/cluster/internal/testkit"
)

// statusWrite is a CachedImage status the API server accepted from drop, read from its audit log
// (the test cluster records the request body of cachedimages/status writes).
type statusWrite struct {
	name   string
	at     time.Time
	status cachedImageStatus
}

func statusWrites(t *testing.T, c *testkit.Cluster) []statusWrite {
	t.Helper()
	var out []statusWrite
	forEachAudit(t, c, func(line []byte) {
		var e struct {
			Verb      string `json:"verb"`
			UserAgent string `json:"userAgent"`
			ObjectRef struct {
				Resource, Name, Subresource string
			} `json:"objectRef"`
			ResponseStatus struct {
				Code int `json:"code"`
			} `json:"responseStatus"`
			RequestReceived time.Time `json:"requestReceivedTimestamp"`
			RequestObject   *struct {
				Status cachedImageStatus `json:"status"`
			} `json:"requestObject"`
		}
		if err := json.Unmarshal(line, &e); err != nil {
			return
		}
		if e.ObjectRef.Resource != "cachedimages" || e.ObjectRef.Subresource != "status" ||
			(e.Verb != "update" && e.Verb != "patch") || e.ResponseStatus.Code != 200 ||
			!strings.HasPrefix(e.UserAgent, "drop/") || e.RequestObject == nil {
			return
		}
		out = append(out, statusWrite{name: e.ObjectRef.Name, at: e.RequestReceived, status: e.RequestObject.Status})
	})
	return out
}

// statusIssue is a status write drop journaled (an action entry), with its sequence number.
type statusIssue struct {
	seq uint64
	at  time.Time
}

func statusIssues(t *testing.T, replay, journal string) map[string][]statusIssue {
	t.Helper()
	out, err := exec.Command(replay, "--journal", journal, "export").Output()
	if err != nil {
		t.Fatalf("drop-replay export: %v", err)
	}
	issues := map[string][]statusIssue{}
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.Contains(line, `"patch-status"`) {
			continue
		}
		var e struct {
			Seq    uint64 `json:"seq"`
			TimeMs int64  `json:"timeMs"`
			Action struct {
				PatchStatus struct {
					CachedImage string `json:"cachedImage"`
				} `json:"patchStatus"`
			} `json:"action"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("drop-replay export: %v: %s", err, line)
		}
		name := e.Action.PatchStatus.CachedImage
		issues[name] = append(issues[name], statusIssue{seq: e.Seq, at: time.UnixMilli(e.TimeMs)})
	}
	return issues
}

// statusText keeps what a status says, not when it was stamped (transition times are written
// at second precision).
func statusText(s cachedImageStatus) string {
	conds := []string{}
	for _, c := range s.Conditions {
		conds = append(conds, fmt.Sprintf("%s=%s %s: %s (generation %d)", c.Type, c.Status, c.Reason, c.Message, c.ObservedGeneration))
	}
	nodes := append([]string{}, s.CachedNodes...)
	sort.Strings(nodes)
	return fmt.Sprintf("generation %d, %s, %d/%d ready, %d failures, cached %v, %v",
		s.ObservedGeneration, s.Phase, s.NodesReady, s.NodesTargeted, s.ConsecutiveFailures, nodes, conds)
}

// checkStateAtWrites: for status writes the API server received from drop (up to `samples`,
// spread over the run), `drop-replay state --at` the journal point where drop issued that write
// gives the very status the server received. Writes go out after their batch is durable, so the
// one received at T was issued at the latest journaled write at or before T, or, when it was
// held up in flight (faults: latency, resets, a restarting API server) while newer ones were
// journaled behind it, at an earlier one: the candidates are tried newest first.
func checkStateAtWrites(t *testing.T, c *testkit.Cluster, replay, journal string, samples int) {
	t.Helper()
	writes := statusWrites(t, c)
	issues := statusIssues(t, replay, journal)
	if len(writes) == 0 {
		t.Fatal("the audit log holds no CachedImage status write by drop")
	}
	step := 1
	if len(writes) > samples {
		step = len(writes) / samples
	}
	checked := 0
	for i := 0; i < len(writes); i += step {
		w := writes[i]
		var candidates []statusIssue
		for _, is := range issues[w.name] {
			if !is.at.After(w.at) {
				candidates = append(candidates, is)
			}
		}
		if len(candidates) == 0 {
			t.Errorf("cachedimage/%s: the API server received a status at %v, before drop journaled any", w.name, w.at)
			continue
		}
		want := statusText(w.status)
		var tried []string
		matched := false
		for k := len(candidates) - 1; k >= 0 && !matched; k-- {
			seq := strconv.FormatUint(candidates[k].seq, 10)
			out, err := exec.Command(replay, "--journal", journal, "state", "--at", seq, "cachedimage/"+w.name, "-o", "json").Output()
			if err != nil {
				t.Fatalf("drop-replay state --at %s cachedimage/%s: %v", seq, w.name, err)
			}
			var doc struct {
				Status cachedImageStatus `json:"status"`
			}
			if err := json.Unmarshal(out, &doc); err != nil {
				t.Fatalf("drop-replay state -o json: %v\n%s", err, out)
			}
			got := statusText(doc.Status)
			matched = reflect.DeepEqual(got, want)
			if len(tried) < 3 {
				tried = append(tried, "  --at "+seq+": "+got)
			}
		}
		if matched {
			checked++
		} else {
			t.Errorf("cachedimage/%s: the API server received at %v\n  %s\nbut drop-replay state gives it at none of the %d writes journaled before, the newest:\n%s",
				w.name, w.at.Format(time.RFC3339Nano), want, len(candidates), strings.Join(tried, "\n"))
		}
	}
	t.Logf("drop-replay state --at reproduced %d sampled status writes (of %d drop made, per the audit log)", checked, len(writes))
}
