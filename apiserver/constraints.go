package apiserver

import (
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	k8sfield "k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/smartorch/smartorch/placement"
	"github.com/smartorch/smartorch/scheduler"
	"github.com/smartorch/smartorch/store"
	"github.com/smartorch/smartorch/usage"
)

// placementOptions are an enabler's constraints on automatic placement and
// its use of forecasts.
type placementOptions struct {
	// ClusterSelector is a Kubernetes label selector over cluster labels.
	ClusterSelector string `json:"clusterSelector" validate:"max=1024"`
	// AvoidClusters are cluster names or ids it must not go to.
	AvoidClusters []string `json:"avoidClusters" validate:"max=256,dive,min=1,max=253"`
	// Forecast false places on live values only.
	Forecast *flexBool `json:"forecast"`
	// ForecastHorizon is how far ahead forecasts look, a Go duration.
	ForecastHorizon string `json:"forecastHorizon" validate:"max=32"`
}

// checkPlacementOptions checks o and copies it into spec.
func (s *server) checkPlacementOptions(c *fiber.Ctx, o *placementOptions, spec *placement.Spec) error {
	if _, err := scheduler.ParseSelector(o.ClusterSelector); err != nil {
		return apiError(fiber.StatusBadRequest, "clusterSelector: %v", err)
	}
	if o.ForecastHorizon != "" {
		d, err := time.ParseDuration(o.ForecastHorizon)
		if err != nil || d < usage.MinHorizon || d > usage.MaxHorizon {
			return apiError(fiber.StatusBadRequest, "forecastHorizon: %q is not a duration from %s to %s (like 30m or 2h)", o.ForecastHorizon, usage.MinHorizon, usage.MaxHorizon)
		}
		spec.Horizon = d
	}
	if len(o.AvoidClusters) > 0 {
		ctx, cancel := requestContext(c)
		defer cancel()
		clusters, err := s.Store.Clusters.Find(ctx, nil)
		if err != nil {
			return err
		}
		for _, name := range o.AvoidClusters {
			if !slices.ContainsFunc(clusters, func(k store.Cluster) bool { return k.Name == name || k.ID == name }) {
				return apiError(fiber.StatusUnprocessableEntity, "avoidClusters: cluster %q not found", name)
			}
		}
	}
	spec.Constraints = scheduler.Constraints{ClusterSelector: o.ClusterSelector, AvoidClusters: o.AvoidClusters}
	spec.LiveOnly = o.Forecast != nil && !bool(*o.Forecast)
	return nil
}

// checkLabels refuses labels Kubernetes would refuse on an object.
func checkLabels(labels map[string]string) error {
	if len(labels) > 64 {
		return apiError(fiber.StatusBadRequest, "labels: at most 64, got %d", len(labels))
	}
	if errs := metav1validation.ValidateLabels(labels, k8sfield.NewPath("labels")); len(errs) > 0 {
		return apiError(fiber.StatusBadRequest, "%v", errs.ToAggregate())
	}
	return nil
}

// clusterPatch is the body of PATCH /api/k8sclusters/:id: what is given
// replaces what is stored (labels as a whole).
type clusterPatch struct {
	Labels      *map[string]string `json:"labels"`
	Description *string            `json:"description" validate:"omitempty,max=1024"`
}

func (s *server) patchCluster(c *fiber.Ctx) error {
	var req clusterPatch
	if err := decode(c, &req); err != nil {
		return err
	}
	if req.Labels == nil && req.Description == nil {
		return apiError(fiber.StatusBadRequest, "nothing to change: give labels, description or both")
	}
	if req.Labels != nil {
		if err := checkLabels(*req.Labels); err != nil {
			return err
		}
	}
	return s.changeCluster(c, func(cl *store.Cluster) {
		if req.Labels != nil {
			cl.Labels = *req.Labels
		}
		if req.Description != nil {
			cl.Description = *req.Description
		}
	})
}
