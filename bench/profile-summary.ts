/**
 * Summarizes a V8 .cpuprofile (from `tsx bench/run.ts --profile`): self time by function and by
 * package, so the next bottleneck is visible without a browser. Usage: tsx bench/profile-summary.ts FILE [TOP]
 */
import fs from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

function main(): void {
  const [file, topArg] = process.argv.slice(2);
  if (!file || file === '--help') {
    process.stdout.write('usage: tsx bench/profile-summary.ts FILE.cpuprofile [TOP]\n');
    process.exit(file ? 0 : 2);
  }
  const top = Number(topArg ?? 25);
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: Node[] };
  const total = profile.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0);
  const byFn = new Map<string, number>();
  const byPkg = new Map<string, number>();
  for (const n of profile.nodes) {
    const hits = n.hitCount ?? 0;
    const url = n.callFrame.url.replace(/^file:\/\//, '');
    const pkg =
      /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ??
      (url.includes('/work/') ? 'project' : url || n.callFrame.functionName);
    const fn = `${n.callFrame.functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + hits);
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + hits);
  }
  const print = (title: string, m: Map<string, number>): void => {
    process.stdout.write(`\n${title}\n`);
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      process.stdout.write(`${((100 * v) / total).toFixed(1).padStart(6)}%  ${k}\n`);
    }
  };
  print('self time by package', byPkg);
  print('self time by function', byFn);
}

main();
