import { expect } from 'chai';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { ChildWorker, minuteBar, minutesAgo, TestContext, truncateData, waitFor } from '../support/stack';

/**
 * Run by `make test-secure` against the secured stack (BI_SECURE=1): the worker's own entry point,
 * as a process, with the stack's real passwords and certificates, then with a wrong one of each.
 */
const secretFiles = [
  'BI_PG_ADMIN_PASSWORD_FILE',
  'BI_PG_WORKER_PASSWORD_FILE',
  'BI_REDIS_PASSWORD_FILE',
  'BI_KAFKA_SASL_PASSWORD_FILE',
];
const TLS_DIR = process.env.BI_SECURE_TLS_DIR ?? '';
const UNTRUSTED_CA = path.join(TLS_DIR, 'untrusted-ca.crt');

function get(port: number, urlPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

/** The worker's log lines at level error. */
const errorLines = (logs: string[]): string[] => logs.filter((l) => l.includes('"level":"error"'));

describe('secured stack: secrets and refused connections', function () {
  before(function () {
    if (process.env.BI_SECURE !== '1') this.skip();
  });
  let ctx: TestContext;
  beforeEach(async () => {
    await truncateData();
    ctx = await new TestContext().setup();
  });
  afterEach(async () => ctx.close());

  it('a worker ingests over TLS and SCRAM, and no password it used reaches its logs, /healthz or /metrics', async () => {
    const passwords = secretFiles.map((v) => fs.readFileSync(process.env[v]!, 'utf8').trim());
    for (const p of passwords) expect(p).to.have.length.greaterThan(8);
    const start = minutesAgo(30);
    // A hole, so gap detection (Redis, outbox, gap events) runs too.
    await ctx.publish([0, 1, 2, 6, 7].map((i) => minuteBar(start, i)));
    const port = 21_600 + Math.floor(Math.random() * 300);
    const worker = new ChildWorker({ ...ctx.env, BI_HEALTH_PORT: String(port), BI_FLUSH_MAX_WAIT_MS: '200' });
    await worker.started();
    await ctx.waitForLag0();
    await waitFor(async () => (await get(port, '/metrics')).length > 0, 10_000, '/metrics');
    const pages = (await get(port, '/healthz')) + (await get(port, '/metrics'));
    expect(await worker.kill('SIGTERM')).to.equal(0);
    const logs = worker.logs.join('\n');
    expect(logs).to.contain('ingest worker started');
    for (const p of passwords) {
      expect(logs, 'a password in the logs').not.to.contain(p);
      expect(pages, 'a password on /healthz or /metrics').not.to.contain(p);
    }
  });

  const refusals: Array<{ what: string; env: Record<string, string>; service: string }> = [
    {
      what: 'a wrong PostgreSQL password',
      env: { BI_PG_WORKER_PASSWORD_FILE: '', BI_PG_WORKER_PASSWORD: 'wrong-pg-password' },
      service: 'postgres',
    },
    {
      what: 'a wrong Redis password',
      env: { BI_REDIS_PASSWORD_FILE: '', BI_REDIS_PASSWORD: 'wrong-redis-password' },
      service: 'redis',
    },
    {
      what: 'a wrong Kafka password',
      env: { BI_KAFKA_SASL_PASSWORD_FILE: '', BI_KAFKA_SASL_PASSWORD: 'wrong-kafka-password' },
      service: 'kafka',
    },
    { what: 'an untrusted PostgreSQL certificate', env: { BI_PG_CA_FILE: UNTRUSTED_CA }, service: 'postgres' },
    { what: 'an untrusted Redis certificate', env: { BI_REDIS_CA_FILE: UNTRUSTED_CA }, service: 'redis' },
    { what: 'an untrusted Kafka certificate', env: { BI_KAFKA_CA_FILE: UNTRUSTED_CA }, service: 'kafka' },
    { what: 'an untrusted registry certificate', env: { BI_REGISTRY_CA_FILE: UNTRUSTED_CA }, service: 'registry' },
  ];
  for (const { what, env, service } of refusals) {
    it(`${what} stops the worker at start-up with one line naming ${service}, without retrying`, async () => {
      const worker = new ChildWorker({ ...ctx.env, ...env });
      const code = await worker.exited(60_000);
      expect(code).to.equal(1);
      const errors = errorLines(worker.logs);
      expect(errors, worker.logs.join('\n')).to.have.length(1);
      expect(errors[0]).to.contain('could not start').and.to.contain(`${service} at `).and.to.contain('refused');
      expect(worker.logs.join('\n')).not.to.contain('ingest worker started');
      for (const v of Object.values(env)) if (v.startsWith('wrong-')) expect(worker.logs.join('\n')).not.to.contain(v);
    });
  }
});
