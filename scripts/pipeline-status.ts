/**
 * Has the system caught up? Consumer lag per group and topic, gap changes not yet published, and
 * backfills in flight, with a verdict. Exit 0 when caught up, 1 when not (with --wait: once it is,
 * or 1 when the time is up).
 *
 *   make status-pipeline [ARGS='--json' | ARGS='--wait 120 --exporter-group my-exporter']
 */
import { createKafka } from '../shared/adapters/kafka';
import { createKnex } from '../shared/adapters/postgres';
import { pipelineStatus, PipelineStatus } from '../shared/adapters/pipeline-status';
import { EnvReader } from '../shared/runtime/config';
import { parseArgsOrExit } from '../shared/runtime/args';
import { loadConfigOrExit } from '../shared/runtime/process';
import { sleep } from '../shared/runtime/sleep';
import { silentLogger } from '../shared/runtime/log';
import { readConnections } from '../shared/runtime/connections';
import { readBackfillKinds, readContinuityGroupId, readIngestGroupId } from '../shared/runtime/pipeline-settings';

const USAGE = `Usage: tsx scripts/pipeline-status.ts [--json] [--wait SECONDS] [--exporter-group GROUP]

Prints, for the ingest group (BI_INGEST_GROUP_ID) on the bars topic and the continuity group
(BI_CONTINUITY_GROUP_ID) on the connection-status and history-responses topics, the messages not
yet consumed; the gap changes not yet published on the gaps topic; and the backfills in flight
(awaiting a request, an answer, the ingest workers, or settling). "caught up: yes" when all are 0.

  --json            print JSON
  --wait SECONDS    poll every second until caught up (exit 0) or the time is up (exit 1)
  --exporter-group  also show an exporter's consumer group on the history-requests topic`;

function format(s: PipelineStatus): string {
  const lines = ['consumer lag (messages not yet consumed):'];
  for (const g of s.groups)
    lines.push(
      `  ${g.group.padEnd(40)} ${g.topic.padEnd(36)} ${String(g.lag).padStart(9)}${g.started ? '' : '  (no commits yet)'}`,
    );
  lines.push('gaps:');
  lines.push(`  changes not yet published on the gaps topic  ${s.gaps.unpublishedEvents}`);
  lines.push(`  backfill: awaiting a history request         ${s.gaps.awaitingRequest}`);
  lines.push(`  backfill: awaiting the exporter's answer     ${s.gaps.awaitingAnswer}`);
  lines.push(`  backfill: answered, ingest not past it yet   ${s.gaps.awaitingIngest}`);
  lines.push(`  backfill: settling                           ${s.gaps.settling}`);
  lines.push(`caught up: ${s.caughtUp ? 'yes' : 'no'}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const args = parseArgsOrExit(process.argv.slice(2), { json: false, wait: 0, exporterGroup: '' }, USAGE);
  const config = loadConfigOrExit((env: EnvReader) => {
    const connections = readConnections(env, 'bar-ingest-status');
    return {
      connections,
      ingestGroupId: readIngestGroupId(env),
      groupId: readContinuityGroupId(env, connections.topicPrefix),
      backfillKinds: readBackfillKinds(env),
    };
  });
  const c = config.connections;
  const knex = createKnex(c.pgWorker, { min: 0, max: 1 });
  const admin = createKafka(c.kafka, silentLogger).admin();
  await admin.connect();
  const groups = [
    { group: config.ingestGroupId, topic: c.topics.bars },
    { group: config.groupId, topic: c.topics.connectionStatus },
    { group: config.groupId, topic: c.topics.historyResponses },
    ...(args.exporterGroup ? [{ group: args.exporterGroup, topic: c.topics.historyRequests }] : []),
  ];
  try {
    const deadline = Date.now() + args.wait * 1000;
    for (;;) {
      const status = await pipelineStatus(admin, knex, groups, config.backfillKinds);
      if (status.caughtUp || Date.now() >= deadline) {
        process.stdout.write((args.json ? JSON.stringify(status, null, 2) : format(status)) + '\n');
        process.exitCode = status.caughtUp ? 0 : 1;
        return;
      }
      await sleep(1000);
    }
  } finally {
    await admin.disconnect();
    await knex.destroy();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`pipeline status failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
