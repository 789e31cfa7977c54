package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/smartorch/smartorch/chartrepo"
	"github.com/smartorch/smartorch/placement"
	"github.com/smartorch/smartorch/release"
	"github.com/smartorch/smartorch/scheduler"
	"github.com/smartorch/smartorch/store"
	"github.com/smartorch/smartorch/workflows"
)

// placementRequest says where an enabler goes: vim (a cluster), or auto
// with a placement policy.
type placementRequest struct {
	Vim             string    `json:"vim" validate:"max=253"`
	Auto            *flexBool `json:"auto"`
	PlacementPolicy string    `json:"placementPolicy" validate:"max=64"`
	// PlacementPolicySnake is the spelling the original's code read.
	PlacementPolicySnake string `json:"placement_policy" validate:"max=64"`
}

// enablerRequest is the body of POST /api/enabler and /api/placement/preview.
type enablerRequest struct {
	// Helm release names are DNS-1123 labels of at most 53 characters.
	EnablerName      string         `json:"enablerName" validate:"required,max=53,dns1123label"`
	HelmChart        string         `json:"helmChart" validate:"required,max=512"`
	AdditionalParams map[string]any `json:"additionalParams"`
	placementRequest
	Version   string      `json:"version" validate:"max=128"`
	Namespace string      `json:"namespace" validate:"omitempty,dns1123label"`
	Timeout   flexSeconds `json:"timeout" validate:"min=0,max=3600"`
	// GlobalServiceTargets: nil means the default targets, empty none.
	GlobalServiceTargets *[]string `json:"globalServiceTargets" validate:"omitempty,max=64,dive,min=1,max=253"`
	placementOptions
	// Failover re-places the enabler when its cluster is unreachable.
	Failover *failoverRequest `json:"failover"`
}

var typeOfSeconds = reflect.TypeOf(0)

// flexSeconds accepts 300 and "300" alike (the original sent a header string).
type flexSeconds int

func (s *flexSeconds) UnmarshalJSON(data []byte) error {
	n, err := strconv.Atoi(strings.Trim(string(data), `"`))
	if err != nil {
		return &json.UnmarshalTypeError{Value: string(data), Type: typeOfSeconds}
	}
	*s = flexSeconds(n)
	return nil
}

const defaultTimeoutSeconds = 300

// target is a checked placementRequest.
type target struct {
	auto   bool
	Policy scheduler.Policy
	// Target is the cluster id of a manual placement.
	Target string
}

// placementTarget checks where an enabler is to go; nil when the request
// says nothing about it.
func (s *server) placementTarget(c *fiber.Ctx, req *placementRequest) (*target, error) {
	auto := req.Auto != nil && bool(*req.Auto)
	switch {
	case auto && req.Vim != "":
		return nil, apiError(fiber.StatusBadRequest, "give either vim (the target cluster) or auto=true, not both")
	case !auto && req.Vim == "":
		return nil, nil
	case auto:
		p, err := policy(req)
		return &target{auto: true, Policy: p}, err
	}
	cluster, err := s.cluster(c, req.Vim)
	if err != nil {
		return nil, apiError(fiber.StatusUnprocessableEntity, "vim: cluster %q not found", req.Vim)
	}
	if cluster.Status != store.StatusEnabled {
		return nil, apiError(fiber.StatusConflict, "vim: cluster %q is %s, not Enabled", cluster.Name, cluster.Status)
	}
	return &target{Policy: scheduler.Manual, Target: cluster.ID}, nil
}

// enablerSpec is a checked request: what is to be placed and how.
type enablerSpec struct {
	placement.Spec
	auto    bool
	timeout int
}

// check validates what decode cannot: the chart reference, its repository,
// the choice between vim and auto, the policy and the target cluster.
func (s *server) check(c *fiber.Ctx, req *enablerRequest) (*enablerSpec, error) {
	repoName, _, oci, err := chartrepo.ParseRef(req.HelmChart)
	if err != nil {
		return nil, apiError(fiber.StatusBadRequest, "helmChart: %v", err)
	}
	if !oci {
		ctx, cancel := requestContext(c)
		defer cancel()
		if _, err := s.Store.Repos.FindOne(ctx, store.ByName(repoName)); errors.Is(err, store.ErrNotFound) {
			return nil, apiError(fiber.StatusUnprocessableEntity, "helmChart: chart repository %q is not registered (POST /api/chartrepo)", repoName)
		} else if err != nil {
			return nil, err
		}
	}
	t, err := s.placementTarget(c, &req.placementRequest)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, apiError(fiber.StatusBadRequest, "vim (the target cluster's name or id) is required unless auto is true")
	}
	spec := &enablerSpec{auto: t.auto, timeout: int(req.Timeout)}
	if spec.timeout == 0 {
		spec.timeout = defaultTimeoutSeconds
	}
	spec.Spec = placement.Spec{
		Name: req.EnablerName, Namespace: req.Namespace, HelmChart: req.HelmChart,
		Version: req.Version, Values: req.AdditionalParams, Policy: t.Policy, Target: t.Target,
	}
	if spec.Namespace == "" {
		spec.Namespace = "default"
	}
	if spec.Values == nil {
		spec.Values = map[string]any{}
	}
	if err := s.checkPlacementOptions(c, &req.placementOptions, &spec.Spec); err != nil {
		return nil, err
	}
	return spec, nil
}

// policy reads placementPolicy (or placement_policy); none means
// traffic-most, the original's default, which falls back to worst-fit when
// there is no traffic data.
func policy(req *placementRequest) (scheduler.Policy, error) {
	name := req.PlacementPolicy
	if name == "" {
		name = req.PlacementPolicySnake
	}
	if name == "" {
		return scheduler.TrafficMost, nil
	}
	p, err := scheduler.ParsePolicy(name)
	if err != nil {
		return "", apiError(fiber.StatusBadRequest, "placementPolicy: %v", err)
	}
	return p, nil
}

func (s *server) addEnabler(c *fiber.Ctx) error {
	var req enablerRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	spec, err := s.check(c, &req)
	if err != nil {
		return err
	}
	e := &store.Enabler{
		Name: spec.Name, HelmChart: spec.HelmChart, Version: spec.Version, Namespace: spec.Namespace,
		Values: spec.Values, Auto: spec.auto, Policy: string(spec.Policy), Target: spec.Target,
		TimeoutSeconds: spec.timeout, Status: store.StatusPending, GlobalTargets: req.GlobalServiceTargets,
		ClusterSelector: spec.Constraints.ClusterSelector, AvoidClusters: spec.Constraints.AvoidClusters,
		Forecast: (*bool)(req.Forecast), ForecastHorizon: req.ForecastHorizon,
		Failover: req.Failover.stored(),
	}
	e.ID = uuid.NewString()
	e.OperationID = workflows.WorkflowID(workflows.OpInstantiate, e.ID)
	// The workflow starts first and waits for the record, so no record is
	// ever left without its workflow.
	if err := s.start(c, e.OperationID, workflows.InstantiateEnabler, e.ID); err != nil {
		return err
	}
	if err := s.interrupt(e.OperationID); err != nil {
		return err
	}
	ctx, cancel := requestContext(c)
	defer cancel()
	if err := s.Store.Enablers.Insert(ctx, e); errors.Is(err, store.ErrDuplicate) {
		s.unstart(c, e.OperationID)
		return apiError(fiber.StatusConflict, "an enabler named %q already exists", e.Name)
	} else if err != nil {
		return err
	}
	s.Logger.Info("enabler instantiation started", "requestId", requestID(c), "enabler", e.Name, "operation", e.OperationID)
	return s.accepted(c, e.OperationID, "enabler", func(ctx context.Context) (any, error) { return s.Store.Enablers.Get(ctx, e.ID) })
}

// preview answers where an enabler would go, and why, without placing it.
func (s *server) preview(c *fiber.Ctx) error {
	var req enablerRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	spec, err := s.check(c, &req)
	if err != nil {
		return err
	}
	ctx, cancel := requestContext(c)
	defer cancel()
	demand, _, err := s.Planner.Demand(ctx, spec.Spec)
	switch {
	case errors.Is(err, chartrepo.ErrChartNotFound), errors.Is(err, release.ErrInvalidValues):
		return apiError(fiber.StatusUnprocessableEntity, "%v", err)
	case err != nil:
		return apiError(fiber.StatusBadGateway, "cannot fetch chart %s: %v", spec.HelmChart, err)
	}
	decision, err := s.Planner.Preview(ctx, spec.Spec, demand)
	if err != nil {
		return err
	}
	if decision.ClusterID == "" {
		e := apiError(fiber.StatusUnprocessableEntity, "%s", decision.Reason)
		e.Details = decision
		return e
	}
	return c.JSON(decision)
}

func (s *server) getEnabler(c *fiber.Ctx) error {
	e, err := s.enabler(c, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(s.withHealth(c, e))
}

// enabler finds an enabler by id or by name.
func (s *server) enabler(c *fiber.Ctx, idOrName string) (*store.Enabler, error) {
	ctx, cancel := requestContext(c)
	defer cancel()
	e, err := s.Store.Enablers.FindOne(ctx, store.ByIDOrName(idOrName))
	if errors.Is(err, store.ErrNotFound) {
		return nil, apiError(fiber.StatusNotFound, "enabler %q not found", idOrName)
	}
	return e, err
}

// clusterEnablers lists the enablers placed on a cluster (name or id).
func (s *server) clusterEnablers(c *fiber.Ctx) error {
	cluster, err := s.cluster(c, c.Params("id"))
	if err != nil {
		return err
	}
	ctx, cancel := requestContext(c)
	defer cancel()
	enablers, err := s.Store.Enablers.Find(ctx, store.OnCluster(cluster.ID))
	if err != nil {
		return err
	}
	return c.JSON(enablers)
}
