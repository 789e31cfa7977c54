//go:build slim

package main

import (
	"context"
	"strings"
	"testing"
)

func TestSlimDevNamesTheFullBuild(t *testing.T) {
	err := runDev(context.Background(), &config{})
	if err == nil || !strings.Contains(err.Error(), "full binary") {
		t.Fatalf("runDev in the slim build: %v, want an error naming the full build", err)
	}
}
