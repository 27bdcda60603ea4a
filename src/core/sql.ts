import type { DuckDBConnection, DuckDBType, DuckDBValue } from '@duckdb/node-api';
import { StepError, redact } from './errors.js';
import { log } from './log.js';

export type Params = DuckDBValue[] | Record<string, DuckDBValue>;
/** Values with their types, for parameters whose type cannot be inferred (lists, maps, dates). */
export interface TypedParams {
  values: Record<string, DuckDBValue>;
  types: Record<string, DuckDBType>;
}
export type JsonRow = Record<string, string | number | boolean | null | JsonRow[] | unknown>;

/** A moment as DuckDB TIMESTAMP text in UTC ('YYYY-MM-DD HH:MM:SS.mmm'). */
export function sqlTimestamp(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
}

/** Quote an identifier for DuckDB ("a""b"). Identifiers never come from data. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Quote a string literal. Only for constants that come from bidui's own source (column lists,
 * alias tables, file paths chosen by the user); data values are always bound as parameters.
 */
export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * Every SQL statement bidui runs goes through here: timing at debug level, and a failure is
 * re-raised as a StepError that names the step and carries the SQL (never the bound values).
 */
export async function runStep(conn: DuckDBConnection, step: string, sql: string, params?: Params | TypedParams): Promise<void> {
  const started = performance.now();
  try {
    if (params && 'types' in params && 'values' in params) await conn.run(sql, params.values as Record<string, DuckDBValue>, params.types as Record<string, DuckDBType>);
    else await conn.run(sql, params as Params | undefined);
  } catch (error) {
    log().error({ step, error: redact(error instanceof Error ? error.message : String(error)) }, 'sql step failed');
    throw new StepError(step, sql, error);
  }
  log().debug({ step, ms: Math.round(performance.now() - started) }, 'sql step');
}

/** Like runStep, returning rows as JSON-safe objects (BIGINT as string, DATE as 'YYYY-MM-DD'). */
export async function queryStep<T = JsonRow>(
  conn: DuckDBConnection,
  step: string,
  sql: string,
  params?: Params,
): Promise<T[]> {
  const started = performance.now();
  try {
    const reader = await conn.runAndReadAll(sql, params);
    const rows = reader.getRowObjectsJson() as unknown as T[];
    log().debug({ step, ms: Math.round(performance.now() - started), rows: rows.length }, 'sql query');
    return rows;
  } catch (error) {
    log().error({ step, error: redact(error instanceof Error ? error.message : String(error)) }, 'sql query failed');
    throw new StepError(step, sql, error);
  }
}

/** Run fn inside BEGIN/COMMIT; roll back on any failure so the store is never half-written. */
export async function inTransaction<T>(conn: DuckDBConnection, step: string, fn: () => Promise<T>): Promise<T> {
  await runStep(conn, `${step}: begin`, 'BEGIN TRANSACTION');
  try {
    const result = await fn();
    await runStep(conn, `${step}: commit`, 'COMMIT');
    return result;
  } catch (error) {
    try {
      await conn.run('ROLLBACK');
    } catch {
      // The transaction may already be aborted by the engine; nothing more to undo.
    }
    throw error;
  }
}
