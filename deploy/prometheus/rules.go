// Package prometheus holds the Prometheus recording rules the orchestrator
// relies on, for deployments (rules.yaml) and for the test environment.
package prometheus

import _ "embed"

// RulesYAML is rules.yaml: kube-prometheus' node-exporter recording rules.
//
//go:embed rules.yaml
var RulesYAML []byte
