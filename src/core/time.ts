/**
 * Times and dates as the office sees them. The store keeps UTC (its session time zone is pinned
 * to UTC); what users read is local to the office's time zone (config `timeZone`, IANA name,
 * default Asia/Shanghai), with the zone written out: `2026-11-29 21:56 (UTC+8)`. Built on the
 * platform's Intl (ICU) time zone data; DuckDB's ICU converts local times to UTC in SQL.
 */
export const DEFAULT_TIME_ZONE = 'Asia/Shanghai';

/** Is `name` a time zone this platform knows (IANA, e.g. Asia/Shanghai)? */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

function parts(instant: Date, timeZone: string): Record<string, string> {
  const format = new Intl.DateTimeFormat('en-CA', {
    timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZoneName: 'shortOffset',
  });
  return Object.fromEntries(format.formatToParts(instant).map((p) => [p.type, p.value]));
}

/** Today's date (YYYY-MM-DD) in the time zone. */
export function localDate(timeZone: string, now: Date = new Date()): string {
  const p = parts(now, timeZone);
  return `${p.year}-${p.month}-${p.day}`;
}

/**
 * A moment for users: `YYYY-MM-DD HH:MM (UTC+8)` (with `:SS` when asked). Accepts a Date or a UTC timestamp as the store
 * writes it (`YYYY-MM-DD HH:MM:SS[.ffffff]`, or ISO 8601); an unparsable value is returned as is.
 */
export function formatLocal(value: Date | string | null | undefined, timeZone: string, options: { seconds?: boolean } = {}): string {
  if (value === null || value === undefined || value === '') return '';
  const instant = value instanceof Date ? value : new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value.replace(' ', 'T')}Z`);
  if (Number.isNaN(instant.getTime())) return String(value);
  const p = parts(instant, timeZone);
  const zone = (p.timeZoneName ?? 'GMT').replace(/^GMT/, 'UTC');
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}${options.seconds ? `:${p.second}` : ''} (${zone === 'UTC' ? 'UTC+0' : zone})`;
}
