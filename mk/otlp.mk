# The OTLP test receiver (issue 16): tests/otlp/receiver.py decodes what schemagate sends with
# the OpenTelemetry project's protobuf classes (PyPI opentelemetry-proto), in a venv this
# target makes itself. `make deps` includes it, so `make test-rust` (and so `make test`) has it;
# tests/e2e_otlp.rs and tests/security.rs start the receiver from it.

OTLP_VENV := target/otlp-venv
OTLP_PY := $(OTLP_VENV)/bin/python
OTLP_REQS := tests/otlp/requirements.txt
OTLP_STAMP := $(OTLP_VENV)/.installed

.PHONY: otlp-deps

# Re-installed only when requirements.txt changes or the venv is gone.
$(OTLP_STAMP): $(OTLP_REQS)
	@test -x $(OTLP_PY) || python3 -m venv $(OTLP_VENV)
	$(OTLP_PY) -m pip install --quiet --disable-pip-version-check --no-input -r $(OTLP_REQS)
	@touch $@

otlp-deps: $(OTLP_STAMP)

deps: otlp-deps
