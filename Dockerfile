# syntax=docker/dockerfile:1
# Build: compile TypeScript with the full dependency set.
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Runtime: Node 24 LTS, production dependencies only, the compiled code and the example tree
# (for `scan` checks). test/integration/dockerfile.test.ts lints this file with hadolint and
# reproduces this stage without Docker.
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-semi-space-size=1 \
    MALLOC_ARENA_MAX=2
# The GC locks a pod's lock file with flock(1) before deleting it, and looks for recent changes
# in it with GNU find(1) (-P -xdev -newermt -printf -quit). util-linux (flock) and findutils (find)
# are Essential packages of Debian, so the slim image has them: fail the build if that changes.
RUN flock --version && find -P / -maxdepth 0 -xdev -newermt @0 -printf "" -quit
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY examples ./examples
# Not root by default (uid 1000, the image's "node" user): enough for `scan` of the example
# tree and the demo. The chart runs the exporter as uid 0 with every capability dropped but the
# ones its GC mode needs, because the runtime's state is owned by root (README "Security").
USER 1000:1000
EXPOSE 10482
ENTRYPOINT ["node", "/app/dist/cli.js"]
CMD ["serve"]
