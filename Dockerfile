# evchat-server in a container: built with the Rust image, run on a slim
# Debian as an unprivileged user, with the data directory as a volume.
#
#   docker build -t evchat .
#   docker run -p 5555:5555 -v evchat-data:/data evchat
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
COPY examples ./examples
RUN cargo build --release --locked --bin evchat-server --bin evchat-client

FROM debian:bookworm-slim
# ca-certificates: the bundled evchat-client's --tls trusts the system's
# roots, and the slim image has none. One layer, without recommends or the
# package lists, to keep the image small.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data evchat \
    && mkdir -p /data && chown evchat /data
COPY --from=build /src/target/release/evchat-server /src/target/release/evchat-client /usr/local/bin/
USER evchat
VOLUME /data
EXPOSE 5555
# The image has no curl: the server asks itself.
HEALTHCHECK --interval=30s --timeout=6s CMD ["evchat-server", "health", "--port", "5555"]
# Listen on every interface inside the container; keep state in the volume.
ENTRYPOINT ["evchat-server", "--host", "0.0.0.0", "--port", "5555", "--data-dir", "/data"]
