import { baseConnections, closeDb, db, deleteTestTopics } from './stack';
import { migrateLatest } from '../../shared/adapters/postgres';

/** Root hooks: fail fast with a useful message when the stack is not up; migrate the test database. */
export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(60_000);
    try {
      await db().raw('SELECT 1');
    } catch (err) {
      throw new Error(
        `PostgreSQL at ${baseConnections.pgAdmin.host}:${baseConnections.pgAdmin.port}/${baseConnections.pgAdmin.database} ` +
          `is not reachable (${(err as Error).message}). Run \`make prepare\` (or \`make test\`, which does it).`,
      );
    }
    await migrateLatest(db());
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(90_000);
    await closeDb();
    await deleteTestTopics();
  },
};
