// Package deploy holds no code: its tests check the deployment artefacts
// against each other and against the program they deploy, with no Docker
// engine needed.
//
//   - Dockerfile and .dockerignore (dockerfile_test.go): pinned bases, a
//     static, non-root binary built from a context that holds every file the
//     build needs;
//   - docker-compose.yml and deploy/compose (compose_test.go): services,
//     volumes, ports, variables and environment consistent with each other,
//     with .env.example and with cmd/smartorch/config.go; the Prometheus
//     configuration checked by promtool, the Temporal dynamic configuration
//     by Temporal's own loader, and the namespace script run against a real
//     Temporal server;
//   - the Helm chart deploy/helm/smartorch (helm_test.go): linted and rendered
//     with the Helm SDK in several configurations, every object strictly
//     decoded and checked (least privilege, security context, probes,
//     environment); and installed into a real cluster (kwok pods) in a
//     namespace that enforces the "restricted" Pod Security Standard.
//
// The tests that start processes need the test tools (hack/tools.sh).
package deploy
