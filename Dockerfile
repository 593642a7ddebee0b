# Two stages: the build stage compiles TypeScript to dist/ with the dev dependencies; the
# runtime stage holds production dependencies, dist/ and config/ only, and runs node directly
# (no npm or tsx in between), so SIGTERM from tini (compose `init: true`) reaches node.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
COPY workers ./workers
COPY config ./config
RUN npm run build

FROM node:20-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# Example workflows and dataflow definitions the API loads at start (config/*.json).
COPY config/dataflows ./config/dataflows
COPY config/workflows ./config/workflows
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 3000
# The API; workers run `node dist/workers/worker.js` (see docker-compose.yml).
CMD ["node", "dist/src/main.js", "--role=api"]
