/**
 * Headless Debian chromium for the page tests, driven by puppeteer-core (which downloads no
 * browser of its own). `make browser` (a prerequisite of the integration tests) installs it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer, { Browser } from 'puppeteer-core';

export const CHROMIUM = process.env.BI_CHROMIUM ?? '/usr/bin/chromium';
/** Screenshots for a person to look at after a run (git-ignored). */
export const SCREENSHOT_DIR = path.resolve(__dirname, '../screenshots');

export async function launchChromium(): Promise<{ browser: Browser; close(): Promise<void> }> {
  if (!fs.existsSync(CHROMIUM))
    throw new Error(`no chromium at ${CHROMIUM}: run \`make browser\` (or set BI_CHROMIUM to another binary)`);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'bi-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 60_000,
    protocolTimeout: 60_000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
      `--user-data-dir=${profile}`,
      '--window-size=1400,900',
    ],
    defaultViewport: { width: 1400, height: 900 },
  });
  return {
    browser,
    async close() {
      await browser.close().catch(() => undefined);
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}
