//go:build slim

package main

import (
	"context"
	"errors"
)

// The slim build (-tags slim, the container image) leaves out the embedded
// Temporal server, Temporal UI and FerretDB of `smartorch dev`: `api` and
// `worker` never use them.
func runDev(context.Context, *config) error {
	return errors.New("dev is not in this build of smartorch, the slim one (-tags slim) for api and worker: " +
		"`make build` or `go build ./cmd/smartorch` builds the full binary, which has it")
}
