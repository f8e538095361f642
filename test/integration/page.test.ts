import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { createKnex } from '../../shared/adapters/postgres';
import { ReadModel } from '../../shared/adapters/read-model';
import { standaloneHtml } from '../../shared/coverage/export';
import { runReadiness } from '../../shared/coverage/views';
import { baseConnections, truncateData } from '../support/stack';
import { CoverageFixture, insertCoverageFixture } from '../support/coverage-fixture';
import { launchChromium, SCREENSHOT_DIR } from '../support/browser';
import { startTestReadApi } from '../support/read-api';

/**
 * What a person sees in the detail panel: the verdict and the timeline's marks. Given to the page
 * as source text: tsx would wrap a compiled function's inner helpers in a `__name` call that does
 * not exist in the browser.
 */
const DETAIL_MARKS = `(() => {
  const count = (sel) => document.querySelectorAll('#detail .timeline ' + sel).length;
  return {
    title: document.querySelector('#detail .detail-title')?.textContent ?? '',
    verdict: document.querySelector('#detail .verdict')?.getAttribute('data-verdict') ?? '',
    lanes: document.querySelectorAll('#detail .timeline .vis-label').length,
    OFFLINE: count('.vis-item.gap.kind-OFFLINE'),
    NO_ACTIVITY: count('.vis-item.gap.kind-NO_ACTIVITY'),
    UNKNOWN: count('.vis-item.gap.kind-UNKNOWN'),
    filled: count('.vis-item.gap.status-FILLED'),
    offlineBands: count('.vis-item.vis-background.offline'),
    covered: count('.vis-item.covered'),
    gapRows: document.querySelectorAll('#detail tr.gap-row').length,
  };
})()`;

async function detailMarks(page: Page): Promise<Record<string, string | number>> {
  // vis-timeline shows itself after its first full redraw: wait for what a person would see.
  await page.waitForSelector('#detail .vis-timeline', { visible: true, timeout: 30_000 });
  return page.evaluate(DETAIL_MARKS) as Promise<Record<string, string | number>>;
}

describe('the analyst page in headless chromium', function () {
  this.timeout(180_000);
  let api: Awaited<ReturnType<typeof startTestReadApi>>;
  let chromium: Awaited<ReturnType<typeof launchChromium>>;
  let browser: Browser;
  let fx: CoverageFixture;
  const requested: string[] = [];

  before(async () => {
    await truncateData();
    fx = await insertCoverageFixture();
    api = await startTestReadApi();
    chromium = await launchChromium();
    browser = chromium.browser;
    fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  });
  after(async () => {
    await chromium?.close();
    await api?.stop();
  });

  async function open(hash = ''): Promise<Page> {
    const page = await browser.newPage();
    page.on('request', (r) => requested.push(r.url()));
    await page.goto(`${api.url}${hash}`, { waitUntil: 'load', timeout: 60_000 });
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 30_000 });
    return page;
  }

  it('lists the series and the runs with their state, and loads nothing from outside the server', async () => {
    const page = await open();
    const series = await page.$$eval('#series tr.series-row', (rows) =>
      rows.map((r) => [r.getAttribute('data-key'), r.querySelector('.verdict')!.getAttribute('data-verdict')]),
    );
    expect(series).to.deep.equal([
      ['Quantower|Binance|BTC/USDT|1-Min', 'GAPS_OPEN'],
      ['Quantower|CME|ESZ6|5-Min', 'CLEAN'],
      ['Quantower|Coinbase|BTC/USD|1-Min', 'GAPS_OPEN'],
    ]);
    const runs = await page.$$eval('#runs tr.run-row', (rows) =>
      rows.map((r) => [r.getAttribute('data-run'), r.querySelector('.verdict')!.textContent]),
    );
    expect(runs.sort()).to.deep.equal([
      ['run-clean', 'CLEAN'],
      ['run-filled', 'GAPS FILLED'],
      ['run-open', 'GAPS OPEN'],
    ]);
    // vis-timeline comes from the server itself (node_modules), never from a CDN.
    expect(requested.filter((u) => !u.startsWith(api.url) && !u.startsWith('data:'))).to.deep.equal([]);
    expect(requested).to.include(`${api.url}vendor/vis-timeline-graph2d.min.js`);
    await page.close();
  });

  it("shows a run's readiness verdict and a timeline with its gap marks by kind, the outage band, and a hover", async () => {
    const page = await open();
    await page.click('tr[data-run="run-open"]');
    await page.waitForSelector('#detail[data-state="ready"] .timeline .vis-item.gap', { timeout: 30_000 });
    expect(await detailMarks(page)).to.deep.equal({
      title: 'Strategy run run-open',
      verdict: 'GAPS_OPEN',
      lanes: 2,
      OFFLINE: 2,
      NO_ACTIVITY: 1,
      UNKNOWN: 1,
      filled: 1,
      offlineBands: 1,
      covered: 5,
      gapRows: 4,
    });
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'run-open.png') });

    // Hovering a gap shows its range, missing bars, kind and status.
    const gapMark = await page.$('#detail .timeline .vis-item.gap.kind-NO_ACTIVITY');
    await gapMark!.hover();
    await page.waitForSelector('.vis-tooltip', { visible: true, timeout: 10_000 });
    const tip = await page.$eval('.vis-tooltip', (t) => t.textContent ?? '');
    expect(tip).to.include('NO_ACTIVITY gap, OPEN').and.include('[2026-11-20 11:20 UTC, 2026-11-20 11:25 UTC)');
    expect(tip).to.include('5 missing bars');

    // Zoom in with the wheel: the visible window shrinks.
    const before = await page.$eval('#detail .vis-time-axis.vis-foreground', (a) => a.textContent ?? '');
    const box = (await page.$('#detail .timeline .vis-center'))!;
    const b = (await box.boundingBox())!;
    await page.mouse.move(b.x + b.width / 2, b.y + 10);
    for (let i = 0; i < 6; i++) await page.mouse.wheel({ deltaY: -300 });
    await page.waitForFunction(
      `document.querySelector('#detail .vis-time-axis.vis-foreground')?.textContent !== ${JSON.stringify(before)}`,
      { timeout: 10_000 },
    );

    for (const [run, verdict] of [
      ['run-clean', 'CLEAN'],
      ['run-filled', 'GAPS_FILLED'],
    ]) {
      await page.click(`tr[data-run="${run}"]`);
      await page.waitForFunction(
        `document.querySelector('#detail .detail-title')?.textContent === ${JSON.stringify(`Strategy run ${run}`)}`,
        { timeout: 30_000 },
      );
      expect((await detailMarks(page)).verdict).to.equal(verdict);
    }
    await page.close();
  });

  it("shows one series' timeline from a link", async () => {
    const page = await open(`#series=${fx.seriesIds.btcBinance}`);
    await page.waitForSelector('#detail[data-state="ready"] .timeline .vis-item.gap', { timeout: 30_000 });
    expect(await detailMarks(page)).to.deep.include({
      title: 'Quantower|Binance|BTC/USDT|1-Min',
      verdict: 'GAPS_OPEN',
      OFFLINE: 2,
      NO_ACTIVITY: 1,
      UNKNOWN: 0,
      offlineBands: 1,
      covered: 3,
    });
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'series.png'), fullPage: true });
    await page.close();
  });

  it('draws the same timeline from the one-file HTML export, opened from disk with no server', async () => {
    const knex = createKnex(baseConnections.pgWorker, { min: 0, max: 1 });
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bi-export-')), 'run-open.html');
    try {
      fs.writeFileSync(
        file,
        standaloneHtml({ kind: 'run', data: await runReadiness(new ReadModel(knex), 'run-open') }),
      );
    } finally {
      await knex.destroy();
    }
    const page = await browser.newPage();
    const outside: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) outside.push(r.url());
    });
    await page.goto(`file://${file}`, { waitUntil: 'load' });
    await page.waitForSelector('body[data-loaded="true"] .timeline .vis-item.gap', { timeout: 30_000 });
    expect(await detailMarks(page)).to.deep.include({ verdict: 'GAPS_OPEN', OFFLINE: 2, NO_ACTIVITY: 1, UNKNOWN: 1 });
    expect(outside).to.deep.equal([]);
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'export.png') });
    await page.close();
  });
});
