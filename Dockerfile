# nodevoy sidecar image: a build stage compiles the TypeScript (npm ci && npm run build -> dist/), the
# runtime stage holds production dependencies, dist/ and bin/ only, and runs as uid 1337 like istio-proxy.
# Mount the Envoy v3 bootstrap at /etc/nodevoy/envoy.yaml (e.g. from a ConfigMap) or pass other arguments.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# The rest of the context: .dockerignore lets through only the tsconfigs, bin/ and the source folders
# (a folder may be absent in a checkout, which a COPY naming it would fail on).
COPY . .
RUN npm run build

FROM node:24-bookworm-slim AS runtime
# --max-semi-space-size=16: the young-generation size the benchmark measured as best (bench/README.md).
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-semi-space-size=16 \
    NODEVOY_ADMIN_PORT=15000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
# Istio's sidecar user: iptables capture exempts traffic from uid/gid 1337 (see deploy/ for the init rules).
RUN groupadd --system --gid 1337 istio-proxy \
 && useradd --system --uid 1337 --gid 1337 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin istio-proxy \
 && mkdir -p /etc/nodevoy
USER 1337:1337
# Istio's ports: 15000 admin, 15001 outbound, 15006 inbound, 15021 health, 15090 Prometheus.
EXPOSE 15000 15001 15006 15021 15090
# Admin /ready (200 once the server is LIVE). Slim images have no curl, so ask node's fetch; the port is the
# bootstrap's admin port, NODEVOY_ADMIN_PORT here.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.NODEVOY_ADMIN_PORT||15000)+'/ready',{signal:AbortSignal.timeout(2500)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "/app/bin/nodevoy.js"]
CMD ["proxy", "-c", "/etc/nodevoy/envoy.yaml"]
