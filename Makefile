# Newer Go toolchains (go.mod asks for 1.26.10) download through the module proxy.
export GOTOOLCHAIN := auto

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
N ?= 3
DIR ?= ./testenv-out
# Loaded by the targets that need the test binaries (kube-apiserver, etcd, kwok, ...).
TOOLS = eval "$$(hack/tools.sh)"

.PHONY: build run test vet bench fuzz tools testenv demo clean

build:
	go build -trimpath -ldflags '$(LDFLAGS)' -o bin/smartorch ./cmd/smartorch

## run: the whole orchestrator in one process on embedded defaults (data in ./data)
run: build
	./bin/smartorch dev

## test: vet, then every test against real components (builds the test tools once)
test: vet
	@hack/chromium.sh >/dev/null || echo "make test: no chromium, the console's browser test will skip (hack/chromium.sh needs root)"
	@$(TOOLS) && go test -count=1 -timeout 60m ./...

vet:
	go vet ./...

## bench: benchmarks; they print figures and assert nothing
bench:
	@$(TOOLS) && go test -run '^$$' -bench . -benchmem -timeout 60m ./...

## fuzz: every Fuzz target in the module for FUZZTIME each (go test -fuzz takes one
## target at a time); a failure leaves its input in the package's testdata/fuzz
FUZZTIME ?= 10s
fuzz:
	@for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for target in $$(go test -list '^Fuzz' $$dir | grep '^Fuzz'); do \
			echo "== $$dir $$target"; \
			go test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) $$dir || exit 1; \
		done; \
	done

## tools: build the pinned test binaries into the user cache
tools:
	hack/tools.sh

## testenv: N clusters (cloud, edge-1, ...), Prometheus and a chart repository, until Ctrl-C
testenv:
	@$(TOOLS) && go run ./cmd/testenv -n $(N) -dir $(DIR)

## demo: four clusters, `smartorch dev` and, over the REST API, joins, a chart repository and one
## enabler placed per policy, each explained; DEMO_FLAGS=-keep leaves it all up until Ctrl-C
demo: build
	go build -o bin/demo ./cmd/demo
	@$(TOOLS) && GOTOOLCHAIN=auto exec bin/demo -smartorch bin/smartorch $(DEMO_FLAGS)

clean:
	rm -rf bin
