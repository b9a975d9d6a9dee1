package nodesim

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"sort"
	"sync"
	"time"

	"drop.io/tests/cluster/internal/scenario"

	coordv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
)

const (
	leaseNamespace       = "kube-node-lease"
	leaseDurationSeconds = 40
	// The kubelet's nodeStatusUpdateFrequency and nodeStatusReportFrequency (scenario time).
	statusUpdateFrequency = 10 * time.Second
	statusReportFrequency = 5 * time.Minute
)

// node is one simulated node and its kubelet.
type node struct {
	sim  *Sim
	name string
	spec scenario.NodeSpec
	ip   string
	uid  types.UID
	rec  record.EventRecorder

	mu         sync.Mutex
	up         bool
	upCh       chan struct{} // closed while up
	images     []*nodeImage
	byName     map[string]*nodeImage
	dirty      bool // images changed since the last status post
	forcePost  bool
	lastPost   time.Time
	lease      *coordv1.Lease
	nextPodIP  int
	cancel     context.CancelFunc
	ctx        context.Context
	pullSem    chan struct{} // the kubelet serializes image pulls (serializeImagePulls=true)
	createTime time.Time
}

type nodeImage struct {
	names []string
	size  int64
}

func newNode(s *Sim, spec scenario.NodeSpec, idx int) *node {
	n := &node{
		sim: s, name: spec.Name, spec: spec,
		ip:      fmt.Sprintf("127.1.%d.%d", (idx/250)%250, idx%250+1),
		rec:     s.recorder(spec.Name),
		byName:  map[string]*nodeImage{},
		upCh:    make(chan struct{}),
		pullSem: make(chan struct{}, 1),
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	for _, im := range spec.Group.Images {
		ref, err := parseImage(im.Name)
		if err != nil {
			s.log.Printf("node %s: image %q: %v (skipped)", n.name, im.Name, err)
			continue
		}
		n.addImageLocked(ref, im.SizeBytes)
	}
	n.dirty = false
	if spec.Group.IsReady() {
		n.up = true
		close(n.upCh)
	}
	return n
}

// podIP hands out a loopback address per pod (nothing ever connects to it).
func (n *node) podIP() string {
	n.mu.Lock()
	n.nextPodIP++
	i := n.nextPodIP
	n.mu.Unlock()
	return podIPFor(n.ip, i)
}

func podIPFor(nodeIP string, i int) string {
	var a, b, c, d int
	fmt.Sscanf(nodeIP, "%d.%d.%d.%d", &a, &b, &c, &d)
	return fmt.Sprintf("127.%d.%d.%d", 64+(c%64), d, i%250+1)
}

// has reports whether the node holds the image.
func (n *node) has(ref *imageRef) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, name := range ref.names() {
		if _, ok := n.byName[name]; ok {
			return true
		}
	}
	return false
}

func (n *node) addImageLocked(ref *imageRef, size int64) {
	for _, name := range ref.names() {
		if _, ok := n.byName[name]; ok {
			return
		}
	}
	im := &nodeImage{names: ref.names(), size: size}
	n.images = append(n.images, im)
	for _, name := range im.names {
		n.byName[name] = im
	}
	n.dirty = true
}

// addImage records a pulled image; it is reported at the next status update.
func (n *node) addImage(ref *imageRef, size int64) {
	n.mu.Lock()
	n.addImageLocked(ref, size)
	n.mu.Unlock()
}

// statusImages is node.status.images as the kubelet builds it: largest first, at most MaxImages.
func (n *node) statusImagesLocked() []corev1.ContainerImage {
	ims := append([]*nodeImage(nil), n.images...)
	sort.SliceStable(ims, func(i, j int) bool {
		if ims[i].size == ims[j].size {
			return ims[i].names[0] > ims[j].names[0]
		}
		return ims[i].size > ims[j].size
	})
	if max := n.sim.cfg.MaxImages; max > 0 && len(ims) > max {
		ims = ims[:max]
	}
	out := make([]corev1.ContainerImage, 0, len(ims))
	for _, im := range ims {
		names := im.names
		if len(names) > 5 {
			names = names[:5]
		}
		out = append(out, corev1.ContainerImage{Names: names, SizeBytes: im.size})
	}
	return out
}

func (n *node) isUp() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.up
}

// waitUp blocks while the node is down (its kubelet does nothing then).
func (n *node) waitUp(ctx context.Context) error {
	n.mu.Lock()
	ch := n.upCh
	n.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-n.ctx.Done():
		return n.ctx.Err()
	}
}

// setUp starts or stops the node's kubelet (heartbeats, status, pods).
func (n *node) setUp(up bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.up == up {
		return
	}
	n.up = up
	if up {
		close(n.upCh)
		n.forcePost = true
	} else {
		n.upCh = make(chan struct{})
	}
}

func (n *node) conditions(now metav1.Time, ready bool) []corev1.NodeCondition {
	c := []corev1.NodeCondition{
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available"},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure"},
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available"},
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status"},
	}
	if !ready {
		c[3].Status = corev1.ConditionFalse
		c[3].Reason = "KubeletNotReady"
		c[3].Message = "container runtime status check may not have completed yet"
	}
	for i := range c {
		c[i].LastHeartbeatTime = now
		c[i].LastTransitionTime = now
	}
	return c
}

func defaultCapacity() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("32"),
		corev1.ResourceMemory:           resource.MustParse("128Gi"),
		corev1.ResourcePods:             resource.MustParse("110"),
		corev1.ResourceEphemeralStorage: resource.MustParse("500Gi"),
		"hugepages-1Gi":                 resource.MustParse("0"),
		"hugepages-2Mi":                 resource.MustParse("0"),
	}
}

func (n *node) object() *corev1.Node {
	g := n.spec.Group
	labels := map[string]string{
		"kubernetes.io/hostname": n.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
		"beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64",
	}
	for k, v := range g.Labels {
		labels[k] = v
	}
	capacity := defaultCapacity()
	for k, v := range g.Capacity {
		capacity[k] = v
	}
	now := metav1.Now()
	n.mu.Lock()
	images := n.statusImagesLocked()
	n.dirty = false
	n.mu.Unlock()
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:   n.name,
			Labels: labels,
			Annotations: map[string]string{
				"node.alpha.kubernetes.io/ttl":                           "0",
				"volumes.kubernetes.io/controller-managed-attach-detach": "true",
				"drop.io/simulated":                                      "true",
			},
		},
		Spec: corev1.NodeSpec{Taints: append([]corev1.Taint(nil), g.Taints...), Unschedulable: g.Unschedulable},
		Status: corev1.NodeStatus{
			Capacity:    capacity,
			Allocatable: capacity.DeepCopy(),
			Conditions:  n.conditions(now, g.IsReady()),
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: n.ip},
				{Type: corev1.NodeHostName, Address: n.name},
			},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 10250}},
			NodeInfo: corev1.NodeSystemInfo{
				MachineID: n.name, SystemUUID: n.name, BootID: string(types.UID(fmt.Sprintf("boot-%s", n.name))),
				KernelVersion: "6.1.0-drop-nodesim", OSImage: "drop-nodesim (simulated node)",
				ContainerRuntimeVersion: "containerd://2.1.0", KubeletVersion: n.sim.cfg.KubeletVersion,
				KubeProxyVersion: "", OperatingSystem: "linux", Architecture: "amd64",
			},
			Images: images,
		},
	}
}

// register creates the Node (with its status, as the kubelet does) and its Lease.
func (n *node) register(ctx context.Context) error {
	cs := n.sim.cs
	obj := n.object()
	created, err := cs.CoreV1().Nodes().Create(ctx, obj, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		// Left over from an earlier run: take it over.
		created, err = cs.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
		if err == nil {
			created.Labels, created.Spec.Taints, created.Spec.Unschedulable = obj.Labels, obj.Spec.Taints, obj.Spec.Unschedulable
			created, err = cs.CoreV1().Nodes().Update(ctx, created, metav1.UpdateOptions{})
		}
		if err == nil {
			n.mu.Lock()
			n.forcePost = true
			n.mu.Unlock()
		}
	}
	if err != nil {
		return err
	}
	n.uid = created.UID
	n.mu.Lock()
	n.lastPost = time.Now()
	n.createTime = time.Now()
	n.mu.Unlock()
	if !n.spec.Group.IsReady() {
		return nil
	}
	return n.renewLease(ctx)
}

func (n *node) newLease() *coordv1.Lease {
	name := n.name
	d := int32(leaseDurationSeconds)
	now := metav1.NewMicroTime(time.Now())
	return &coordv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Name: n.name, Namespace: leaseNamespace,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: n.name, UID: n.uid}},
		},
		Spec: coordv1.LeaseSpec{HolderIdentity: &name, LeaseDurationSeconds: &d, RenewTime: &now},
	}
}

// renewLease updates the node's Lease (creating it when missing), as the kubelet's lease controller.
func (n *node) renewLease(ctx context.Context) error {
	leases := n.sim.cs.CoordinationV1().Leases(leaseNamespace)
	n.mu.Lock()
	l := n.lease
	n.mu.Unlock()
	var err error
	if l == nil {
		l, err = leases.Create(ctx, n.newLease(), metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			l, err = leases.Get(ctx, n.name, metav1.GetOptions{})
		} else if err == nil {
			n.mu.Lock()
			n.lease = l
			n.mu.Unlock()
			return nil
		}
		if err != nil {
			return err
		}
	}
	for attempt := 0; attempt < 3; attempt++ {
		l = l.DeepCopy()
		now := metav1.NewMicroTime(time.Now())
		l.Spec.RenewTime = &now
		name := n.name
		l.Spec.HolderIdentity = &name
		var updated *coordv1.Lease
		updated, err = leases.Update(ctx, l, metav1.UpdateOptions{})
		if err == nil {
			n.mu.Lock()
			n.lease = updated
			n.mu.Unlock()
			return nil
		}
		if apierrors.IsNotFound(err) {
			n.mu.Lock()
			n.lease = nil
			n.mu.Unlock()
			return n.renewLease(ctx)
		}
		if !apierrors.IsConflict(err) {
			return err
		}
		if l, err = leases.Get(ctx, n.name, metav1.GetOptions{}); err != nil {
			return err
		}
	}
	return err
}

// postStatus patches the node's conditions and images.
func (n *node) postStatus(ctx context.Context) error {
	now := metav1.Now()
	n.mu.Lock()
	images := n.statusImagesLocked()
	n.dirty = false
	n.forcePost = false
	n.lastPost = time.Now()
	n.mu.Unlock()
	conds := n.conditions(now, true)
	// Keep each condition's lastTransitionTime when its status did not change.
	if cur, ok := n.sim.nodeLister(n.name); ok {
		for i := range conds {
			for _, c := range cur.Status.Conditions {
				if c.Type == conds[i].Type && c.Status == conds[i].Status {
					conds[i].LastTransitionTime = c.LastTransitionTime
				}
			}
		}
	}
	patch, err := json.Marshal(map[string]interface{}{
		"status": map[string]interface{}{"conditions": conds, "images": images},
	})
	if err != nil {
		return err
	}
	_, err = n.sim.cs.CoreV1().Nodes().Patch(ctx, n.name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	return err
}

// needsPost tells whether the status must be posted now: images changed (at the kubelet's
// update frequency), the Ready condition on the server is not True (the node lifecycle
// controller set it Unknown), or the report frequency passed.
func (n *node) needsPost() bool {
	sc := n.sim.sc
	n.mu.Lock()
	force, dirty, last := n.forcePost, n.dirty, n.lastPost
	n.mu.Unlock()
	if force {
		return true
	}
	since := time.Since(last)
	if dirty && since >= sc.Real(statusUpdateFrequency) {
		return true
	}
	if since >= sc.Real(statusReportFrequency) {
		return true
	}
	if cur, ok := n.sim.nodeLister(n.name); ok && since >= sc.Real(statusUpdateFrequency) {
		for _, c := range cur.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
				return true
			}
		}
	}
	return false
}

// run renews the Lease every heartbeat and posts the status when needed, while the node is up.
func (n *node) run(ctx context.Context) {
	hb := n.sim.sc.HeartbeatReal()
	check := n.sim.sc.Real(statusUpdateFrequency)
	if check > hb {
		check = hb
	}
	if check > time.Second {
		check = time.Second
	}
	// Spread the nodes' heartbeats over the interval.
	nextBeat := time.Now().Add(time.Duration(rand.Int63n(int64(hb) + 1)))
	tick := time.NewTicker(check)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.ctx.Done():
			return
		case <-tick.C:
		}
		if !n.isUp() {
			continue
		}
		if n.needsPost() {
			if err := n.postStatus(ctx); err != nil && ctx.Err() == nil {
				n.sim.log.Printf("node %s: status: %v", n.name, err)
			}
		}
		if time.Now().After(nextBeat) {
			nextBeat = time.Now().Add(hb)
			if err := n.renewLease(ctx); err != nil && ctx.Err() == nil {
				n.sim.log.Printf("node %s: lease: %v", n.name, err)
			}
		}
	}
}

// remove stops the node and deletes its Node object (the Lease goes with it through its owner).
func (n *node) remove(ctx context.Context) {
	n.cancel()
	err := n.sim.cs.CoreV1().Nodes().Delete(ctx, n.name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		n.sim.log.Printf("node %s: delete: %v", n.name, err)
	}
}
