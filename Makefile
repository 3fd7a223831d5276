# Hallpass developer entry points (GNU make). `make` alone lists the targets.
#
# Postgres 15 and Redis run as local processes started by scripts/services.sh:
#   dev  profile: Postgres 127.0.0.1:5433, Redis 127.0.0.1:6380, env in .data/env
#   test profile: Postgres 127.0.0.1:5434, Redis 127.0.0.1:6381, env in .data/test.env

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

SERVICES    := bash scripts/services.sh
BIN         := .data/bin/hallpass
DEV_ENV     := .data/env
TEST_ENV    := .data/test.env
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

# Shell snippet: export every variable of an env file into the recipe's shell.
load_env = set -a; . ./$(1); set +a

.PHONY: help services services-stop build generate migrate run test bench lint clean-data

help: ## list the targets
	@echo 'usage: make TARGET'
	@awk 'BEGIN { FS = ":.*## " } /^[a-z][a-z-]*:.*## / { printf "  %-14s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

services: ## install if needed and start dev Postgres + Redis, write .data/env
	@$(SERVICES) up dev

services-stop: ## stop the dev and test servers started by scripts/services.sh
	@$(SERVICES) down dev
	@$(SERVICES) down test

generate: ## generate Go code from templ templates
	go tool templ generate

build: generate ## build .data/bin/hallpass
	go build -o $(BIN) ./cmd/hallpass

migrate: services build ## apply database migrations to the dev database
	@$(call load_env,$(DEV_ENV)); $(BIN) migrate

run: services build ## dev services, migrate, seed the demo tenant, serve on 127.0.0.1:8000
	@$(call load_env,$(DEV_ENV)); \
	$(BIN) migrate; \
	$(BIN) demo; \
	exec $(BIN) serve

# go vet and go test both run (one failing does not hide the other). The one-line summary
# at the end is "test: N passed, M failed" (test packages), preceded by the vet/test verdict;
# the exit status is non-zero if either failed.
test: generate ## start the test services, then go vet + go test -race ./...
	@bash scripts/chromium.sh
	@$(SERVICES) up test
	@$(call load_env,$(TEST_ENV)); \
	start=$$SECONDS; vet=ok; tests=ok; out=$$(mktemp); trap 'rm -f "$$out"' EXIT; \
	rm -f .data/artifacts/conformance.txt; \
	echo '>> go vet ./...'; \
	go vet ./... || vet=FAILED; \
	echo '>> go test -race -count=1 -timeout 20m ./...'; \
	go test -race -count=1 -timeout 20m ./... 2>&1 | tee "$$out" || tests=FAILED; \
	passed=$$(grep -c '^ok[[:space:]]' "$$out" || true); \
	failed=$$(grep -cE '^FAIL[[:space:]]+[^[:space:]]' "$$out" || true); \
	if [ "$$tests" = FAILED ] && [ "$$failed" -eq 0 ]; then failed=1; fi; \
	secs=$$((SECONDS - start)); \
	if [ -f .data/artifacts/conformance.txt ]; then cat .data/artifacts/conformance.txt; fi; \
	echo ">> go vet $$vet, go test $$tests ($${secs}s)"; \
	echo "test: $$passed passed, $$failed failed"; \
	[ "$$vet" = ok ] && [ "$$tests" = ok ]

bench: ## run the benchmarks against the test services
	@$(SERVICES) up test
	@$(call load_env,$(TEST_ENV)); go test -run '^$$' -bench . -benchmem ./...

lint: ## gofmt (must list nothing), go vet, staticcheck
	@unformatted=$$(find . \( -path ./.data -o -path ./.git -o -path ./vendor -o -name node_modules \) -prune \
		-o -name '*.go' -print0 | xargs -0 -r gofmt -l); \
	if [ -n "$$unformatted" ]; then echo 'gofmt -l lists:'; echo "$$unformatted"; exit 1; fi
	go vet ./...
	go run $(STATICCHECK) ./...

clean-data: ## stop the services and delete .data: make clean-data CONFIRM=1
	@if [ "$(CONFIRM)" != 1 ]; then \
		echo 'This deletes .data: both databases, their passwords and the master keys.'; \
		echo 'Run: make clean-data CONFIRM=1'; \
		exit 1; \
	fi
	@$(SERVICES) destroy dev
	@$(SERVICES) destroy test
	rm -rf .data
