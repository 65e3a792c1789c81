# epay: a Halyk ePay-compatible payment gateway.
#
#   docker build -t epay .
#   docker run -p 8080:8080 -v epay-data:/var/lib/epay epay                     # sandbox on SQLite
#   docker run -p 8080:8080 -e EPAY_MODE=production \
#       -e DATABASE_URL=postgres://epay:…@db/epay -v epay-keys:/var/lib/epay epay   # production
#
# Build stage: the whole workspace in release mode.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
# How the bundled SQLite is built (LIBSQLITE3_FLAGS: fdatasync, no process-wide locks).
COPY .cargo ./.cargo
COPY crates ./crates
RUN cargo build --release --locked -p epay && strip target/release/epay

# Runtime stage: Debian slim, CA certificates for outgoing HTTPS callbacks, an unprivileged user.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/epay --shell /usr/sbin/nologin epay \
    && mkdir -p /var/lib/epay && chown epay:epay /var/lib/epay
COPY --from=build /src/target/release/epay /usr/local/bin/epay
USER epay
WORKDIR /var/lib/epay
# Data directory: the SQLite database (sandbox default) and the generated keys. Keep it on a
# volume; in production mount the keys from a secret store instead (docs/operations.md).
VOLUME /var/lib/epay
ENV EPAY_LISTEN=0.0.0.0:8080 \
    EPAY_DATA_DIR=/var/lib/epay \
    EPAY_LOG_FORMAT=json
EXPOSE 8080
STOPSIGNAL SIGTERM
# Liveness by the image itself (no curl in slim): GET /healthz over bash's /dev/tcp. An
# orchestrator should probe /readyz (database and migrations) for traffic instead.
HEALTHCHECK --interval=10s --timeout=3s CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q ok <&3"]
ENTRYPOINT ["/usr/local/bin/epay"]
CMD ["serve"]
