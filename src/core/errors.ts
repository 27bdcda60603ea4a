/**
 * Two kinds of failure, told apart in one place (bin/ via src/cli/main.ts):
 * - UserError: bad input or configuration; the message is Chinese, already explains what to do,
 *   and the process exits with EXIT.badInput (or EXIT.locked).
 * - anything else is a bug in bidui: it exits with EXIT.internal and says so.
 */
export const EXIT = {
  ok: 0,
  badInput: 2,
  locked: 3,
  /** bidui verify: a re-run does not reproduce what was recorded or sent out. */
  mismatch: 4,
  internal: 70,
} as const;

export interface UserErrorOptions {
  /** What the user should do about it (Chinese). */
  hint?: string;
  /** File the problem is in (shown to the user; never contains personal data). */
  file?: string;
  exitCode?: number;
}

export class UserError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly file: string | undefined;
  readonly exitCode: number;

  constructor(code: string, message: string, options: UserErrorOptions = {}) {
    super(message);
    this.name = 'UserError';
    this.code = code;
    this.hint = options.hint;
    this.file = options.file;
    this.exitCode = options.exitCode ?? EXIT.badInput;
  }

  /** The text printed on stderr. */
  format(): string {
    const lines = [`错误 [${this.code}]：${this.message}`];
    if (this.file) lines.push(`文件：${this.file}`);
    if (this.hint) lines.push(`处理办法：${this.hint}`);
    return lines.join('\n');
  }
}

/** A failure of one named SQL step; carries the step name and the SQL, never the bound values. */
export class StepError extends Error {
  readonly step: string;
  readonly sql: string;
  constructor(step: string, sql: string, cause: unknown) {
    super(`step "${step}" failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'StepError';
    this.step = step;
    this.sql = sql;
  }
}

/**
 * Remove what could be personal data from a message before it goes to a log: runs of ID-like
 * characters and runs of Han characters (names, addresses).
 */
export function redact(text: string): string {
  return text
    .replace(/[0-9０-９][0-9０-９xX.E+\- ]{7,}/g, '<redacted-digits>')
    .replace(/\p{Script=Han}+/gu, '<redacted-han>');
}

/**
 * A value from a user's file as it may be quoted in a message on the terminal: runs of six or
 * more digits (ID numbers, household numbers, phone numbers) keep their first 3 and last 2
 * characters, the rest become *. E.g. 52262519470415115X → 522*************5X.
 */
export function maskDigitRuns(text: string): string {
  return text.replace(/[0-9０-９][0-9０-９xX]{5,}/g, (run) => `${run.slice(0, 3)}${'*'.repeat(run.length - 5)}${run.slice(-2)}`);
}

/**
 * Whether a value that is not one of a field's known spellings may be quoted in a message: a
 * short code (at most 4 letters or digits, e.g. "1", "Y", "03") or text sharing a Han character
 * with a known spelling (已脱贫（享受政策） for 已脱贫). Anything else (a name, an address, an ID
 * from a column mapped to the wrong field) is not printed; the rows are named instead.
 */
export function quotable(value: string, spellings: readonly string[]): boolean {
  if (/^[0-9A-Za-z._-]{1,4}$/.test(value)) return true;
  const known = new Set(Array.from(spellings.join('')).filter((c) => /\p{Script=Han}/u.test(c)));
  return Array.from(value).some((c) => known.has(c)) && !/[0-9]{6}/.test(value);
}
