package release

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	helmrelease "helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
)

// ErrRevisionNotFound: Rollback was asked for a revision the release does
// not have (any more).
var ErrRevisionNotFound = errors.New("revision not found")

// rollbackPrefix starts the description Helm gives a rollback revision
// ("Rollback to 2").
const rollbackPrefix = "Rollback to "

// ValuesMode says what an upgrade does with the deployed revision's values.
type ValuesMode int

const (
	ReplaceValues ValuesMode = iota // the upgrade's values replace them
	ReuseValues                     // the upgrade's values are merged over them
)

// Upgrade upgrades release name, owned by owner, to chart ch with values,
// without waiting for readiness (WaitReady does). A release of another
// owner gives an error wrapping ErrNotOwned, a missing (or uninstalled)
// one an error wrapping ErrReleaseNotFound.
//
// With ReuseValues, values are merged over the user values of the current
// revision (the latest deployed one), keys of values winning and a null
// removing a key: Helm's --reset-then-reuse-values, so the defaults of the
// new chart apply to what neither sets. With ReplaceValues, values replace
// them (Helm's --reset-values; plain Helm would keep the old values when
// values is empty). The owner label is kept.
//
// It is idempotent, as a workflow activity may run it again after a crash:
//   - the latest revision is deployed with ch's name and version and the
//     user values this call would give: it is returned, no new revision;
//   - the latest revision is pending-upgrade or pending-rollback (a worker
//     died during an upgrade or rollback): the release is first rolled
//     back to its latest deployed revision, then upgraded; the interrupted
//     revision is marked failed ("Interrupted ...") in the history. Without
//     a deployed revision the interrupted one is only marked failed, and
//     Helm upgrades over it;
//   - the latest revision is pending-install (an install never finished):
//     the release is replaced by a new install with the values as above,
//     as Install does;
//   - a failed latest revision is upgraded over, as Helm does.
//
// Helm modifies ch, so ch must not be used by another call at the same time.
func Upgrade(ctx context.Context, t Target, ch *chart.Chart, name, owner string, values map[string]any, mode ValuesMode) (Release, error) {
	reuse := mode == ReuseValues
	if err := checkArgs(name, owner); err != nil {
		return Release{}, err
	}
	if ch == nil || ch.Metadata == nil {
		return Release{}, errors.New("upgrade: no chart")
	}
	cfg, err := configuration(t)
	if err != nil {
		return Release{}, err
	}
	log := t.logger().With("release", name, "namespace", t.namespace())
	last, err := owned(cfg, name, owner)
	if err != nil {
		return Release{}, err
	}

	switch last.Info.Status {
	case helmrelease.StatusPendingInstall:
		vals := upgradeValues(values, last.Config, reuse)
		log.Info("replacing a release whose install never finished", "revision", last.Version)
		if err := remove(ctx, cfg, last); err != nil {
			return Release{}, fmt.Errorf("remove pending-install release %s: %w", name, err)
		}
		rel, err := install(ctx, cfg, t, ch, name, owner, vals)
		if err != nil {
			return Release{}, err
		}
		log.Info("release reinstalled", "chart", ch.Name(), "version", ch.Metadata.Version, "revision", rel.Version)
		return toRelease(rel), nil
	case helmrelease.StatusPendingUpgrade, helmrelease.StatusPendingRollback:
		if last, err = recoverPending(ctx, cfg, last, log); err != nil {
			return Release{}, err
		}
	}

	current, err := currentRevision(cfg, last)
	if err != nil {
		return Release{}, err
	}
	vals := upgradeValues(values, current.Config, reuse)
	if last.Info.Status == helmrelease.StatusDeployed && sameChart(last.Chart, ch) && sameValues(last.Config, vals) {
		log.Info("release already upgraded", "revision", last.Version, "chart", ch.Name(), "version", ch.Metadata.Version)
		return toRelease(last), nil
	}

	u := action.NewUpgrade(cfg)
	u.Namespace = t.namespace()
	u.ResetValues = true // vals is complete: without it Helm reuses the old values when vals is empty
	u.Labels = map[string]string{OwnerLabel: owner}
	u.Timeout = timeout(ctx)
	rel, err := u.RunWithContext(ctx, name, ch, vals)
	if err != nil {
		return Release{}, fmt.Errorf("upgrade %s in %s: %w", name, t.namespace(), err)
	}
	settleHistory(cfg, name, rel.Version, log)
	log.Info("release upgraded", "chart", ch.Name(), "version", ch.Metadata.Version, "revision", rel.Version, "reuse", reuse)
	return toRelease(rel), nil
}

// Rollback rolls release name, owned by owner, back to revision (0: the
// revision before the latest) without waiting for readiness: a new
// revision with that revision's chart, values and manifest. A revision
// the release does not have gives an error wrapping ErrRevisionNotFound.
//
// It is idempotent: if the latest revision is deployed with the chart and
// values of the requested revision (a rollback done before, or simply that
// revision), it is returned and nothing changes. For revision 0 a
// deployed latest revision that is itself a rollback counts as done: a
// retried Rollback(0) does not undo the first one. Callers that may retry
// should pass the revision number explicitly.
//
// The latest revision may be pending (a worker died): Helm rolls back from
// it, and it is marked failed in the history. The owner label is kept.
func Rollback(ctx context.Context, t Target, name, owner string, revision int) (Release, error) {
	if err := checkArgs(name, owner); err != nil {
		return Release{}, err
	}
	if revision < 0 {
		return Release{}, fmt.Errorf("%w: release %s has no revision %d", ErrRevisionNotFound, name, revision)
	}
	cfg, err := configuration(t)
	if err != nil {
		return Release{}, err
	}
	log := t.logger().With("release", name, "namespace", t.namespace())
	last, err := owned(cfg, name, owner)
	if err != nil {
		return Release{}, err
	}
	deployed := last.Info.Status == helmrelease.StatusDeployed
	if revision == 0 {
		if deployed && strings.HasPrefix(last.Info.Description, rollbackPrefix) {
			log.Info("release already rolled back", "revision", last.Version, "description", last.Info.Description)
			return toRelease(last), nil
		}
		revision = last.Version - 1
	}
	target, err := cfg.Releases.Get(name, revision)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return Release{}, fmt.Errorf("%w: release %s has no revision %d (%s)", ErrRevisionNotFound, name, revision, revisionList(cfg, name))
	}
	if err != nil {
		return Release{}, fmt.Errorf("release %s revision %d: %w", name, revision, err)
	}
	if deployed && sameChart(last.Chart, target.Chart) && sameValues(last.Config, target.Config) {
		log.Info("release already at the chart and values of the revision", "revision", last.Version, "target", revision)
		return toRelease(last), nil
	}
	if err := ctx.Err(); err != nil {
		return Release{}, err
	}

	if err := rollback(ctx, cfg, name, revision); err != nil {
		return Release{}, err
	}
	rel, err := latest(cfg, name)
	if err != nil {
		return Release{}, err
	}
	if err := keepOwner(cfg, rel, owner); err != nil {
		return Release{}, err
	}
	settleHistory(cfg, name, rel.Version, log)
	log.Info("release rolled back", "to", revision, "revision", rel.Version)
	return toRelease(rel), nil
}

// History lists the release's revisions, oldest first, or gives an error
// wrapping ErrReleaseNotFound.
func History(ctx context.Context, t Target, name string) ([]Release, error) {
	if err := chartutil.ValidateReleaseName(name); err != nil {
		return nil, fmt.Errorf("release name %q: %w", name, err)
	}
	cfg, err := configuration(t)
	if err != nil {
		return nil, err
	}
	history, err := history(cfg, name)
	if err != nil {
		return nil, err
	}
	out := make([]Release, len(history))
	for i, r := range history {
		out[i] = toRelease(r)
	}
	return out, nil
}

// history returns the release's records sorted by revision.
func history(cfg *action.Configuration, name string) ([]*helmrelease.Release, error) {
	h, err := cfg.Releases.History(name)
	if errors.Is(err, driver.ErrReleaseNotFound) || err == nil && len(h) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrReleaseNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("release %s: %w", name, err)
	}
	slices.SortFunc(h, func(a, b *helmrelease.Release) int { return a.Version - b.Version })
	return h, nil
}

// owned returns the latest revision of a release of owner that is not
// (being) uninstalled.
func owned(cfg *action.Configuration, name, owner string) (*helmrelease.Release, error) {
	last, err := latest(cfg, name)
	if err != nil {
		return nil, err
	}
	if last.Labels[OwnerLabel] != owner {
		return nil, notOwned(last)
	}
	if s := last.Info.Status; s == helmrelease.StatusUninstalled || s == helmrelease.StatusUninstalling {
		return nil, fmt.Errorf("%w: release %s is %s", ErrReleaseNotFound, name, s)
	}
	return last, nil
}

// recoverPending rolls a release whose latest revision last is
// pending-upgrade or pending-rollback back to its latest deployed
// revision, and returns the new latest revision. Without a deployed
// revision, last is marked failed, which Helm upgrades over.
func recoverPending(ctx context.Context, cfg *action.Configuration, last *helmrelease.Release, log *slog.Logger) (*helmrelease.Release, error) {
	h, err := history(cfg, last.Name)
	if err != nil {
		return nil, err
	}
	var deployed *helmrelease.Release
	for _, r := range slices.Backward(h) {
		if r.Info.Status == helmrelease.StatusDeployed {
			deployed = r
			break
		}
	}
	if deployed == nil {
		log.Warn("interrupted revision without a deployed one before it, marking it failed", "revision", last.Version, "status", last.Info.Status)
		last.SetStatus(helmrelease.StatusFailed, fmt.Sprintf("Interrupted (%s)", last.Info.Status))
		if err := cfg.Releases.Update(last); err != nil {
			return nil, fmt.Errorf("mark interrupted revision %d of %s failed: %w", last.Version, last.Name, err)
		}
		return last, nil
	}
	log.Warn("rolling back an interrupted revision", "revision", last.Version, "status", last.Info.Status, "to", deployed.Version)
	if err := rollback(ctx, cfg, last.Name, deployed.Version); err != nil {
		return nil, fmt.Errorf("recover from the %s revision %d: %w", last.Info.Status, last.Version, err)
	}
	rel, err := latest(cfg, last.Name)
	if err != nil {
		return nil, err
	}
	if err := keepOwner(cfg, rel, last.Labels[OwnerLabel]); err != nil {
		return nil, err
	}
	settleHistory(cfg, last.Name, rel.Version, log)
	return rel, nil
}

// currentRevision is the revision Helm upgrades from (and whose values
// reuse merges over): the latest deployed one, else a failed or superseded
// latest one.
func currentRevision(cfg *action.Configuration, last *helmrelease.Release) (*helmrelease.Release, error) {
	if last.Info.Status == helmrelease.StatusDeployed {
		return last, nil
	}
	deployed, err := cfg.Releases.Deployed(last.Name)
	if errors.Is(err, driver.ErrNoDeployedReleases) {
		return last, nil
	}
	if err != nil {
		return nil, fmt.Errorf("release %s: %w", last.Name, err)
	}
	return deployed, nil
}

func rollback(ctx context.Context, cfg *action.Configuration, name string, revision int) error {
	rb := action.NewRollback(cfg)
	rb.Version = revision
	rb.Timeout = timeout(ctx) // for hooks: Helm's rollback takes no context
	if err := rb.Run(name); err != nil {
		return fmt.Errorf("roll back %s to revision %d: %w", name, revision, err)
	}
	return nil
}

// keepOwner puts the owner label back on a rollback revision: Helm copies
// the labels of the revision rolled back to.
func keepOwner(cfg *action.Configuration, rel *helmrelease.Release, owner string) error {
	if owner == "" || rel.Labels[OwnerLabel] == owner {
		return nil
	}
	labels := maps.Clone(rel.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[OwnerLabel] = owner
	rel.Labels = labels
	if err := cfg.Releases.Update(rel); err != nil {
		return fmt.Errorf("label revision %d of %s: %w", rel.Version, rel.Name, err)
	}
	return nil
}

// settleHistory marks revisions before newest that are still pending (a
// worker died during them, and a later operation superseded them) failed,
// so that the history says what happened. Errors are only logged.
func settleHistory(cfg *action.Configuration, name string, newest int, log *slog.Logger) {
	h, err := cfg.Releases.History(name)
	if err != nil {
		log.Warn("reading history", "error", err)
		return
	}
	for _, r := range h {
		if r.Version >= newest || !r.Info.Status.IsPending() {
			continue
		}
		r.SetStatus(helmrelease.StatusFailed, fmt.Sprintf("Interrupted (%s), superseded by revision %d", r.Info.Status, newest))
		if err := cfg.Releases.Update(r); err != nil {
			log.Warn("marking an interrupted revision failed", "revision", r.Version, "error", err)
		}
	}
}

// upgradeValues is the user values an upgrade stores: values, merged over
// base with reuse (as Helm's CoalesceTables: values win, a null deletes).
// Neither argument is modified.
func upgradeValues(values, base map[string]any, reuse bool) map[string]any {
	vals := copyValues(values)
	if vals == nil {
		vals = map[string]any{}
	}
	if !reuse || len(base) == 0 {
		return vals
	}
	return chartutil.CoalesceTables(vals, copyValues(base))
}

// copyValues deep-copies maps and slices of a values tree.
func copyValues(v map[string]any) map[string]any {
	if v == nil {
		return nil
	}
	out := make(map[string]any, len(v))
	for k, x := range v {
		out[k] = copyValue(x)
	}
	return out
}

func copyValue(x any) any {
	switch x := x.(type) {
	case map[string]any:
		return copyValues(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = copyValue(e)
		}
		return out
	default:
		return x
	}
}

// sameValues compares values as Helm stores them (JSON): 2 and 2.0 are
// equal, nil and empty are.
func sameValues(a, b map[string]any) bool {
	ja, errA := canonicalJSON(a)
	jb, errB := canonicalJSON(b)
	return errA == nil && errB == nil && ja == jb
}

func canonicalJSON(v map[string]any) (string, error) {
	if len(v) == 0 {
		return "{}", nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	var decoded any // numbers as float64, as they come back from storage
	if err := json.Unmarshal(data, &decoded); err != nil {
		return "", err
	}
	data, err = json.Marshal(decoded)
	return string(data), err
}

func sameChart(a, b *chart.Chart) bool {
	return a != nil && b != nil && a.Metadata != nil && b.Metadata != nil &&
		a.Metadata.Name == b.Metadata.Name && a.Metadata.Version == b.Metadata.Version
}

// revisionList says which revisions a release has, for error messages.
func revisionList(cfg *action.Configuration, name string) string {
	h, err := history(cfg, name)
	if err != nil {
		return err.Error()
	}
	versions := make([]string, len(h))
	for i, r := range h {
		versions[i] = strconv.Itoa(r.Version)
	}
	return "revisions " + strings.Join(versions, ", ")
}
