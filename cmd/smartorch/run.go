package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/smartorch/smartorch/apiserver"
	"github.com/smartorch/smartorch/auth"
	"github.com/smartorch/smartorch/chartrepo"
	"github.com/smartorch/smartorch/placement"
	"github.com/smartorch/smartorch/store"
	"github.com/smartorch/smartorch/worker"
)

// services are the connections the API and the worker share.
type services struct {
	cfg      *config
	logger   *slog.Logger
	key      []byte
	store    *store.Store
	temporal client.Client
}

func connect(ctx context.Context, cfg *config, logger *slog.Logger, key []byte) (*services, error) {
	cipher, err := store.NewCipher(key)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, cfg.mongoURI, cfg.mongoDatabase, cipher)
	if err != nil {
		return nil, err
	}
	tc, err := client.DialContext(ctx, client.Options{
		HostPort:  cfg.temporalAddress,
		Namespace: cfg.temporalNamespace,
		Logger:    sdklog.NewStructuredLogger(logger.With("component", "temporal-client")),
	})
	if err != nil {
		_ = st.Close(context.Background())
		return nil, fmt.Errorf("temporal at %s: %w", cfg.temporalAddress, err)
	}
	return &services{cfg: cfg, logger: logger, key: key, store: st, temporal: tc}, nil
}

func (s *services) close() {
	s.temporal.Close()
	_ = s.store.Close(context.Background())
}

// startAPI listens and serves until stop is called. adminPassword, when not
// empty, is the generated password of a newly created admin user.
func (s *services) startAPI(generate func() string) (adminPassword string, stop func(), err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	users := auth.NewUsers(s.store)
	adminPassword, err = users.EnsureAdmin(ctx, s.cfg.adminPassword, generate)
	if err != nil {
		return "", nil, err
	}
	tokens, err := auth.NewTokens(s.key, s.cfg.tokenTTL)
	if err != nil {
		return "", nil, err
	}
	app := apiserver.New(apiserver.Config{
		Store:      s.store,
		Tokens:     tokens,
		Users:      users,
		Charts:     chartrepo.Checker{},
		Temporal:   s.temporal,
		TaskQueue:  s.cfg.taskQueue,
		TemporalUI: s.cfg.temporalUINamespaceURL(),
		Prometheus: s.cfg.prometheusURL,
		Planner:    s.planner(),
		Ready: map[string]func(context.Context) error{
			"store": s.store.Ping,
			"temporal": func(ctx context.Context) error {
				_, err := s.temporal.CheckHealth(ctx, &client.CheckHealthRequest{})
				return err
			},
		},
		Logger: s.logger,
	})
	ln, err := net.Listen("tcp", s.cfg.listen)
	if err != nil {
		return "", nil, fmt.Errorf("api: %w", err)
	}
	go func() {
		if err := app.Listener(ln); err != nil {
			s.logger.Error("api stopped", "err", err)
		}
	}()
	s.logger.Info("api listening", "address", ln.Addr().String())
	return adminPassword, func() { _ = app.ShutdownWithTimeout(10 * time.Second) }, nil
}

func (s *services) startWorker() (stop func(), err error) {
	w := worker.New(s.temporal, worker.Options{
		TaskQueue:  s.cfg.taskQueue,
		Store:      s.store,
		MetricsDir: s.cfg.metricsDir,
		Planner:    s.planner(),
		Health:     s.cfg.health,
		Logger:     s.logger,
	})
	if err := w.Start(); err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	s.logger.Info("worker polling", "taskQueue", s.cfg.taskQueue, "namespace", s.cfg.temporalNamespace)
	return w.Stop, nil
}

func runAPI(ctx context.Context, cfg *config) error {
	return serve(ctx, cfg, func(s *services) (func(), error) {
		_, stop, err := s.startAPI(nil)
		return stop, err
	})
}

func runWorker(ctx context.Context, cfg *config) error {
	return serve(ctx, cfg, (*services).startWorker)
}

// serve connects to the configured store and Temporal, starts one part and
// runs it until ctx is done (SIGINT or SIGTERM).
func serve(ctx context.Context, cfg *config, start func(*services) (stop func(), err error)) error {
	key, err := cfg.cipherKey()
	if err != nil {
		return err
	}
	svc, err := connect(ctx, cfg, cfg.logger(), key)
	if err != nil {
		return err
	}
	defer svc.close()
	stop, err := start(svc)
	if err != nil {
		return err
	}
	<-ctx.Done()
	stop()
	return nil
}

func (s *services) planner() *placement.Planner {
	return &placement.Planner{
		Store:      s.store,
		Charts:     &chartrepo.Charts{CacheDir: filepath.Join(s.cfg.cacheDir, "charts"), Logger: s.logger},
		Prometheus: s.cfg.prometheusURL,
		Logger:     s.logger,
	}
}

// temporalUINamespaceURL is the Temporal UI page of the namespace, or "".
func (c *config) temporalUINamespaceURL() string {
	if c.temporalUIURL == "" {
		return ""
	}
	return strings.TrimSuffix(c.temporalUIURL, "/") + "/namespaces/" + url.PathEscape(c.temporalNamespace)
}
