# schemagate — the README's commands: `make run` and `make test`.
# Every tool a target needs is installed by the target itself, idempotently.
# Each area (image, chart, benchmarks) keeps its targets in mk/<area>.mk and adds its test
# target to TEST_TARGETS, which `make test` runs after the Rust tests.

CARGO ?= cargo
BIN := target/release/schemagate
TEST_TARGETS :=

.PHONY: run test test-rust nextest deps check build release clean

include $(wildcard mk/*.mk)

## Apply sql/ to a throwaway local PostgreSQL as a Helm release would (the pre-upgrade hook
## with an old pod connected defers the contract; the post-upgrade hook applies it once the
## old pod has gone) and print the status after each.
run: deps release
	SCHEMAGATE_LOG_FORMAT=text SCHEMAGATE_LOCATIONS=sql scripts/throwaway-pg \
	  scripts/release-demo $(BIN)

## Every test: formatting, lints, unit and end-to-end tests against real PostgreSQL servers,
## then each area's own tests (chart, lint, image), then the container tests.
# The shipped static binary (fat LTO: minutes, most of them on one core) builds in the
# background from the start, while clippy, the debug build and the PostgreSQL tests leave a
# core idle; the container tests, the only ones that need it, run once it is there. On this
# 2-core machine that took a fresh clone's `make test` from ~16 to ~N minutes (issue 15).
STATIC_LOG := target/static-build.log

test: deps static-toolchain
	@mkdir -p target; rm -f $(STATIC_LOG).rc
	@echo "building the static binary in the background; its log: $(STATIC_LOG)"
	@{ $(MAKE) --no-print-directory static >$(STATIC_LOG) 2>&1; echo $$? >$(STATIC_LOG).rc; } & \
	  $(MAKE) --no-print-directory check test-rust $(TEST_TARGETS); rc=$$?; \
	  wait; echo "--- the static build ($(STATIC_LOG)):"; tail -n 20 $(STATIC_LOG); \
	  [ $$rc -eq 0 ] && [ "$$(cat $(STATIC_LOG).rc)" = 0 ] || exit 1
	$(MAKE) --no-print-directory test-container

# Every Rust test but the container ones. nextest runs the test binaries side by side, where
# `cargo test` runs them one after another; a fresh machine of this kind has it, and this
# installs it where it is missing.
test-rust: deps nextest
	$(CARGO) build --bins
	$(CARGO) nextest run --all-targets --no-fail-fast -E 'not binary(container)'

nextest:
	@$(CARGO) nextest --version >/dev/null 2>&1 || { \
	  echo "installing cargo-nextest"; $(CARGO) install --locked --quiet cargo-nextest; }

## PostgreSQL server binaries (the tests start their own servers from them), PgBouncer (the
## pooler tests put one in front of a server), a Prometheus Pushgateway and promtool (the
## metrics tests push to one and lint what they pushed), and libclang with its builtin
## headers (the pg_query dev-dependency, PostgreSQL's own parser, runs bindgen when it builds).
deps:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql-15"; \
	test -x /usr/sbin/pgbouncer || missing="$$missing pgbouncer"; \
	test -x /usr/bin/prometheus-pushgateway || missing="$$missing prometheus-pushgateway"; \
	test -x /usr/bin/promtool || missing="$$missing prometheus"; \
	dpkg -s libclang1-14 libclang-common-14-dev >/dev/null 2>&1 || missing="$$missing libclang1-14 libclang-common-14-dev"; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

check:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

build:
	$(CARGO) build

release:
	$(CARGO) build --release

clean:
	$(CARGO) clean
