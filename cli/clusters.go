package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// cluster is what the commands show of a cluster.
type cluster struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Description   string    `json:"description"`
	Cloud         bool      `json:"cloud"`
	Status        string    `json:"status"`
	StatusReason  string    `json:"statusReason,omitempty"`
	ServerVersion string    `json:"serverVersion,omitempty"`
	NodeCount     int       `json:"nodeCount"`
	PodCIDRs      []string  `json:"podCIDRs,omitempty"`
	OperationID   string    `json:"operationId,omitempty"`
	CreatedAt     time.Time `json:"createdAt"`
	Mesh          *struct {
		ID    int      `json:"id"`
		Peers []string `json:"peers"`
	} `json:"mesh,omitempty"`
}

func (c *cluster) role() string {
	if c.Cloud {
		return "cloud"
	}
	return "edge"
}

func (c *cluster) meshID() string {
	if c.Mesh == nil {
		return ""
	}
	return fmt.Sprint(c.Mesh.ID)
}

func (a *app) clusterCommand() *cobra.Command {
	return group(&cobra.Command{Use: "cluster", Short: "Join, list, inspect and remove Kubernetes clusters"},
		a.clusterJoin(), a.clusterList(), a.clusterGet(), a.clusterNodes(), a.clusterRemove())
}

// joinRequest is the body of POST /api/k8sclusters.
type joinRequest struct {
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Credentials string            `json:"credentials"`
	K8sVersion  string            `json:"k8s_version,omitempty"`
	Cloud       *bool             `json:"cloud,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
}

func (a *app) clusterJoin() *cobra.Command {
	var req joinRequest
	var kubeconfigFile string
	cmd := &cobra.Command{
		Use:   "join NAME --kubeconfig FILE",
		Short: "Join a cluster (the JoinCluster workflow) and wait until it is Enabled",
		Long: `Join a cluster with its kubeconfig, whose current context, cluster and user
are all named NAME and carry their certificates and token inline. The file is
read here and sent once; it is never printed. The first cluster joined is the
cloud cluster unless --cloud=false says otherwise.`,
		Example: `  smartorch cluster join edge-1 --kubeconfig edge-1.kubeconfig --labels zone=north,tier=edge`,
		Args:    exactArgs("NAME"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			if kubeconfigFile == "" {
				return usagef("--kubeconfig FILE is required")
			}
			data, err := os.ReadFile(kubeconfigFile)
			if err != nil {
				return fmt.Errorf("--kubeconfig: %w", err)
			}
			req.Name, req.Credentials = args[0], string(data)
			if f := cmd.Flags().Lookup("cloud"); f.Changed {
				cloud := f.Value.String() == "true"
				req.Cloud = &cloud
			}
			// labels are sent only when given: older servers refuse the field.
			if !cmd.Flags().Changed("labels") {
				req.Labels = nil
			}
			return a.operate(cmd.Context(), "POST", "/api/k8sclusters", req, a.clusterOutcome(args[0]))
		}),
	}
	cmd.Flags().StringVar(&kubeconfigFile, "kubeconfig", "", "the cluster's kubeconfig file (YAML or JSON)")
	cmd.Flags().Bool("cloud", false, "join it as the cloud cluster (default: the first cluster is)")
	cmd.Flags().StringToStringVar(&req.Labels, "labels", nil, "labels of the cluster, key=value,...")
	cmd.Flags().StringVar(&req.Description, "description", "", "a description")
	cmd.Flags().StringVar(&req.K8sVersion, "k8s-version", "", "the Kubernetes version you expect (a note is recorded when it differs)")
	return a.addWait(cmd)
}

// clusterOutcome reports a joined cluster; in Error it is a failure.
func (a *app) clusterOutcome(name string) func(context.Context) error {
	return func(ctx context.Context) error {
		c, err := a.getCluster(ctx, name)
		if err != nil {
			return err
		}
		if a.format != formatTable {
			return encode(a.out, a.format, c)
		}
		if c.Status != "Enabled" {
			return fmt.Errorf("cluster %s is %s: %s", c.Name, c.Status, c.StatusReason)
		}
		fmt.Fprintf(a.out, "cluster %s is Enabled: %s cluster, Kubernetes %s, %d node(s)", c.Name, c.role(), c.ServerVersion, c.NodeCount)
		if c.Mesh != nil {
			fmt.Fprintf(a.out, ", ClusterMesh id %d", c.Mesh.ID)
		}
		fmt.Fprintln(a.out)
		return nil
	}
}

func (a *app) getCluster(ctx context.Context, name string) (*cluster, error) {
	api, err := a.api()
	if err != nil {
		return nil, err
	}
	var c cluster
	return &c, api.Do(ctx, "GET", path("/api/k8sclusters", name), nil, &c)
}

func (a *app) clusterList() *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the clusters",
		Args:    exactArgs(),
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			api, err := a.api()
			if err != nil {
				return err
			}
			var list []cluster
			if err := api.Do(cmd.Context(), "GET", "/api/k8sclusters", nil, &list); err != nil {
				return err
			}
			if a.format != formatTable {
				return encode(a.out, a.format, list)
			}
			return clusterTable(list).write(a.out)
		}),
	}
}

func clusterTable(list []cluster) *table {
	t := newTable("NAME", "ROLE", "STATUS", "VERSION", "NODES", "MESH ID", "AGE")
	for _, c := range list {
		t.add(c.Name, c.role(), c.Status, c.ServerVersion, c.NodeCount, c.meshID(), age(c.CreatedAt))
	}
	return t
}

func (a *app) clusterGet() *cobra.Command {
	return &cobra.Command{
		Use:   "get NAME",
		Short: "Show a cluster",
		Args:  exactArgs("NAME"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			c, err := a.getCluster(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.format != formatTable {
				return encode(a.out, a.format, c)
			}
			if err := clusterTable([]cluster{*c}).write(a.out); err != nil {
				return err
			}
			if c.StatusReason != "" {
				fmt.Fprintf(a.out, "\nReason: %s\n", c.StatusReason)
			}
			if c.Mesh != nil && len(c.Mesh.Peers) > 0 {
				fmt.Fprintf(a.out, "Mesh peers: %s\n", strings.Join(c.Mesh.Peers, ", "))
			}
			return nil
		}),
	}
}

// node is GET /api/k8sclusters/node/:id.
type node struct {
	Name        string            `json:"name"`
	Ready       bool              `json:"ready"`
	Roles       []string          `json:"roles"`
	Labels      map[string]string `json:"labels"`
	Allocatable map[string]string `json:"allocatable"`
	Requested   map[string]string `json:"requested"`
	Pods        int               `json:"pods"`
}

func (a *app) clusterNodes() *cobra.Command {
	return &cobra.Command{
		Use:   "nodes NAME",
		Short: "List a cluster's nodes, read from its API server",
		Args:  exactArgs("NAME"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			api, err := a.api()
			if err != nil {
				return err
			}
			var nodes []map[string]any
			if err := api.Do(cmd.Context(), "GET", path("/api/k8sclusters/node", args[0]), nil, &nodes); err != nil {
				return err
			}
			if a.format != formatTable {
				return encode(a.out, a.format, nodes)
			}
			var list []node
			if err := remarshal(nodes, &list); err != nil {
				return err
			}
			t := newTable("NAME", "STATUS", "ROLES", "CPU", "MEMORY", "CPU REQUESTED", "MEMORY REQUESTED", "PODS")
			for _, n := range list {
				status := "NotReady"
				if n.Ready {
					status = "Ready"
				}
				t.add(n.Name, status, strings.Join(n.Roles, ","), n.Allocatable["cpu"], n.Allocatable["memory"],
					n.Requested["cpu"], n.Requested["memory"], n.Pods)
			}
			return t.write(a.out)
		}),
	}
}

func (a *app) clusterRemove() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm NAME",
		Aliases: []string{"remove"},
		Short:   "Remove a cluster (the RemoveCluster workflow)",
		Args:    exactArgs("NAME"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			p := path("/api/k8sclusters", args[0])
			if force {
				p += "?force=true"
			}
			return a.operate(cmd.Context(), "DELETE", p, nil, func(ctx context.Context) error {
				c, err := a.getCluster(ctx, args[0])
				switch {
				case NotFound(err):
					fmt.Fprintf(a.progressWriter(), "cluster %s removed\n", args[0])
					return nil
				case err != nil:
					return err
				}
				return fmt.Errorf("cluster %s is still there, %s: %s", c.Name, c.Status, c.StatusReason)
			})
		}),
	}
	cmd.Flags().BoolVar(&force, "force", false, "uninstall the enablers on it first (their records stay, Terminated)")
	return a.addWait(cmd)
}
