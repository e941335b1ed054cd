# schemagate — the README's commands: `make run` and `make test`.
# Every tool a target needs is installed by the target itself, idempotently.
# Each area (image, chart, benchmarks) keeps its targets in mk/<area>.mk and adds its test
# target to TEST_TARGETS, which `make test` runs after the Rust tests.

CARGO ?= cargo
BIN := target/release/schemagate
TEST_TARGETS :=

.PHONY: run test test-rust deps check build release clean

include $(wildcard mk/*.mk)

## Apply sql/ to a throwaway local PostgreSQL as a Helm release would (the pre-upgrade hook
## with an old pod connected defers the contract; the post-upgrade hook applies it once the
## old pod has gone) and print the status after each.
run: deps release
	SCHEMAGATE_LOG_FORMAT=text SCHEMAGATE_LOCATIONS=sql scripts/throwaway-pg \
	  scripts/release-demo $(BIN)

## Every test: formatting, lints, unit and end-to-end tests against real PostgreSQL servers,
## then each area's own tests (container, chart).
test: deps check test-rust $(TEST_TARGETS)

test-rust: deps
	$(CARGO) build --bins
	$(CARGO) test --all-targets

## PostgreSQL server binaries (the tests start their own servers from them), PgBouncer (the
## pooler tests put one in front of a server), and libclang with its builtin headers (the
## pg_query dev-dependency, PostgreSQL's own parser, runs bindgen when it builds).
deps:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql-15"; \
	test -x /usr/sbin/pgbouncer || missing="$$missing pgbouncer"; \
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
