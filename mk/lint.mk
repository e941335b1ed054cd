# The lint (issue 12): schemagate lint and squawk over the labelled cases in tests/lint/cases,
# against a throwaway PostgreSQL holding tests/lint/fixture.sql; SARIF checked against the
# 2.1.0 schema. squawk and the validator come from PyPI into a venv this target makes itself.

LINT_VENV := target/lint-venv
LINT_PY := $(LINT_VENV)/bin/python
LINT_REQS := tests/lint/requirements.txt
LINT_STAMP := $(LINT_VENV)/.installed

TEST_TARGETS += test-lint

.PHONY: test-lint lint-compare lint-deps

$(LINT_STAMP): $(LINT_REQS)
	@test -x $(LINT_PY) || python3 -m venv $(LINT_VENV)
	$(LINT_PY) -m pip install --quiet --disable-pip-version-check --no-input -r $(LINT_REQS)
	@touch $@

lint-deps: $(LINT_STAMP)

## Fails unless schemagate gets every labelled case right and its SARIF validates.
test-lint: deps lint-deps
	$(CARGO) build --bins
	scripts/throwaway-pg $(LINT_PY) tests/lint/compare.py --bin target/debug/schemagate --check

## The README's comparison table.
lint-compare: deps lint-deps
	$(CARGO) build --bins
	scripts/throwaway-pg $(LINT_PY) tests/lint/compare.py --bin target/debug/schemagate --markdown
