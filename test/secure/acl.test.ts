import { expect } from 'chai';
import { TestContext, uniqueName } from '../support/stack';

/** Run by `make test-secure`: the secured broker's ACLs hold the worker user to its own topics and groups. */
describe('secured stack: Kafka ACLs of the worker user', function () {
  before(function () {
    if (process.env.BI_SECURE !== '1') this.skip();
  });

  it('may not create, read or join anything outside its topic and group prefixes', async () => {
    const ctx = new TestContext();
    const admin = ctx.kafka.admin();
    await admin.connect();
    try {
      const foreign = uniqueName('other.topic');
      // kafkajs reports each topic's error inside a "Topic creation errors" aggregate.
      const created = await admin
        .createTopics({ topics: [{ topic: foreign, numPartitions: 1, replicationFactor: 1 }] })
        .then(
          () => 'created',
          (err: { message: string; errors?: Array<{ type?: string; message: string }> }) =>
            [err.message, ...(err.errors ?? []).map((e) => `${e.type ?? ''} ${e.message}`)].join(' '),
        );
      expect(created).to.match(/TOPIC_AUTHORIZATION_FAILED|authoriz/i);
      // A group of its own (t-*) is found; anyone else's is not: kafkajs reports the refused
      // FindCoordinator (GROUP_AUTHORIZATION_FAILED) only as "Failed to find group coordinator".
      const offsetsOf = (groupId: string): Promise<string> =>
        admin.fetchOffsets({ groupId, topics: [] }).then(
          () => 'allowed',
          (err: unknown) => String((err as Error).message),
        );
      expect(await offsetsOf(`${ctx.prefix}ingest`)).to.equal('allowed');
      expect(await offsetsOf(uniqueName('someone-else'))).to.match(/authoriz|Failed to find group coordinator/i);
    } finally {
      await admin.disconnect();
    }
  });
});
