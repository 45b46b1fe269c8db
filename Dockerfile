# One image for every TypeScript service; docker-compose.yml picks the service by its command
# (`node services/<name>/dist/main.js`, `node cli/dist/main.js ...`).

# Build: every dependency, then the packages compiled to dist/ (tsc -b) and the dashboard's bundle.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY . .
RUN npm ci --no-audit --no-fund --ignore-scripts && npm run build
# What the runtime stage needs, and nothing else: every workspace's package.json (npm ci checks
# them against the lock file), the compiled dist/ folders, the CLI's launcher, the examples the
# demo configuration reads.
RUN mkdir /out \
  && cp package.json package-lock.json /out/ \
  && find . -name package.json -not -path "*/node_modules/*" -not -path "./package.json" -exec cp --parents {} /out/ \; \
  && find . -type d -name dist -not -path "*/node_modules/*" -prune -exec cp -r --parents {} /out/ \; \
  && find /out -name .tsbuildinfo -delete \
  && cp -r --parents cli/bin examples /out/

# Runtime: production dependencies and compiled JavaScript only; no TypeScript, no tsx.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /out/ ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
# the rendered credentials' volume: a new volume takes this directory's owner, so `node` can write it
RUN mkdir -p /secrets && chown node:node /secrets
USER node
CMD ["node", "services/orders/dist/main.js"]
