package scheduler

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	resourcehelper "k8s.io/component-helpers/resource"
	"sigs.k8s.io/yaml"
)

// Workload is one pod template of the rendered chart.
type Workload struct {
	Kind      string    `json:"kind"`
	Name      string    `json:"name"`
	Replicas  int       `json:"replicas"`            // pods wanted (DaemonSet: 0, see PerNode)
	PerNode   bool      `json:"perNode,omitempty"`   // DaemonSet: one pod on every schedulable node
	Pod       Resources `json:"pod"`                 // requests of one pod
	Defaulted bool      `json:"defaulted,omitempty"` // some container had no request and got the default
}

func (w Workload) String() string { return w.Kind + " " + w.Name }

// Demand is what a rendered chart asks of a cluster.
type Demand struct {
	Workloads []Workload `json:"workloads"`
}

// Pods is the number of pods wanted, per-node workloads not counted.
func (d Demand) Pods() int {
	n := 0
	for _, w := range d.Workloads {
		n += max(w.Replicas, 0)
	}
	return n
}

// Total is the sum of the pods' requests, per-node workloads not counted.
func (d Demand) Total() Resources {
	var t Resources
	for _, w := range d.Workloads {
		t = t.Add(w.Pod.Times(max(w.Replicas, 0)))
	}
	return t
}

// DemandOf reads a rendered chart (Helm's manifest: YAML documents separated
// by ---) and returns one Workload per pod template. Kinds that run no pods
// now (CronJob, Service, ConfigMap, ...) and Helm hooks are skipped. A container without a
// cpu or memory request gets its limit, as the API server would, or else the
// value in defaults.
func DemandOf(manifest string, defaults Resources) (Demand, error) {
	d := Demand{Workloads: []Workload{}}
	docs := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(manifest)))
	for i := 1; ; i++ {
		doc, err := docs.Read()
		if errors.Is(err, io.EOF) {
			return d, nil
		}
		if err != nil {
			return Demand{}, fmt.Errorf("manifest document %d: %w", i, err)
		}
		w, ok, err := workloadOf(doc, defaults)
		if err != nil {
			return Demand{}, fmt.Errorf("manifest document %d: %w", i, err)
		}
		if ok {
			d.Workloads = append(d.Workloads, w)
		}
	}
}

var (
	deploymentKind  = schema.GroupKind{Group: "apps", Kind: "Deployment"}
	statefulSetKind = schema.GroupKind{Group: "apps", Kind: "StatefulSet"}
	replicaSetKind  = schema.GroupKind{Group: "apps", Kind: "ReplicaSet"}
	daemonSetKind   = schema.GroupKind{Group: "apps", Kind: "DaemonSet"}
	jobKind         = schema.GroupKind{Group: "batch", Kind: "Job"}
	podKind         = schema.GroupKind{Kind: "Pod"}
)

// workloadOf decodes one document; ok is false for a kind that runs no pod.
func workloadOf(doc []byte, defaults Resources) (w Workload, ok bool, err error) {
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name        string            `json:"name"`
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &meta); err != nil {
		return w, false, err
	}
	// Hooks (pre-install jobs, tests) run and end around the install; the
	// release's lasting demand is its other workloads.
	if _, hook := meta.Metadata.Annotations["helm.sh/hook"]; hook {
		return w, false, nil
	}
	w = Workload{Kind: meta.Kind, Name: meta.Metadata.Name}
	replicas := int32(1)
	var spec *corev1.PodSpec
	switch schema.FromAPIVersionAndKind(meta.APIVersion, meta.Kind).GroupKind() {
	case deploymentKind:
		var o appsv1.Deployment
		err = yaml.Unmarshal(doc, &o)
		spec, replicas = &o.Spec.Template.Spec, orOne(o.Spec.Replicas)
	case statefulSetKind:
		var o appsv1.StatefulSet
		err = yaml.Unmarshal(doc, &o)
		spec, replicas = &o.Spec.Template.Spec, orOne(o.Spec.Replicas)
	case replicaSetKind:
		var o appsv1.ReplicaSet
		err = yaml.Unmarshal(doc, &o)
		spec, replicas = &o.Spec.Template.Spec, orOne(o.Spec.Replicas)
	case daemonSetKind:
		var o appsv1.DaemonSet
		err = yaml.Unmarshal(doc, &o)
		spec, replicas, w.PerNode = &o.Spec.Template.Spec, 0, true
	case jobKind:
		var o batchv1.Job
		err = yaml.Unmarshal(doc, &o)
		// Kubernetes never runs more pods at once than completions.
		spec, replicas = &o.Spec.Template.Spec, orOne(o.Spec.Parallelism)
		if c := o.Spec.Completions; c != nil && *c < replicas {
			replicas = *c
		}
	case podKind:
		var o corev1.Pod
		err = yaml.Unmarshal(doc, &o)
		spec = &o.Spec
	default:
		return w, false, nil
	}
	if err != nil {
		return w, false, fmt.Errorf("%s: %w", w, err)
	}
	if replicas < 0 {
		return w, false, fmt.Errorf("%s: negative replicas %d", w, replicas)
	}
	w.Replicas = int(replicas)
	w.Pod, w.Defaulted = podRequests(spec, defaults)
	return w, true, nil
}

func orOne(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// podRequests is what the Kubernetes scheduler reserves for one pod of spec
// (init containers, sidecars and overhead included), after giving every
// container its missing requests.
func podRequests(spec *corev1.PodSpec, defaults Resources) (r Resources, defaulted bool) {
	pod := &corev1.Pod{Spec: *spec}
	var podLevel corev1.ResourceList
	if spec.Resources != nil {
		podLevel = spec.Resources.Requests
	}
	var d1, d2 bool
	pod.Spec.Containers, d1 = withRequests(spec.Containers, defaults, podLevel)
	pod.Spec.InitContainers, d2 = withRequests(spec.InitContainers, defaults, podLevel)
	reqs := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
	// A negative request is invalid; the API server will refuse the chart.
	return QuantityResources(*reqs.Cpu(), *reqs.Memory()).floor(), d1 || d2
}

// withRequests returns copies of cs in which a missing cpu or memory request
// is the container's limit (the API server's defaulting), or else the
// default. A resource requested at pod level needs no container default.
func withRequests(cs []corev1.Container, defaults Resources, podLevel corev1.ResourceList) (out []corev1.Container, defaulted bool) {
	fallback := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewMilliQuantity(defaults.MilliCPU, resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(defaults.Memory, resource.BinarySI),
	}
	out = make([]corev1.Container, len(cs))
	for i, c := range cs {
		reqs := maps.Clone(c.Resources.Requests)
		if reqs == nil {
			reqs = corev1.ResourceList{}
		}
		for name, def := range fallback {
			if _, ok := reqs[name]; ok {
				continue
			}
			if limit, ok := c.Resources.Limits[name]; ok {
				reqs[name] = limit
			} else if _, ok := podLevel[name]; !ok {
				reqs[name] = def
				defaulted = true
			}
		}
		c.Resources.Requests = reqs
		out[i] = c
	}
	return out, defaulted
}
