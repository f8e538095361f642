// Preloaded into a benchmark worker (node --require bench/heap-probe.cjs): appends the process's
// memory use as a JSON line to $BI_HEAP_PROBE_FILE every $BI_HEAP_PROBE_MS (default 10 s), so the
// soak can watch the heap without any code in the worker itself.
/* global setInterval */
'use strict';
const fs = require('node:fs');
const file = process.env.BI_HEAP_PROBE_FILE;
if (file) {
  const every = Number(process.env.BI_HEAP_PROBE_MS || 10000);
  const sample = () => {
    const m = process.memoryUsage();
    fs.appendFileSync(
      file,
      JSON.stringify({
        t: Date.now(),
        rss: m.rss,
        heapUsed: m.heapUsed,
        heapTotal: m.heapTotal,
        external: m.external,
      }) + '\n',
    );
  };
  sample();
  setInterval(sample, every).unref();
}
