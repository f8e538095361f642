import fs from 'node:fs';
import path from 'node:path';

/** The page's own files (HTML, script, styles), served under /page/ and inlined by the HTML export. */
export const PAGE_DIR = path.join(__dirname, 'page');

/**
 * vis-timeline's standalone build (its CSS is injected by the script itself), taken from
 * node_modules: served under /vendor/, inlined by the HTML export, never fetched from a CDN.
 */
export const VENDOR_DIR = path.join(path.dirname(require.resolve('vis-timeline/package.json')), 'standalone', 'umd');
export const VIS_TIMELINE_FILE = 'vis-timeline-graph2d.min.js';

export function pageFile(name: string): string {
  return fs.readFileSync(path.join(PAGE_DIR, name), 'utf8');
}

export function visTimelineScript(): string {
  return fs.readFileSync(path.join(VENDOR_DIR, VIS_TIMELINE_FILE), 'utf8');
}
