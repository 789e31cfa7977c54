package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

type repo struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Description   string    `json:"description"`
	URL           string    `json:"url"`
	Type          string    `json:"type"`
	Authenticated bool      `json:"authenticated"`
	CreatedAt     time.Time `json:"createdAt"`
	Charts        []chart   `json:"charts,omitempty"`
}

type chart struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Versions    []string `json:"versions"`
}

func (a *app) repoCommand() *cobra.Command {
	return group(&cobra.Command{Use: "repo", Short: "Add, list and remove Helm chart repositories"},
		a.repoAdd(), a.repoList(), a.repoCharts(), a.repoRemove())
}

func (a *app) repoAdd() *cobra.Command {
	var description, username string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "add NAME URL",
		Short: "Add a chart repository (an http(s) index or an oci:// registry); it is checked first",
		Example: `  smartorch repo add bitnami https://charts.bitnami.com/bitnami
  echo "$PASSWORD" | smartorch repo add private https://charts.example.com --username me --password-stdin`,
		Args: exactArgs("NAME", "URL"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			body := map[string]any{"name": args[0], "url": args[1], "description": description}
			if username != "" {
				if !passwordStdin {
					return usagef("--username needs --password-stdin (the password is never a flag)")
				}
				password, err := a.readPassword(true)
				if err != nil {
					return err
				}
				body["auth"] = map[string]string{"username": username, "password": password}
			}
			api, err := a.api()
			if err != nil {
				return err
			}
			var r repo
			if err := api.Do(cmd.Context(), "POST", "/api/chartrepo", body, &r); err != nil {
				return err
			}
			if a.format != formatTable {
				return encode(a.out, a.format, r)
			}
			fmt.Fprintf(a.out, "repository %s added: %d chart(s)\n", r.Name, len(r.Charts))
			return nil
		}),
	}
	cmd.Flags().StringVar(&description, "description", "", "a description")
	cmd.Flags().StringVar(&username, "username", "", "user name of a private repository (with --password-stdin)")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the repository password from standard input")
	return cmd
}

func (a *app) repos(ctx context.Context) ([]repo, error) {
	api, err := a.api()
	if err != nil {
		return nil, err
	}
	var list []repo
	return list, api.Do(ctx, "GET", "/api/chartrepo", nil, &list)
}

// repoByName finds a repository; the API addresses them by id.
func (a *app) repoByName(ctx context.Context, name string) (*repo, error) {
	list, err := a.repos(ctx)
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i].Name == name || list[i].ID == name {
			return &list[i], nil
		}
	}
	return nil, fmt.Errorf("chart repository %q not found", name)
}

func (a *app) repoList() *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the chart repositories",
		Args:    exactArgs(),
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			list, err := a.repos(cmd.Context())
			if err != nil {
				return err
			}
			if a.format != formatTable {
				return encode(a.out, a.format, list)
			}
			t := newTable("NAME", "URL", "TYPE", "AUTH", "AGE")
			for _, r := range list {
				auth := "none"
				if r.Authenticated {
					auth = "password"
				}
				t.add(r.Name, r.URL, r.Type, auth, age(r.CreatedAt))
			}
			return t.write(a.out)
		}),
	}
}

func (a *app) repoCharts() *cobra.Command {
	return &cobra.Command{
		Use:   "charts NAME",
		Short: "List a repository's charts and their versions, newest first",
		Args:  exactArgs("NAME"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			r, err := a.repoByName(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			api, _ := a.api()
			var charts []chart
			if err := api.Do(cmd.Context(), "GET", path("/api/chartrepo", r.ID, "charts"), nil, &charts); err != nil {
				return err
			}
			if a.format != formatTable {
				return encode(a.out, a.format, charts)
			}
			t := newTable("CHART", "LATEST", "VERSIONS", "DESCRIPTION")
			for _, c := range charts {
				latest := ""
				if len(c.Versions) > 0 {
					latest = c.Versions[0]
				}
				t.add(r.Name+"/"+c.Name, latest, strings.Join(c.Versions, ","), c.Description)
			}
			return t.write(a.out)
		}),
	}
}

func (a *app) repoRemove() *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME",
		Aliases: []string{"remove"},
		Short:   "Remove a chart repository",
		Args:    exactArgs("NAME"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			r, err := a.repoByName(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			api, _ := a.api()
			if err := api.Do(cmd.Context(), "DELETE", path("/api/chartrepo", r.ID), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(a.progressWriter(), "repository %s removed\n", r.Name)
			return nil
		}),
	}
}

// remarshal converts v to out through JSON.
func remarshal(v, out any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, out)
}
