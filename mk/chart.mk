# The Helm chart (chart/): lint, render, schema and install --dry-run through Helm v4's Go SDK
# (PyPI helm-python-sdk) and strict Kubernetes schemas (kubernetes-validate), in a venv this
# target makes itself. No cluster, no helm binary. See tests/chart/.

CHART_VENV := target/chart-venv
CHART_PY := $(CHART_VENV)/bin/python
CHART_REQS := tests/chart/requirements.txt
CHART_STAMP := $(CHART_VENV)/.installed

TEST_TARGETS += test-chart

.PHONY: test-chart chart-deps

# Re-installed only when requirements.txt changes or the venv is gone.
$(CHART_STAMP): $(CHART_REQS)
	@test -x $(CHART_PY) || python3 -m venv $(CHART_VENV)
	$(CHART_PY) -m pip install --quiet --disable-pip-version-check --no-input -r $(CHART_REQS)
	@touch $@

chart-deps: $(CHART_STAMP)
	@command -v openssl >/dev/null 2>&1 || { \
	  echo "installing openssl (the chart tests make a throwaway CA)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null; \
	}

## Chart tests: helm lint --strict, Kubernetes 1.29-1.35 strict schemas, rendered Job
## assertions against the binary's exit codes and settings, a fixture application chart.
test-chart: chart-deps
	$(CARGO) build --bins
	PYTHONDONTWRITEBYTECODE=1 $(CHART_PY) -m pytest -p no:cacheprovider -q tests/chart
