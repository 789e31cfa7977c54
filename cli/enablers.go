package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"helm.sh/helm/v3/pkg/cli/values"
	"helm.sh/helm/v3/pkg/getter"

	"github.com/smartorch/smartorch/scheduler"
)

// enabler is what the commands show of an enabler.
type enabler struct {
	ID              string              `json:"id"`
	Name            string              `json:"name"`
	HelmChart       string              `json:"helmChart"`
	Version         string              `json:"version,omitempty"`
	ChartVersion    string              `json:"chartVersion,omitempty"`
	Namespace       string              `json:"namespace"`
	Auto            bool                `json:"auto"`
	Policy          string              `json:"placementPolicy,omitempty"`
	Cluster         string              `json:"cluster,omitempty"`
	Status          string              `json:"status"`
	StatusReason    string              `json:"statusReason,omitempty"`
	OperationID     string              `json:"operationId,omitempty"`
	ReleaseRevision int                 `json:"releaseRevision,omitempty"`
	CreatedAt       time.Time           `json:"createdAt"`
	Placement       *scheduler.Decision `json:"placement,omitempty"`
}

func (a *app) enablerCommand() *cobra.Command {
	return group(&cobra.Command{Use: "enabler", Short: "Deploy and manage enablers (Helm releases placed on a cluster)"},
		a.enablerDeploy(), a.enablerList(), a.enablerGet(), a.enablerHistory(), a.enablerUpgrade(),
		a.enablerRollback(), a.enablerTerminate(), a.enablerRemove())
}

// valueFlags are Helm's -f, --set and --set-string.
type valueFlags struct{ values.Options }

func (v *valueFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringArrayVarP(&v.ValueFiles, "values", "f", nil, "a values YAML file (repeatable; later files win)")
	cmd.Flags().StringArrayVar(&v.Values, "set", nil, "a value, key=value or a.b=v1,c=v2 (repeatable; wins over -f)")
	cmd.Flags().StringArrayVar(&v.StringValues, "set-string", nil, "a value kept a string, key=value (repeatable)")
}

// merged are the values as Helm merges them: files in order, then --set.
func (v *valueFlags) merged() (map[string]any, error) {
	m, err := v.MergeValues(getter.Providers{})
	if err != nil {
		return nil, usagef("%v", err)
	}
	return m, nil
}

// placementFlags say what to deploy and where.
type placementFlags struct {
	valueFlags
	chart, version, cluster, policy, namespace string
	timeout                                    time.Duration
}

func (p *placementFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&p.chart, "chart", "", "the chart, REPO/CHART or oci://…")
	cmd.Flags().StringVar(&p.version, "version", "", "the chart version or constraint (default: the latest)")
	cmd.Flags().StringVar(&p.cluster, "cluster", "", "the cluster to deploy on (name or id)")
	cmd.Flags().StringVar(&p.policy, "policy", "", "choose the cluster by policy: worst-fit, best-fit or traffic-most (the default when --cluster is not given)")
	cmd.Flags().StringVarP(&p.namespace, "namespace", "n", "", "the namespace (default: default)")
	cmd.Flags().DurationVar(&p.timeout, "timeout", 0, "how long the release may take to be ready (default: the server's, 5m)")
	p.valueFlags.add(cmd)
	cmd.MarkFlagsMutuallyExclusive("cluster", "policy")
}

// request is the body of POST /api/enabler and /api/placement/preview.
func (p *placementFlags) request(name string) (map[string]any, error) {
	if p.chart == "" {
		return nil, usagef("--chart REPO/CHART is required")
	}
	if p.timeout < 0 || p.timeout%time.Second != 0 {
		return nil, usagef("--timeout %s: want whole seconds, e.g. 90s or 5m", p.timeout)
	}
	vals, err := p.merged()
	if err != nil {
		return nil, err
	}
	body := map[string]any{"enablerName": name, "helmChart": p.chart, "additionalParams": vals}
	if p.cluster != "" {
		body["vim"] = p.cluster
	} else {
		body["auto"] = true
		if p.policy != "" {
			body["placementPolicy"] = p.policy
		}
	}
	if p.version != "" {
		body["version"] = p.version
	}
	if p.namespace != "" {
		body["namespace"] = p.namespace
	}
	if p.timeout > 0 {
		body["timeout"] = int(p.timeout / time.Second)
	}
	return body, nil
}

func (a *app) enablerDeploy() *cobra.Command {
	var p placementFlags
	cmd := &cobra.Command{
		Use:   "deploy NAME --chart REPO/CHART [--cluster CLUSTER | --policy POLICY]",
		Short: "Deploy an enabler (the InstantiateEnabler workflow) and show the placement decision",
		Example: `  smartorch enabler deploy web --chart test/web --set replicaCount=2 --policy best-fit
  smartorch enabler deploy web --chart test/web -f values.yaml --cluster edge-1`,
		Args: exactArgs("NAME"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			body, err := p.request(args[0])
			if err != nil {
				return err
			}
			return a.operate(cmd.Context(), "POST", "/api/enabler", body, a.enablerOutcome(args[0], true))
		}),
	}
	p.add(cmd)
	return a.addWait(cmd)
}

func (a *app) getEnabler(ctx context.Context, name string) (*enabler, error) {
	api, err := a.api()
	if err != nil {
		return nil, err
	}
	var e enabler
	return &e, api.Do(ctx, "GET", path("/api/enabler", name), nil, &e)
}

// enablerOutcome reports the enabler after an operation; in Error it is a
// failure. decision: show the placement decision too.
func (a *app) enablerOutcome(name string, decision bool) func(context.Context) error {
	return func(ctx context.Context) error {
		e, err := a.getEnabler(ctx, name)
		if err != nil {
			return err
		}
		if a.format != formatTable {
			return encode(a.out, a.format, e)
		}
		if e.Status == "Error" {
			return fmt.Errorf("enabler %s is in Error: %s", e.Name, e.StatusReason)
		}
		fmt.Fprintf(a.out, "enabler %s is %s", e.Name, e.Status)
		if e.Cluster != "" && e.Status != "Terminated" {
			fmt.Fprintf(a.out, " on %s: chart %s %s, Helm revision %d", e.Cluster, e.HelmChart, e.ChartVersion, e.ReleaseRevision)
		}
		fmt.Fprintln(a.out)
		if e.StatusReason != "" {
			fmt.Fprintf(a.out, "  %s\n", e.StatusReason)
		}
		if decision && e.Placement != nil {
			fmt.Fprintln(a.out)
			return writeDecision(a.out, e.Placement)
		}
		return nil
	}
}

func (a *app) enablerList() *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the enablers",
		Args:    exactArgs(),
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			list, err := a.enablers(cmd.Context())
			if err != nil {
				return err
			}
			if a.format != formatTable {
				return encode(a.out, a.format, list)
			}
			return enablerTable(list).write(a.out)
		}),
	}
}

// enablers reads every page of the list.
func (a *app) enablers(ctx context.Context) ([]enabler, error) {
	api, err := a.api()
	if err != nil {
		return nil, err
	}
	all := []enabler{}
	next := "/api/enabler/instanced?limit=1000"
	for next != "" {
		var page []enabler
		h, err := api.do(ctx, "GET", next, nil, &page)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		next = nextPage(h.Get("Link"))
	}
	return all, nil
}

// nextPage is the address of the next page in a Link header, or "".
func nextPage(link string) string {
	for _, part := range strings.Split(link, ",") {
		target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
		if ok && strings.Contains(params, `rel="next"`) {
			return strings.Trim(strings.TrimSpace(target), "<>")
		}
	}
	return ""
}

func enablerTable(list []enabler) *table {
	t := newTable("NAME", "CHART", "VERSION", "CLUSTER", "STATUS", "POLICY", "REVISION", "AGE")
	for _, e := range list {
		revision := ""
		if e.ReleaseRevision > 0 {
			revision = strconv.Itoa(e.ReleaseRevision)
		}
		policy := e.Policy
		if !e.Auto {
			policy = "manual"
		}
		t.add(e.Name, e.HelmChart, e.ChartVersion, e.Cluster, e.Status, policy, revision, age(e.CreatedAt))
	}
	return t
}

func (a *app) enablerGet() *cobra.Command {
	return &cobra.Command{
		Use:   "get NAME",
		Short: "Show an enabler and its placement decision",
		Args:  exactArgs("NAME"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			api, err := a.api()
			if err != nil {
				return err
			}
			// The whole record for json and yaml, values included.
			var raw map[string]any
			if err := api.Do(cmd.Context(), "GET", path("/api/enabler", args[0]), nil, &raw); err != nil {
				return err
			}
			if a.format != formatTable {
				return encode(a.out, a.format, raw)
			}
			var e enabler
			if err := remarshal(raw, &e); err != nil {
				return err
			}
			if err := enablerTable([]enabler{e}).write(a.out); err != nil {
				return err
			}
			if e.StatusReason != "" {
				fmt.Fprintf(a.out, "\nReason: %s\n", e.StatusReason)
			}
			if e.OperationID != "" {
				fmt.Fprintf(a.out, "Last operation: %s\n", e.OperationID)
			}
			if e.Placement != nil {
				fmt.Fprintln(a.out)
				return writeDecision(a.out, e.Placement)
			}
			return nil
		}),
	}
}

type revision struct {
	Revision     int       `json:"revision"`
	Status       string    `json:"status"`
	Chart        string    `json:"chart"`
	ChartVersion string    `json:"chartVersion"`
	AppVersion   string    `json:"appVersion,omitempty"`
	Updated      time.Time `json:"updated"`
	Description  string    `json:"description,omitempty"`
}

func (a *app) enablerHistory() *cobra.Command {
	return &cobra.Command{
		Use:   "history NAME",
		Short: "List the enabler's Helm revisions, read from its cluster",
		Args:  exactArgs("NAME"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			api, err := a.api()
			if err != nil {
				return err
			}
			var list []map[string]any
			if err := api.Do(cmd.Context(), "GET", path("/api/enabler", args[0], "history"), nil, &list); err != nil {
				return err
			}
			if a.format != formatTable {
				return encode(a.out, a.format, list)
			}
			var revs []revision
			if err := remarshal(list, &revs); err != nil {
				return err
			}
			t := newTable("REVISION", "UPDATED", "STATUS", "CHART", "APP VERSION", "DESCRIPTION")
			for _, r := range revs {
				t.add(r.Revision, r.Updated.Local().Format(time.DateTime), r.Status, r.Chart+"-"+r.ChartVersion, r.AppVersion, r.Description)
			}
			return t.write(a.out)
		}),
	}
}

func (a *app) enablerUpgrade() *cobra.Command {
	var v valueFlags
	var version string
	var reuse bool
	cmd := &cobra.Command{
		Use:     "upgrade NAME [--version V] [--set k=v] [-f values.yaml]",
		Short:   "Upgrade an enabler's release (the UpgradeEnabler workflow; a failed upgrade rolls back)",
		Example: `  smartorch enabler upgrade web --set replicaCount=3 --reuse-values`,
		Args:    exactArgs("NAME"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			vals, err := v.merged()
			if err != nil {
				return err
			}
			body := map[string]any{"additionalParams": vals, "reuseValues": reuse}
			if version != "" {
				body["version"] = version
			}
			return a.operate(cmd.Context(), "POST", path("/api/enabler", args[0], "upgrade"), body, a.enablerOutcome(args[0], false))
		}),
	}
	v.add(cmd)
	cmd.Flags().StringVar(&version, "version", "", "the chart version or constraint (default: keep the one asked for before)")
	cmd.Flags().BoolVar(&reuse, "reuse-values", false, "merge the given values over the current ones (default: they replace them)")
	return a.addWait(cmd)
}

func (a *app) enablerRollback() *cobra.Command {
	var rev int
	cmd := &cobra.Command{
		Use:   "rollback NAME [--revision N]",
		Short: "Roll an enabler's release back (the RollbackEnabler workflow)",
		Args:  exactArgs("NAME"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			if rev < 0 {
				return usagef("--revision %d: want a revision number, or 0 for the previous one", rev)
			}
			return a.operate(cmd.Context(), "POST", path("/api/enabler", args[0], "rollback"), map[string]any{"revision": rev}, a.enablerOutcome(args[0], false))
		}),
	}
	cmd.Flags().IntVar(&rev, "revision", 0, "the Helm revision to go back to (default: the previous one)")
	return a.addWait(cmd)
}

func (a *app) enablerTerminate() *cobra.Command {
	return a.addWait(&cobra.Command{
		Use:   "terminate NAME",
		Short: "Uninstall an enabler's release and keep its record, Terminated (the TerminateEnabler workflow)",
		Args:  exactArgs("NAME"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			return a.operate(cmd.Context(), "POST", path("/api/enabler", args[0], "terminate"), nil, a.enablerOutcome(args[0], false))
		}),
	})
}

func (a *app) enablerRemove() *cobra.Command {
	var volumes bool
	cmd := &cobra.Command{
		Use:     "rm NAME",
		Aliases: []string{"delete"},
		Short:   "Delete an enabler: its release and its record (the DeleteEnabler workflow)",
		Args:    exactArgs("NAME"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			p := path("/api/enabler", args[0])
			if volumes {
				p += "?volumes=true"
			}
			return a.operate(cmd.Context(), "DELETE", p, nil, func(ctx context.Context) error {
				e, err := a.getEnabler(ctx, args[0])
				switch {
				case NotFound(err):
					fmt.Fprintf(a.progressWriter(), "enabler %s deleted\n", args[0])
					return nil
				case err != nil:
					return err
				}
				return fmt.Errorf("enabler %s is still there, %s: %s", e.Name, e.Status, e.StatusReason)
			})
		}),
	}
	cmd.Flags().BoolVar(&volumes, "volumes", false, "delete its persistent volume claims and volumes too")
	return a.addWait(cmd)
}
