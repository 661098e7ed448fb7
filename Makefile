# CryptoVault serverless. `make run` serves the API locally; `make test` runs every test.
# Needs only Go (see go.mod) and make: modules and tools come from the Go module proxy.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
MODULE := github.com/cryptovault/serverless

VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X $(MODULE)/shared/platform/app.Version=$(VERSION)
# Lambda binaries: static, arm64 (provided.al2023), no RPC mode, reproducible paths.
LAMBDA_ENV := CGO_ENABLED=0 GOOS=linux GOARCH=arm64
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags="$(LDFLAGS)"

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

# Logical id in template.yaml -> directory under functions/.
FUNCTIONS := HealthFunction:health AuthFunction:auth AuditFunction:audit PricesFunction:prices MarketFunction:market TransactionsFunction:transactions OrdersFunction:orders PortfolioFunction:portfolio StreamFunction:stream

# Packages with concurrency run under the race detector; the rest without it, to keep
# `make test` within its time budget on two cores.
RACE_PKGS := ./shared/devdb/... ./shared/platform/... ./shared/auth/... ./shared/ledger/... ./shared/trading/...

ENV ?= dev
ARGS ?=

.PHONY: all build run test test-unit test-race lint fmt-check bench deploy clean

all: build

## build: every function's arm64 bootstrap under build/<function>/bootstrap
build: $(foreach f,$(FUNCTIONS),build/$(word 2,$(subst :, ,$(f)))/bootstrap)

build/%/bootstrap: FORCE
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $@ ./functions/$*

FORCE:

# build-<LogicalId>: the targets `sam build` runs (BuildMethod: makefile); SAM sets ARTIFACTS_DIR.
define sam_target
build-$(word 1,$(subst :, ,$(1))):
	$$(LAMBDA_ENV) $$(GO) build $$(LAMBDA_FLAGS) -o $$(ARTIFACTS_DIR)/bootstrap ./functions/$(word 2,$(subst :, ,$(1)))
endef
$(foreach f,$(FUNCTIONS),$(eval $(call sam_target,$(f))))

## run: the local API on http://127.0.0.1:8001 with the embedded database (ARGS="-reset" etc.)
run:
	$(GO) build -o bin/local ./cmd/local
	exec ./bin/local $(ARGS)

## test: lint, then every test (race detector on the concurrent packages)
test: lint test-unit test-race
	@command -v $${CHROMIUM:-chromium} >/dev/null 2>&1 || echo "*** WARNING: Chromium not found: the browser test (cmd/local TestBrowserCrossOrigin) was SKIPPED; apt-get install chromium (.ci/run does) ***"

test-unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v -E '/shared/devdb|/shared/platform/|/shared/auth|/shared/ledger|/shared/trading')

test-race:
	$(GO) test -count=1 -race $(RACE_PKGS)

## lint: gofmt, go vet, staticcheck
lint: fmt-check
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## bench: cold start, round trips, handler overhead, bcrypt, throughput, memory -> bench/REPORT.md and charts
bench: build
	cd bench && $(GO) test -count=1 -run='^TestReport$$' -timeout=20m -args -report

## fuzz: every fuzz target (func Fuzz* in a _test.go) for FUZZTIME each, one `go test -fuzz` run
## per target; FUZZ=regexp picks targets by name. `make test` runs only their seed corpora.
## Minimizing is bounded too: the API targets run a request per input, and would otherwise spend
## their time shrinking inputs instead of trying new ones.
FUZZTIME ?= 20s
FUZZMINIMIZETIME ?= 5s
FUZZ ?= .
.PHONY: fuzz
fuzz:
	@for f in $$(grep -rlE --include='*_test.go' --exclude-dir=.git --exclude-dir=.aws-sam '^func Fuzz' . | sort); do \
		dir=$$(dirname $$f); \
		for name in $$(sed -nE 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/p' $$f | grep -E '$(FUZZ)' || true); do \
			echo "== $$name ($$dir, $(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $$dir; \
		done; \
	done

## load: a bounded load test of the local server, in-process on loopback (-throttle off,
## BCRYPT_COST=10): USERS virtual users sign up, log in, trade and read for DURATION, then it
## prints p50/p95/p99 per route and the 5xx count (must be 0) and checks the ledger invariant.
## Not part of `make test`. LOADFLAGS passes more (-load.think=15s -load.ramp=20s -load.data=DIR).
USERS ?= 200
DURATION ?= 60s
LOADFLAGS ?=
.PHONY: load
load:
	$(GO) test -tags load -run '^TestLoad$$' -count=1 -v -timeout 30m ./cmd/local -load.users=$(USERS) -load.duration=$(DURATION) $(LOADFLAGS)

## deploy: sam build && sam deploy for ENV (dev or prod, see samconfig.toml)
deploy:
	sam build
	sam deploy --config-env $(ENV)

clean:
	rm -rf build bin .aws-sam
