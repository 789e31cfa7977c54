package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/smartorch/smartorch/activities"
	"github.com/smartorch/smartorch/store"
)

// config is read from flags, each defaulting to an environment variable.
// Secrets come from the environment only, never from flags (visible in ps).
type config struct {
	dataDir           string
	listen            string
	mongoURI          string
	mongoDatabase     string
	temporalAddress   string
	temporalNamespace string
	taskQueue         string
	temporalPort      int
	uiPort            int
	temporalUIURL     string
	metricsDir        string
	prometheusURL     string
	cacheDir          string
	tokenTTL          time.Duration
	health            activities.HealthSettings
	logFormat         string
	logLevel          string
	secretKey         string
	adminPassword     string
}

func withConfig(cmd string, args []string, run func(*config) error) error {
	cfg, err := parseConfig(cmd, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	return run(cfg)
}

func parseConfig(cmd string, args []string) (*config, error) {
	c := &config{secretKey: os.Getenv("SMARTORCH_SECRET_KEY"), adminPassword: os.Getenv("SMARTORCH_ADMIN_PASSWORD")}
	fs := flag.NewFlagSet("smartorch "+cmd, flag.ContinueOnError)
	str := func(p *string, name, env, def, help string) {
		fs.StringVar(p, name, envOr(env, def), fmt.Sprintf("%s (env %s)", help, env))
	}
	num := func(p *int, name, env string, def int, help string) {
		d := def
		if v, err := strconv.Atoi(os.Getenv(env)); err == nil {
			d = v
		}
		fs.IntVar(p, name, d, fmt.Sprintf("%s (env %s)", help, env))
	}
	str(&c.listen, "listen", "SMARTORCH_LISTEN", ":8080", "API address")
	str(&c.mongoURI, "mongo-uri", "SMARTORCH_MONGO_URI", "", "MongoDB URI"+devHint(cmd, "an embedded FerretDB when empty"))
	str(&c.mongoDatabase, "mongo-database", "SMARTORCH_MONGO_DATABASE", "smartorch", "database name")
	str(&c.temporalAddress, "temporal-address", "SMARTORCH_TEMPORAL_ADDRESS", "", "Temporal frontend host:port"+devHint(cmd, "an embedded server when empty"))
	str(&c.temporalNamespace, "temporal-namespace", "SMARTORCH_TEMPORAL_NAMESPACE", "default", "Temporal namespace")
	str(&c.taskQueue, "task-queue", "SMARTORCH_TASK_QUEUE", "smartorch", "Temporal task queue")
	str(&c.temporalUIURL, "temporal-ui-url", "SMARTORCH_TEMPORAL_UI_URL", "", "Temporal Web UI URL to show users")
	str(&c.metricsDir, "metrics-dir", "SMARTORCH_METRICS_DIR", "", "file_sd directory of the central Prometheus, where joined clusters are registered"+devHint(cmd, "<data-dir>/prometheus when empty"))
	str(&c.prometheusURL, "prometheus-url", "SMARTORCH_PROMETHEUS_URL", "", "central Prometheus URL, for traffic-aware placement and node usage; empty means none")
	str(&c.cacheDir, "cache-dir", "SMARTORCH_CACHE_DIR", defaultCacheDir(), "directory for downloaded charts")
	str(&c.logFormat, "log-format", "SMARTORCH_LOG_FORMAT", "text", "log format: text or json")
	str(&c.logLevel, "log-level", "SMARTORCH_LOG_LEVEL", "info", "log level: debug, info, warn, error")
	fs.DurationVar(&c.tokenTTL, "token-ttl", envDuration("SMARTORCH_TOKEN_TTL", 12*time.Hour), "how long login tokens last (env SMARTORCH_TOKEN_TTL)")
	d := activities.DefaultHealthSettings
	fs.DurationVar(&c.health.Interval, "health-interval", envDuration("SMARTORCH_HEALTH_INTERVAL", d.Interval), "time between probes of a cluster hosting an enabler with failover (env SMARTORCH_HEALTH_INTERVAL)")
	fs.DurationVar(&c.health.UnreachableAfter, "health-unreachable-after", envDuration("SMARTORCH_HEALTH_UNREACHABLE_AFTER", d.UnreachableAfter), "how long probes fail before a cluster is Unreachable (env SMARTORCH_HEALTH_UNREACHABLE_AFTER)")
	fs.DurationVar(&c.health.Grace, "failover-grace", envDuration("SMARTORCH_FAILOVER_GRACE", d.Grace), "how long a cluster is Unreachable before its enablers fail over, unless they set graceSeconds (env SMARTORCH_FAILOVER_GRACE)")
	if cmd == "dev" {
		str(&c.dataDir, "data-dir", "SMARTORCH_DATA_DIR", "./data", "directory for the embedded stores and the generated secret key")
		num(&c.temporalPort, "temporal-port", "SMARTORCH_TEMPORAL_PORT", 7233, "embedded Temporal frontend port")
		num(&c.uiPort, "ui-port", "SMARTORCH_TEMPORAL_UI_PORT", 8233, "embedded Temporal Web UI port")
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if cmd != "dev" {
		var missing []string
		for _, v := range [][2]string{{"SMARTORCH_MONGO_URI", c.mongoURI}, {"SMARTORCH_TEMPORAL_ADDRESS", c.temporalAddress}, {"SMARTORCH_SECRET_KEY", c.secretKey}} {
			if v[1] == "" {
				missing = append(missing, v[0])
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("%s needs %v (use `smartorch dev` for embedded defaults)", cmd, missing)
		}
	}
	return c, nil
}

func devHint(cmd, hint string) string {
	if cmd == "dev" {
		return "; " + hint
	}
	return ""
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return d
	}
	return def
}

func (c *config) logger() *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

func (c *config) cipherKey() ([]byte, error) {
	return store.ParseKey(c.secretKey)
}

func defaultCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "smartorch")
}
