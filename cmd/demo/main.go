// Command demo shows the Smart Orchestrator end to end on one machine, in a
// few minutes: it starts four real Kubernetes clusters (a cloud and three
// edges of different sizes, with Prometheus and a chart repository, from
// package testenv), runs `smartorch dev` against them, and over the REST
// API logs in, joins the clusters, adds the chart repository and places one
// enabler with each policy (worst-fit, best-fit, traffic-most), showing
// every workflow's steps and why each enabler went where it did.
//
//	eval "$(hack/tools.sh)" && go run ./cmd/demo [-keep]
//
// It exits 0 when everything succeeded. Everything it started is stopped on
// exit and on Ctrl-C; with -keep it stays up until Ctrl-C, to explore.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	opts := options{}
	flag.BoolVar(&opts.keep, "keep", false, "leave the clusters and the orchestrator running until Ctrl-C, to explore with curl and the Temporal UI")
	flag.StringVar(&opts.smartorch, "smartorch", "", "the smartorch binary to run; built from ./cmd/smartorch when empty")
	flag.DurationVar(&opts.timeout, "timeout", 15*time.Minute, "give up after this long")
	flag.BoolVar(&opts.verbose, "v", false, "also print the orchestrator's log")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "demo: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}

	// The first Ctrl-C cancels ctx and the demo cleans up; a second one
	// (after stop) kills it at once (its children die with it: Pdeathsig).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	interrupted := make(chan struct{})
	go func() {
		<-ctx.Done()
		close(interrupted)
		stop()
	}()

	d := newDemo(opts)
	err := d.run(ctx)
	if err != nil && ctx.Err() == nil && d.orch != nil && d.orch.started() && !opts.verbose {
		// The log goes with the temporary directory: show its end now.
		fmt.Fprintf(os.Stderr, "\nThe end of smartorch dev's log:\n%s\n", d.orch.logTail(25))
	}
	d.close()
	select {
	case <-interrupted:
		if opts.keep && err == nil {
			fmt.Println("\nStopped.")
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "\ndemo: interrupted; everything it started is stopped")
		os.Exit(130)
	default:
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "\nDEMO FAILED: %v\n", err)
		if errors.Is(err, context.DeadlineExceeded) {
			fmt.Fprintf(os.Stderr, "(the demo gives up after -timeout %v)\n", opts.timeout)
		}
		os.Exit(1)
	}
}
