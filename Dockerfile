# schemagate's image, built by your CI:
#   docker build --build-arg SCHEMAGATE_COMMIT="$(git rev-parse --short=12 HEAD)" -t schemagate .
# It builds with BuildKit and with the legacy builder alike: no cache mounts, no heredocs.

# Debian's Rust image plus musl-tools: the toolchain that `make static` uses. The target follows
# the build machine, so an arm64 builder makes an arm64 image. musl rather than a static glibc,
# which would still load NSS modules at run time to resolve host names: the runtime has none.
FROM rust:1.95.0-slim-bookworm AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools=1.2.3-1 \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add "$(uname -m)-unknown-linux-musl"
WORKDIR /src

# One build, no layer of dependencies built from placeholder sources: such a layer breaks as
# soon as Cargo.toml names a target (a bench) whose file it lacks. .dockerignore lets in only
# what cargo reads.
COPY . .
# The context has no .git: `schemagate version` shows the commit passed here.
ARG SCHEMAGATE_COMMIT=unknown
RUN cargo build --release --locked --target "$(uname -m)-unknown-linux-musl" \
 && install -D -m 0755 "target/$(uname -m)-unknown-linux-musl/release/schemagate" /out/schemagate \
 && /out/schemagate version
# The Flyway drop-in (README "Switching from Flyway"): `flyway` on PATH and /flyway/flyway, as
# in the flyway/flyway image, are links to the one binary, so they add no bytes.
RUN mkdir -p /out/links/flyway /out/links/usr/local/bin \
 && ln -s /usr/local/bin/schemagate /out/links/flyway/flyway \
 && ln -s schemagate /out/links/usr/local/bin/flyway

FROM gcr.io/distroless/static-debian12:nonroot
ARG SCHEMAGATE_COMMIT=unknown
LABEL org.opencontainers.image.title="schemagate" \
      org.opencontainers.image.description="Flyway-compatible PostgreSQL migration runner for Kubernetes" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.revision="${SCHEMAGATE_COMMIT}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="gcr.io/distroless/static-debian12:nonroot"
COPY --from=builder /out/schemagate /usr/local/bin/schemagate
COPY --from=builder /out/links/ /
COPY sql/ /migrations/
# A default, not a setting: a location the user gives (or /flyway/sql, mounted) replaces it.
ENV SCHEMAGATE_DEFAULT_LOCATIONS=/migrations
# Flyway's working directory: its docker run lines and ./flyway resolve against it.
WORKDIR /flyway
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/schemagate"]
CMD ["migrate"]
