package mesh

import (
	"context"
	"encoding/json"
	"errors"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// RestartAgents restarts every Cilium agent, and the cilium-operator when
// there is one, the way `kubectl rollout restart` does: it sets
// RestartedAtAnnotation to stamp in the pod templates of DaemonSet
// kube-system/cilium and Deployment kube-system/cilium-operator with a
// strategic merge patch, and their controllers replace the pods, rolling.
//
// stamp identifies the restart (e.g. an RFC 3339 time fixed by the
// workflow step): calling again with the same stamp changes nothing and
// restarts nothing, so a retried activity restarts once. A missing
// DaemonSet is an error; a missing operator is not.
func RestartAgents(ctx context.Context, c Cluster, stamp string) error {
	if stamp == "" {
		return errors.New("mesh: RestartAgents: empty stamp")
	}
	patch, _ := json.Marshal(map[string]any{
		"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
			"annotations": map[string]any{RestartedAtAnnotation: stamp},
		}}},
	})
	_, err := c.Client.AppsV1().DaemonSets(Namespace).Patch(ctx, AgentDaemonSet, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return c.errorf(err, "patch DaemonSet %s/%s", Namespace, AgentDaemonSet)
	}
	_, err = c.Client.AppsV1().Deployments(Namespace).Patch(ctx, OperatorDeployment, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return c.errorf(err, "patch Deployment %s/%s", Namespace, OperatorDeployment)
	}
	return nil
}
