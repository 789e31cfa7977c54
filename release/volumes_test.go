package release

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The stateful chart with two replicas: its claims and the Retain volumes
// they are bound to are listed, kept while its pods use them, and deleted
// once the release is uninstalled.
func (h *harness) testVolumes(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const ns, name, owner = "volumes", "db", "e-vol"
	tg := h.target(t, ns)
	client := h.cluster.Client

	if vols, err := Volumes(ctx, tg, name); err != nil || len(vols) != 0 {
		t.Errorf("Volumes before the install = %+v, %v", vols, err)
	}
	if _, err := Install(ctx, tg, h.load(t, "stateful", ""), name, owner, map[string]any{"replicaCount": 2}); err != nil {
		t.Fatal(err)
	}
	if err := WaitReady(ctx, tg, name, 45*time.Second); err != nil {
		t.Fatal(err)
	}
	// Not the release's: another instance, a name that only looks alike.
	pendingClaim(ctx, t, client, ns, "other-data", map[string]string{instanceLabel: "other"})
	pendingClaim(ctx, t, client, ns, "data-db-stateful-x", nil)
	// The release's by its name (without the label), while the release exists.
	pendingClaim(ctx, t, client, ns, "data-db-stateful-7", nil)

	vols, err := Volumes(ctx, tg, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Volumes: %+v", vols)
	if len(vols) != 3 || vols[0].Claim != "data-db-stateful-0" || vols[1].Claim != "data-db-stateful-1" || vols[2].Claim != "data-db-stateful-7" {
		t.Fatalf("Volumes = %+v, want data-db-stateful-0, -1 and -7", vols)
	}
	for _, v := range vols[:2] {
		if v.Namespace != ns || v.Volume == "" || v.ReclaimPolicy != "Retain" || v.Capacity == "" || v.VolumeDeleted {
			t.Errorf("Volume %+v, want a bound Retain volume", v)
		}
	}
	if v := vols[2]; v.Volume != "" || v.VolumeDeleted {
		t.Errorf("Volume %+v, want no volume", v)
	}

	// Its pods use them: refused, nothing deleted.
	if _, err := DeleteVolumes(ctx, tg, name); !errors.Is(err, ErrVolumesInUse) ||
		!strings.Contains(err.Error(), "pod volumes/db-stateful-0 uses claim volumes/data-db-stateful-0") {
		t.Errorf("DeleteVolumes while the pods run: error = %v, want ErrVolumesInUse naming the pods", err)
	} else {
		t.Logf("DeleteVolumes while the pods run: %v", err)
	}
	for _, v := range vols {
		pvc, err := client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, v.Claim, metav1.GetOptions{})
		if err != nil || pvc.DeletionTimestamp != nil {
			t.Errorf("claim %s after the refusal: %v, deleting %v", v.Claim, err, pvc.DeletionTimestamp)
		}
	}

	// Uninstalled: the claims stay (Helm does not delete them), found by
	// their label; the unlabelled one is no longer known to be the release's.
	if err := Uninstall(ctx, tg, name, owner); err != nil {
		t.Fatal(err)
	}
	after, err := Volumes(ctx, tg, name)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(after) != fmt.Sprint(vols[:2]) {
		t.Errorf("Volumes after Uninstall = %+v, want %+v", after, vols[:2])
	}

	begin := time.Now()
	deleted, err := DeleteVolumes(ctx, tg, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("DeleteVolumes took %v: %+v", time.Since(begin), deleted)
	if len(deleted) != 2 {
		t.Fatalf("DeleteVolumes = %+v, want 2 volumes", deleted)
	}
	for i, v := range deleted {
		want := vols[i]
		want.VolumeDeleted = true
		if v != want {
			t.Errorf("DeleteVolumes reported %+v, want %+v", v, want)
		}
		if _, err := client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, v.Claim, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("claim %s after DeleteVolumes: %v, want NotFound", v.Claim, err)
		}
		if _, err := client.CoreV1().PersistentVolumes().Get(ctx, v.Volume, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("volume %s after DeleteVolumes: %v, want NotFound", v.Volume, err)
		}
	}
	for _, claim := range []string{"other-data", "data-db-stateful-x", "data-db-stateful-7"} {
		if _, err := client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claim, metav1.GetOptions{}); err != nil {
			t.Errorf("claim %s: %v", claim, err)
		}
	}

	again, err := DeleteVolumes(ctx, tg, name)
	if err != nil || again == nil || len(again) != 0 {
		t.Errorf("second DeleteVolumes = %+v, %v; want an empty list", again, err)
	}
}

// With the release installed and scaled to zero, its claims (labelled or
// named after its StatefulSet) and volumes are deleted.
func (h *harness) testVolumesInstalled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const ns, name, owner = "volumes-live", "live", "e-vol-live"
	tg := h.target(t, ns)
	client := h.cluster.Client

	if _, err := Install(ctx, tg, h.load(t, "stateful", ""), name, owner, nil); err != nil {
		t.Fatal(err)
	}
	if err := WaitReady(ctx, tg, name, 45*time.Second); err != nil {
		t.Fatal(err)
	}
	pendingClaim(ctx, t, client, ns, "data-live-stateful-3", nil)
	if _, err := Upgrade(ctx, tg, h.load(t, "stateful", ""), name, owner, map[string]any{"replicaCount": 0}, ReuseValues); err != nil {
		t.Fatal(err)
	}
	waitPodsRunning(ctx, t, client, ns, name, 0)

	deleted, err := DeleteVolumes(ctx, tg, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("DeleteVolumes: %+v", deleted)
	if len(deleted) != 2 || deleted[0].Claim != "data-live-stateful-0" || deleted[0].Volume == "" || !deleted[0].VolumeDeleted ||
		deleted[1].Claim != "data-live-stateful-3" || deleted[1].Volume != "" {
		t.Fatalf("DeleteVolumes = %+v, want data-live-stateful-0 and its volume, data-live-stateful-3", deleted)
	}
	if _, err := client.CoreV1().PersistentVolumes().Get(ctx, deleted[0].Volume, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("volume %s after DeleteVolumes: %v, want NotFound", deleted[0].Volume, err)
	}
	if vols, err := Volumes(ctx, tg, name); err != nil || len(vols) != 0 {
		t.Errorf("Volumes after DeleteVolumes = %+v, %v", vols, err)
	}
	if err := Uninstall(ctx, tg, name, owner); err != nil {
		t.Fatal(err)
	}
}

// A volume with the Delete policy is removed by the controller, not by
// DeleteVolumes; one whose removal fails is an error (and left alone). A
// volume whose claim a crashed DeleteVolumes deleted is still found.
func (h *harness) testVolumesReclaim(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const ns, name = "volumes-reclaim", "rec"
	tg := h.target(t, ns)
	client := h.cluster.Client
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{instanceLabel: name}

	// The hostPath deleter of kube-controller-manager removes only paths
	// under /tmp: this one does not exist, so nothing is removed on disk.
	boundClaim(ctx, t, client, ns, "gone", labels, corev1.PersistentVolumeReclaimDelete, "/tmp/smartorch-release-test-does-not-exist")
	deleted, err := DeleteVolumes(ctx, tg, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(deleted) != 1 || deleted[0].ReclaimPolicy != "Delete" || !deleted[0].VolumeDeleted || deleted[0].Capacity != "1Mi" {
		t.Errorf("DeleteVolumes = %+v, want the Delete volume deleted", deleted)
	}

	// Outside /tmp the deleter fails.
	pv := boundClaim(ctx, t, client, ns, "stuck", labels, corev1.PersistentVolumeReclaimDelete, "/smartorch-release-test-does-not-exist")
	_, err = DeleteVolumes(ctx, tg, name)
	t.Logf("DeleteVolumes of a volume that cannot be reclaimed: %v", err)
	if err == nil || !strings.Contains(err.Error(), "PersistentVolume "+pv+" (reclaim policy Delete) failed to be reclaimed") {
		t.Errorf("DeleteVolumes of a volume that cannot be reclaimed: error = %v", err)
	}
	if err := client.CoreV1().PersistentVolumes().Delete(ctx, pv, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	// A crash after the claim was deleted: the labelled volume is found.
	pv = boundClaim(ctx, t, client, ns, "half", labels, corev1.PersistentVolumeReclaimRetain, "/tmp/smartorch-release-test-does-not-exist")
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%q,%q:%q}}}`, volumeReleaseLabel, name, volumeNamespaceLabel, ns)
	if _, err := client.CoreV1().PersistentVolumes().Patch(ctx, pv, "application/merge-patch+json", []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := client.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, "half", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deleted, err = DeleteVolumes(ctx, tg, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(deleted) != 1 || deleted[0].Claim != "half" || deleted[0].Volume != pv || !deleted[0].VolumeDeleted {
		t.Errorf("DeleteVolumes after a crash = %+v, want volume %s of claim half", deleted, pv)
	}
	if _, err := client.CoreV1().PersistentVolumes().Get(ctx, pv, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("volume %s: %v, want NotFound", pv, err)
	}
}

// pendingClaim creates a claim of a StorageClass that does not exist: it
// stays unbound.
func pendingClaim(ctx context.Context, t *testing.T, client kubernetes.Interface, ns, name string, labels map[string]string) {
	t.Helper()
	class := "none"
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: &class,
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Mi")}},
		},
	}
	if _, err := client.CoreV1().PersistentVolumeClaims(ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// boundClaim creates a volume of its own StorageClass (no other claim
// takes it) and a claim bound to it, and returns the volume's name.
func boundClaim(ctx context.Context, t *testing.T, client kubernetes.Interface, ns, name string, labels map[string]string,
	policy corev1.PersistentVolumeReclaimPolicy, path string) string {
	t.Helper()
	class := ns + "-" + name
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: class},
		Spec: corev1.PersistentVolumeSpec{
			StorageClassName:              class,
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Mi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: policy,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path}},
		},
	}
	if _, err := client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A claim made before the controller knows the volume would wait for
	// its next resync (15s) to be bound.
	for {
		pv, err := client.CoreV1().PersistentVolumes().Get(ctx, class, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if pv.Status.Phase == corev1.VolumeAvailable {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("volume %s not available: %v", class, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: &class,
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Mi")}},
		},
	}
	if _, err := client.CoreV1().PersistentVolumeClaims(ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for {
		pvc, err := client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if pvc.Status.Phase == corev1.ClaimBound {
			return class
		}
		select {
		case <-ctx.Done():
			t.Fatalf("claim %s not bound: %v", name, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
