import type { TradingCalendar } from '../../shared/domain/calendar';
import { expectsBar } from '../../shared/domain/calendar-gaps';
import type { Timeframe } from '../../shared/domain/timeframe';

/**
 * Bars that arrive inside their venue's closed time (pre-market stock bars, a bar during CME's
 * daily halt): stored like any bar, since exporters send what the venue sends, and counted here
 * so a calendar that is wrong, or a feed that trades off-hours, shows up on /metrics. A flush whose
 * gap stage is retried (a dependency failed) counts its bars again: a rate, not an exact tally.
 */
export class ClosedTimeBars {
  total = 0;

  /** Counts the bars of one series in closed time; nothing to do for an always-open venue. */
  count(cal: TradingCalendar, tf: Timeframe, times: readonly number[]): void {
    if (cal.alwaysOpen) return;
    for (const t of times) if (!expectsBar(cal, tf, t)) this.total += 1;
  }

  snapshot(): Record<string, number> {
    return { bars_in_closed_time: this.total };
  }
}
