// Package release installs, inspects and removes Helm releases on one
// cluster with the Helm SDK, and renders charts: the chart it is handed
// (package chartrepo finds and downloads them).
//
// Every call builds its own Helm configuration from the kubeconfig bytes
// in memory: nothing is written to disk. Releases carry OwnerLabel, the id of the enabler that
// installed them, and the package never changes a release another owner
// (or plain Helm) installed.
package release

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/kube"
	helmrelease "helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/resource"
)

// OwnerLabel is the Helm release label (stored on the release's storage
// Secret) carrying the enabler id that owns the release.
const OwnerLabel = "smartorch.io/enabler-id"

var (
	// ErrNotOwned: a release of that name exists that the caller did not install.
	ErrNotOwned = errors.New("release belongs to someone else")
	// ErrReleaseNotFound: no release of that name in the namespace.
	ErrReleaseNotFound = errors.New("release not found")
)

// hookTimeout bounds chart hooks when ctx has no deadline (helm's default).
const hookTimeout = 5 * time.Minute

// Release is what we report about a release.
type Release struct {
	Name         string         `json:"name"`
	Namespace    string         `json:"namespace"`
	Revision     int            `json:"revision"`
	Status       string         `json:"status"` // helm status: deployed, failed, pending-install, ...
	Chart        string         `json:"chart"`
	ChartVersion string         `json:"chartVersion"`
	AppVersion   string         `json:"appVersion,omitempty"`
	Owner        string         `json:"owner,omitempty"` // OwnerLabel value
	Updated      time.Time      `json:"updated"`
	Values       map[string]any `json:"values,omitempty"`      // user-supplied values of this revision
	Description  string         `json:"description,omitempty"` // Helm's: "Install complete", "Rollback to 2", an error, ...
	Manifest     string         `json:"-"`                     // the rendered objects
}

// Install installs ch as release name owned by owner (an enabler id),
// creating the namespace if missing, without waiting for readiness.
//
// It is idempotent, as a workflow activity may run it again after a crash:
//   - no release named name: install it, labelled OwnerLabel=owner;
//   - our release, deployed: adopt it, returned unchanged (whatever its chart
//     and values);
//   - our release in any other state (failed, pending-install,
//     pending-upgrade, uninstalling, ...): uninstall it, wait until its
//     resources are gone, and install again, giving one deployed revision;
//   - a release of that name without our label: an error wrapping
//     ErrNotOwned, and the release is left alone.
//
// An install that fails leaves a failed release, which the next Install
// replaces and Uninstall removes. Helm modifies ch, so ch must not be used
// by another call at the same time.
func Install(ctx context.Context, t Target, ch *chart.Chart, name, owner string, values map[string]any) (Release, error) {
	if err := checkArgs(name, owner); err != nil {
		return Release{}, err
	}
	if ch == nil {
		return Release{}, errors.New("install: no chart")
	}
	cfg, err := configuration(t)
	if err != nil {
		return Release{}, err
	}
	log := t.logger().With("release", name, "namespace", t.namespace())
	last, err := latest(cfg, name)
	switch {
	case errors.Is(err, ErrReleaseNotFound):
	case err != nil:
		return Release{}, err
	case last.Labels[OwnerLabel] != owner:
		return Release{}, notOwned(last)
	case last.Info.Status == helmrelease.StatusDeployed:
		log.Info("release already installed, adopting it", "revision", last.Version)
		return toRelease(last), nil
	default:
		log.Info("replacing unfinished release", "revision", last.Version, "status", last.Info.Status)
		if err := remove(ctx, cfg, last); err != nil {
			return Release{}, fmt.Errorf("remove %s release %s: %w", last.Info.Status, name, err)
		}
	}

	rel, err := install(ctx, cfg, t, ch, name, owner, values)
	if err != nil {
		return Release{}, err
	}
	log.Info("release installed", "chart", ch.Name(), "version", ch.Metadata.Version, "revision", rel.Version)
	return toRelease(rel), nil
}

// install installs a release that does not exist (any more).
func install(ctx context.Context, cfg *action.Configuration, t Target, ch *chart.Chart, name, owner string, values map[string]any) (*helmrelease.Release, error) {
	install := action.NewInstall(cfg)
	install.ReleaseName = name
	install.Namespace = t.namespace()
	install.CreateNamespace = true
	install.Labels = map[string]string{OwnerLabel: owner}
	install.Timeout = timeout(ctx)
	if values == nil {
		values = map[string]any{}
	}
	rel, err := install.RunWithContext(ctx, ch, values)
	if err != nil {
		return nil, fmt.Errorf("install %s in %s: %w", name, t.namespace(), err)
	}
	return rel, nil
}

// Uninstall removes release name if it exists and is owned by owner, and
// waits until its resources are deleted (bounded by ctx): a release already
// gone gives nil, one not owned an error wrapping ErrNotOwned. Resources
// Helm keeps (helm.sh/resource-policy) and PVCs made from StatefulSet
// templates stay.
func Uninstall(ctx context.Context, t Target, name, owner string) error {
	if err := checkArgs(name, owner); err != nil {
		return err
	}
	cfg, err := configuration(t)
	if err != nil {
		return err
	}
	last, err := latest(cfg, name)
	if errors.Is(err, ErrReleaseNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if last.Labels[OwnerLabel] != owner {
		return notOwned(last)
	}
	if err := remove(ctx, cfg, last); err != nil {
		return fmt.Errorf("uninstall %s: %w", name, err)
	}
	t.logger().Info("release uninstalled", "release", name, "namespace", t.namespace())
	return nil
}

// Get returns the release's latest revision, or an error wrapping
// ErrReleaseNotFound.
func Get(ctx context.Context, t Target, name string) (Release, error) {
	if err := chartutil.ValidateReleaseName(name); err != nil {
		return Release{}, fmt.Errorf("release name %q: %w", name, err)
	}
	cfg, err := configuration(t)
	if err != nil {
		return Release{}, err
	}
	rel, err := latest(cfg, name)
	if err != nil {
		return Release{}, err
	}
	return toRelease(rel), nil
}

func checkArgs(name, owner string) error {
	if err := chartutil.ValidateReleaseName(name); err != nil {
		return fmt.Errorf("release name %q: %w", name, err)
	}
	if owner == "" {
		return errors.New("no owner")
	}
	if errs := validation.IsValidLabelValue(owner); len(errs) > 0 {
		return fmt.Errorf("owner %q: %s", owner, strings.Join(errs, "; "))
	}
	return nil
}

// latest returns the newest revision of the release.
func latest(cfg *action.Configuration, name string) (*helmrelease.Release, error) {
	rel, err := cfg.Releases.Last(name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrReleaseNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("release %s: %w", name, err)
	}
	return rel, nil
}

func notOwned(rel *helmrelease.Release) error {
	if owner := rel.Labels[OwnerLabel]; owner != "" {
		return fmt.Errorf("%w: release %s in namespace %s is owned by %s", ErrNotOwned, rel.Name, rel.Namespace, owner)
	}
	return fmt.Errorf("%w: release %s in namespace %s was not installed by the orchestrator (no %s label)", ErrNotOwned, rel.Name, rel.Namespace, OwnerLabel)
}

// remove uninstalls rel, waits until its resources are gone and then
// deletes its history. The history is kept until the end so that a run
// interrupted while waiting still finds the release (status uninstalled)
// and its manifest the next time.
func remove(ctx context.Context, cfg *action.Configuration, rel *helmrelease.Release) error {
	resources, err := deletable(cfg, rel.Manifest)
	if err != nil {
		return err
	}
	if rel.Info.Status != helmrelease.StatusUninstalled {
		u := action.NewUninstall(cfg)
		u.KeepHistory = true
		// Foreground: a Deployment is gone only when its pods are.
		u.DeletionPropagation = "foreground"
		u.Timeout = timeout(ctx)
		if _, err := u.Run(rel.Name); err != nil {
			return err
		}
	} else if len(resources) > 0 {
		// Uninstalled before, maybe by hand with --keep-history: make sure
		// the deletions were made (Helm refuses to uninstall it again).
		kc, ok := cfg.KubeClient.(kube.InterfaceDeletionPropagation)
		if !ok {
			return errors.New("the Helm kube client cannot delete with a propagation policy")
		}
		if _, errs := kc.DeleteWithPropagationPolicy(resources, metav1.DeletePropagationForeground); len(errs) > 0 {
			return errors.Join(errs...)
		}
	}
	if err := waitDeleted(ctx, resources); err != nil {
		return err
	}
	history, err := cfg.Releases.History(rel.Name)
	if err != nil && !errors.Is(err, driver.ErrReleaseNotFound) {
		return err
	}
	for _, r := range history {
		if _, err := cfg.Releases.Delete(r.Name, r.Version); err != nil && !errors.Is(err, driver.ErrReleaseNotFound) {
			return err
		}
	}
	return nil
}

// deletable returns the resources of manifest that Helm deletes on
// uninstall: all but those with a resource policy.
func deletable(cfg *action.Configuration, manifest string) (kube.ResourceList, error) {
	resources, err := cfg.KubeClient.Build(strings.NewReader(manifest), false)
	if err != nil {
		return nil, fmt.Errorf("resources of the release: %w", err)
	}
	return resources.Filter(func(r *resource.Info) bool {
		m, err := meta.Accessor(r.Object)
		if err != nil {
			return true
		}
		_, policy := m.GetAnnotations()[kube.ResourcePolicyAnno]
		return !policy
	}), nil
}

// waitDeleted waits until none of resources exists.
func waitDeleted(ctx context.Context, resources kube.ResourceList) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		var lastErr error
		resources = resources.Filter(func(r *resource.Info) bool {
			err := r.Get()
			if err != nil && !apierrors.IsNotFound(err) {
				lastErr = err
			}
			return !apierrors.IsNotFound(err)
		})
		if len(resources) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			names := make([]string, len(resources))
			for i, r := range resources {
				names[i] = describe(r)
			}
			err := fmt.Errorf("waiting for deletion of %s: %w", strings.Join(names, ", "), ctx.Err())
			if lastErr != nil {
				err = fmt.Errorf("%w (last error: %v)", err, lastErr)
			}
			return err
		case <-tick.C:
		}
	}
}

// timeout is the time left before ctx's deadline, for Helm's hooks.
func timeout(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return max(time.Until(d), time.Second)
	}
	return hookTimeout
}

func toRelease(r *helmrelease.Release) Release {
	out := Release{Name: r.Name, Namespace: r.Namespace, Revision: r.Version, Owner: r.Labels[OwnerLabel], Values: r.Config, Manifest: r.Manifest}
	if r.Info != nil {
		out.Status = r.Info.Status.String()
		out.Updated = r.Info.LastDeployed.Time
		out.Description = r.Info.Description
	}
	if r.Chart != nil && r.Chart.Metadata != nil {
		out.Chart, out.ChartVersion, out.AppVersion = r.Chart.Metadata.Name, r.Chart.Metadata.Version, r.Chart.Metadata.AppVersion
	}
	return out
}
