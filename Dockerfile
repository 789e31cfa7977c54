# syntax=docker/dockerfile:1.7
#
# The Smart Orchestrator image: one static binary on distroless, run as the
# unprivileged user nonroot (65532), built without `smartorch dev` (-tags
# slim). The same image runs the API (the default command) and the Temporal
# worker:
#
#   docker build --build-arg VERSION="$(git describe --tags --always --dirty)" -t smartorch/smartorch:local .
#   docker run ... smartorch/smartorch:local            # smartorch api
#   docker run ... smartorch/smartorch:local worker     # smartorch worker
#
# Base images are pinned by tag and by the digest of their multi-arch index,
# so a build never changes under us; to update, change both, e.g. with
# `docker buildx imagetools inspect golang:<tag>`.
#
# The runtime image has no shell, curl or wget: `smartorch healthcheck`
# probes the local API (docker-compose.yml uses it with -ready for the api;
# the worker serves no HTTP). The Helm chart probes /healthz and /readyz.

# The toolchain runs on the build machine and cross-compiles for the target
# platform: with CGO off there is nothing to emulate.
FROM --platform=$BUILDPLATFORM golang:1.26.9-bookworm@sha256:d9c68c2c51161e12fd77e4c6320687c9cd86e1af1e3ad6e6cd63ff970641453c AS build

# go.mod asks for go 1.26.10, newer than this image's 1.26.9: with
# GOTOOLCHAIN=auto the go command fetches that exact toolchain through the
# module proxy (verified against the checksum database) and builds with it.
# CGO_ENABLED=0 gives a static binary: every dependency is pure Go.
ENV GOTOOLCHAIN=auto \
    CGO_ENABLED=0 \
    GOFLAGS=-buildvcs=false

WORKDIR /src

# Modules (and the toolchain) first, in their own layer and cache.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download && go version

COPY . .

ARG TARGETOS
ARG TARGETARCH
# VERSION is what `smartorch version` prints (main.version).
ARG VERSION=dev
# -tags slim leaves out what only `smartorch dev` runs (the embedded Temporal
# server, Temporal UI and FerretDB): the image runs api and worker.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOOS="$TARGETOS" GOARCH="$TARGETARCH" \
    go build -tags slim -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/smartorch ./cmd/smartorch

# Directories the runtime image cannot create (it has no shell), owned by
# nonroot below. A named volume mounted on one starts with its ownership.
RUN mkdir -p /out/cache /out/file_sd

FROM gcr.io/distroless/static-debian12:nonroot@sha256:b7bb25d9f7c31d2bdd1982feb4dafcaf137703c7075dbe2febb41c24212b946f

COPY --from=build /out/smartorch /usr/local/bin/smartorch
# Downloaded chart archives (SMARTORCH_CACHE_DIR).
COPY --from=build --chown=65532:65532 /out/cache /var/cache/smartorch
# Where the worker writes the central Prometheus's file_sd targets when
# SMARTORCH_METRICS_DIR points here (docker-compose.yml shares it with Prometheus).
COPY --from=build --chown=65532:65532 /out/file_sd /var/lib/smartorch/file_sd

ENV SMARTORCH_LISTEN=:8080 \
    SMARTORCH_CACHE_DIR=/var/cache/smartorch \
    SMARTORCH_LOG_FORMAT=json

USER 65532:65532
EXPOSE 8080

ENTRYPOINT ["/usr/local/bin/smartorch"]
CMD ["api"]
