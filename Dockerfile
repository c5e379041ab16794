# Multi-stage: build the bundle and the splice addon with the full toolchain, then ship only
# node, dist/ and the addons. The bundles have their dependencies inside, so the runtime stage
# needs no node_modules.
FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Build the addon against the headers the image ships, never downloading them.
ENV npm_config_nodedir=/usr/local
# .git is not sent to the build; pass the commit for the version line: --build-arg COMMIT=$(git rev-parse --short HEAD)
ARG COMMIT=unknown
ENV DOCKER_PROXY_BUILD_COMMIT=$COMMIT
COPY . .
# npm ci runs the install script (node-gyp: the addon) and prepare (esbuild: the bundle).
RUN npm ci && test -f dist/docker-proxy.cjs && test -f build/Release/splice.node && test -f build/Release/udp_proxy.node \
 && test -f build/Release/harden.node

FROM node:20-bookworm-slim
# dist/ is the bundle and vendor/*.cjs (yargs, pino, prom-client), loaded only when used.
COPY --from=build /src/dist /opt/docker-proxy/dist
COPY --from=build /src/build/Release/splice.node /src/build/Release/udp_proxy.node /src/build/Release/harden.node /opt/docker-proxy/build/Release/
# Binding ports below 1024 needs root (or CAP_NET_BIND_SERVICE); once its ports are open, a proxy
# started as root runs as nobody (the image has it) with seccomp: README "Security". Run with
# --network host so that the proxy binds the host's ports and reaches its addresses.
ENTRYPOINT ["node", "/opt/docker-proxy/dist/docker-proxy.cjs"]
