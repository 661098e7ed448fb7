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

## bench: benchmarks and binary sizes
bench: build
	$(GO) test -run='^$$' -bench=. -benchmem ./...
	@ls -l build/*/bootstrap

## deploy: sam build && sam deploy for ENV (dev or prod, see samconfig.toml)
deploy:
	sam build
	sam deploy --config-env $(ENV)

clean:
	rm -rf build bin .aws-sam
