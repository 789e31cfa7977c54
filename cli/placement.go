package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/smartorch/smartorch/scheduler"
)

func (a *app) placementCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "placement", Short: "Ask where an enabler would go, and why"}
	var p placementFlags
	preview := &cobra.Command{
		Use:     "preview NAME --chart REPO/CHART [--policy POLICY]",
		Short:   "Show the placement decision for an enabler, with no side effects",
		Example: `  smartorch placement preview web --chart test/web --set replicaCount=2 --policy worst-fit`,
		Args:    exactArgs("NAME"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			body, err := p.request(args[0])
			if err != nil {
				return err
			}
			api, err := a.api()
			if err != nil {
				return err
			}
			var d scheduler.Decision
			err = api.Do(cmd.Context(), "POST", "/api/placement/preview", body, &d)
			var apiErr *APIError
			// Nothing fits: 422 with the decision, every cluster's reason in it.
			if errors.As(err, &apiErr) && len(apiErr.Details) > 0 && json.Unmarshal(apiErr.Details, &d) == nil && len(d.Candidates) > 0 {
				if a.format == formatTable {
					writeDecision(a.out, &d)
				}
				return err
			}
			if err != nil {
				return err
			}
			if a.format != formatTable {
				return encode(a.out, a.format, d)
			}
			fmt.Fprintf(a.out, "%s would go to %s (nothing stored, nothing reserved)\n\n", args[0], d.Cluster)
			return writeDecision(a.out, &d)
		}),
	}
	p.add(preview)
	return group(cmd, preview)
}

// writeDecision shows a placement decision as the demo does: the policy,
// the demand and the reason, then a row per cluster with its verdict.
func writeDecision(w io.Writer, d *scheduler.Decision) error {
	fmt.Fprintf(w, "Decision: policy %s, applied %s, demand %s CPU, %s memory in total\n", d.Policy, d.Applied, cpu(d.Total), memory(d.Total))
	if d.Fallback != "" {
		fmt.Fprintf(w, "Fallback: %s\n", d.Fallback)
	}
	fmt.Fprintf(w, "Reason:   %s\n", d.Reason)
	t := newTable("CLUSTER", "ROLE", "FREE CPU", "FREE MEMORY", "REPLICAS FIT", "TRAFFIC", "SCORE", "VERDICT")
	gathered := false
	for _, c := range d.Candidates {
		role := "edge"
		if c.Cloud {
			role = "cloud"
		}
		traffic := "-"
		if c.Traffic != nil && c.Traffic.Error == "" {
			traffic, gathered = rate(c.Traffic.BytesPerSecond), true
		} else if c.Traffic != nil {
			traffic = "? (" + c.Traffic.Error + ")"
		}
		score := "-"
		if c.Feasible {
			score = formatScore(c.Score)
		}
		t.add(c.Cluster, role, cpu(c.Free), memory(c.Free), fmt.Sprintf("%d (needs %d)", c.Fits, c.Needed), traffic, score, verdict(d, &c))
	}
	if err := t.write(w); err != nil {
		return err
	}
	if !gathered {
		fmt.Fprintln(w, "(TRAFFIC: only traffic-most reads it from Prometheus)")
	}
	return nil
}

func verdict(d *scheduler.Decision, c *scheduler.Candidate) string {
	switch {
	case d.ClusterID != "" && c.ClusterID == d.ClusterID:
		return "CHOSEN"
	case c.Feasible && c.Cloud:
		return "fits; the cloud is only a fallback when no edge fits"
	case c.Feasible:
		return "fits; lower score"
	}
	return "does not fit: " + c.Reason
}

func cpu(r scheduler.Resources) string {
	return resource.NewMilliQuantity(r.MilliCPU, resource.DecimalSI).String()
}

func memory(r scheduler.Resources) string {
	return resource.NewQuantity(r.Memory, resource.BinarySI).String()
}

// formatScore shows a score without exponents: traffic-most's are bytes per second.
func formatScore(f float64) string {
	if math.Abs(f) >= 1000 {
		return fmt.Sprintf("%.0f", f)
	}
	return fmt.Sprintf("%g", f)
}

// rate shows bytes per second as the demo does: 5.0 MB/s, 200 kB/s.
func rate(bps float64) string {
	switch {
	case bps >= 1e6:
		return fmt.Sprintf("%.1f MB/s", bps/1e6)
	case bps >= 1e3:
		return fmt.Sprintf("%.0f kB/s", bps/1e3)
	default:
		return fmt.Sprintf("%.0f B/s", bps)
	}
}
