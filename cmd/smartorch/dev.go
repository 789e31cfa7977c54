//go:build !slim

package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/smartorch/smartorch/devstack"
	"github.com/smartorch/smartorch/store"
)

// runDev runs the whole orchestrator in one process. Temporal and the
// document store are embedded (and persist under the data directory) unless
// their addresses are configured.
func runDev(ctx context.Context, cfg *config) error {
	logger := cfg.logger()
	if err := os.MkdirAll(cfg.dataDir, 0o700); err != nil {
		return err
	}
	if cfg.metricsDir == "" {
		cfg.metricsDir = filepath.Join(cfg.dataDir, "prometheus")
	}
	key, err := devKey(cfg)
	if err != nil {
		return err
	}

	var stops []func()
	defer func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}()

	embeddedStore := cfg.mongoURI == ""
	if embeddedStore {
		// FerretDB logs every connection at info and protocol dumps at warn.
		ferretLogger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})).With("component", "ferretdb")
		uri, stop, err := devstack.StartFerretDB(ctx, filepath.Join(cfg.dataDir, "store"), ferretLogger)
		if err != nil {
			return err
		}
		stops = append(stops, stop)
		cfg.mongoURI = uri
	}
	uiURL := cfg.temporalUIURL
	if cfg.temporalAddress == "" {
		t, err := devstack.StartTemporal(devstack.TemporalOptions{
			DBFile:    filepath.Join(cfg.dataDir, "temporal.db"),
			Port:      cfg.temporalPort,
			Namespace: cfg.temporalNamespace,
		})
		if err != nil {
			return err
		}
		stops = append(stops, func() { _ = t.Stop() })
		cfg.temporalAddress = t.Address
		ui, err := devstack.StartUI(t.Address, "127.0.0.1", cfg.uiPort, cfg.temporalNamespace)
		if err != nil {
			return err
		}
		stops = append(stops, ui.Stop)
		uiURL = ui.URL
		cfg.temporalUIURL = ui.URL
	}

	svc, err := connect(ctx, cfg, logger, key)
	if err != nil {
		return err
	}
	stops = append(stops, svc.close)
	if embeddedStore {
		svc.store.SoleWriter()
	}
	stopWorker, err := svc.startWorker()
	if err != nil {
		return err
	}
	stops = append(stops, stopWorker)
	adminPassword, stopAPI, err := svc.startAPI(generatePassword)
	if err != nil {
		return err
	}
	stops = append(stops, stopAPI)

	printBanner(cfg, uiURL, adminPassword)
	<-ctx.Done()
	logger.Info("shutting down")
	return nil
}

// devKey is SMARTORCH_SECRET_KEY or, failing that, a key generated once into
// the data directory (mode 0600).
func devKey(cfg *config) ([]byte, error) {
	if cfg.secretKey != "" {
		return cfg.cipherKey()
	}
	path := filepath.Join(cfg.dataDir, "secret.key")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key := store.NewKey()
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if _, err := fmt.Fprintf(f, "%x\n", key); err != nil {
			return nil, err
		}
		return key, f.Sync()
	}
	if err != nil {
		return nil, err
	}
	return store.ParseKey(string(b))
}

func generatePassword() string {
	return rand.Text()
}

func printBanner(cfg *config, uiURL, adminPassword string) {
	host, port, _ := net.SplitHostPort(cfg.listen)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	api := "http://" + net.JoinHostPort(host, port)
	password := "<the admin password>"
	fmt.Printf("\nSmart Orchestrator %s is running (dev mode, data in %s)\n\n", version, cfg.dataDir)
	fmt.Printf("  API          %s\n", api)
	if uiURL != "" {
		fmt.Printf("  Temporal UI  %s\n", uiURL)
	}
	fmt.Printf("  Temporal     %s (namespace %s, task queue %s)\n\n", cfg.temporalAddress, cfg.temporalNamespace, cfg.taskQueue)
	if adminPassword != "" {
		password = adminPassword
		fmt.Printf("  Admin user   admin\n  Password     %s   (shown only now; set SMARTORCH_ADMIN_PASSWORD to change it)\n\n", adminPassword)
	} else {
		fmt.Printf("  Admin user   admin (password printed at first start, or SMARTORCH_ADMIN_PASSWORD)\n\n")
	}
	fmt.Printf("  Log in:\n    curl -s -X POST %s/api/login/tokens -H 'Content-Type: application/json' \\\n      -d '{\"username\":\"admin\",\"password\":\"%s\"}'\n\n", api, password)
}
