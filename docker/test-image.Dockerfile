# schemagate:test: the runtime of ../Dockerfile's last stage, built FROM scratch because the
# engine on the development and CI machines can pull nothing, not even the distroless base.
# `make image-test` assembles its context in a folder under target/: the static binary,
# the flyway links (links/), sql/, and the few files of the distroless base that a run could notice (rootfs/, home/).
# tests/container.rs fails if the part below the marker drifts from ../Dockerfile.
FROM scratch

# From gcr.io/distroless/static-debian12:nonroot: the nonroot user and group, a world-writable
# /tmp, nonroot's home as the working directory. Not reproduced: CA certificates, tzdata,
# /etc/nsswitch.conf, /etc/os-release, the package manifests and licences.
COPY rootfs/ /
COPY --chown=65532:65532 home/nonroot/ /home/nonroot/
WORKDIR /home/nonroot
LABEL io.schemagate.test-image="true"

# --- same as the last stage of ../Dockerfile ---
COPY schemagate /usr/local/bin/schemagate
COPY links/ /
COPY sql/ /migrations/
# A default, not a setting: a location the user gives (or /flyway/sql, mounted) replaces it.
ENV SCHEMAGATE_DEFAULT_LOCATIONS=/migrations
# Flyway's working directory: its docker run lines and ./flyway resolve against it.
WORKDIR /flyway
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/schemagate"]
CMD ["migrate"]
