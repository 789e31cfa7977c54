package mesh

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
)

// SetIdentity makes c.Name and id the cluster's ClusterMesh identity: it
// merge-patches cluster-name and cluster-id into cilium-config, and in the
// clustermesh-apiserver Deployment rewrites the literal --cluster-name= and
// --cluster-id= args (args that read cilium-config through $(VAR) are left
// alone) and sets IdentityAnnotation on the pod template so the Deployment
// rolls out. The agents pick the new identity up after RestartAgents.
//
// previous is the identity before the first SetIdentity: it is recorded in
// cilium-config (PreviousIdentityAnnotation) the first time and returned
// from there afterwards, so a retried or repeated call returns the same
// value. RestoreIdentity puts it back.
//
// id must be within 1..Info.MaxClusterID (255, or 511 with
// max-connected-clusters: "511"). A missing cilium-config is an error; a
// missing clustermesh-apiserver Deployment is not.
func SetIdentity(ctx context.Context, c Cluster, id int) (previous Identity, err error) {
	if err := ValidateName(c.Name); err != nil {
		return Identity{}, err
	}
	cms := c.Client.CoreV1().ConfigMaps(Namespace)
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm, err := cms.Get(ctx, ConfigMapName, metav1.GetOptions{})
		if err != nil {
			return c.errorf(err, "get ConfigMap %s/%s", Namespace, ConfigMapName)
		}
		max := 255
		if cm.Data["max-connected-clusters"] == "511" {
			max = 511
		}
		if id < 1 || id > max {
			return fmt.Errorf("mesh: cluster %q: cluster-id %d outside 1..%d", c.Name, id, max)
		}
		recorded, hasRecord, err := previousIdentity(cm.Annotations)
		if err != nil {
			return c.errorf(err, "ConfigMap %s/%s", Namespace, ConfigMapName)
		}
		if hasRecord {
			previous = recorded
		} else if previous, err = identityOf(cm.Data); err != nil {
			return c.errorf(err, "ConfigMap %s/%s", Namespace, ConfigMapName)
		}
		want := strconv.Itoa(id)
		if hasRecord && cm.Data["cluster-name"] == c.Name && cm.Data["cluster-id"] == want {
			return nil
		}
		meta := map[string]any{"resourceVersion": cm.ResourceVersion}
		if !hasRecord {
			rec, _ := json.Marshal(previous)
			meta["annotations"] = map[string]any{PreviousIdentityAnnotation: string(rec)}
		}
		patch, _ := json.Marshal(map[string]any{
			"metadata": meta,
			"data":     map[string]any{"cluster-name": c.Name, "cluster-id": want},
		})
		_, err = cms.Patch(ctx, ConfigMapName, types.MergePatchType, patch, metav1.PatchOptions{})
		return c.check(err, "patch ConfigMap %s/%s", Namespace, ConfigMapName)
	})
	if err != nil {
		return Identity{}, err
	}
	return previous, setAPIServerIdentity(ctx, c, Identity{Name: c.Name, ID: id}, markIdentity)
}

// RestoreIdentity undoes SetIdentity: it puts back the identity recorded in
// cilium-config by the first SetIdentity (in the clustermesh-apiserver
// Deployment too, removing IdentityAnnotation) and removes the record. With
// no record it does nothing, so it can run any number of times. A key that
// was absent before is removed again; such a name or id is written into the
// Deployment's args as Cilium's defaults "default" and 0.
func RestoreIdentity(ctx context.Context, c Cluster) error {
	cms := c.Client.CoreV1().ConfigMaps(Namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm, err := cms.Get(ctx, ConfigMapName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return c.errorf(err, "get ConfigMap %s/%s", Namespace, ConfigMapName)
		}
		prev, ok, err := previousIdentity(cm.Annotations)
		if err != nil {
			return c.errorf(err, "ConfigMap %s/%s", Namespace, ConfigMapName)
		}
		if !ok {
			return nil
		}
		// The Deployment first: the record stays until everything is back,
		// so a retry after a failure here still knows what to restore.
		if err := setAPIServerIdentity(ctx, c, prev, unmarkIdentity); err != nil {
			return err
		}
		data := map[string]any{"cluster-name": nil, "cluster-id": nil}
		if prev.Name != "" {
			data["cluster-name"] = prev.Name
		}
		if prev.ID != 0 {
			data["cluster-id"] = strconv.Itoa(prev.ID)
		}
		patch, _ := json.Marshal(map[string]any{
			"metadata": map[string]any{
				"resourceVersion": cm.ResourceVersion,
				"annotations":     map[string]any{PreviousIdentityAnnotation: nil},
			},
			"data": data,
		})
		_, err = cms.Patch(ctx, ConfigMapName, types.MergePatchType, patch, metav1.PatchOptions{})
		return c.check(err, "patch ConfigMap %s/%s", Namespace, ConfigMapName)
	})
}

func previousIdentity(annotations map[string]string) (Identity, bool, error) {
	s, ok := annotations[PreviousIdentityAnnotation]
	if !ok {
		return Identity{}, false, nil
	}
	var id Identity
	if err := json.Unmarshal([]byte(s), &id); err != nil {
		return Identity{}, false, fmt.Errorf("annotation %s: %w", PreviousIdentityAnnotation, err)
	}
	return id, true, nil
}

// identityMark is what becomes of the Deployment's IdentityAnnotation.
type identityMark int

const (
	// markIdentity sets it to the identity written.
	markIdentity identityMark = iota
	// unmarkIdentity removes it: the identity written is the one restored.
	unmarkIdentity
)

// setAPIServerIdentity rewrites the clustermesh-apiserver Deployment's
// literal identity args and its IdentityAnnotation as mark says.
// Args are an atomic list for a strategic merge patch, so the whole list of
// each changed container is sent, guarded by the resourceVersion read.
func setAPIServerIdentity(ctx context.Context, c Cluster, id Identity, mark identityMark) error {
	deps := c.Client.AppsV1().Deployments(Namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d, err := deps.Get(ctx, APIServerDeployment, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return c.errorf(err, "get Deployment %s/%s", Namespace, APIServerDeployment)
		}
		patch, changed := apiServerIdentityPatch(d, id, mark)
		if !changed {
			return nil
		}
		_, err = deps.Patch(ctx, APIServerDeployment, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
		return c.check(err, "patch Deployment %s/%s", Namespace, APIServerDeployment)
	})
}

func apiServerIdentityPatch(d *appsv1.Deployment, id Identity, mark identityMark) ([]byte, bool) {
	name := id.Name
	if name == "" {
		name = "default"
	}
	values := map[string]string{"--cluster-name=": name, "--cluster-id=": strconv.Itoa(id.ID)}
	var containers []map[string]any
	for _, ctr := range d.Spec.Template.Spec.Containers {
		args := append([]string(nil), ctr.Args...)
		changed := false
		for i, a := range args {
			for prefix, v := range values {
				if old, ok := strings.CutPrefix(a, prefix); ok && !strings.HasPrefix(old, "$(") && old != v {
					args[i] = prefix + v
					changed = true
				}
			}
		}
		if changed {
			containers = append(containers, map[string]any{"name": ctr.Name, "args": args})
		}
	}
	var annotation any = id.Name + "/" + strconv.Itoa(id.ID)
	current, has := d.Spec.Template.Annotations[IdentityAnnotation]
	annotationChanged := !has || current != annotation
	if mark == unmarkIdentity {
		annotation, annotationChanged = nil, has
	}
	if len(containers) == 0 && !annotationChanged {
		return nil, false
	}
	tmpl := map[string]any{"metadata": map[string]any{"annotations": map[string]any{IdentityAnnotation: annotation}}}
	if len(containers) > 0 {
		tmpl["spec"] = map[string]any{"containers": containers}
	}
	patch, _ := json.Marshal(map[string]any{
		"metadata": map[string]any{"resourceVersion": d.ResourceVersion},
		"spec":     map[string]any{"template": tmpl},
	})
	return patch, true
}

// check is errorf for a possibly nil err. The wrapped error stays
// recognisable to apierrors.IsConflict (and so to retry.RetryOnConflict).
func (c Cluster) check(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return c.errorf(err, format, args...)
}
