import type { Knex } from 'knex';
import { grantToWorker, workerRole } from '../shared/adapters/privileges';

/**
 * A gap record that keeps its history, and every change of it as an event:
 * - data_gaps' detected columns (from_utc, to_utc, missing_bars, detected_at) never change again;
 *   what is still missing lives beside them (remaining_bars, remaining pieces), with filled_at and
 *   filled_by once nothing is;
 * - a backfill answer is settled on facts: the bars the exporter says it sent, and where the bars
 *   topic ended when its answer arrived (response_position), so the settle timeout starts only once
 *   the ingest workers have consumed past it (caught_up_at);
 * - data_gap_events: one row per committed change of a gap (a trigger, so no code path can forget
 *   one), published in version order by the outbox: OPEN always goes out before later states.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('data_gaps', (t) => {
    t.integer('remaining_bars');
    // [{"from_ms": .., "to_ms": .., "missing_bars": ..}, ...]: the pieces of [from_utc, to_utc) still missing.
    t.jsonb('remaining');
    t.timestamp('filled_at', { useTz: true });
    t.text('filled_by').checkIn(['LIVE', 'HISTORY', 'MIXED']);
    t.bigInteger('response_bars_sent');
    // {"<partition>": <end offset>} of the bars topic when the answer was consumed.
    t.jsonb('response_position');
    t.timestamp('caught_up_at', { useTz: true });
  });
  await knex.raw(`
    UPDATE data_gaps SET
      remaining_bars = CASE WHEN status = 'FILLED' THEN 0 ELSE missing_bars END,
      remaining = CASE WHEN status = 'FILLED' THEN '[]'::jsonb ELSE jsonb_build_array(jsonb_build_object(
        'from_ms', (extract(epoch FROM from_utc) * 1000)::bigint,
        'to_ms', (extract(epoch FROM to_utc) * 1000)::bigint,
        'missing_bars', missing_bars)) END,
      filled_at = CASE WHEN status = 'FILLED' THEN updated_at END`);
  await knex.raw('ALTER TABLE data_gaps ALTER COLUMN remaining_bars SET NOT NULL, ALTER COLUMN remaining SET NOT NULL');
  // A gap inserted without them (by SQL, a tool) is missing everything it was detected with.
  await knex.raw(`
    CREATE FUNCTION data_gaps_remaining_default() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      NEW.remaining_bars := coalesce(NEW.remaining_bars, CASE WHEN NEW.status = 'FILLED' THEN 0 ELSE NEW.missing_bars END);
      NEW.remaining := coalesce(NEW.remaining, CASE WHEN NEW.status = 'FILLED' THEN '[]'::jsonb ELSE jsonb_build_array(
        jsonb_build_object('from_ms', (extract(epoch FROM NEW.from_utc) * 1000)::bigint,
                           'to_ms', (extract(epoch FROM NEW.to_utc) * 1000)::bigint,
                           'missing_bars', NEW.missing_bars)) END);
      RETURN NEW;
    END $$`);
  await knex.raw(`CREATE TRIGGER data_gaps_remaining_on_insert BEFORE INSERT ON data_gaps
    FOR EACH ROW EXECUTE FUNCTION data_gaps_remaining_default()`);
  // Late bars are looked up in every gap that is not FILLED (NO_DATA and UNFILLABLE may still fill).
  await knex.raw(`CREATE INDEX data_gaps_unfilled ON data_gaps (series_id, from_utc, to_utc) WHERE status <> 'FILLED'`);

  await knex.schema.createTable('data_gap_events', (t) => {
    t.text('gap_id').notNullable().references('data_gaps.gap_id').onDelete('CASCADE');
    t.integer('version').notNullable();
    // The transaction that wrote it: several changes of one gap in one transaction are one event.
    t.bigInteger('tx').notNullable().defaultTo(knex.raw('txid_current()'));
    // The data_gaps row as it was after the change.
    t.jsonb('state').notNullable();
    t.timestamp('recorded_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('published_at', { useTz: true });
    t.primary(['gap_id', 'version']);
  });
  await knex.raw('CREATE INDEX data_gap_events_unpublished ON data_gap_events (gap_id) WHERE published_at IS NULL');
  await knex.raw(`
    CREATE FUNCTION data_gaps_record_event() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      DELETE FROM data_gap_events
       WHERE gap_id = NEW.gap_id AND tx = txid_current() AND published_at IS NULL;
      INSERT INTO data_gap_events (gap_id, version, state) VALUES (NEW.gap_id, NEW.event_version, to_jsonb(NEW));
      RETURN NULL;
    END $$`);
  await knex.raw(`CREATE TRIGGER data_gaps_event_on_insert AFTER INSERT ON data_gaps
    FOR EACH ROW EXECUTE FUNCTION data_gaps_record_event()`);
  await knex.raw(`CREATE TRIGGER data_gaps_event_on_change AFTER UPDATE ON data_gaps
    FOR EACH ROW WHEN (NEW.event_version > OLD.event_version) EXECUTE FUNCTION data_gaps_record_event()`);
  // Changes made before this migration and not published yet go out as their latest state.
  await knex.raw(`INSERT INTO data_gap_events (gap_id, version, state)
    SELECT gap_id, event_version, to_jsonb(g) FROM data_gaps g WHERE event_version > published_version`);

  // Reference data: a counter every change bumps (whoever makes it: the venues command or SQL),
  // which running workers poll to reload their catalog.
  await knex.schema.createTable('reference_data_version', (t) => {
    t.integer('id').primary().checkIn(['1']);
    t.bigInteger('version').notNullable().defaultTo(1);
    t.timestamp('changed_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex('reference_data_version').insert({ id: 1 });
  await knex.raw(`
    CREATE FUNCTION reference_data_bump() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE reference_data_version SET version = version + 1, changed_at = now() WHERE id = 1;
      RETURN NULL;
    END $$`);
  for (const table of ['providers', 'venues', 'symbol_aliases']) {
    await knex.raw(`CREATE TRIGGER ${table}_bump_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${table}
      FOR EACH STATEMENT EXECUTE FUNCTION reference_data_bump()`);
  }
  // The workers' role (least privilege, shared/adapters/privileges.ts): the trigger records a gap's
  // changes as the worker that makes them, the outbox reads and marks them, and a worker that
  // auto-registers a venue bumps the reference data version.
  await grantToWorker(knex, 'data_gap_events', ['SELECT', 'INSERT', 'UPDATE', 'DELETE'], workerRole());
  await grantToWorker(knex, 'reference_data_version', ['SELECT', 'UPDATE'], workerRole());
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['providers', 'venues', 'symbol_aliases']) {
    await knex.raw(`DROP TRIGGER IF EXISTS ${table}_bump_version ON ${table}`);
  }
  await knex.raw('DROP FUNCTION IF EXISTS reference_data_bump()');
  await knex.schema.dropTableIfExists('reference_data_version');
  await knex.raw('DROP TRIGGER IF EXISTS data_gaps_event_on_insert ON data_gaps');
  await knex.raw('DROP TRIGGER IF EXISTS data_gaps_event_on_change ON data_gaps');
  await knex.raw('DROP FUNCTION IF EXISTS data_gaps_record_event()');
  await knex.raw('DROP TRIGGER IF EXISTS data_gaps_remaining_on_insert ON data_gaps');
  await knex.raw('DROP FUNCTION IF EXISTS data_gaps_remaining_default()');
  await knex.schema.dropTableIfExists('data_gap_events');
  await knex.raw('DROP INDEX IF EXISTS data_gaps_unfilled');
  await knex.schema.alterTable('data_gaps', (t) => {
    t.dropColumns(
      'remaining_bars',
      'remaining',
      'filled_at',
      'filled_by',
      'response_bars_sent',
      'response_position',
      'caught_up_at',
    );
  });
}
