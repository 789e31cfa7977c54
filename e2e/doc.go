// Package e2e tests the orchestrator end to end: the API and the worker of
// this repository against real Kubernetes clusters, Temporal, Prometheus
// and a Mongo-protocol store from package testenv.
package e2e
