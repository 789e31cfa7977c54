package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/smartorch/smartorch/kubeconfig"
	"github.com/smartorch/smartorch/store"
	"github.com/smartorch/smartorch/workflows"
)

type clusterRequest struct {
	Name           string          `json:"name" validate:"required,dns1123label"`
	Description    string          `json:"description" validate:"max=1024"`
	Credentials    json.RawMessage `json:"credentials" validate:"required"`
	K8sVersion     string          `json:"k8s_version" validate:"max=64"`
	Cloud          *flexBool       `json:"cloud"`
	CNI            string          `json:"cni" validate:"omitempty,oneof=cilium flannel"`
	PrometheusURL  string          `json:"prometheusUrl" validate:"omitempty,http_url,max=2048"`
	MetricsTargets []string        `json:"metricsTargets" validate:"max=256,dive,hostname_port"`

	// Labels are matched by enablers' clusterSelector (checkLabels).
	Labels map[string]string `json:"labels"`
}

var typeOfBool = reflect.TypeOf(true)

// flexBool accepts true and "true" alike: the original dashboard sends strings.
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	switch strings.Trim(string(data), `"`) {
	case "true":
		*b = true
	case "false":
		*b = false
	default:
		return &json.UnmarshalTypeError{Value: string(data), Type: typeOfBool}
	}
	return nil
}

func (s *server) addCluster(c *fiber.Ctx) error {
	var req clusterRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	if err := checkLabels(req.Labels); err != nil {
		return err
	}
	credentials, err := kubeconfig.Parse(req.Credentials, req.Name)
	if err != nil {
		return apiError(fiber.StatusBadRequest, "%v", err)
	}
	ctx, cancel := requestContext(c)
	defer cancel()

	cloud, err := s.isCloud(c, req.Cloud)
	if err != nil {
		return err
	}
	cluster := &store.Cluster{
		Name:           req.Name,
		Description:    req.Description,
		K8sVersion:     req.K8sVersion,
		Cloud:          cloud,
		Status:         store.StatusPending,
		PrometheusURL:  req.PrometheusURL,
		MetricsTargets: req.MetricsTargets,
		Credentials:    credentials,
		Labels:         req.Labels,
	}
	cluster.ID = uuid.NewString()
	cluster.OperationID = workflows.WorkflowID(workflows.OpJoinCluster, cluster.ID)
	if cloud {
		slot := "cloud"
		cluster.CloudSlot = &slot
	}
	// The workflow starts first and waits for the record, so no record is
	// ever left without its workflow.
	if err := s.start(c, cluster.OperationID, workflows.JoinCluster, cluster.ID); err != nil {
		return err
	}
	if err := s.interrupt(cluster.OperationID); err != nil {
		return err
	}
	if err := s.Store.Clusters.Insert(ctx, cluster); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			s.unstart(c, cluster.OperationID)
		}
		var dup *store.DuplicateError
		if errors.As(err, &dup) && dup.Field == "cloudSlot" {
			return apiError(fiber.StatusConflict, "there is already a cloud cluster; there is only ever one")
		}
		if errors.Is(err, store.ErrDuplicate) {
			return apiError(fiber.StatusConflict, "a cluster named %q already exists", req.Name)
		}
		return err
	}
	s.Logger.Info("cluster join started", "requestId", requestID(c), "cluster", cluster.Name, "operation", cluster.OperationID)
	return s.accepted(c, cluster.OperationID, "cluster", func(ctx context.Context) (any, error) { return s.Store.Clusters.Get(ctx, cluster.ID) })
}

// isCloud decides the role of a new cluster: as asked, or else the first
// cluster is the cloud cluster.
func (s *server) isCloud(c *fiber.Ctx, asked *flexBool) (bool, error) {
	ctx, cancel := requestContext(c)
	defer cancel()
	existing, err := s.Store.Clusters.FindOne(ctx, store.CloudCluster())
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	if asked != nil && bool(*asked) && existing != nil {
		return false, apiError(fiber.StatusConflict, "cluster %q is already the cloud cluster; there is only ever one", existing.Name)
	}
	if asked != nil {
		return bool(*asked), nil
	}
	n, err := s.Store.Clusters.Count(ctx, nil)
	return n == 0, err
}

func (s *server) listClusters(c *fiber.Ctx) error {
	ctx, cancel := requestContext(c)
	defer cancel()
	clusters, err := s.Store.Clusters.Find(ctx, nil)
	if err != nil {
		return err
	}
	return c.JSON(clusters)
}

func (s *server) getCluster(c *fiber.Ctx) error {
	cluster, err := s.cluster(c, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(cluster)
}

// cluster finds a cluster by id or by name.
func (s *server) cluster(c *fiber.Ctx, idOrName string) (*store.Cluster, error) {
	ctx, cancel := requestContext(c)
	defer cancel()
	cluster, err := s.Store.Clusters.FindOne(ctx, store.ByIDOrName(idOrName))
	if errors.Is(err, store.ErrNotFound) {
		return nil, apiError(fiber.StatusNotFound, "cluster %q not found", idOrName)
	}
	return cluster, err
}

func (s *server) removeCluster(c *fiber.Ctx) error {
	cluster, err := s.cluster(c, c.Params("id"))
	if err != nil {
		return err
	}
	ctx, cancel := requestContext(c)
	defer cancel()
	if cluster.Status == store.StatusPending {
		return apiError(fiber.StatusConflict, "cluster %q is still joining: wait for operation %s, or abort it", cluster.Name, cluster.OperationID)
	}
	if cluster.Cloud {
		edges, err := s.Store.Clusters.Find(ctx, store.EdgeClusters())
		if err != nil {
			return err
		}
		if len(edges) > 0 {
			return apiError(fiber.StatusConflict, "cluster %q is the cloud cluster: remove the %d edge clusters first (%s)", cluster.Name, len(edges), names(edges))
		}
	}
	enablers, err := s.Store.Enablers.Find(ctx, store.OnCluster(cluster.ID))
	if err != nil {
		return err
	}
	var installed []store.Enabler
	for _, e := range enablers {
		if running, err := s.running(ctx, e.OperationID); err != nil {
			return err
		} else if running {
			return apiError(fiber.StatusConflict, "enabler %q on cluster %q has operation %s running: wait for it, or abort it", e.Name, cluster.Name, e.OperationID)
		}
		if e.Status != store.StatusTerminated {
			installed = append(installed, e)
		}
	}
	force := c.QueryBool("force")
	if len(installed) > 0 && !force {
		return apiError(fiber.StatusConflict, "cluster %q runs %d enablers (%s): delete them first, or remove with ?force=true to uninstall them", cluster.Name, len(installed), enablerNames(installed))
	}
	opID := workflows.WorkflowID(workflows.OpRemoveCluster, cluster.ID)
	if err := s.start(c, opID, workflows.RemoveCluster, cluster.ID); err != nil {
		return err
	}
	s.Logger.Info("cluster removal started", "requestId", requestID(c), "cluster", cluster.Name, "operation", opID)
	return s.accepted(c, opID, "cluster", func(ctx context.Context) (any, error) {
		got, err := s.Store.Clusters.Get(ctx, cluster.ID)
		if errors.Is(err, store.ErrNotFound) {
			return fiber.Map{"id": cluster.ID, "name": cluster.Name, "status": "Removed"}, nil
		}
		return got, err
	})
}

func enablerNames(enablers []store.Enabler) string {
	var n []string
	for _, e := range enablers {
		n = append(n, e.Name)
	}
	return strings.Join(n, ", ")
}

func names(clusters []store.Cluster) string {
	var n []string
	for _, c := range clusters {
		n = append(n, c.Name)
	}
	return strings.Join(n, ", ")
}

// start starts the workflow of an operation. A running workflow with the
// same id is reused, so a repeated request never runs the operation twice.
func (s *server) start(c *fiber.Ctx, id string, workflow any, args ...any) error {
	ctx, cancel := requestContext(c)
	defer cancel()
	return s.startWorkflow(ctx, id, workflow, args...)
}

func (s *server) startWorkflow(ctx context.Context, id string, workflow any, args ...any) error {
	_, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                s.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, workflow, args...)
	if err != nil {
		return apiError(fiber.StatusServiceUnavailable, "cannot start operation %s: %v", id, err)
	}
	return nil
}

// unstart ends the workflow of a request that was not recorded (best
// effort: left running, it ends by itself once it has waited for the record).
// Only a request certain not to be recorded is unstarted: after any other
// failed write the workflow finds out for itself.
func (s *server) unstart(c *fiber.Ctx, id string) {
	ctx, cancel := requestContext(c)
	defer cancel()
	if err := s.Temporal.TerminateWorkflow(ctx, id, "", "the request was not recorded"); err != nil {
		s.Logger.Warn("cannot end the workflow of a request not recorded; it ends by itself", "operation", id, "err", err)
	}
}

// interrupt is the test hook between the two writes of a request: it
// fails the request there when Config.Interrupt says so, as if the API
// had stopped.
func (s *server) interrupt(operationID string) error {
	if s.Interrupt != nil && s.Interrupt(operationID) {
		return apiError(fiber.StatusServiceUnavailable, "stopped before starting operation %s (test hook)", operationID)
	}
	return nil
}

// accepted answers 202 with the resource (under key) and its operation id;
// with ?wait=<duration> it first waits (at most that long) for the operation.
// read gets a context of its own: the wait may outlast the request's.
func (s *server) accepted(c *fiber.Ctx, opID, key string, read func(context.Context) (any, error)) error {
	if w := c.Query("wait"); w != "" {
		if err := s.wait(c, opID, w); err != nil {
			return err
		}
	}
	ctx, cancel := requestContext(c)
	defer cancel()
	resource, err := read(ctx)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"operationId": opID, key: resource})
}
