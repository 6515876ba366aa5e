# syntax=docker/dockerfile:1
#
# provgraph in a container: `docker build -t provgraph .` at the workspace root,
# then `docker run -p 127.0.0.1:4317:4317 -p 127.0.0.1:4318:4318 -p 127.0.0.1:8080:8080 -v provgraph-data:/data provgraph`.
# Needs BuildKit (the default builder since Docker 23) for the cache mounts and
# the heredoc below.

# ---------------------------------------------------------------------------
# Build stage
# ---------------------------------------------------------------------------
FROM rust:1-bookworm AS builder

WORKDIR /src

# Only what the build reads: the workspace manifest and lock file, the crates,
# the protocol files and the GraphQL schema. .dockerignore keeps target/,
# databases and .git out of the context. proto/ and schema/ are copied through
# a one-character wildcard so that the build still works in a checkout where
# either directory is absent (git does not keep empty directories); a wildcard
# that matches nothing copies nothing under BuildKit.
COPY Cargo.toml Cargo.lock ./
COPY services/ services/
COPY prot[o] proto/
COPY schem[a] schema/

# The registry, git checkouts and target/ are cache mounts, so a rebuild after a
# source change recompiles only the workspace crates. target/ is a cache mount,
# not part of the image: the binary is copied out of it in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p provgraph \
 && install -D -m 0755 target/release/provgraph /out/provgraph

# ---------------------------------------------------------------------------
# Runtime stage
# ---------------------------------------------------------------------------
FROM debian:bookworm-slim

# ca-certificates: for any outbound TLS the server makes. Nothing else is
# installed: the binary links only glibc (SQLite is compiled in).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*

# An unprivileged user that owns /data, where the SQLite database lives.
RUN groupadd --system --gid 10001 provgraph \
 && useradd --system --uid 10001 --gid provgraph --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin provgraph \
 && install -d -o provgraph -g provgraph -m 0750 /data

COPY --from=builder /out/provgraph /usr/local/bin/provgraph

# Health check without curl: debian:bookworm-slim has no curl (installing it
# would pull in libcurl and a dozen libraries), but it does have bash, whose
# /dev/tcp can send a plain HTTP request. This asks GET /healthz on the
# PROVGRAPH_API address (a wildcard address is asked on loopback). If the API is
# bound to one specific non-loopback address, or set with --api instead of
# PROVGRAPH_API, override HEALTHCHECK accordingly.
COPY --chmod=0755 <<'EOF' /usr/local/bin/provgraph-healthcheck
#!/bin/bash
set -u
addr="${PROVGRAPH_API:-127.0.0.1:8080}"
host="${addr%:*}"
port="${addr##*:}"
host="${host#[}"
host="${host%]}"
case "$host" in
  "" | 0.0.0.0) host=127.0.0.1 ;;
  ::) host=::1 ;;
esac
exec 3<>"/dev/tcp/${host}/${port}" || exit 1
# With TLS on (PROVGRAPH_TLS_CERT) bash cannot speak HTTPS: a listening API
# port is the check then.
[[ -n "${PROVGRAPH_TLS_CERT:-}" ]] && exit 0
printf 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
IFS= read -r -t 4 status <&3 || exit 1
[[ "$status" == HTTP/1.[01]" 200"* ]]
EOF

# The contract's defaults bind loopback only, which is right on a host but
# useless in a container: nothing outside the container's own network
# namespace could reach the receivers or the API. Inside a container the
# network namespace is the isolation boundary, and what is reachable from
# outside is decided when ports are published (publish on 127.0.0.1, as
# docker-compose.yml does, unless the service should be reachable from other
# hosts). So the image binds all interfaces.
ENV PROVGRAPH_DATABASE_URL=sqlite:///data/provgraph.db \
    PROVGRAPH_OTLP_GRPC=0.0.0.0:4317 \
    PROVGRAPH_OTLP_HTTP=0.0.0.0:4318 \
    PROVGRAPH_API=0.0.0.0:8080

# Numeric, so that runtimes can check it is not root (Kubernetes runAsNonRoot).
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]

# 4317 OTLP/gRPC, 4318 OTLP/HTTP, 8080 GraphQL API and /healthz.
EXPOSE 4317 4318 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/provgraph-healthcheck"]

# SIGTERM (docker stop) makes provgraph stop accepting, finish in-flight
# requests and exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["provgraph"]
CMD ["serve"]
