package apiserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/smartorch/smartorch/chartrepo"
	"github.com/smartorch/smartorch/store"
)

// The original 4.0.0 API, which its dashboard calls: the same paths,
// payload and response field names, served by the handlers of the /api
// routes behind the same authentication. Each route adapts the request
// (field names, headers) and renames the answer's fields; it never
// returns credentials or passwords (the original did).
func (s *server) v4Routes(app *fiber.App) {
	auth := s.authenticate
	app.Get("/clusters", auth, v4(s.listClusters, nil, v4Cluster))
	app.Post("/clusters", auth, v4(s.addCluster, nil, v4Accepted("cluster", v4Cluster)))
	app.Get("/clusters/cloud/find", auth, v4(s.cloudCluster, nil, v4Cluster))
	app.Get("/clusters/node/:clusterid", auth, s.clusterNodes)
	app.Get("/clusters/:id", auth, v4(s.getCluster, nil, v4Cluster))
	app.Delete("/clusters/:id", auth, v4(s.removeCluster, forceHeader, v4Accepted("cluster", v4Cluster)))

	app.Get("/repos", auth, v4(s.listRepos, nil, v4Repo))
	app.Get("/repos/charts/:id", auth, v4(s.repoCharts, nil, v4Chart))
	app.Post("/repos/public", auth, v4(s.addRepo, repoKind(false), v4Repo))
	app.Post("/repos/private", auth, v4(s.addRepo, repoKind(true), v4Repo))
	app.Post("/repos/update", auth, s.updateRepos)
	app.Delete("/repos/:id", auth, v4(s.deleteRepo, nil, v4Repo))

	app.Get("/enabler", auth, v4(s.listEnablers, allEnablers, v4Enabler))
	app.Get("/enabler/cluster/:id", auth, v4(s.clusterEnablers, nil, v4Enabler))
	app.Post("/enabler", auth, v4(s.addEnabler, v4EnablerBody, v4Accepted("enabler", v4Enabler)))
	app.Post("/enabler/upgrade/:id", auth, v4(s.upgradeEnabler, v4UpgradeBody, v4Accepted("enabler", v4Enabler)))
	app.Delete("/enabler/volumes/:id", auth, v4(s.cleanupVolumes, nil, v4Accepted("enabler", v4Enabler)))
	app.Delete("/enabler/:id", auth, v4(s.deleteEnabler, nil, v4Accepted("enabler", v4Enabler)))
}

// v4 runs the /api handler h between the request adapter in (none: nil)
// and rename, which renames the fields of h's JSON answer: of the object,
// or of each object of an array. Success is 200, as in the original;
// errors keep the one error shape, a superset of the original's
// {code, message}.
func v4(h fiber.Handler, in func(*fiber.Ctx) error, rename func(map[string]any)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if in != nil {
			if err := in(c); err != nil {
				return err
			}
		}
		if err := h(c); err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(c.Response().Body()))
		dec.UseNumber()
		var answer any
		if err := dec.Decode(&answer); err != nil {
			return err
		}
		renameAll(answer, rename)
		return c.Status(fiber.StatusOK).JSON(answer)
	}
}

// renameAll applies rename to v, an object, or to each object of v, an array.
func renameAll(v any, rename func(map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		rename(v)
	case []any:
		for _, item := range v {
			if obj, ok := item.(map[string]any); ok {
				rename(obj)
			}
		}
	}
}

// move renames a field, if it is there.
func move(m map[string]any, from, to string) {
	if v, ok := m[from]; ok {
		delete(m, from)
		m[to] = v
	}
}

// v4Accepted flattens a 202 answer {operationId, <key>: resource} into the
// resource with its operationId: the original answered {uid} when the
// work was done; here the operation goes on (GET /api/operations/:id).
func v4Accepted(key string, rename func(map[string]any)) func(map[string]any) {
	return func(m map[string]any) {
		resource, _ := m[key].(map[string]any)
		delete(m, key)
		for k, v := range resource {
			m[k] = v
		}
		rename(m)
	}
}

// v4Cluster: uid is the id (the original's credentials are never answered).
func v4Cluster(m map[string]any) { move(m, "id", "uid") }

// v4Repo: uid, and type public or private; how it is reached (http or oci)
// moves to kind.
func v4Repo(m map[string]any) {
	move(m, "id", "uid")
	move(m, "type", "kind")
	m["type"] = "public"
	if m["authenticated"] == true {
		m["type"] = "private"
	}
	// A repository is stored only once it answered.
	m["status"] = store.StatusEnabled
	if charts, ok := m["charts"].([]any); ok {
		v4Chart(map[string]any{"": charts})
	}
}

func v4Chart(m map[string]any) { move(m, "name", "Name") }

// v4Enabler: uid; cluster is the cluster's uid (its name moves to
// clusterName); values are the Helm values; description the status
// reason; version "latest" when none was asked for.
func v4Enabler(m map[string]any) {
	move(m, "id", "uid")
	move(m, "cluster", "clusterName")
	move(m, "clusterId", "cluster")
	move(m, "additionalParams", "values")
	move(m, "placementPolicy", "placement_policy")
	m["description"] = m["statusReason"]
	if m["description"] == nil {
		m["description"] = ""
	}
	// The original stored "latest" when no version was asked for.
	if m["version"] == nil {
		m["version"] = "latest"
	}
}

// forceHeader maps the original's Force header onto ?force: "true" removes
// the cluster after uninstalling its enablers. Without it a cluster that
// runs enablers is refused (the original dropped their records and left
// their releases running).
func forceHeader(c *fiber.Ctx) error {
	if strings.EqualFold(strings.TrimSpace(c.Get("Force")), "true") {
		c.Request().URI().QueryArgs().Set("force", "true")
	}
	return nil
}

// repoKind checks that a public repository comes without credentials and a
// private one with them; the body is otherwise the /api one.
func repoKind(private bool) func(*fiber.Ctx) error {
	return func(c *fiber.Ctx) error {
		var body map[string]json.RawMessage
		if json.Unmarshal(c.Body(), &body) != nil {
			return nil // the handler names what is wrong with it
		}
		_, auth := body["auth"]
		switch {
		case private && !auth:
			return apiError(fiber.StatusBadRequest, "auth is required: a private repository needs {username, password}")
		case !private && auth:
			return apiError(fiber.StatusBadRequest, "auth: a public repository takes no credentials (POST /repos/private does)")
		}
		return nil
	}
}

// allEnablers: the original listed every enabler at once; this is the
// largest page (the Link header names the next one).
func allEnablers(c *fiber.Ctx) error {
	if c.Query("limit") == "" {
		c.Request().URI().QueryArgs().Set("limit", "1000")
	}
	return nil
}

// v4EnablerRequest is the original's POST /enabler body.
type v4EnablerRequest struct {
	Name      string         `json:"name" validate:"required,max=53,dns1123label"`
	HelmChart string         `json:"helmChart" validate:"required,max=512"`
	Values    map[string]any `json:"values"`
	// Cluster is the target cluster's uid (or name); ignored with auto, as
	// in the original.
	Cluster              string      `json:"cluster" validate:"max=253"`
	Auto                 *flexBool   `json:"auto"`
	PlacementPolicySnake string      `json:"placement_policy" validate:"max=64"`
	PlacementPolicy      string      `json:"placementPolicy" validate:"max=64"`
	Version              string      `json:"version" validate:"max=128"`
	Timeout              flexSeconds `json:"timeout" validate:"min=0,max=3600"`
}

// v4EnablerBody rewrites the original's body as the /api one.
func v4EnablerBody(c *fiber.Ctx) error {
	var req v4EnablerRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	auto := req.Auto != nil && bool(*req.Auto)
	if !auto && req.Cluster == "" {
		return apiError(fiber.StatusBadRequest, "cluster (the target cluster's uid) is required unless auto is true")
	}
	body := enablerRequest{
		EnablerName: req.Name, HelmChart: req.HelmChart, AdditionalParams: req.Values, Version: req.Version, Timeout: req.Timeout,
		placementRequest: placementRequest{Auto: req.Auto, PlacementPolicy: req.PlacementPolicy, PlacementPolicySnake: req.PlacementPolicySnake},
	}
	if !auto {
		body.Vim = req.Cluster
	}
	return setBody(c, body)
}

// v4UpgradeRequest is the original's POST /enabler/upgrade/:id body.
type v4UpgradeRequest struct {
	// Values replace the previous ones, as in the original.
	Values  map[string]any `json:"values"`
	Version string         `json:"version" validate:"max=128"`
	// Timeout is accepted and not used: the enabler's own timeout applies.
	Timeout flexSeconds `json:"timeout" validate:"min=0,max=3600"`
}

func v4UpgradeBody(c *fiber.Ctx) error {
	var req v4UpgradeRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	return setBody(c, upgradeRequest{AdditionalParams: req.Values, Version: req.Version})
}

func setBody(c *fiber.Ctx, body any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	c.Request().SetBody(data)
	return nil
}

// cloudCluster answers the cloud cluster.
func (s *server) cloudCluster(c *fiber.Ctx) error {
	ctx, cancel := requestContext(c)
	defer cancel()
	cluster, err := s.Store.Clusters.FindOne(ctx, store.CloudCluster())
	if errors.Is(err, store.ErrNotFound) {
		return apiError(fiber.StatusNotFound, "there is no cloud cluster")
	}
	if err != nil {
		return err
	}
	return c.JSON(cluster)
}

// updateRepos reads every repository's chart list again, as the
// original's POST /repos/update downloaded every index.
func (s *server) updateRepos(c *fiber.Ctx) error {
	ctx, cancel := requestContext(c)
	defer cancel()
	repos, err := s.Store.Repos.Find(ctx, nil)
	if err != nil {
		return err
	}
	var failed []string
	for i := range repos {
		r := &repos[i]
		charts, err := s.Charts.Charts(ctx, chartrepo.Repository{Name: r.Name, URL: r.URL, Username: r.Username, Password: r.Password})
		if err != nil {
			s.Logger.Warn("repository update failed", "requestId", requestID(c), "repo", r.Name, "err", err)
			failed = append(failed, r.Name)
			continue
		}
		s.charts.put(r, charts)
	}
	if len(failed) > 0 {
		return apiError(fiber.StatusBadGateway, "error updating the repositories [%s]", strings.Join(failed, ", "))
	}
	return c.JSON(fiber.Map{"message": "Update Completed"})
}
