package release

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/releaseutil"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"
)

// instanceLabel is the Helm convention label naming the release of a
// resource; a release's PVCs are found by it.
const instanceLabel = "app.kubernetes.io/instance"

// Labels DeleteVolumes puts on a PersistentVolume before it deletes the
// claim bound to it, so that a run repeated after a crash still finds the
// volume when the claim (and its labels) are gone.
const (
	volumeReleaseLabel   = "smartorch.io/release"
	volumeNamespaceLabel = "smartorch.io/release-namespace"
)

// ErrVolumesInUse: DeleteVolumes refused because pods use the claims.
var ErrVolumesInUse = errors.New("volumes in use")

// volumeWaitTimeout bounds DeleteVolumes' wait when ctx has no deadline.
const volumeWaitTimeout = 5 * time.Minute

// volumePoll is how often DeleteVolumes looks whether claims and volumes
// are gone.
const volumePoll = 500 * time.Millisecond

// Volume is a PersistentVolumeClaim of a release and the PersistentVolume it
// was bound to.
type Volume struct {
	Claim         string `json:"claim"`
	Namespace     string `json:"namespace"`
	Volume        string `json:"volume,omitempty"`        // bound PV name
	ReclaimPolicy string `json:"reclaimPolicy,omitempty"` // of that PV
	Capacity      string `json:"capacity,omitempty"`
	VolumeDeleted bool   `json:"volumeDeleted"` // the PV was deleted (by us, or by its Delete policy)
}

// Volumes lists the release's PersistentVolumeClaims, sorted by namespace
// and name, with the volumes bound to them:
//   - the claims in t.Namespace labelled app.kubernetes.io/instance=<name>
//     (Helm's convention, which charts also put on StatefulSet
//     volumeClaimTemplates);
//   - while the release exists, the claims named <template>-<statefulset>-<n>
//     for the StatefulSets of any of its revisions (labelled or not);
//   - volumes a DeleteVolumes interrupted by a crash left behind after it
//     deleted their claims.
//
// It works whether or not the release is still installed (once it is not,
// only labelled claims are found). A claim whose volume no longer exists
// has VolumeDeleted set.
func Volumes(ctx context.Context, t Target, name string) ([]Volume, error) {
	cfg, client, err := volumeClients(t, name)
	if err != nil {
		return nil, err
	}
	found, err := findVolumes(ctx, cfg, client, t.namespace(), name)
	if err != nil {
		return nil, err
	}
	out := make([]Volume, len(found))
	for i, v := range found {
		out[i] = v.Volume
	}
	return out, nil
}

// volumeClients checks the release name and connects to the cluster.
func volumeClients(t Target, name string) (*action.Configuration, kubernetes.Interface, error) {
	if err := chartutil.ValidateReleaseName(name); err != nil {
		return nil, nil, fmt.Errorf("release name %q: %w", name, err)
	}
	cfg, err := configuration(t)
	if err != nil {
		return nil, nil, err
	}
	client, err := cfg.KubernetesClientSet()
	return cfg, client, err
}

// DeleteVolumes deletes the release's volumes (those Volumes lists) and
// reports them: it deletes the claims, waits until they are gone, then
// deletes the PersistentVolumes they were bound to whose reclaim policy
// would leave them behind (Retain, Recycle), and waits until every one of
// those volumes is gone (the provisioner removes volumes with the Delete
// policy). Waiting is bounded by ctx, or by 5 minutes without a deadline.
// A volume with the Delete policy whose deletion failed (phase Failed) is
// an error and is left for an administrator: deleting it would leak the
// storage behind it. A second call finds nothing and returns an empty
// list.
//
// Deleting a claim a pod uses would hang until the pod goes (the
// kubernetes.io/pvc-protection finalizer), so while any pod not finished
// uses one of the claims, DeleteVolumes deletes nothing and returns an
// error wrapping ErrVolumesInUse that names the pods: uninstall the
// release (or scale its workloads to zero) first. While the release is
// installed with replicas, its StatefulSets would create the claims again.
func DeleteVolumes(ctx context.Context, t Target, name string) ([]Volume, error) {
	cfg, client, err := volumeClients(t, name)
	if err != nil {
		return nil, err
	}
	log := t.logger().With("release", name, "namespace", t.namespace())
	found, err := findVolumes(ctx, cfg, client, t.namespace(), name)
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return []Volume{}, nil
	}
	if err := checkNotInUse(ctx, client, found); err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, volumeWaitTimeout)
		defer cancel()
	}

	pvs := client.CoreV1().PersistentVolumes()
	for _, v := range found {
		if v.pv == nil || v.pv.Labels[volumeReleaseLabel] == name && v.pv.Labels[volumeNamespaceLabel] == t.namespace() {
			continue
		}
		patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%q,%q:%q}}}`, volumeReleaseLabel, name, volumeNamespaceLabel, t.namespace())
		if _, err := pvs.Patch(ctx, v.Volume.Volume, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); apierrors.IsNotFound(err) {
			v.pv, v.VolumeDeleted = nil, true
		} else if err != nil {
			return nil, fmt.Errorf("label PersistentVolume %s: %w", v.Volume.Volume, err)
		}
	}

	for _, v := range found {
		if v.claimUID == "" {
			continue // the claim was gone already
		}
		err := client.CoreV1().PersistentVolumeClaims(v.Namespace).Delete(ctx, v.Claim, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("delete PersistentVolumeClaim %s/%s: %w", v.Namespace, v.Claim, err)
		}
		log.Info("deleted PersistentVolumeClaim", "claim", v.Claim, "claimNamespace", v.Namespace, "volume", v.Volume.Volume)
	}
	if err := waitClaimsGone(ctx, client, found); err != nil {
		return nil, err
	}

	for _, v := range found {
		if v.pv == nil || v.pv.Spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimDelete {
			continue
		}
		uid := v.pv.UID
		err := pvs.Delete(ctx, v.pv.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("delete PersistentVolume %s: %w", v.pv.Name, err)
		}
		log.Info("deleted PersistentVolume", "volume", v.pv.Name, "reclaimPolicy", v.ReclaimPolicy)
	}
	if err := waitVolumesGone(ctx, client, found); err != nil {
		return nil, err
	}

	out := make([]Volume, len(found))
	for i, v := range found {
		out[i] = v.Volume
	}
	return out, nil
}

// volume is a Volume and what DeleteVolumes needs to delete it.
type volume struct {
	Volume
	claimUID types.UID                // "" when the claim is gone (a volume left behind)
	pv       *corev1.PersistentVolume // nil when there is none (any more)
}

// findVolumes finds the release's claims and volumes (see Volumes).
func findVolumes(ctx context.Context, cfg *action.Configuration, client kubernetes.Interface, namespace, name string) ([]*volume, error) {
	patterns, err := claimPatterns(cfg, namespace, name)
	if err != nil {
		return nil, err
	}
	namespaces := []string{namespace}
	for ns := range patterns {
		if ns != namespace {
			namespaces = append(namespaces, ns)
		}
	}

	var found []*volume
	claims := map[string]bool{} // namespace/name
	for _, ns := range namespaces {
		list, err := client.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("list PersistentVolumeClaims in %s: %w", ns, err)
		}
		for _, pvc := range list.Items {
			ours := ns == namespace && pvc.Labels[instanceLabel] == name ||
				slices.ContainsFunc(patterns[ns], func(re *regexp.Regexp) bool { return re.MatchString(pvc.Name) })
			if !ours {
				continue
			}
			v := &volume{Volume: Volume{Claim: pvc.Name, Namespace: pvc.Namespace, Volume: pvc.Spec.VolumeName}, claimUID: pvc.UID}
			if q, ok := pvc.Status.Capacity[corev1.ResourceStorage]; ok {
				v.Capacity = q.String()
			}
			if v.Volume.Volume != "" {
				pv, err := client.CoreV1().PersistentVolumes().Get(ctx, v.Volume.Volume, metav1.GetOptions{})
				switch {
				case apierrors.IsNotFound(err):
					v.VolumeDeleted = true
				case err != nil:
					return nil, fmt.Errorf("PersistentVolume %s of claim %s/%s: %w", v.Volume.Volume, pvc.Namespace, pvc.Name, err)
				case pv.Spec.ClaimRef != nil && pv.Spec.ClaimRef.UID != "" && pv.Spec.ClaimRef.UID != pvc.UID:
					v.Volume.Volume = "" // bound to another claim: not this one's to delete
				default:
					v.setVolume(pv)
				}
			}
			claims[pvc.Namespace+"/"+pvc.Name] = true
			found = append(found, v)
		}
	}

	// Volumes an interrupted DeleteVolumes left behind.
	selector := labels.SelectorFromSet(labels.Set{volumeReleaseLabel: name, volumeNamespaceLabel: namespace}).String()
	left, err := client.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("list PersistentVolumes: %w", err)
	}
	for i := range left.Items {
		pv := &left.Items[i]
		ref := pv.Spec.ClaimRef
		if ref != nil && claims[ref.Namespace+"/"+ref.Name] {
			continue // found above
		}
		if ref != nil && pv.Status.Phase == corev1.VolumeBound {
			pvc, err := client.CoreV1().PersistentVolumeClaims(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
			if err == nil && pvc.UID == ref.UID {
				continue // bound again, to a claim that is not the release's
			}
			if err != nil && !apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("claim %s/%s of PersistentVolume %s: %w", ref.Namespace, ref.Name, pv.Name, err)
			}
		}
		v := &volume{Volume: Volume{Namespace: namespace}}
		if ref != nil {
			v.Claim, v.Namespace = ref.Name, ref.Namespace
		}
		v.Volume.Volume = pv.Name
		v.setVolume(pv)
		found = append(found, v)
	}

	slices.SortFunc(found, func(a, b *volume) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Claim, b.Claim), cmp.Compare(a.Volume.Volume, b.Volume.Volume))
	})
	return found, nil
}

func (v *volume) setVolume(pv *corev1.PersistentVolume) {
	v.pv = pv
	v.ReclaimPolicy = string(pv.Spec.PersistentVolumeReclaimPolicy)
	if q, ok := pv.Spec.Capacity[corev1.ResourceStorage]; ok && v.Capacity == "" {
		v.Capacity = q.String()
	}
}

// claimPatterns returns, by namespace, patterns matching the names of the
// claims made from the volumeClaimTemplates of the StatefulSets in any
// revision of the release: <template>-<statefulset>-<ordinal>. A release
// that does not exist has none.
func claimPatterns(cfg *action.Configuration, namespace, name string) (map[string][]*regexp.Regexp, error) {
	revisions, err := history(cfg, name)
	if errors.Is(err, ErrReleaseNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	type statefulSet struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
		Spec struct {
			VolumeClaimTemplates []struct {
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			} `json:"volumeClaimTemplates"`
		} `json:"spec"`
	}
	out := map[string][]*regexp.Regexp{}
	seen := map[string]bool{}
	for _, rel := range revisions {
		for _, doc := range releaseutil.SplitManifests(rel.Manifest) {
			if !strings.Contains(doc, "StatefulSet") {
				continue
			}
			var s statefulSet
			if err := yaml.Unmarshal([]byte(doc), &s); err != nil || s.Kind != "StatefulSet" || s.Metadata.Name == "" {
				continue // Helm's Build would have refused a broken one
			}
			ns := cmp.Or(s.Metadata.Namespace, namespace)
			for _, tpl := range s.Spec.VolumeClaimTemplates {
				prefix := tpl.Metadata.Name + "-" + s.Metadata.Name + "-"
				if tpl.Metadata.Name == "" || seen[ns+"/"+prefix] {
					continue
				}
				seen[ns+"/"+prefix] = true
				out[ns] = append(out[ns], regexp.MustCompile(`^`+regexp.QuoteMeta(prefix)+`(0|[1-9][0-9]*)$`))
			}
		}
	}
	return out, nil
}

// checkNotInUse returns an error wrapping ErrVolumesInUse naming the pods
// (not finished) that use one of the claims.
func checkNotInUse(ctx context.Context, client kubernetes.Interface, found []*volume) error {
	users, err := claimUsers(ctx, client, found)
	if err != nil {
		return err
	}
	if len(users) == 0 {
		return nil
	}
	var uses []string
	for _, v := range found {
		key := v.Namespace + "/" + v.Claim
		for _, pod := range users[key] {
			uses = append(uses, fmt.Sprintf("pod %s uses claim %s", pod, key))
		}
	}
	return fmt.Errorf("%w: %s; nothing deleted (uninstall the release or scale it down first)", ErrVolumesInUse, strings.Join(uses, ", "))
}

// claimUsers returns the pods not finished that use one of the claims, by
// claim ("namespace/name").
func claimUsers(ctx context.Context, client kubernetes.Interface, found []*volume) (map[string][]string, error) {
	claims := map[string]bool{}
	var namespaces []string
	for _, v := range found {
		if v.claimUID == "" {
			continue
		}
		claims[v.Namespace+"/"+v.Claim] = true
		if !slices.Contains(namespaces, v.Namespace) {
			namespaces = append(namespaces, v.Namespace)
		}
	}
	users := map[string][]string{}
	for _, ns := range namespaces {
		pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("list pods in %s: %w", ns, err)
		}
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				continue
			}
			for _, vol := range p.Spec.Volumes {
				if vol.PersistentVolumeClaim == nil {
					continue
				}
				if key := ns + "/" + vol.PersistentVolumeClaim.ClaimName; claims[key] {
					users[key] = append(users[key], p.Namespace+"/"+p.Name)
				}
			}
		}
	}
	return users, nil
}

// waitClaimsGone waits until none of the claims exists.
func waitClaimsGone(ctx context.Context, client kubernetes.Interface, found []*volume) error {
	claimsLeft := func(ctx context.Context) ([]string, error) {
		var left []string
		for _, v := range found {
			if v.claimUID == "" {
				continue
			}
			pvc, err := client.CoreV1().PersistentVolumeClaims(v.Namespace).Get(ctx, v.Claim, metav1.GetOptions{})
			if apierrors.IsNotFound(err) || err == nil && pvc.UID != v.claimUID {
				continue // gone (a new claim of that name is not the one deleted)
			}
			if err != nil {
				return nil, err
			}
			s := fmt.Sprintf("PersistentVolumeClaim %s/%s", v.Namespace, v.Claim)
			if len(pvc.Finalizers) > 0 {
				s += " (finalizers " + strings.Join(pvc.Finalizers, ", ") + ")"
			}
			left = append(left, s)
		}
		return left, nil
	}
	// Say who holds them.
	explain := func(ctx context.Context, left []string) []string {
		if users, err := claimUsers(ctx, client, found); err == nil {
			for key, pods := range users {
				left = append(left, fmt.Sprintf("claim %s used by %s", key, strings.Join(pods, ", ")))
			}
		}
		return left
	}
	return poll(ctx, claimsLeft, explain)
}

// waitVolumesGone waits until none of the volumes exists and marks them
// deleted. A volume with the Delete policy that failed to be reclaimed is
// an error at once.
func waitVolumesGone(ctx context.Context, client kubernetes.Interface, found []*volume) error {
	return poll(ctx, func(ctx context.Context) ([]string, error) {
		var left []string
		var failed []error
		for _, v := range found {
			if v.pv == nil {
				continue
			}
			pv, err := client.CoreV1().PersistentVolumes().Get(ctx, v.pv.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) || err == nil && pv.UID != v.pv.UID {
				v.VolumeDeleted = true
				continue
			}
			if err != nil {
				return nil, err
			}
			if pv.Status.Phase == corev1.VolumeFailed && pv.DeletionTimestamp == nil {
				why := strings.TrimPrefix(strings.TrimSpace(pv.Status.Reason+": "+pv.Status.Message), ": ")
				failed = append(failed, fmt.Errorf("PersistentVolume %s (reclaim policy %s) failed to be reclaimed: %s",
					pv.Name, pv.Spec.PersistentVolumeReclaimPolicy, why))
				continue
			}
			s := fmt.Sprintf("PersistentVolume %s (%s", pv.Name, pv.Status.Phase)
			if len(pv.Finalizers) > 0 {
				s += ", finalizers " + strings.Join(pv.Finalizers, ", ")
			}
			left = append(left, s+")")
		}
		if len(failed) > 0 {
			return nil, errors.Join(failed...)
		}
		return left, nil
	}, nil)
}

// poll calls check until it reports nothing left, it fails, or ctx is
// done; then once more, with a few seconds of its own, to say what is
// left, and explain (when not nil) adds to that.
func poll(ctx context.Context, check func(ctx context.Context) (left []string, err error), explain func(ctx context.Context, left []string) []string) error {
	tick := time.NewTicker(volumePoll)
	defer tick.Stop()
	for {
		left, err := check(ctx)
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			return err
		}
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
			continue
		}
		break
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	left, err := check(fctx)
	switch {
	case err != nil:
		return fmt.Errorf("waiting for deletions: %w (then: %v)", ctx.Err(), err)
	case len(left) == 0:
		return nil
	case explain != nil:
		left = explain(fctx, left)
	}
	return fmt.Errorf("waiting for deletion of %s: %w", strings.Join(left, "; "), ctx.Err())
}
