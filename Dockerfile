# One image for every TypeScript service; docker-compose.yml picks the service by its command.
FROM node:20-bookworm-slim
WORKDIR /app
COPY . .
RUN npm ci --no-audit --no-fund
ENV NODE_ENV=production
USER node
CMD ["node", "--import", "tsx", "services/orders/src/main.ts"]
