/**
 * The timeline as one self-contained HTML file (styles, vis-timeline and the data inlined): what
 * `make coverage ... HTML=file` writes, to attach to a report and open on any machine, offline.
 */
import { pageFile, visTimelineScript } from './assets';
import type { LaneJson, ReadinessJson } from './views';

export type DetailView = { kind: 'series'; data: LaneJson } | { kind: 'run'; data: ReadinessJson };

/** Text safe inside a <script> element: `</script>` and `<!--` cannot end or confuse it. */
function scriptText(text: string): string {
  return text.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

export function standaloneHtml(view: DetailView, generatedAt = new Date()): string {
  const title = view.kind === 'run' ? `Strategy run ${view.data.run.id}` : view.data.series.key;
  const data = JSON.stringify(view).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8" />
<title>${escapeHtml(title)}: coverage and gaps</title>
<style>${pageFile('style.css')}</style>
<script>${scriptText(visTimelineScript())}</script>
<script>${scriptText(pageFile('timeline.js'))}</script>
</head>
<body>
<header><h1>bar-ingest: coverage and gaps (exported ${escapeHtml(generatedAt.toISOString())})</h1></header>
<main class="single"><section class="panel" id="detail"></section></main>
<script>
window.CoverageTimeline.renderDetail(document.getElementById('detail'), ${data});
document.body.setAttribute('data-loaded', 'true');
</script>
</body>
</html>
`;
}
