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
# the exit status is non-zero if either failed. The browser tests' screenshots stay in
# $HALLPASS_ARTIFACTS (default .data/artifacts/): console-e2e/ and pages/ (the pages'
# test clears its directory first); the summary says how many each holds.
test: generate ## start the test services, then go vet + go test -race ./...
	@bash scripts/chromium.sh
	@bash scripts/django.sh
	@$(SERVICES) up test
	@$(call load_env,$(TEST_ENV)); \
	start=$$SECONDS; vet=ok; tests=ok; out=$$(mktemp); trap 'rm -f "$$out"' EXIT; \
	rm -f .data/artifacts/conformance.txt .data/artifacts/manage-contract.txt; \
	echo '>> go vet ./...'; \
	go vet ./... || vet=FAILED; \
	echo '>> go test -race -count=1 -timeout 20m ./...'; \
	go test -race -count=1 -timeout 20m ./... 2>&1 | tee "$$out" || tests=FAILED; \
	passed=$$(grep -c '^ok[[:space:]]' "$$out" || true); \
	failed=$$(grep -cE '^FAIL[[:space:]]+[^[:space:]]' "$$out" || true); \
	if [ "$$tests" = FAILED ] && [ "$$failed" -eq 0 ]; then failed=1; fi; \
	secs=$$((SECONDS - start)); \
	if [ -f .data/artifacts/conformance.txt ]; then cat .data/artifacts/conformance.txt; fi; \
	if [ -f .data/artifacts/manage-contract.txt ]; then cat .data/artifacts/manage-contract.txt; fi; \
	for d in console-e2e pages; do \
		n=$$(find "$${HALLPASS_ARTIFACTS:-.data/artifacts}/$$d" -name '*.png' 2>/dev/null | wc -l || true); \
		if [ "$$n" -gt 0 ]; then echo ">> $$n screenshots in $${HALLPASS_ARTIFACTS:-.data/artifacts}/$$d/"; fi; \
	done; \
	echo ">> go vet $$vet, go test $$tests ($${secs}s)"; \
	echo "test: $$passed passed, $$failed failed"; \
	[ "$$vet" = ok ] && [ "$$tests" = ok ]

# make bench: a real `hallpass serve` on a free loopback port against its own database
# (hallpass_bench on the test cluster, dropped and migrated anew; the test databases are
# never touched) and Redis db 15, with the raw /bench/ceiling route and the admin listener
# on; cmd/hpbench drives scenarios (a)-(g), measures the argon2 and signing limits,
# profiles each scenario and soaks for 60 s. Table on stdout; JSON, profiles and the
# server log under .data/bench/. BENCH_FLAGS adds hpbench flags (e.g. BENCH_FLAGS='-d 5s
# -soak 0'); BENCH_LOG_LEVEL sets the server's log level (warn: no access log lines).
# BENCH_BIN serves instead of the freshly built binary (e.g. one built from
# another commit, to compare in the same conditions).
BENCH_DB        := hallpass_bench
BENCH_FLAGS     ?=
BENCH_LOG_LEVEL ?= warn
BENCH_BIN       ?= $(BIN)
# BENCH_SEED_USERS > 0 loads that many users over BENCH_SEED_TENANTS tenants
# (`hallpass seed`, COPY) before the server starts, for the large-data run.
# BENCH_NODES=2 starts a second server process on the same Postgres and
# Redis and measures (a) again split over both (hpbench -target2).
BENCH_SEED_USERS   ?= 0
BENCH_SEED_TENANTS ?= 10000
BENCH_NODES        ?= 1
bench: build ## load-test a local server: scenarios (a)-(g), limits, profiles; JSON in .data/bench/
	@$(SERVICES) up test
	@go build -o .data/bin/hpbench ./cmd/hpbench
	@$(call load_env,$(TEST_ENV)); \
	ts=$$(date -u +%Y%m%dT%H%M%SZ); out=.data/bench/$$ts; mkdir -p "$$out"; \
	db=$$(.data/bin/hpbench prepare-db -admin-url "$$HALLPASS_TEST_DATABASE_URL" -name $(BENCH_DB)); \
	export HALLPASS_DATABASE_URL="$$db"; \
	export HALLPASS_REDIS_URL="$${HALLPASS_TEST_REDIS_URL%/*}/15"; \
	$(BIN) migrate >/dev/null; \
	if [ "$(BENCH_SEED_USERS)" -gt 0 ]; then \
		echo ">> hallpass seed: $(BENCH_SEED_USERS) users over $(BENCH_SEED_TENANTS) tenants"; \
		echo '{"ACCOUNT_LOGIN_METHODS":["email"],"ACCOUNT_EMAIL_VERIFICATION":"none","ACCOUNT_RATE_LIMITS":false}' | \
			$(BIN) seed --tenants $(BENCH_SEED_TENANTS) --users $(BENCH_SEED_USERS) --settings - >"$$out/seed.json"; \
		cat "$$out/seed.json"; \
	fi; \
	set -- $$(.data/bin/hpbench free-port 3); port=$$1; admin=$$2; port2=$$3; \
	export HALLPASS_LISTEN=127.0.0.1:$$port HALLPASS_PUBLIC_URL=http://127.0.0.1:$$port \
		HALLPASS_ADMIN_LISTEN=127.0.0.1:$$admin HALLPASS_BENCH_CEILING=1 HALLPASS_LOG_LEVEL=$(BENCH_LOG_LEVEL) \
		HALLPASS_MANAGE_RATE_LIMIT=100000000/1m; \
	$(BENCH_BIN) serve 2>"$$out/server.log" & pid=$$!; pid2=; target2=; \
	trap 'kill $$pid $$pid2 2>/dev/null; wait $$pid $$pid2 2>/dev/null || true' EXIT; \
	echo ">> hallpass serve on 127.0.0.1:$$port (admin 127.0.0.1:$$admin), log $$out/server.log"; \
	if [ "$(BENCH_NODES)" = 2 ]; then \
		HALLPASS_LISTEN=127.0.0.1:$$port2 HALLPASS_ADMIN_LISTEN= $(BENCH_BIN) serve 2>"$$out/server2.log" & pid2=$$!; \
		target2="-target2 http://127.0.0.1:$$port2"; \
		echo ">> second hallpass serve on 127.0.0.1:$$port2, log $$out/server2.log"; \
	fi; \
	.data/bin/hpbench -target http://127.0.0.1:$$port -admin http://127.0.0.1:$$admin $$target2 \
		-profile "$$out" -soak 60s -out "$$out.json" $(BENCH_FLAGS); \
	echo ">> profiles: go tool pprof -top $$out/<scenario>.cpu.pprof"

# Fault injection (internal/faults): each scenario starts its own Postgres 15 cluster,
# redis-server and SMTP listener on free ports under /tmp (never the dev or test
# services), wires a server as `hallpass serve` does, and kills or restarts one of them
# under load. `go test ./...` runs the short form (6 s a scenario); this is the long
# form, FAULTS_DURATION a scenario. A known bug seen (docs/RELIABILITY.md) fails the run,
# in both forms. The SUMMARY lines are repeated at the end.
FAULTS_DURATION ?= 25s
.PHONY: faults
faults: ## fault tests, long form: Redis killed, Postgres restarted, SMTP down, webhooks (receiver 500/hang, Postgres restart, node killed) (docs/RELIABILITY.md)
	@out=$$(mktemp); trap 'rm -f "$$out"' EXIT; status=0; \
	FAULTS_DURATION=$(FAULTS_DURATION) \
		go test -race -count=1 -v -timeout 30m ./internal/faults/ 2>&1 | tee "$$out" || status=$$?; \
	echo '>> faults summary'; \
	grep -E 'SUMMARY|KNOWN BUG|^(--- |ok|FAIL)' "$$out" | sed 's/^ *//' || true; \
	exit $$status

# Go runs one fuzz target per invocation, so each PACKAGE:FuzzName runs on its own for
# FUZZTIME (CI: make fuzz FUZZTIME=3s). Plain `go test` already replays testdata/fuzz/.
# A failing input is written to PACKAGE/testdata/fuzz/FuzzName/; every target still runs,
# and the exit status is non-zero if any failed. FUZZMINIMIZETIME caps the minimizing of
# each new input (Go's default, 60s, would spend a whole run of an HTTP fuzzer on one).
FUZZTIME         ?= 10s
FUZZMINIMIZETIME ?= 5s
# A target that fails with no failing input written (Go's engine reports "context deadline
# exceeded" when a short FUZZTIME ends inside a slow input) runs once more for FUZZRETRYTIME;
# a real failure always writes its input and is never retried.
FUZZRETRYTIME    ?= 15s
FUZZ_TARGETS := \
	./tenants/:FuzzParseSettings \
	./tenants/:FuzzHostName \
	./tenants/:FuzzResolveHost \
	./tenants/:FuzzNormalizeDomain \
	./tenants/:FuzzValidateSlug \
	./internal/ratelimit/:FuzzParseRules \
	./internal/address/:FuzzEmailKey \
	./internal/address/:FuzzUsernameKey \
	./api/server/:FuzzHostHeader \
	./api/tokens/:FuzzParseToken \
	./api/tokens/:FuzzRefreshInput \
	./api/tokens/:FuzzBearerInput \
	./api/social/:FuzzProviderRedirect \
	./api/social/:FuzzProviderInputs \
	./api/account/:FuzzLoginInput \
	./api/account/:FuzzSignupInput \
	./api/account/:FuzzVerifyInput \
	./api/account/:FuzzPasswordResetInput \
	./api/account/:FuzzAccountEmailInput \
	./api/account/:FuzzCodeConfirmInput

.PHONY: fuzz
fuzz: ## run every fuzz test for FUZZTIME each (default 10s) against the test services
	@$(SERVICES) up test
	@$(call load_env,$(TEST_ENV)); \
	failed=''; \
	for target in $(FUZZ_TARGETS); do \
		pkg=$${target%%:*}; name=$${target##*:}; \
		echo ">> go test -run '^\$$' -fuzz '^$$name\$$' -fuzztime $(FUZZTIME) $$pkg"; \
		out=$$(mktemp); \
		if go test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) "$$pkg" >"$$out" 2>&1; then \
			cat "$$out"; \
		elif cat "$$out"; grep -q 'Failing input written' "$$out"; then \
			failed="$$failed $$name"; \
		else \
			echo ">> $$name failed without a failing input (the fuzz engine's own deadline on a slow target): once more for $(FUZZRETRYTIME)"; \
			go test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZRETRYTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) "$$pkg" \
				|| failed="$$failed $$name"; \
		fi; \
		rm -f "$$out"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: FAILED:$$failed"; exit 1; fi; \
	echo 'fuzz: all $(words $(FUZZ_TARGETS)) targets passed'

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
