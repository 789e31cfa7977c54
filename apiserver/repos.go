package apiserver

import (
	"errors"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/smartorch/smartorch/chartrepo"
	"github.com/smartorch/smartorch/store"
)

type repoRequest struct {
	Name        string    `json:"name" validate:"required,dns1123label"`
	Description string    `json:"description" validate:"max=1024"`
	URL         string    `json:"url" validate:"required,max=2048"`
	Auth        *repoAuth `json:"auth"`
}

type repoAuth struct {
	Username string `json:"username" validate:"required,max=256"`
	Password string `json:"password" validate:"required,max=4096"`
}

// repoView is a repository as the API shows it: never its password.
type repoView struct {
	*store.Repo
	Authenticated bool              `json:"authenticated"`
	Charts        []chartrepo.Chart `json:"charts,omitempty"`
}

func viewRepo(r *store.Repo) repoView {
	return repoView{Repo: r, Authenticated: r.Username != ""}
}

func (s *server) addRepo(c *fiber.Ctx) error {
	var req repoRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	if err := chartrepo.ValidateURL(req.URL); err != nil {
		return apiError(fiber.StatusBadRequest, "%v", err)
	}
	ctx, cancel := requestContext(c)
	defer cancel()
	if n, err := s.Store.Repos.Count(ctx, store.ByName(req.Name)); err != nil {
		return err
	} else if n > 0 {
		return apiError(fiber.StatusConflict, "a chart repository named %q already exists", req.Name)
	}

	repo := &store.Repo{Name: req.Name, Description: req.Description, URL: req.URL, Kind: store.RepoHTTP}
	if chartrepo.IsOCI(req.URL) {
		repo.Kind = store.RepoOCI
	}
	if req.Auth != nil {
		repo.Username, repo.Password = req.Auth.Username, req.Auth.Password
	}
	charts, err := s.Charts.Charts(ctx, chartrepo.Repository{Name: repo.Name, URL: repo.URL, Username: repo.Username, Password: repo.Password})
	if errors.Is(err, chartrepo.ErrUnusable) {
		return apiError(fiber.StatusUnprocessableEntity, "%v", err)
	}
	if err != nil {
		return err
	}
	if err := s.Store.Repos.Insert(ctx, repo); errors.Is(err, store.ErrDuplicate) {
		return apiError(fiber.StatusConflict, "a chart repository named %q already exists", req.Name)
	} else if err != nil {
		return err
	}
	s.charts.put(repo, charts)
	view := viewRepo(repo)
	view.Charts = charts
	return c.Status(fiber.StatusCreated).JSON(view)
}

func (s *server) listRepos(c *fiber.Ctx) error {
	ctx, cancel := requestContext(c)
	defer cancel()
	repos, err := s.Store.Repos.Find(ctx, nil)
	if err != nil {
		return err
	}
	views := make([]repoView, len(repos))
	for i := range repos {
		views[i] = viewRepo(&repos[i])
	}
	return c.JSON(views)
}

func (s *server) getRepo(c *fiber.Ctx) error {
	repo, err := s.repo(c)
	if err != nil {
		return err
	}
	return c.JSON(viewRepo(repo))
}

func (s *server) repoCharts(c *fiber.Ctx) error {
	repo, err := s.repo(c)
	if err != nil {
		return err
	}
	charts, ok := s.charts.get(repo)
	if !ok {
		ctx, cancel := requestContext(c)
		defer cancel()
		charts, err = s.Charts.Charts(ctx, chartrepo.Repository{Name: repo.Name, URL: repo.URL, Username: repo.Username, Password: repo.Password})
		if errors.Is(err, chartrepo.ErrUnusable) {
			// The repository worked when it was added; it is the upstream that fails now.
			return apiError(fiber.StatusBadGateway, "%v", err)
		}
		if err != nil {
			return err
		}
		s.charts.put(repo, charts)
	}
	if charts == nil {
		charts = []chartrepo.Chart{}
	}
	return c.JSON(charts)
}

func (s *server) deleteRepo(c *fiber.Ctx) error {
	repo, err := s.repo(c)
	if err != nil {
		return err
	}
	ctx, cancel := requestContext(c)
	defer cancel()
	if err := s.Store.Repos.Delete(ctx, repo.ID); err != nil {
		return err
	}
	s.charts.drop(repo.ID)
	return c.JSON(viewRepo(repo))
}

func (s *server) repo(c *fiber.Ctx) (*store.Repo, error) {
	ctx, cancel := requestContext(c)
	defer cancel()
	repo, err := s.Store.Repos.Get(ctx, c.Params("id"))
	if errors.Is(err, store.ErrNotFound) {
		return nil, apiError(fiber.StatusNotFound, "chart repository %q not found", c.Params("id"))
	}
	return repo, err
}

// chartCache keeps each repository's chart list briefly, so listing charts
// does not download the index on every request.
type chartCache struct {
	ttl     time.Duration
	mu      sync.Mutex
	entries map[string]chartEntry
}

type chartEntry struct {
	revision int64
	charts   []chartrepo.Chart
	fetched  time.Time
}

func newChartCache(ttl time.Duration) *chartCache {
	return &chartCache{ttl: ttl, entries: map[string]chartEntry{}}
}

func (cc *chartCache) get(r *store.Repo) ([]chartrepo.Chart, bool) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	e, ok := cc.entries[r.ID]
	if !ok || e.revision != r.Revision || time.Since(e.fetched) > cc.ttl {
		return nil, false
	}
	return e.charts, true
}

func (cc *chartCache) put(r *store.Repo, charts []chartrepo.Chart) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.entries[r.ID] = chartEntry{revision: r.Revision, charts: charts, fetched: time.Now()}
}

func (cc *chartCache) drop(id string) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	delete(cc.entries, id)
}
