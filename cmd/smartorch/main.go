// Command smartorch is the Smart Orchestrator: `dev` runs everything in one
// process on embedded defaults; `api` and `worker` are the production parts.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/smartorch/smartorch/cli"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `usage: smartorch <command> [flags]

commands:
  dev       API, worker, Temporal server and UI, and a document store in one process
            (not in the slim build, -tags slim, of the container image)
  api       the REST API (needs MongoDB and Temporal)
  worker    the Temporal worker (needs MongoDB and Temporal)
  healthcheck  exit 0 if the local API answers /healthz (-ready: /readyz)
  version   print the version

operator commands (over the REST API; "smartorch login URL" first):
  login, cluster, repo, enabler, placement, op

Run "smartorch <command> -h" for the flags; each has an environment variable.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "dev":
		err = withConfig(cmd, args, func(cfg *config) error { return runDev(ctx, cfg) })
	case "api":
		err = withConfig(cmd, args, func(cfg *config) error { return runAPI(ctx, cfg) })
	case "worker":
		err = withConfig(cmd, args, func(cfg *config) error { return runWorker(ctx, cfg) })
	case "healthcheck":
		err = healthcheck(args)
	case "version", "--version", "-v":
		printVersion()
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		if cli.IsCommand(cmd) {
			os.Exit(cli.Main(ctx, os.Args[1:]))
		}
		fmt.Fprintf(os.Stderr, "unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "smartorch:", err)
		os.Exit(1)
	}
}

func printVersion() {
	fmt.Println("smartorch", version)
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	fmt.Println("go", info.GoVersion)
	for _, dep := range info.Deps {
		switch dep.Path {
		case "go.temporal.io/sdk", "go.temporal.io/server", "helm.sh/helm/v3", "k8s.io/client-go":
			fmt.Println(dep.Path, dep.Version)
		}
	}
}
