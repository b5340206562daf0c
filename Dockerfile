# rudis container image: `docker build -t rudis .` then
# `docker run -p 6379:6379 rudis`.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# Build, then gather the runtime: the binary, every shared library it links
# and the loader (at their own paths, as ldd names them), and a user.
RUN cargo build --release --locked -p rudis \
 && strip target/release/rudis \
 && mkdir -p /out/usr/local/bin /out/etc /out-data/data \
 && cp target/release/rudis /out/usr/local/bin/rudis \
 && ln -s rudis /out/usr/local/bin/docker-entrypoint \
 && ldd target/release/rudis | grep -o '/[^ ]*' | xargs -I{} cp --parents -L {} /out \
 && echo 'rudis:x:999:999:rudis:/data:/usr/sbin/nologin' > /out/etc/passwd \
 && echo 'rudis:x:999:' > /out/etc/group

# The runtime holds only the server and the C libraries it links.
FROM scratch
COPY --from=build /out/ /
# The data directory comes from a folder's contents, so that this COPY
# creates /data itself, owned by rudis (copying a directory onto one that
# exists keeps the old owner: root, where rudis could not save).
COPY --from=build --chown=999:999 /out-data/ /
USER rudis
WORKDIR /data
VOLUME /data
EXPOSE 6379
# The server checks itself: `rudis --ping` sends PING to 127.0.0.1:6379.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["rudis", "--ping"]
ENV PATH=/usr/local/bin
ENTRYPOINT ["docker-entrypoint"]
CMD ["rudis"]
