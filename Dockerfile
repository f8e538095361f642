# The bar-ingest workers and tools. One image; the command picks what runs:
#   docker run bar-ingest                                  -> an ingest worker
#   docker run bar-ingest node_modules/.bin/tsx scripts/prepare.ts all
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# tsx runs the TypeScript directly, so the dev dependencies it needs stay in the image.
RUN npm ci --no-fund --no-audit --loglevel=error && npm cache clean --force
COPY tsconfig.json knexfile.ts ./
COPY shared ./shared
COPY workers ./workers
COPY exporter ./exporter
COPY scripts ./scripts
COPY migrations ./migrations
COPY schemas ./schemas
COPY data ./data
USER node
STOPSIGNAL SIGTERM
# node itself with tsx as a loader (signals reach the worker directly); the heap cap keeps RSS
# bounded (V8 grows the heap lazily under a high allocation rate; the live data is far smaller).
CMD ["node", "--max-old-space-size=160", "--import", "tsx", "workers/ingest/main.ts"]
