/**
 * The read API and its page as one fastify application: JSON endpoints whose query parameters
 * are checked against JSON schemas (a typo in a parameter name is a 400, not silently ignored),
 * and the analyst's page with the timeline library served from node_modules.
 */
import fastify, { FastifyError, FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import { GAP_KINDS, GAP_STATUSES, GapKind, GapStatus } from '../../shared/domain/gaps';
import type { ReadModel } from '../../shared/adapters/read-model';
import type { Logger } from '../../shared/runtime/log';
import { PAGE_DIR, pageFile, VENDOR_DIR, VIS_TIMELINE_FILE } from '../../shared/coverage/assets';
import { gapJson, iso, NotFoundError, runReadiness, seriesCoverage, seriesJson } from '../../shared/coverage/views';

export interface ReadApiOptions {
  model: ReadModel;
  log: Logger;
  /** Largest `limit` a list may ask for. */
  maxRows: number;
}

/** A parameter that passed the schema but makes no sense (a range that ends before it starts). */
export class BadRequestError extends Error {
  readonly code = 'BAD_REQUEST';
}

/** UTC date or date-time; without a zone it is read as UTC, never as the server's local time. */
const TIME = {
  type: 'string',
  pattern: '^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,3})?)?(Z|[+-]\\d{2}:?\\d{2})?)?$',
} as const;
const NAME = { type: 'string', minLength: 1, maxLength: 200 } as const;

function parseTime(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const zoned = /(Z|[+-]\d{2}:?\d{2})$/.test(text) || !text.includes('T') ? text : `${text}Z`;
  const ms = Date.parse(zoned.includes('T') ? zoned : `${zoned}T00:00:00Z`);
  if (Number.isNaN(ms)) throw new BadRequestError(`${name}=${JSON.stringify(text)} is not a valid date`);
  return ms;
}

function range(q: { from?: string; to?: string }): { fromMs?: number | undefined; toMs?: number | undefined } {
  const fromMs = parseTime(q.from, 'from');
  const toMs = parseTime(q.to, 'to');
  if (fromMs !== undefined && toMs !== undefined && toMs <= fromMs)
    throw new BadRequestError(`to (${q.to}) must be after from (${q.from})`);
  return { fromMs, toMs };
}

interface SeriesQuery {
  provider?: string;
  venue?: string;
  symbol?: string;
  timeframe?: string;
  limit: number;
  offset: number;
}

interface GapsQuery extends SeriesQuery {
  kind?: GapKind[];
  status?: GapStatus[];
  series_id?: number;
  from?: string;
  to?: string;
}

export async function buildReadApi(options: ReadApiOptions): Promise<FastifyInstance> {
  const { model, log } = options;
  const app = fastify({
    logger: false,
    // Unknown query parameters are an error (additionalProperties: false), not silently dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  });
  const page = {
    limit: { type: 'integer', minimum: 1, maximum: options.maxRows, default: 1000 },
    offset: { type: 'integer', minimum: 0, default: 0 },
  } as const;
  const identity = { provider: NAME, venue: NAME, symbol: NAME, timeframe: NAME } as const;

  app.addHook('onResponse', async (req, reply) => {
    log.info('request', {
      method: req.method,
      url: req.url,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
    });
  });

  app.setErrorHandler((err: FastifyError | NotFoundError | BadRequestError, _req, reply) => {
    if (err instanceof NotFoundError) return reply.code(404).send({ code: err.code, message: err.message });
    if (err instanceof BadRequestError) return reply.code(400).send({ code: err.code, message: err.message });
    if ('validation' in err && err.validation)
      return reply.code(400).send({ code: 'BAD_REQUEST', message: err.message });
    if ('statusCode' in err && err.statusCode && err.statusCode < 500)
      return reply.code(err.statusCode).send({ code: err.code ?? 'BAD_REQUEST', message: err.message });
    log.error('request failed', { err });
    return reply.code(500).send({ code: 'INTERNAL', message: 'the read API failed; see its log' });
  });

  app.get(
    '/api/series',
    { schema: { querystring: { type: 'object', additionalProperties: false, properties: { ...identity, ...page } } } },
    async (req) => {
      const q = req.query as SeriesQuery;
      const { total, series } = await model.seriesList(q);
      return {
        total,
        limit: q.limit,
        offset: q.offset,
        series: series.map((s) => ({
          ...seriesJson(s),
          runs: s.runs,
          exporter: s.exporter,
          verdict: s.verdict,
          gaps: {
            total: s.gaps.total,
            by_status: s.gaps.byStatus,
            by_kind: s.gaps.byKind,
            missing_bars: s.gaps.missingBars,
          },
        })),
      };
    },
  );

  app.get(
    '/api/series/:id/coverage',
    {
      schema: {
        params: { type: 'object', properties: { id: { type: 'integer', minimum: 1 } }, required: ['id'] },
        querystring: { type: 'object', additionalProperties: false, properties: { from: TIME, to: TIME } },
      },
    },
    async (req) =>
      seriesCoverage(model, (req.params as { id: number }).id, range(req.query as { from?: string; to?: string })),
  );

  app.get(
    '/api/runs',
    { schema: { querystring: { type: 'object', additionalProperties: false, properties: page } } },
    async (req) => {
      const q = req.query as { limit: number; offset: number };
      const { total, runs } = await model.runs(q.limit, q.offset);
      return {
        total,
        limit: q.limit,
        offset: q.offset,
        runs: runs.map((r) => ({
          id: r.id,
          created_at: iso(r.createdAtMs),
          series: r.series,
          window: r.window ? { from: iso(r.window.fromMs), to: iso(r.window.toMs) } : null,
          gaps: { total: r.gaps.total, missing: r.gaps.missing, missing_bars: r.gaps.missingBars },
          verdict: r.verdict,
        })),
      };
    },
  );

  app.get(
    '/api/runs/:id/readiness',
    { schema: { params: { type: 'object', properties: { id: NAME }, required: ['id'] } } },
    async (req) => runReadiness(model, (req.params as { id: string }).id),
  );

  app.get(
    '/api/gaps',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...identity,
            ...page,
            kind: { type: 'array', items: { type: 'string', enum: [...GAP_KINDS] }, maxItems: GAP_KINDS.length },
            status: {
              type: 'array',
              items: { type: 'string', enum: [...GAP_STATUSES] },
              maxItems: GAP_STATUSES.length,
            },
            series_id: { type: 'integer', minimum: 1 },
            from: TIME,
            to: TIME,
          },
        },
      },
    },
    async (req) => {
      const q = req.query as GapsQuery;
      const { total, gaps } = await model.gaps({ ...q, ...range(q), seriesId: q.series_id });
      return {
        total,
        limit: q.limit,
        offset: q.offset,
        gaps: gaps.map((g) => ({
          ...gapJson(g),
          series: { provider: g.provider, venue: g.venue, symbol: g.symbol, timeframe: g.timeframe },
        })),
      };
    },
  );

  app.get('/healthz', async (_req, reply) => {
    try {
      await model.ping();
      return { healthy: true };
    } catch (err) {
      return reply.code(503).send({ healthy: false, error: (err as Error).message });
    }
  });

  await app.register(fastifyStatic, { root: PAGE_DIR, prefix: '/page/' });
  await app.register(fastifyStatic, {
    root: VENDOR_DIR,
    prefix: '/vendor/',
    decorateReply: false,
    allowedPath: (pathName) => pathName === `/${VIS_TIMELINE_FILE}`,
  });
  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(pageFile('index.html')));
  return app;
}
