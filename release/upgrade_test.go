package release

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	helmrelease "helm.sh/helm/v3/pkg/release"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Upgrades with merged and replaced values, idempotent repeats, history and
// rollbacks, each checked in the cluster.
func (h *harness) testUpgradeRollback(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const ns, name, owner = "upgrade", "web", "e-up"
	tg := h.target(t, ns)
	client := h.cluster.Client

	if _, err := Install(ctx, tg, h.load(t, "web", "0.1.0"), name, owner, map[string]any{"service": map[string]any{"port": 8080}}); err != nil {
		t.Fatal(err)
	}

	// Refusals change nothing.
	if _, err := Upgrade(ctx, tg, h.load(t, "web", "0.2.0"), "nothing", owner, nil, ReplaceValues); !errors.Is(err, ErrReleaseNotFound) {
		t.Errorf("Upgrade of a missing release: error = %v, want ErrReleaseNotFound", err)
	}
	if _, err := Upgrade(ctx, tg, h.load(t, "web", "0.2.0"), name, "e-other", map[string]any{"replicaCount": 5}, ReuseValues); !errors.Is(err, ErrNotOwned) {
		t.Errorf("Upgrade by another owner: error = %v, want ErrNotOwned", err)
	}
	if _, err := Rollback(ctx, tg, name, "e-other", 1); !errors.Is(err, ErrNotOwned) {
		t.Errorf("Rollback by another owner: error = %v, want ErrNotOwned", err)
	}
	if _, err := Rollback(ctx, tg, "nothing", owner, 1); !errors.Is(err, ErrReleaseNotFound) {
		t.Errorf("Rollback of a missing release: error = %v, want ErrReleaseNotFound", err)
	}
	if _, err := History(ctx, tg, "nothing"); !errors.Is(err, ErrReleaseNotFound) {
		t.Errorf("History of a missing release: error = %v, want ErrReleaseNotFound", err)
	}

	// Revision 2: a new chart version; reuse keeps service.port of revision 1.
	values := map[string]any{"replicaCount": 2}
	rel, err := Upgrade(ctx, tg, h.load(t, "web", "0.2.0"), name, owner, values, ReuseValues)
	if err != nil {
		t.Fatal(err)
	}
	wantRelease(t, "Upgrade with reuse", rel, 2, "deployed", "0.2.0", `{"replicaCount":2,"service":{"port":8080}}`)
	if fmt.Sprint(values) != "map[replicaCount:2]" {
		t.Errorf("Upgrade modified the caller's values: %v", values)
	}
	wantWeb(ctx, t, h, ns, name, 2, 8080, "0.2.0")

	// The same again (a retried activity), also spelled out without reuse:
	// no new revision.
	for _, mode := range []ValuesMode{ReuseValues, ReplaceValues} {
		vals := values
		if mode == ReplaceValues {
			vals = map[string]any{"replicaCount": 2.0, "service": map[string]any{"port": 8080}}
		}
		again, err := Upgrade(ctx, tg, h.load(t, "web", "0.2.0"), name, owner, vals, mode)
		if err != nil {
			t.Fatal(err)
		}
		if again.Revision != 2 || again.Status != "deployed" {
			t.Errorf("repeated Upgrade (mode %v) = revision %d %s, want revision 2 unchanged", mode, again.Revision, again.Status)
		}
	}
	if n := helmRecords(ctx, t, client, ns, name); n != 2 {
		t.Errorf("%d release records after repeated Upgrades, want 2", n)
	}

	// Revision 3: values replace those of revision 2 (service.port back to
	// the chart's 80).
	rel, err = Upgrade(ctx, tg, h.load(t, "web", "0.2.0"), name, owner, map[string]any{"replicaCount": 3}, ReplaceValues)
	if err != nil {
		t.Fatal(err)
	}
	wantRelease(t, "Upgrade without reuse", rel, 3, "deployed", "0.2.0", `{"replicaCount":3}`)
	wantWeb(ctx, t, h, ns, name, 3, 80, "0.2.0")

	// Revision 4: no values without reuse means the chart's defaults (plain
	// Helm would have kept revision 3's).
	rel, err = Upgrade(ctx, tg, h.load(t, "web", "0.2.0"), name, owner, nil, ReplaceValues)
	if err != nil {
		t.Fatal(err)
	}
	wantRelease(t, "Upgrade to no values", rel, 4, "deployed", "0.2.0", `{}`)
	wantWeb(ctx, t, h, ns, name, 1, 80, "0.2.0")

	hist, err := History(ctx, tg, name)
	if err != nil {
		t.Fatal(err)
	}
	wantHistory(t, hist,
		"1 superseded 0.1.0 Install complete {\"service\":{\"port\":8080}}",
		"2 superseded 0.2.0 Upgrade complete {\"replicaCount\":2,\"service\":{\"port\":8080}}",
		"3 superseded 0.2.0 Upgrade complete {\"replicaCount\":3}",
		"4 deployed 0.2.0 Upgrade complete {}",
	)
	for _, r := range hist {
		if r.Owner != owner || r.Updated.IsZero() || r.Name != name || r.Namespace != ns {
			t.Errorf("History entry %+v", r)
		}
	}

	// Rollback to revision 2 restores its values in the cluster.
	rel, err = Rollback(ctx, tg, name, owner, 2)
	if err != nil {
		t.Fatal(err)
	}
	wantRelease(t, "Rollback to 2", rel, 5, "deployed", "0.2.0", `{"replicaCount":2,"service":{"port":8080}}`)
	if rel.Description != "Rollback to 2" || rel.Owner != owner {
		t.Errorf("Rollback to 2 = %+v", rel)
	}
	wantWeb(ctx, t, h, ns, name, 2, 8080, "0.2.0")

	// Repeated: nothing changes, for the revision and for "the previous one".
	for _, revision := range []int{2, 0} {
		again, err := Rollback(ctx, tg, name, owner, revision)
		if err != nil {
			t.Fatal(err)
		}
		if again.Revision != 5 {
			t.Errorf("repeated Rollback(%d) = revision %d, want 5", revision, again.Revision)
		}
	}
	for _, revision := range []int{99, -1} {
		if _, err := Rollback(ctx, tg, name, owner, revision); !errors.Is(err, ErrRevisionNotFound) {
			t.Errorf("Rollback(%d): error = %v, want ErrRevisionNotFound", revision, err)
		} else {
			t.Logf("Rollback(%d): %v", revision, err)
		}
	}

	// Back to the first chart version.
	rel, err = Rollback(ctx, tg, name, owner, 1)
	if err != nil {
		t.Fatal(err)
	}
	wantRelease(t, "Rollback to 1", rel, 6, "deployed", "0.1.0", `{"service":{"port":8080}}`)
	wantWeb(ctx, t, h, ns, name, 1, 8080, "0.1.0")
	if got, err := Get(ctx, tg, name); err != nil || got.Owner != owner || got.Revision != 6 {
		t.Errorf("Get = %+v, %v", got, err)
	}
	if n := helmRecords(ctx, t, client, ns, name); n != 6 {
		t.Errorf("%d release records, want 6", n)
	}
	if err := WaitReady(ctx, tg, name, 30*time.Second); err != nil {
		t.Error(err)
	}
}

// A worker died during an upgrade or rollback (the latest revision is
// pending, the one before still deployed, as Helm leaves them; or, when
// alone, no revision deployed) or during the install: Upgrade recovers to
// one deployed latest revision with the requested chart and values.
func (h *harness) testUpgradeRecover(t *testing.T, status helmrelease.Status, alone bool) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := "upgrade-" + status.String()
	if alone {
		ns += "-alone"
	}
	const name, owner = "web", "e-up-rec"
	tg := h.target(t, ns)
	client := h.cluster.Client

	if _, err := Install(ctx, tg, h.load(t, "web", "0.1.0"), name, owner, map[string]any{"replicaCount": 1}); err != nil {
		t.Fatal(err)
	}
	if status == helmrelease.StatusPendingInstall {
		setStatus(t, tg, name, status)
		rel, err := Upgrade(ctx, tg, h.load(t, "web", "0.2.0"), name, owner, map[string]any{"replicaCount": 2}, ReuseValues)
		if err != nil {
			t.Fatal(err)
		}
		// Reinstalled, with the values merged over those of the install.
		wantRelease(t, "Upgrade over a pending install", rel, 1, "deployed", "0.2.0", `{"replicaCount":2}`)
		if rel.Owner != owner {
			t.Errorf("owner %q", rel.Owner)
		}
		if n := helmRecords(ctx, t, client, ns, name); n != 1 {
			t.Errorf("%d release records, want 1", n)
		}
		wantWeb(ctx, t, h, ns, name, 2, 80, "0.2.0")
		return
	}

	if _, err := Upgrade(ctx, tg, h.load(t, "web", "0.2.0"), name, owner, map[string]any{"replicaCount": 2}, ReplaceValues); err != nil {
		t.Fatal(err)
	}
	interrupt(t, tg, name, status, !alone) // revision 2 was interrupted

	if _, err := Upgrade(ctx, tg, h.load(t, "web", "0.2.0"), name, "e-other", nil, ReplaceValues); !errors.Is(err, ErrNotOwned) {
		t.Errorf("Upgrade by another owner: error = %v, want ErrNotOwned", err)
	}
	rel, err := Upgrade(ctx, tg, h.load(t, "web", "0.2.0"), name, owner, map[string]any{"replicaCount": 3}, ReuseValues)
	if err != nil {
		t.Fatal(err)
	}
	if alone {
		// Nothing to roll back to: revision 2 marked failed, then upgraded
		// over (Helm supersedes it).
		wantRelease(t, "Upgrade over an interrupted revision", rel, 3, "deployed", "0.2.0", `{"replicaCount":3}`)
		wantWeb(ctx, t, h, ns, name, 3, 80, "0.2.0")
		hist, err := History(ctx, tg, name)
		if err != nil {
			t.Fatal(err)
		}
		wantHistory(t, hist,
			"1 superseded 0.1.0 Install complete {\"replicaCount\":1}",
			"2 superseded 0.2.0 Interrupted ("+status.String()+") {\"replicaCount\":2}",
			"3 deployed 0.2.0 Upgrade complete {\"replicaCount\":3}",
		)
		return
	}
	// Rolled back to revision 1 (revision 3), then upgraded (revision 4)
	// with the values merged over those of revision 3.
	wantRelease(t, "Upgrade over an interrupted revision", rel, 4, "deployed", "0.2.0", `{"replicaCount":3}`)
	wantWeb(ctx, t, h, ns, name, 3, 80, "0.2.0")
	hist, err := History(ctx, tg, name)
	if err != nil {
		t.Fatal(err)
	}
	wantHistory(t, hist,
		"1 superseded 0.1.0 Install complete {\"replicaCount\":1}",
		"2 failed 0.2.0 Interrupted ("+status.String()+"), superseded by revision 3 {\"replicaCount\":2}",
		"3 superseded 0.1.0 Rollback to 1 {\"replicaCount\":1}",
		"4 deployed 0.2.0 Upgrade complete {\"replicaCount\":3}",
	)
	for _, r := range hist {
		if r.Owner != owner {
			t.Errorf("revision %d has owner %q", r.Revision, r.Owner)
		}
	}

	// Rollback from an interrupted revision too.
	interrupt(t, tg, name, status, true)
	rel, err = Rollback(ctx, tg, name, owner, 1)
	if err != nil {
		t.Fatal(err)
	}
	wantRelease(t, "Rollback over an interrupted revision", rel, 5, "deployed", "0.1.0", `{"replicaCount":1}`)
	wantWeb(ctx, t, h, ns, name, 1, 80, "0.1.0")
	if hist, err = History(ctx, tg, name); err != nil {
		t.Fatal(err)
	}
	if r := hist[3]; r.Status != "failed" || !strings.HasPrefix(r.Description, "Interrupted") {
		t.Errorf("interrupted revision 4 in the history: %+v", r)
	}
	if err := WaitReady(ctx, tg, name, 30*time.Second); err != nil {
		t.Error(err)
	}
}

// interrupt leaves the release as a worker that died during an upgrade or
// rollback does: the latest revision pending, and (when deployed is set)
// the one before it still deployed.
func interrupt(t *testing.T, tg Target, name string, status helmrelease.Status, deployed bool) {
	t.Helper()
	cfg, err := configuration(tg)
	if err != nil {
		t.Fatal(err)
	}
	last, err := cfg.Releases.Last(name)
	if err != nil {
		t.Fatal(err)
	}
	if deployed {
		previous, err := cfg.Releases.Get(name, last.Version-1)
		if err != nil {
			t.Fatal(err)
		}
		previous.Info.Status = helmrelease.StatusDeployed
		if err := cfg.Releases.Update(previous); err != nil {
			t.Fatal(err)
		}
	}
	last.Info.Status = status
	if err := cfg.Releases.Update(last); err != nil {
		t.Fatal(err)
	}
}

// Check looks once: ready, not ready with the reasons, missing.
func (h *harness) testCheck(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const ns, name, owner = "health", "web", "e-health"
	tg := h.target(t, ns)

	health, err := Check(ctx, tg, name)
	if err != nil || health.Release != nil || health.Ready || len(health.NotReady) > 0 {
		t.Errorf("Check of a missing release = %+v, %v; want no release, no error", health, err)
	}

	if _, err := Install(ctx, tg, h.load(t, "web", "0.1.0"), name, owner, nil); err != nil {
		t.Fatal(err)
	}
	if err := WaitReady(ctx, tg, name, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	health, err = Check(ctx, tg, name)
	if err != nil || health.Release == nil || !health.Ready || len(health.NotReady) > 0 ||
		health.Release.Revision != 1 || health.Release.Status != "deployed" {
		t.Errorf("Check of a ready release = %+v, %v", health, err)
	}

	// Scaled beyond what the node has.
	if _, err := Upgrade(ctx, tg, h.load(t, "web", "0.1.0"), name, owner,
		map[string]any{"resources": map[string]any{"requests": map[string]any{"cpu": "64"}}}, ReuseValues); err != nil {
		t.Fatal(err)
	}
	health = checkUntil(ctx, t, tg, name, func(h Health) bool {
		return strings.Contains(strings.Join(h.NotReady, "; "), "Insufficient cpu")
	})
	t.Logf("Check: %q", health.NotReady)
	if health.Ready || health.Release == nil || health.Release.Revision != 2 ||
		!strings.Contains(health.NotReady[0], "Deployment is not ready: health/web-web") {
		t.Errorf("Check of a release beyond capacity = %+v", health)
	}

	if _, err := Rollback(ctx, tg, name, owner, 1); err != nil {
		t.Fatal(err)
	}
	checkUntil(ctx, t, tg, name, func(h Health) bool { return h.Ready })
}

// checkUntil calls Check until cond holds.
func checkUntil(ctx context.Context, t *testing.T, tg Target, name string, cond func(Health) bool) Health {
	t.Helper()
	for {
		health, err := Check(ctx, tg, name)
		if err != nil {
			t.Fatal(err)
		}
		if cond(health) {
			return health
		}
		select {
		case <-ctx.Done():
			t.Fatalf("Check = %+v: %v", health, ctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func wantRelease(t *testing.T, what string, rel Release, revision int, status, version, values string) {
	t.Helper()
	got, err := json.Marshal(rel.Values)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) == "null" {
		got = []byte("{}")
	}
	if rel.Revision != revision || rel.Status != status || rel.ChartVersion != version || string(got) != values {
		t.Errorf("%s = revision %d %s %s %s, want revision %d %s %s %s", what,
			rel.Revision, rel.Status, rel.ChartVersion, got, revision, status, version, values)
	}
}

func wantHistory(t *testing.T, hist []Release, want ...string) {
	t.Helper()
	got := make([]string, len(hist))
	for i, r := range hist {
		values, _ := json.Marshal(r.Values)
		if string(values) == "null" {
			values = []byte("{}")
		}
		got[i] = fmt.Sprintf("%d %s %s %s %s", r.Revision, r.Status, r.ChartVersion, r.Description, values)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("History:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// wantWeb checks the web chart's Deployment and Service in the cluster.
func wantWeb(ctx context.Context, t *testing.T, h *harness, ns, name string, replicas, port int, version string) {
	t.Helper()
	d, err := h.cluster.Client.AppsV1().Deployments(ns).Get(ctx, name+"-web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Spec.Replicas == nil || int(*d.Spec.Replicas) != replicas ||
		d.Labels["helm.sh/chart"] != "web-"+version || d.Spec.Template.Annotations["app.kubernetes.io/version"] != version {
		t.Errorf("Deployment: replicas %v, chart %s, pod version %s; want %d, web-%s", d.Spec.Replicas,
			d.Labels["helm.sh/chart"], d.Spec.Template.Annotations["app.kubernetes.io/version"], replicas, version)
	}
	s, err := h.cluster.Client.CoreV1().Services(ns).Get(ctx, name+"-web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Spec.Ports) != 1 || int(s.Spec.Ports[0].Port) != port {
		t.Errorf("Service ports %+v, want %d", s.Spec.Ports, port)
	}
}
