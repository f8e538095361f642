/**
 * When an answered history request is settled. The exporter publishes its history bars, then its
 * HistoryResponse; the ingest workers may be far behind on the bars topic (a backlog is exactly
 * when backfills happen), so the moment the answer arrives says nothing about whether its bars
 * are stored yet. Two facts do: the bars stored in the gap's range account for what the answer
 * says was sent, or the ingest workers have consumed past where the bars topic ended when the
 * answer arrived (everything the exporter wrote before its answer is then stored).
 */

/** Offsets per partition of one topic, keyed by partition number ("0": 1234). */
export type TopicPosition = Readonly<Record<string, number>>;

/**
 * Whether a consumer group's committed offsets (the next offset each partition will read, -1 or
 * absent for none) have reached `position` (end offsets) on every partition: then every message
 * written before `position` was consumed and, for the ingest group, stored.
 */
export function consumedPast(committed: TopicPosition, position: TopicPosition): boolean {
  return Object.entries(position).every(([partition, end]) => end <= 0 || (committed[partition] ?? -1) >= end);
}

export type Settlement = 'FILLED' | 'NO_DATA' | 'WAIT';

/**
 * What an answered gap is now: FILLED when nothing is missing; NO_DATA when what is missing is
 * still missing although the bars that arrived in the range account for every bar the exporter
 * said it sent (it has no more), or the settle time has passed since the ingest workers consumed
 * past the answer; otherwise wait. (Bars arriving later still fill a NO_DATA gap.)
 */
export function settlement(s: {
  missingBars: number;
  remainingBars: number;
  barsSent: number;
  settleTimeUp: boolean;
}): Settlement {
  if (s.remainingBars === 0) return 'FILLED';
  // Every bar in the range arrived after the gap was detected (it was all missing then).
  const arrived = s.missingBars - s.remainingBars;
  if (arrived >= s.barsSent || s.settleTimeUp) return 'NO_DATA';
  return 'WAIT';
}
