package release

import (
	"context"
	"errors"
	"fmt"
	"time"

	"helm.sh/helm/v3/pkg/chartutil"
)

// Health is a release's state as seen now (one look, no waiting).
type Health struct {
	Release  *Release `json:"release,omitempty"`  // nil when the release does not exist
	Ready    bool     `json:"ready"`              // every resource of the latest revision is ready (same checks as WaitReady)
	NotReady []string `json:"notReady,omitempty"` // what is not ready and why, as WaitReady reports it
}

// checkPodsTimeout bounds the look at the pods of workloads not ready.
const checkPodsTimeout = 5 * time.Second

// Check reads the release's latest revision and checks the readiness of
// its resources once, by WaitReady's rules; for workloads not ready it
// also says why their pods are not (unschedulable, image pull, ...). A
// missing release is Health{Release: nil}, not an error. Ready says
// nothing about the Helm status (a failed revision may have ready
// resources): that is in Release.Status.
func Check(ctx context.Context, t Target, name string) (Health, error) {
	if err := chartutil.ValidateReleaseName(name); err != nil {
		return Health{}, fmt.Errorf("release name %q: %w", name, err)
	}
	cfg, err := configuration(t)
	if err != nil {
		return Health{}, err
	}
	rel, err := latest(cfg, name)
	if errors.Is(err, ErrReleaseNotFound) {
		return Health{}, nil
	}
	if err != nil {
		return Health{}, err
	}
	r := toRelease(rel)
	w, client, err := newWaiter(cfg, rel, t.logger())
	if err != nil {
		return Health{}, err
	}
	notReady, pending, complete := w.check(ctx)
	if !complete {
		return Health{}, ctx.Err()
	}
	if len(notReady) > 0 {
		podCtx, cancel := context.WithTimeout(ctx, checkPodsTimeout)
		defer cancel()
		notReady = append(notReady, podProblems(podCtx, client, pending)...)
	}
	return Health{Release: &r, Ready: len(notReady) == 0, NotReady: notReady}, nil
}
