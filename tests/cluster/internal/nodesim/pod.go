package nodesim

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// The kubelet's image pull back-off (flowcontrol.NewBackOff(10s, 300s)) and its pod resync.
const (
	pullBackoffInitial = 10 * time.Second
	pullBackoffMax     = 300 * time.Second
	podResync          = 10 * time.Second
	// How long a pull error stays ErrImagePull before the next sync reports ImagePullBackOff.
	errImagePullShown = 5 * time.Second
	// The kubelet's container restart back-off (restartPolicy OnFailure).
	crashBackoffInitial = 10 * time.Second
	crashBackoffMax     = 300 * time.Second
)

// Kubelet waiting reasons.
const (
	reasonContainerCreating = "ContainerCreating"
	reasonPodInitializing   = "PodInitializing"
	reasonErrImagePull      = "ErrImagePull"
	reasonImagePullBackOff  = "ImagePullBackOff"
	reasonInvalidImageName  = "InvalidImageName"
	reasonErrImageNeverPull = "ErrImageNeverPull"
	reasonCrashLoopBackOff  = "CrashLoopBackOff"
)

// podWorker plays the kubelet for one pod.
type podWorker struct {
	sim  *Sim
	node *node
	uid  types.UID
	ns   string
	name string

	mu         sync.Mutex
	pod        *corev1.Pod
	deleting   bool
	deleteCh   chan struct{}
	cancelLive context.CancelFunc

	st      corev1.PodStatus // what this kubelet reports
	started map[string]time.Time
}

func (s *Sim) onPod(ctx context.Context, obj interface{}) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	n := s.node(pod.Spec.NodeName)
	if n == nil {
		return
	}
	s.mu.Lock()
	w := s.pods[pod.UID]
	if w == nil {
		// A pod that finished, or that runs (an earlier run of the simulator took it there), only
		// needs handling when it is deleted; a Pending one is (re)started from the beginning.
		done := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodRunning
		if pod.DeletionTimestamp == nil && done {
			s.mu.Unlock()
			return
		}
		w = &podWorker{sim: s, node: n, uid: pod.UID, ns: pod.Namespace, name: pod.Name, pod: pod,
			deleteCh: make(chan struct{}), started: map[string]time.Time{}}
		s.pods[pod.UID] = w
		s.mu.Unlock()
		go w.run(ctx)
	} else {
		s.mu.Unlock()
	}
	w.update(pod)
}

func (s *Sim) onPodDeleted(obj interface{}) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	s.mu.Lock()
	w := s.pods[pod.UID]
	delete(s.pods, pod.UID)
	s.mu.Unlock()
	if w != nil {
		w.mu.Lock()
		if w.cancelLive != nil {
			w.cancelLive()
		}
		if !w.deleting {
			w.deleting = true
			close(w.deleteCh)
		}
		w.mu.Unlock()
	}
}

func (w *podWorker) update(pod *corev1.Pod) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pod = pod
	if pod.DeletionTimestamp != nil && !w.deleting {
		w.deleting = true
		close(w.deleteCh)
		if w.cancelLive != nil {
			w.cancelLive()
		}
	}
}

func (w *podWorker) latest() *corev1.Pod {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod
}

func (w *podWorker) run(ctx context.Context) {
	nodeCtx, cancelNode := context.WithCancel(ctx)
	defer cancelNode()
	go func() {
		select {
		case <-w.node.ctx.Done():
			cancelNode()
		case <-nodeCtx.Done():
		}
	}()
	liveCtx, cancelLive := context.WithCancel(nodeCtx)
	w.mu.Lock()
	w.cancelLive = cancelLive
	deleting := w.deleting
	w.mu.Unlock()
	if !deleting {
		w.live(liveCtx)
	}
	cancelLive()
	select {
	case <-w.deleteCh:
	case <-nodeCtx.Done():
		return
	}
	w.terminate(nodeCtx)
}

// ---- status ----

func (w *podWorker) initialStatus(pod *corev1.Pod) {
	now := metav1.Now()
	ip := w.node.podIP()
	w.st = corev1.PodStatus{
		Phase:     corev1.PodPending,
		HostIP:    w.node.ip,
		HostIPs:   []corev1.HostIP{{IP: w.node.ip}},
		PodIP:     ip,
		PodIPs:    []corev1.PodIP{{IP: ip}},
		StartTime: &now,
		QOSClass:  pod.Status.QOSClass,
	}
	waiting := reasonContainerCreating
	if len(pod.Spec.InitContainers) > 0 {
		waiting = reasonPodInitializing
	}
	for _, c := range pod.Spec.InitContainers {
		w.st.InitContainerStatuses = append(w.st.InitContainerStatuses, waitingStatus(c, waiting))
	}
	for _, c := range pod.Spec.Containers {
		w.st.ContainerStatuses = append(w.st.ContainerStatuses, waitingStatus(c, waiting))
	}
}

func waitingStatus(c corev1.Container, reason string) corev1.ContainerStatus {
	f := false
	return corev1.ContainerStatus{
		Name: c.Name, Image: c.Image, Started: &f,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}},
	}
}

// cs finds the status of a container (init or regular).
func (w *podWorker) cs(name string, init bool) *corev1.ContainerStatus {
	list := w.st.ContainerStatuses
	if init {
		list = w.st.InitContainerStatuses
	}
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}

func condMessage(kind string, names []string) string {
	return fmt.Sprintf("containers with %s status: [%s]", kind, strings.Join(names, " "))
}

// conditions computes the kubelet's pod conditions from the container statuses, as
// pkg/kubelet/status/generate.go does.
func (w *podWorker) conditions(pod *corev1.Pod) []corev1.PodCondition {
	phase := w.st.Phase
	gen := pod.Generation
	initCond := corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}
	var incomplete []string
	for _, c := range pod.Spec.InitContainers {
		s := w.cs(c.Name, true)
		if s == nil || !s.Ready {
			incomplete = append(incomplete, c.Name)
		}
	}
	anyStarted := false
	for _, s := range w.st.ContainerStatuses {
		if s.State.Running != nil || s.State.Terminated != nil {
			anyStarted = true
		}
	}
	switch {
	case phase == corev1.PodSucceeded && len(pod.Spec.InitContainers) > 0:
		initCond.Reason = "PodCompleted"
	case anyStarted:
	case len(incomplete) > 0:
		initCond.Status = corev1.ConditionFalse
		initCond.Reason = "ContainersNotInitialized"
		initCond.Message = condMessage("incomplete", incomplete)
	}
	ready := corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionTrue}
	var unready []string
	for _, c := range pod.Spec.Containers {
		s := w.cs(c.Name, false)
		if s == nil || !s.Ready {
			unready = append(unready, c.Name)
		}
	}
	switch {
	case phase == corev1.PodSucceeded:
		ready.Status, ready.Reason = corev1.ConditionFalse, "PodCompleted"
	case phase == corev1.PodFailed:
		ready.Status, ready.Reason = corev1.ConditionFalse, "PodFailed"
	case len(unready) > 0:
		ready.Status, ready.Reason, ready.Message = corev1.ConditionFalse, "ContainersNotReady", condMessage("unready", unready)
	}
	podReady := ready
	podReady.Type = corev1.PodReady
	conds := []corev1.PodCondition{
		{Type: corev1.PodReadyToStartContainers, Status: corev1.ConditionTrue},
		initCond, podReady, ready,
	}
	now := metav1.Now()
	for i := range conds {
		conds[i].ObservedGeneration = gen
		conds[i].LastTransitionTime = now
		for _, old := range w.st.Conditions {
			if old.Type == conds[i].Type && old.Status == conds[i].Status {
				conds[i].LastTransitionTime = old.LastTransitionTime
			}
		}
		for _, old := range pod.Status.Conditions {
			if len(w.st.Conditions) == 0 && old.Type == conds[i].Type && old.Status == conds[i].Status && !old.LastTransitionTime.IsZero() {
				conds[i].LastTransitionTime = old.LastTransitionTime
			}
		}
	}
	return conds
}

// post sends the status, as the kubelet's status manager does (a strategic merge patch of
// pods/status with the pod's UID as precondition). It waits while the node is down.
func (w *podWorker) post(ctx context.Context) error {
	if err := w.node.waitUp(ctx); err != nil {
		return err
	}
	pod := w.latest()
	w.st.Conditions = w.conditions(pod)
	w.st.ObservedGeneration = pod.Generation
	patch, err := json.Marshal(map[string]interface{}{
		"metadata": map[string]interface{}{"uid": w.uid},
		"status":   w.st,
	})
	if err != nil {
		return err
	}
	delay := 200 * time.Millisecond
	for attempt := 0; ; attempt++ {
		_, err = w.sim.cs.CoreV1().Pods(w.ns).Patch(ctx, w.name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
		if err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) || apierrors.IsInvalid(err) || ctx.Err() != nil || attempt >= 20 {
			if err != nil && ctx.Err() == nil && !apierrors.IsNotFound(err) {
				w.sim.log.Printf("pod %s/%s: status: %v", w.ns, w.name, err)
			}
			return err
		}
		if sleep(ctx, delay) != nil {
			return ctx.Err()
		}
		if delay < 5*time.Second {
			delay *= 2
		}
	}
}

// ---- events ----

func (w *podWorker) ref(c *corev1.Container, init bool) *corev1.ObjectReference {
	r := &corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: w.ns, Name: w.name, UID: w.uid}
	if c != nil {
		if init {
			r.FieldPath = fmt.Sprintf("spec.initContainers{%s}", c.Name)
		} else {
			r.FieldPath = fmt.Sprintf("spec.containers{%s}", c.Name)
		}
	}
	return r
}

func (w *podWorker) event(c *corev1.Container, init bool, typ, reason, format string, args ...interface{}) {
	w.node.rec.Eventf(w.ref(c, init), typ, reason, format, args...)
}

// ---- life ----

func (w *podWorker) live(ctx context.Context) {
	if err := w.node.waitUp(ctx); err != nil {
		return
	}
	pod := w.latest()
	w.initialStatus(pod)
	if w.post(ctx) != nil {
		return
	}
	w.checkPullSecrets(ctx, pod)
	never := pod.Spec.RestartPolicy == corev1.RestartPolicyNever
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		sidecar := c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		for {
			ref := w.ensureImage(ctx, c, true)
			if ref == nil {
				return
			}
			w.startContainer(c, true, ref)
			if sidecar {
				s := w.cs(c.Name, true)
				s.Ready = true
				break
			}
			rule := w.sim.rule(ref)
			if rule.RunFor != nil && rule.RunFor.Duration > 0 {
				if w.post(ctx) != nil || sleep(ctx, w.sim.sc.Real(rule.RunFor.Duration)) != nil {
					return
				}
			}
			code := exitCode(rule)
			w.finishContainer(c, true, ref, code)
			if code == 0 {
				break
			}
			if never {
				w.st.Phase = corev1.PodFailed
				_ = w.post(ctx)
				return
			}
			if !w.crashBackoff(ctx, c, true) {
				return
			}
		}
		if w.post(ctx) != nil {
			return
		}
	}
	// Regular containers, started in order.
	type running struct {
		c    *corev1.Container
		ref  *imageRef
		rule int
	}
	var runs []running
	longest := time.Duration(0)
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		ref := w.ensureImage(ctx, c, false)
		if ref == nil {
			return
		}
		w.startContainer(c, false, ref)
		s := w.cs(c.Name, false)
		s.Ready = true
		runs = append(runs, running{c: c, ref: ref})
		if r := w.sim.rule(ref); r.RunFor != nil && r.RunFor.Duration > longest {
			longest = r.RunFor.Duration
		}
	}
	w.st.Phase = corev1.PodRunning
	if pod.Spec.RestartPolicy == corev1.RestartPolicyAlways || pod.Spec.RestartPolicy == "" {
		// Long-running containers keep running until the pod is deleted.
		_ = w.post(ctx)
		return
	}
	if longest > 0 {
		if w.post(ctx) != nil {
			return
		}
	}
	// Containers exit after their rule's runFor, in order of exit.
	sort.SliceStable(runs, func(i, j int) bool { return runFor(w.sim.rule(runs[i].ref)) < runFor(w.sim.rule(runs[j].ref)) })
	t0 := time.Now()
	failed := false
	for idx, r := range runs {
		for {
			rule := w.sim.rule(r.ref)
			if d := w.sim.sc.Real(runFor(rule)) - time.Since(t0); d > 0 && sleep(ctx, d) != nil {
				return
			}
			code := exitCode(rule)
			w.finishContainer(r.c, false, r.ref, code)
			if code == 0 || never {
				failed = failed || code != 0
				break
			}
			// OnFailure: the kubelet restarts the container after its back-off.
			if !w.crashBackoff(ctx, r.c, false) {
				return
			}
			w.startContainer(r.c, false, r.ref)
			w.cs(r.c.Name, false).Ready = true
			t0 = time.Now()
			if w.post(ctx) != nil {
				return
			}
		}
		if idx < len(runs)-1 {
			// Another container still runs: report this exit.
			if w.post(ctx) != nil {
				return
			}
		}
	}
	if failed {
		w.st.Phase = corev1.PodFailed
	} else {
		w.st.Phase = corev1.PodSucceeded
	}
	_ = w.post(ctx)
}

func runFor(r interface{ GetRunFor() time.Duration }) time.Duration { return r.GetRunFor() }

func exitCode(r interface{ GetExitCode() int32 }) int32 { return r.GetExitCode() }

// startContainer records the Created and Started events and the running state.
func (w *podWorker) startContainer(c *corev1.Container, init bool, ref *imageRef) {
	s := w.cs(c.Name, init)
	id := containerID(string(w.uid), c.Name, fmt.Sprint(s.RestartCount))
	w.event(c, init, corev1.EventTypeNormal, "Created", "Created container: %v", c.Name)
	w.event(c, init, corev1.EventTypeNormal, "Started", "Started container %v", c.Name)
	t := true
	now := metav1.Now()
	s.Image = ref.full
	s.ImageID = ref.imageID()
	s.ContainerID = id
	s.Started = &t
	s.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}
	w.started[c.Name] = now.Time
}

func (w *podWorker) finishContainer(c *corev1.Container, init bool, ref *imageRef, code int32) {
	s := w.cs(c.Name, init)
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	f := false
	started := metav1.NewTime(w.started[c.Name])
	s.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: code, Reason: reason, StartedAt: started, FinishedAt: metav1.Now(), ContainerID: s.ContainerID,
	}}
	s.Started = &f
	s.Ready = init && code == 0 // a completed init container counts as ready
	if !init {
		s.Ready = false
	}
}

// crashBackoff reports CrashLoopBackOff and waits out the kubelet's restart back-off.
func (w *podWorker) crashBackoff(ctx context.Context, c *corev1.Container, init bool) bool {
	s := w.cs(c.Name, init)
	d := crashBackoffInitial << uint(s.RestartCount)
	if d > crashBackoffMax || d <= 0 {
		d = crashBackoffMax
	}
	s.LastTerminationState = s.State
	s.RestartCount++
	s.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
		Reason:  reasonCrashLoopBackOff,
		Message: fmt.Sprintf("back-off %v restarting failed container=%s pod=%s_%s(%s)", d, c.Name, w.name, w.ns, w.uid),
	}}
	w.event(c, init, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)", c.Name, w.name, w.ns, w.uid)
	if w.post(ctx) != nil {
		return false
	}
	return sleep(ctx, w.sim.sc.Real(d)) == nil
}

// setWaiting reports a container waiting with a reason, keeping what it reported before.
func (w *podWorker) setWaiting(c *corev1.Container, init bool, reason, msg string) {
	s := w.cs(c.Name, init)
	s.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}
}

// checkPullSecrets warns, as the kubelet does, about referenced pull secrets that do not exist.
func (w *podWorker) checkPullSecrets(ctx context.Context, pod *corev1.Pod) {
	var missing []string
	for _, ps := range pod.Spec.ImagePullSecrets {
		if ps.Name == "" {
			continue
		}
		if _, err := w.sim.cs.CoreV1().Secrets(w.ns).Get(ctx, ps.Name, metav1.GetOptions{}); err != nil {
			missing = append(missing, ps.Name)
		}
	}
	if len(missing) > 0 {
		w.event(nil, false, corev1.EventTypeWarning, "FailedToRetrieveImagePullSecret",
			"Unable to retrieve some image pull secrets (%s); attempting to pull the image may not succeed.", strings.Join(missing, ", "))
	}
}

func (w *podWorker) hasSecret(ctx context.Context, name string) bool {
	pod := w.latest()
	for _, ps := range pod.Spec.ImagePullSecrets {
		if ps.Name == name {
			_, err := w.sim.cs.CoreV1().Secrets(w.ns).Get(ctx, name, metav1.GetOptions{})
			return err == nil
		}
	}
	return false
}

// ensureImage makes the container's image present per its pull policy, as the kubelet's image
// manager does, with its events, waiting reasons and back-off. nil means the pod's life ended.
func (w *podWorker) ensureImage(ctx context.Context, c *corev1.Container, init bool) *imageRef {
	ref, err := parseImage(c.Image)
	if err != nil {
		msg := fmt.Sprintf("Failed to apply default image tag %q: %v", c.Image, err)
		w.event(c, init, corev1.EventTypeWarning, "InspectFailed", "%s", msg)
		w.event(c, init, corev1.EventTypeWarning, "Failed", "Error: %v", reasonInvalidImageName)
		w.setWaiting(c, init, reasonInvalidImageName, msg)
		_ = w.post(ctx)
		<-ctx.Done()
		return nil
	}
	policy := c.ImagePullPolicy
	if policy == "" {
		policy = corev1.PullIfNotPresent
		if ref.tag == "latest" && !strings.Contains(c.Image, "@") {
			policy = corev1.PullAlways
		}
	}
	present := w.node.has(ref)
	alreadyPresent := func() *imageRef {
		w.event(c, init, corev1.EventTypeNormal, "Pulled", "Container image %q already present on machine", c.Image)
		return ref
	}
	switch {
	case policy == corev1.PullNever && present:
		return alreadyPresent()
	case policy == corev1.PullNever:
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
		w.event(c, init, corev1.EventTypeWarning, "ErrImageNeverPull", "%s", msg)
		w.event(c, init, corev1.EventTypeWarning, "Failed", "Error: %v", reasonErrImageNeverPull)
		w.setWaiting(c, init, reasonErrImageNeverPull, msg)
		_ = w.post(ctx)
		<-ctx.Done()
		return nil
	case policy == corev1.PullIfNotPresent && present:
		return alreadyPresent()
	}
	sc := w.sim.sc
	backoff := time.Duration(0)
	for {
		if err := w.node.waitUp(ctx); err != nil {
			return nil
		}
		w.event(c, init, corev1.EventTypeNormal, "Pulling", "Pulling image %q", ref.withTag)
		res := w.pull(ctx, ref, present && policy == corev1.PullAlways)
		if ctx.Err() != nil {
			return nil
		}
		if res.err == "" {
			w.event(c, init, corev1.EventTypeNormal, "Pulled", "Successfully pulled image %q in %v (%v including waiting). Image size: %v bytes.",
				ref.withTag, res.pull.Truncate(time.Millisecond), res.total.Truncate(time.Millisecond), res.size)
			w.node.addImage(ref, res.size)
			return ref
		}
		w.event(c, init, corev1.EventTypeWarning, "Failed", "Failed to pull image %q: %s", ref.withTag, res.err)
		w.event(c, init, corev1.EventTypeWarning, "Failed", "Error: %v", reasonErrImagePull)
		w.setWaiting(c, init, reasonErrImagePull, res.err)
		if w.post(ctx) != nil {
			return nil
		}
		if backoff == 0 {
			backoff = pullBackoffInitial
		} else if backoff *= 2; backoff > pullBackoffMax {
			backoff = pullBackoffMax
		}
		failedAt := time.Now()
		until := failedAt.Add(sc.Real(backoff))
		shown := sc.Real(errImagePullShown)
		if half := sc.Real(backoff) / 2; shown > half {
			shown = half
		}
		if sleep(ctx, shown) != nil {
			return nil
		}
		// Each sync during the back-off reports it.
		first := true
		for time.Now().Before(until) {
			if err := w.node.waitUp(ctx); err != nil {
				return nil
			}
			w.event(c, init, corev1.EventTypeNormal, "BackOff", "Back-off pulling image %q", ref.withTag)
			w.event(c, init, corev1.EventTypeWarning, "Failed", "Error: %v", reasonImagePullBackOff)
			if first {
				w.setWaiting(c, init, reasonImagePullBackOff,
					fmt.Sprintf("Back-off pulling image %q: %s: %s", ref.withTag, reasonErrImagePull, res.err))
				if w.post(ctx) != nil {
					return nil
				}
				first = false
			}
			wait := time.Until(until)
			if r := sc.Real(podResync); wait > r {
				wait = r
			}
			if sleep(ctx, wait) != nil {
				return nil
			}
		}
		present = w.node.has(ref)
		if policy == corev1.PullIfNotPresent && present {
			return alreadyPresent()
		}
	}
}

type pullResult struct {
	err         string
	size        int64
	pull, total time.Duration
}

// pull takes the image from the registry model. Pulls on a node are serialized, as the kubelet's
// default serializeImagePulls does; onlyManifest is a re-pull (Always) of an image the node has.
func (w *podWorker) pull(ctx context.Context, ref *imageRef, onlyManifest bool) pullResult {
	t0 := time.Now()
	select {
	case w.node.pullSem <- struct{}{}:
	case <-ctx.Done():
		return pullResult{err: "cancelled"}
	}
	defer func() { <-w.node.pullSem }()
	reg := w.sim.reg
	start := time.Now()
	rule := w.sim.rule(ref)
	size := rule.GetSize()
	if size < 0 {
		size = w.sim.defaultSize()
	}
	done := func(err string) pullResult {
		return pullResult{err: err, size: size, pull: time.Since(start), total: time.Since(t0)}
	}
	if err := reg.begin(); err != nil {
		_ = reg.waitLatency(ctx)
		return done(tooManyRequestsError(ref))
	}
	defer reg.end()
	if reg.waitLatency(ctx) != nil {
		return done("cancelled")
	}
	if rule.Error == "NotFound" {
		return done(notFoundError(ref))
	}
	if rule.Secret != "" && !w.hasSecret(ctx, rule.Secret) {
		return done(unauthorizedError(ref))
	}
	bytes := size
	if onlyManifest {
		bytes = 0
	}
	if reg.move(ctx, bytes) != nil {
		return done("cancelled")
	}
	return done("")
}

// terminate stops the pod's containers within its grace period and removes the pod, as the
// kubelet does for a pod being deleted.
func (w *podWorker) terminate(ctx context.Context) {
	if err := w.node.waitUp(ctx); err != nil {
		return
	}
	pod := w.latest()
	if w.st.Phase == "" {
		w.st = *pod.Status.DeepCopy()
	}
	if w.st.Phase != corev1.PodSucceeded && w.st.Phase != corev1.PodFailed {
		allZero := true
		stop := func(list []corev1.ContainerStatus, specs []corev1.Container, init bool) {
			for i := range list {
				s := &list[i]
				if s.State.Running == nil {
					if s.State.Terminated == nil || s.State.Terminated.ExitCode != 0 {
						allZero = false
					}
					continue
				}
				for j := range specs {
					if specs[j].Name == s.Name {
						w.event(&specs[j], init, corev1.EventTypeNormal, "Killing", "Stopping container %s", s.Name)
					}
				}
				f := false
				s.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
					ExitCode: 143, Reason: "Error", StartedAt: s.State.Running.StartedAt, FinishedAt: metav1.Now(), ContainerID: s.ContainerID,
				}}
				s.Ready, s.Started = false, &f
				allZero = false
			}
		}
		stop(w.st.InitContainerStatuses, pod.Spec.InitContainers, true)
		stop(w.st.ContainerStatuses, pod.Spec.Containers, false)
		if allZero && len(w.st.ContainerStatuses) > 0 {
			w.st.Phase = corev1.PodSucceeded
		} else {
			w.st.Phase = corev1.PodFailed
		}
		if err := w.post(ctx); err != nil && apierrors.IsNotFound(err) {
			return
		}
	}
	zero := int64(0)
	uid := w.uid
	err := w.sim.cs.CoreV1().Pods(w.ns).Delete(ctx, w.name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &uid},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) && ctx.Err() == nil {
		w.sim.log.Printf("pod %s/%s: delete: %v", w.ns, w.name, err)
	}
}
