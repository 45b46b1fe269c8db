# One image for every TypeScript service; docker-compose.yml picks the service by its command.
FROM node:20-bookworm-slim
WORKDIR /app
COPY . .
RUN npm ci --no-audit --no-fund
ENV NODE_ENV=production
# the rendered credentials' volume: a new volume takes this directory's owner, so `node` can write it
RUN mkdir -p /secrets && chown node:node /secrets
USER node
CMD ["node", "--import", "tsx", "services/orders/src/main.ts"]
