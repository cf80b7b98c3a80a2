# Umbra's one image: every service, started as `umbra <edge|shard|reply|api|all>`.
#   docker build -t umbra:dev .
#   docker run --rm -e NATS_URL=… -e REDIS_URL=… umbra:dev shard
# Stages: `manifests` keeps only the workspaces' package.json files (so dependencies are
# reinstalled only when one of them changes), `build` compiles the TypeScript, and the
# runtime stage holds production dependencies and compiled JavaScript only.
# Plain Dockerfile syntax (no `# syntax=` line): BuildKit would fetch that frontend image
# from Docker Hub; this builds with BuildKit and with the legacy builder, offline.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY packages packages
COPY services services
COPY test/package.json test/package.json
RUN find packages services -type f ! -name package.json -delete \
 && find packages services -type d -empty -delete

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY --from=manifests /src ./
# The root's dev dependencies (TypeScript) and what the launcher's workspaces need; not
# the test workspace's. `tsc -b` compiles each workspace's tests too, so the workspaces
# whose tests import a package of their own (edge: mqtt) are named for their dev ones.
RUN npm ci --workspace=@umbra/umbra --workspace=@umbra/edge --include-workspace-root --no-audit --no-fund
COPY packages packages
COPY services services
# The services and the packages they use (not the test workspace): `umbra` references
# them all. Then keep each workspace's package.json and its compiled src/ only.
RUN npx tsc -b services/umbra \
 && mkdir /out \
 && for ws in packages/* services/*; do \
      mkdir -p "/out/$ws/dist" \
      && cp "$ws/package.json" "/out/$ws/" \
      && cp -r "$ws/dist/src" "/out/$ws/dist/src"; \
    done \
 && find /out -name '*.d.ts' -delete \
 && find /out -name '*.map' -delete

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
COPY --from=manifests /src ./
# Production dependencies of the launcher and the workspaces it links, nothing else.
RUN npm ci --omit=dev --workspace=@umbra/umbra --no-audit --no-fund \
 && npm cache clean --force \
 && printf '#!/bin/sh\nexec node /app/services/umbra/dist/src/main.js "$@"\n' > /usr/local/bin/umbra \
 && chmod 755 /usr/local/bin/umbra
COPY --from=build /out ./
# UMBRA_DATA_DIR for a volume: the development CA and certificates of `umbra edge` and
# `umbra device add --cert` (a volume mounted here starts with this owner).
RUN mkdir -p /var/lib/umbra && chown 1000:1000 /var/lib/umbra
ENV UMBRA_DATA_DIR=/var/lib/umbra
# The image's `node` user; numeric, so Kubernetes can check runAsNonRoot.
USER 1000:1000
# MQTT, MQTT over TLS, HTTP API, operations (/healthz, /readyz, /metrics when OPS_PORT is set).
EXPOSE 1883 8883 8080 9090
ENTRYPOINT ["node", "/app/services/umbra/dist/src/main.js"]
CMD ["all"]
