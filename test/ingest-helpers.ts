import fs from 'node:fs';
import path from 'node:path';
import { parseConfig } from '../src/config/config.js';
import { UserError } from '../src/core/errors.js';
import { createProgress } from '../src/core/progress.js';
import { queryStep } from '../src/core/sql.js';
import { openStore } from '../src/core/store.js';
import { ensureWorkspace } from '../src/core/workspace.js';
import type { DatasetName } from '../src/ingest/datasets.js';
import { ingest, type FileReport, type IngestReport } from '../src/ingest/ingest.js';
import { datasetParts, rowsSql } from '../src/ingest/rows.js';
import { testDir } from './helpers.js';

const QUIET = createProgress(process.stderr, true);

export interface Loaded {
  report: IngestReport;
  files: FileReport[];
  rows: Record<string, string | null>[];
  rejects: { source_row: string; reason_code: string; field: string | null; reason: string; row_json: string | null; file_no: number }[];
  warnings: { source_row: string; field: string; code: string; message: string; value: string | null; file_no: number }[];
}

/**
 * Ingest files as one dataset entry (extra entry options such as sheet, headerRow, values) into
 * a fresh workspace and return what the store holds: the loaded rows ordered by file and row,
 * the rejects and the warnings. Throws the UserError ingest throws.
 */
export async function loadFiles(dataset: string, files: string[], entry: Record<string, unknown> = {}, asOf = '2020-06-30', top: Record<string, unknown> = {}): Promise<Loaded> {
  const t = testDir('bidui-load-');
  try {
    const copied = files.map((f) => {
      const target = path.join(t.dir, path.basename(f));
      fs.copyFileSync(f, target);
      return path.basename(f);
    });
    const config = parseConfig({ workspace: 'ws', datasets: [{ dataset, files: copied, ...entry }], ...top }, path.join(t.dir, 'bidui.config.json'));
    const store = await openStore(ensureWorkspace(config.workspace), { memoryLimit: '1GB', threads: 2 });
    try {
      const report = await ingest(store, config, { progress: QUIET, asOf });
      const q = <T>(sql: string) => queryStep<T>(store.conn, 'test', sql);
      return {
        report,
        files: report.datasets.flatMap((d) => d.files),
        rows: await q(`SELECT * EXCLUDE (snapshot_id) FROM (${rowsSql(dataset as DatasetName, await datasetParts(store.conn, dataset as DatasetName))}) ORDER BY file_no, source_row`),
        rejects: await q('SELECT source_row, reason_code, field, reason, row_json, file_no FROM reject ORDER BY file_no, source_row'),
        warnings: await q('SELECT source_row, field, code, message, value, file_no FROM ingest_warning ORDER BY file_no, source_row, field'),
      };
    } finally {
      store.close();
    }
  } finally {
    t.cleanup();
  }
}

export async function loadError(dataset: string, files: string[], entry: Record<string, unknown> = {}, top: Record<string, unknown> = {}): Promise<UserError> {
  try {
    await loadFiles(dataset, files, entry, '2020-06-30', top);
  } catch (error) {
    if (error instanceof UserError) return error;
    throw error;
  }
  throw new Error('expected a UserError');
}

/** Write text (or bytes) to a file in dir and return its path. */
export function put(dir: string, name: string, content: string | Buffer): string {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  return file;
}
