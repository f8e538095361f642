# bar-ingest: every entry point. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
BIN := node_modules/.bin
RUN := scripts/with-env.sh
TSX := $(RUN) $(BIN)/tsx
# The suite runs against its own database, so `make test` never touches the demo's data.
TEST_ENV := BI_PG_DATABASE=bar_ingest_test

.PHONY: help deps up down status prepare demo test test-unit test-integration test-secure test-redis-cluster migrate-redis-keys up-secure lint typecheck format bench bench-smoke coverage ui browser bench-read-api bench-peer clean \
	check-schemas partitions retention bench-growth migrate-legacy legacy-report drop-legacy calendars calendars-seed calendars-reevaluate venues status-pipeline test-faults chaos chaos-smoke soak

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

node_modules/.installed: package.json package-lock.json
	npm ci --no-fund --no-audit --loglevel=error
	@touch $@

deps: node_modules/.installed ## install Node dependencies (npm ci), once

up: ## install what is missing and start PostgreSQL, Redis, Kafka and the registry (idempotent)
	@scripts/stack.sh up

down: ## stop every service the stack started (the secured stack's, the Redis Cluster's and bench-peer's Kafka Connect too)
	@scripts/stack.sh down connect
	@scripts/stack.sh down
	@scripts/stack.sh down redis-cluster
	@BI_SECURE=1 scripts/stack.sh down

up-secure: ## the secured stack (TLS, SCRAM, ACL user, passwords in files) on its own ports: same as BI_SECURE=1 make up
	@BI_SECURE=1 scripts/stack.sh up

status: ## show each service and its port
	@scripts/stack.sh status

prepare: deps up ## up, then the schema compatibility check, migrations, topics and schemas (idempotent)
	@$(TSX) scripts/check-schemas.ts --quiet
	@$(TSX) scripts/prepare.ts all
	@$(TEST_ENV) $(TSX) scripts/prepare.ts migrate >/dev/null

demo: prepare ## run the reference exporter and two ingest workers end to end, print what was stored
	@$(TSX) scripts/demo.ts

test: prepare ## the whole suite against the real services: static checks, unit, integration
	@$(MAKE) --no-print-directory typecheck lint
	@$(MAKE) --no-print-directory test-unit test-integration test-redis-cluster bench-smoke chaos-smoke
	@$(MAKE) --no-print-directory test-secure

test-unit: deps ## fast unit tests of the pure domain
	@$(RUN) $(BIN)/mocha --config .mocharc.unit.json

test-integration: deps browser ## integration tests (needs `make prepare`), including the page in headless chromium
	@$(TEST_ENV) $(RUN) $(BIN)/mocha --config .mocharc.integration.json

# The pipeline, gap and continuity tests once more, against the secured stack (the same test files,
# configured by BI_SECURE=1 through scripts/stack/secure-env.sh), plus the secured stack's own tests.
SECURE_TESTS := test/integration/ingest-pipeline.test.ts test/integration/gaps.test.ts \
	test/integration/backfill.test.ts test/integration/privileges.test.ts test/secure/*.test.ts

test-secure: deps ## the pipeline, gap and continuity tests against the secured stack (starts it)
	@BI_SECURE=1 $(MAKE) --no-print-directory prepare
	@BI_SECURE=1 $(TEST_ENV) $(RUN) $(BIN)/mocha --require tsx/cjs --require test/support/hooks.ts --extension ts \
		--timeout 120000 --slow 5000 --exit $(SECURE_TESTS)

test-redis-cluster: deps up ## gap detection on a real 3-master Redis Cluster (starts one on BI_REDIS_CLUSTER_PORT..+2)
	@scripts/stack.sh up redis-cluster
	@$(TEST_ENV) $(RUN) $(BIN)/mocha --require tsx/cjs --require test/support/hooks.ts --extension ts \
		--timeout 120000 --slow 5000 --exit 'test/redis-cluster/*.test.ts'

migrate-redis-keys: deps ## once, after upgrading from before Redis hash tags: move last-bar state to the new key names
	@$(TSX) scripts/migrate-redis-keys.ts

test-faults: deps ## the fault scenarios (test/faults; needs `make prepare`): stops and starts this stack's services
	@$(TEST_ENV) $(RUN) $(BIN)/mocha --config .mocharc.faults.json

# SEED seeds the stream and the fault schedule; MINUTES is how long the stream is published for.
chaos: prepare ## randomized faults under 3 ingest + 2 continuity workers, then a checker: make chaos SEED=1 MINUTES=10
	@$(TEST_ENV) $(TSX) test/chaos/run.ts --seed $(or $(SEED),1) --minutes $(or $(MINUTES),2)

chaos-smoke: deps ## a short fixed-seed chaos run (part of make test)
	@$(TEST_ENV) $(TSX) test/chaos/run.ts --seed 7 --minutes 1

soak: prepare ## one worker at a steady rate, RSS/heap slope and latency per minute: make soak MINUTES=10 RATE=2000
	@$(TSX) bench/soak.ts --minutes $(or $(MINUTES),10) --rate $(or $(RATE),2000)

typecheck: deps ## strict TypeScript
	@$(BIN)/tsc -p tsconfig.json --noEmit

lint: deps ## eslint and prettier
	@$(BIN)/eslint --max-warnings 0 .
	@$(BIN)/prettier --check --log-level warn .

format: deps ## rewrite files with prettier
	@$(BIN)/prettier --write --log-level warn .

check-schemas: deps up ## every schema in schemas/ is BACKWARD compatible with the registry (names the offending field)
	@$(TSX) scripts/check-schemas.ts

migrate-legacy: deps up ## convert a legacy per-run store in place (set BI_LEGACY_MAPPING); resumable, ends with a report
	@$(TSX) workers/legacy-migration/main.ts migrate

legacy-report: deps up ## re-verify and print the legacy migration report
	@$(TSX) workers/legacy-migration/main.ts report

drop-legacy: deps up ## drop the legacy bar table, only after a passing verification
	@$(TSX) workers/legacy-migration/main.ts drop-legacy

coverage: deps ## one series' covered intervals, gaps and offline periods: make coverage SERIES='Quantower|Binance|BTC/USDT|1-Min' [FROM=..] [TO=..] [HTML=file.html] (or RUN_ID=.. HTML=..)
	@$(TSX) scripts/coverage.ts $(if $(SERIES),--series "$(SERIES)") $(if $(RUN_ID),--run "$(RUN_ID)") $(if $(FROM),--from "$(FROM)") $(if $(TO),--to "$(TO)") $(if $(HTML),--html "$(HTML)")

ui: prepare ## the read API and the analyst's page (prints its URL; Ctrl-C stops it)
	@$(RUN) node --import tsx workers/read-api/main.ts

browser: ## install Debian's chromium when missing (the browser tests drive it headless)
	@scripts/stack.sh install chromium

calendars: deps ## list trading calendars, their venue rules and the years they cover
	@$(TSX) scripts/calendars.ts list

calendars-seed: deps ## upsert data/calendars/*.json (or FILE=path.json) into the calendar tables
	@$(TSX) scripts/calendars.ts seed $(if $(FILE),--file "$(FILE)")

calendars-reevaluate: deps ## cut open gaps of series whose venue has a calendar to the bars that should exist [VENUE=CME]
	@$(TSX) scripts/calendars.ts reevaluate $(if $(VENUE),--venue "$(VENUE)")

venues: deps ## reference data: list, add and change venues (quote currencies), providers, aliases: make venues ARGS='add-venue --name Bitstamp --quotes USD,EUR' (ARGS='--help')
	@$(TSX) scripts/venues.ts $(if $(ARGS),$(ARGS),list)

status-pipeline: deps ## has the system caught up? consumer lag per group, unpublished gap changes, backfills in flight (ARGS='--json' or '--wait 120')
	@$(TSX) scripts/pipeline-status.ts $(ARGS)

partitions: deps ## market_bars time partitions: list (default), ARGS='ensure --from 2020-01-01', 'adopt-default', 'set-unit week' (ARGS='--help')
	@$(TSX) scripts/partitions.ts $(ARGS)

retention: deps ## opt-in: drop market_bars partitions older than OLDER_THAN='24 months'; a dry run unless APPLY=1
	@$(TSX) scripts/partitions.ts retention --older-than "$(OLDER_THAN)" $(if $(APPLY),--apply)

bench-smoke: deps up ## the benchmark at a tiny size: asserts it completes with the right counts (never timings)
	@$(TSX) bench/run.ts --smoke

bench-read-api: prepare ## the read API with 10,000 series and 100,000 gaps (in the suite's database, emptied): latency of each endpoint
	@$(TEST_ENV) $(TSX) bench/read-api.ts $(ARGS)

# Not part of make test: it downloads Kafka Connect and a JDBC sink (~100 MB) and runs for minutes.
bench-peer: prepare ## the peer (Kafka Connect + Debezium JDBC sink) and the kafkajs ceilings beside bar-ingest on one dataset (ARGS='--help')
	@scripts/stack.sh up connect
	@$(TSX) bench/peer/run.ts $(ARGS); rc=$$?; scripts/stack.sh down connect; exit $$rc

bench-growth: prepare ## not in make test: live ingest and gap detection on top of a large COPY-loaded history, partitioned vs plain (ARGS='--bars 30000000', '--help'); ~15-30 min
	@$(TSX) bench/growth.ts $(ARGS)

bench: prepare ## the benchmark: writes bench/results/<timestamp>.json and prints a table
	@$(TSX) bench/run.ts

clean: down ## stop the stacks and delete their data in $BI_STACK_DIR (keeps downloads)
	@$(RUN) sh -c 'echo "deleting $$BI_STACK_DIR/data, run and secure"; rm -rf "$$BI_STACK_DIR/data" "$$BI_STACK_DIR/run" "$$BI_STACK_DIR/secure"'
