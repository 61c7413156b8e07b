# syntax=docker/dockerfile:1
# Build: compile TypeScript with the full dependency set.
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Runtime: production dependencies only, compiled code, the example tree (for `scan` checks).
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-semi-space-size=1 \
    MALLOC_ARENA_MAX=2
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY examples ./examples
# Reading root-owned 0750 state directories needs root or CAP_DAC_READ_SEARCH; the chart
# drops every other capability and runs read-only.
EXPOSE 10482
ENTRYPOINT ["node", "/app/dist/cli.js"]
CMD ["serve"]
