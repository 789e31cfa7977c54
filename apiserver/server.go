// Package apiserver is the REST API: routes, authentication, validation and
// one JSON error shape. It persists intent and starts workflows; it reads
// clusters for views, and changes them only through workflows.
package apiserver

import (
	"context"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"
	"go.temporal.io/sdk/client"

	"github.com/smartorch/smartorch/auth"
	"github.com/smartorch/smartorch/chartrepo"
	"github.com/smartorch/smartorch/console"
	"github.com/smartorch/smartorch/placement"
	"github.com/smartorch/smartorch/store"
	"github.com/smartorch/smartorch/workflows"
)

// Config holds what the API needs.
type Config struct {
	Store  *store.Store
	Tokens *auth.Tokens
	Users  *auth.Users
	Charts chartrepo.Checker
	// Temporal starts, queries and signals the workflows on TaskQueue.
	Temporal  client.Client
	TaskQueue string
	// TemporalUI is the Temporal Web UI's namespace URL (…/namespaces/default),
	// for links to workflows; empty when unknown.
	TemporalUI string
	// Planner previews placements.
	Planner *placement.Planner
	// Prometheus is the central Prometheus URL; empty means none.
	Prometheus string
	// Ready are the dependencies /readyz checks, by name.
	Ready  map[string]func(context.Context) error
	Logger *slog.Logger
	// BodyLimit bounds request bodies, in bytes.
	BodyLimit int
	// LoginAttempts is how many failed logins a user may make from one
	// address per LoginWindow (and ten times that from one address).
	LoginAttempts int
	LoginWindow   time.Duration
	// Interrupt, for tests only, is asked between the two writes of a
	// request (its record and its workflow, in either order), with the
	// operation's id: true stops the request there, as if the API had
	// been killed.
	Interrupt func(operationID string) bool
	// RepairEvery is how often records left without their operation are
	// looked for (see repair.go), RepairAfter how long such a record must
	// have been untouched: longer than any request takes.
	RepairEvery time.Duration
	RepairAfter time.Duration
}

type server struct {
	Config
	charts   *chartCache
	health   *healthCache
	enablers *enablerList
}

// New builds the Fiber app.
func New(cfg Config) *fiber.App {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BodyLimit == 0 {
		cfg.BodyLimit = 1 << 20
	}
	if cfg.LoginAttempts == 0 {
		cfg.LoginAttempts = 5
	}
	if cfg.LoginWindow == 0 {
		cfg.LoginWindow = time.Minute
	}
	if cfg.RepairEvery == 0 {
		cfg.RepairEvery = time.Minute
	}
	if cfg.RepairAfter == 0 {
		cfg.RepairAfter = 2 * time.Minute
	}
	s := &server{Config: cfg, charts: newChartCache(time.Minute), health: newHealthCache(10 * time.Second)}
	s.enablers = &enablerList{store: cfg.Store, maxAge: 5 * time.Minute}

	app := fiber.New(fiber.Config{
		AppName:               "smartorch",
		BodyLimit:             cfg.BodyLimit,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          60 * time.Second,
		IdleTimeout:           2 * time.Minute,
		ErrorHandler:          errorHandler(cfg.Logger),
		DisableStartupMessage: true,
	})
	metrics := newMetrics()
	metrics.registry.MustRegister(newProbeCollector(cfg.Store))
	app.Use(requestid.New(), metrics.middleware, logRequests(cfg.Logger), recover.New())

	app.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	app.Get("/readyz", s.ready)
	app.Get("/metrics", metrics.handler())
	app.Get("/api/openapi.json", s.openAPI)
	console.Mount(app)

	api := app.Group("/api")
	api.Post("/login/tokens", append(s.loginLimiters(), renderErrors(s.login))...)

	api.Use(s.authenticate)
	api.Get("/chartrepo", s.listRepos)
	api.Post("/chartrepo", s.addRepo)
	api.Get("/chartrepo/:id", s.getRepo)
	api.Get("/chartrepo/:id/charts", s.repoCharts)
	api.Delete("/chartrepo/:id", s.deleteRepo)

	api.Get("/k8sclusters", s.listClusters)
	api.Post("/k8sclusters", s.addCluster)
	api.Get("/k8sclusters/node/:clusterid", s.clusterNodes)
	api.Get("/k8sclusters/:id", s.getCluster)
	api.Delete("/k8sclusters/:id", s.removeCluster)
	api.Patch("/k8sclusters/:id", s.patchCluster)
	api.Post("/k8sclusters/:id/check", s.checkCluster)
	api.Post("/k8sclusters/:id/cordon", s.cordonCluster)
	api.Post("/k8sclusters/:id/uncordon", s.uncordonCluster)
	api.Post("/k8sclusters/:id/drain", s.drainCluster)

	api.Get("/enabler/instanced", s.listEnablers)
	api.Post("/enabler", s.addEnabler)
	api.Get("/enabler/enabler_cluster/:id", s.clusterEnablers)
	api.Delete("/enabler/pv/:id", s.cleanupVolumes)
	api.Get("/enabler/:id", s.getEnabler)
	api.Delete("/enabler/:id", s.deleteEnabler)
	api.Post("/enabler/:id/terminate", s.terminateEnabler)
	api.Post("/enabler/:id/instantiate", s.instantiateAgain)
	api.Post("/enabler/:id/upgrade", s.upgradeEnabler)
	api.Post("/enabler/:id/rollback", s.rollbackEnabler)
	api.Get("/enabler/:id/history", s.enablerHistory)
	api.Post("/placement/preview", s.preview)

	api.Get("/operations/:id", s.getOperation)
	api.Post("/operations/:id/retry", s.signalOperation(workflows.SignalRetry))
	api.Post("/operations/:id/abort", s.signalOperation(workflows.SignalAbort))

	s.v4Routes(app)
	if cfg.Store != nil && cfg.Temporal != nil {
		ctx, stop := context.WithCancel(context.Background())
		go s.repairLoop(ctx)
		app.Hooks().OnShutdown(func() error { stop(); return nil })
	}
	return app
}

// requestContext bounds the work a request does against the store and other
// services.
func requestContext(c *fiber.Ctx) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.UserContext(), 30*time.Second)
}

func (s *server) ready(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 5*time.Second)
	defer cancel()
	status, failed := fiber.Map{}, false
	for name, check := range s.Ready {
		if err := check(ctx); err != nil {
			status[name], failed = err.Error(), true
		} else {
			status[name] = "ok"
		}
	}
	if failed {
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "checks": status})
	}
	return c.JSON(fiber.Map{"status": "ok", "checks": status})
}
