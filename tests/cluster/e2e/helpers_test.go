// Package e2e tests the test cluster end to end: real control planes started with
// drop-testcluster, driven with the machine's kubectl and with client-go.
package e2e

import (
	"encoding/json"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"drop.io/tests/cluster/internal/testkit"
)

// cluster is the test cluster these tests run on (internal/testkit).
type cluster = testkit.Cluster

// dropPod is a pod shaped like the ones the operator creates (DESIGN.md section 3).
func dropPod(ns, name, node, image, initImage string, tolerations []corev1.Toleration, pullSecrets []string) *corev1.Pod {
	f := false
	p := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{
			"app.kubernetes.io/managed-by": "drop", "drop.io/node": node}},
		Spec: corev1.PodSpec{
			RestartPolicy:                corev1.RestartPolicyNever,
			AutomountServiceAccountToken: &f,
			Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
					MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
				}}},
			}},
			Tolerations: tolerations,
			Volumes:     []corev1.Volume{{Name: "bin", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			InitContainers: []corev1.Container{{
				Name: "copy-noop", Image: initImage, ImagePullPolicy: corev1.PullIfNotPresent,
				Command:      []string{"/drop-noop", "--install", "/drop/noop"},
				VolumeMounts: []corev1.VolumeMount{{Name: "bin", MountPath: "/drop"}},
			}},
			Containers: []corev1.Container{{
				Name: "pull", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
				Command:      []string{"/drop/noop"},
				VolumeMounts: []corev1.VolumeMount{{Name: "bin", MountPath: "/drop"}},
			}},
		},
	}
	for _, s := range pullSecrets {
		p.Spec.ImagePullSecrets = append(p.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
	}
	return p
}

// podEvents lists a pod's events as "Reason: message" lines, read with kubectl.
func podEvents(c *cluster, ns, name string) []string {
	out := c.MustKubectl("", "get", "events", "-n", ns, "--field-selector", "involvedObject.name="+name, "-o", "json")
	var list corev1.EventList
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		panic(err)
	}
	var ev []string
	for _, e := range list.Items {
		ev = append(ev, e.Reason+": "+e.Message)
	}
	return ev
}

func hasEvent(events []string, prefix string) bool {
	for _, e := range events {
		if strings.HasPrefix(e, prefix) {
			return true
		}
	}
	return false
}

func nodeHasImage(n *corev1.Node, name string) bool {
	for _, im := range n.Status.Images {
		for _, nm := range im.Names {
			if nm == name {
				return true
			}
		}
	}
	return false
}
