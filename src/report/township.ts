import path from 'node:path';
import { LIST, VARCHAR, listValue } from '@duckdb/node-api';
import { queryStep, runStep } from '../core/sql.js';
import { type Store, workspaceSecret } from '../core/store.js';
import { privateDir } from '../core/files.js';
import { loweredForTests } from '../core/test-override.js';
import { encryptionSeed, townshipPassword } from '../core/office-crypto.js';
import { LIST_COLUMNS, workspaceMark } from './list-format.js';
import { type WorkbookJob, type WorkbookPool } from './workbook.js';
import type { RunRow, RunRuleRow } from './report.js';

/**
 * One workbook per township (乡镇): a sheet per category with one row per lead (household),
 * sorted by priority then village, and a 说明 sheet; plus a CSV twin in UTF-8 with BOM (Excel and WPS open it without garbling). IDs are
 * text cells in text-formatted columns so that Excel never shows 5.2E+17.
 */
export type ListRow = Record<string, string | number | null>;

/**
 * Evidence rows aggregated into list rows at once (see writeTownshipLists): 1M households'
 * 275,000 fit in one. `BIDUI_LIST_BATCH_ROWS` lowers it, for tests only.
 */
function listBatchRows(): number {
  return loweredForTests('BIDUI_LIST_BATCH_ROWS', 500_000);
}

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/i;
const MAX_NAME_BYTES = 150;

/**
 * A name from the data made safe as a file name on Windows, macOS and Linux: path separators,
 * the characters Windows forbids and control characters become _, a leading dot too (no hidden
 * files, no `..`), trailing dots and spaces go (Windows drops them), a reserved device name
 * (CON, NUL, COM1 …) gets a _ after it, and it is cut to 150 bytes of UTF-8. Never empty.
 */
export function safeFileName(name: string): string {
  let out = name.normalize('NFC').replace(/[\\/:*?"<>|\x00-\x1f\x7f]/g, '_').trim().replace(/^\./, '_').replace(/[. ]+$/, '');
  if (out === '') out = '_';
  if (WINDOWS_RESERVED.test(out.split('.')[0]!)) out = `${out}_`;
  while (Buffer.byteLength(out, 'utf8') > MAX_NAME_BYTES) out = Array.from(out).slice(0, -1).join('');
  return out;
}

/**
 * File names for a set of names from the data, one each and distinct even where file systems
 * ignore case: names that clean to the same file name are told apart by a number (报京乡_2, in
 * the order of the names as written, so the same names always get the same files).
 */
export function uniqueFileNames(names: string[]): Map<string, string> {
  const out = new Map<string, string>();
  const taken = new Set<string>();
  for (const name of [...new Set(names)].sort()) {
    const base = safeFileName(name);
    let candidate = base;
    for (let n = 2; taken.has(candidate.toLowerCase()); n++) candidate = `${base}_${n}`;
    taken.add(candidate.toLowerCase());
    out.set(name, candidate);
  }
  return out;
}

/** A township's workbook and its open password (output.encrypt). */
export interface TownshipPassword {
  township: string;
  file: string;
  password: string;
}

/**
 * `rules` in catalogue order (report.ts loads them once). With `encrypt`, each workbook gets its
 * township's open password and no CSV twin is written (a plain copy beside it would defeat it).
 */
export async function writeTownshipLists(store: Store, run: RunRow, rules: RunRuleRow[], dir: string, encrypt: { round: number } | undefined, pool: WorkbookPool, monitoringVerificationDays: number): Promise<{ files: string[]; names: string[]; passwords: TownshipPassword[]; written: Promise<void> }> {
  privateDir(dir);
  const all = (await queryStep<{ township: string }>(store.conn, 'township: all names', 'SELECT DISTINCT township FROM r_evidence')).map((r) => r.township);
  const fileNames = uniqueFileNames(all);
  const basePath = (township: string) => {
    const file = path.join(dir, fileNames.get(township) ?? safeFileName(township));
    // Nothing is ever written outside the lists' folder.
    if (path.dirname(file) !== path.resolve(dir)) throw new Error(`township file name escapes its folder: ${JSON.stringify(fileNames.get(township))}`);
    return file;
  };
  // One row per lead (the township answers once per household; 核实结果 attaches to the lead),
  // aggregated for runs of townships in name order, each run of at most listBatchRows()
  // evidence rows: the lists of a province's 2.7M evidence rows aggregated at once need more
  // memory than a small engine.memoryLimit allows (list aggregates do not spill), and a run of
  // townships in name order keeps r_list stored by township, so that each township's query below
  // reads only its own blocks.
  const sizes = await queryStep<{ township: string; n: string }>(store.conn, 'township: evidence rows',
    `SELECT township, count(*) AS n FROM r_evidence WHERE status <> '已核实不属实' GROUP BY township ORDER BY township`);
  const batches: string[][] = [];
  let rowsInBatch = 0;
  const batchRows = listBatchRows();
  for (const { township, n } of sizes) {
    if (batches.length === 0 || rowsInBatch + Number(n) > batchRows) {
      batches.push([]);
      rowsInBatch = 0;
    }
    batches.at(-1)!.push(township);
    rowsInBatch += Number(n);
  }
  const listSelect = `
    SELECT township, category, lead_key, any_value(category_order) AS category_order, any_value(status) AS status,
           any_value(priority) AS priority, any_value(village) AS village, any_value(household_key) AS household_key,
           any_value(rules) AS rules, coalesce(any_value(flags), '') AS flags,
           CASE WHEN any_value(last_result) IS NULL THEN '' ELSE any_value(last_result) || coalesce('：' || any_value(last_note), '') END AS last_answer,
           coalesce(any_value(head_name), '') AS head_name,
           CASE WHEN any_value(lead_linkage) IS NULL THEN '' ELSE '疑似（关联）' || any_value(lead_linkage) END AS linkage, strftime(any_value(deadline), '%Y-%m-%d') AS deadline,
           -- Sorted lists rather than ordered string_agg: the same text, four times faster.
           array_to_string(list_sort(list_distinct(list(coalesce(name, '') || ' ' || coalesce(id_number, '')))), chr(10)) AS members_text,
           array_to_string(list_transform(list_sort(list({'r': rule, 'd': dataset, 's': snapshot_id, 'f': file_no, 'w': source_row, 'i': id_number,
             't': '[' || rule || '] ' || coalesce(name, '') || '，' || dataset_zh || ' ' || record_place || '：' || coalesce(detail, '')})), x -> x.t), chr(10)) AS evidence_text
    FROM r_evidence WHERE status <> '已核实不属实' AND township IN (SELECT unnest($townships::VARCHAR[])) GROUP BY township, category, lead_key
    ORDER BY township`;
  await runStep(store.conn, 'township: list rows', `CREATE OR REPLACE TEMP TABLE r_list AS ${listSelect.replace('$townships::VARCHAR[]', 'NULL::VARCHAR[]')}`);
  for (const batch of batches) await runStep(store.conn, 'township: list rows', `INSERT INTO r_list ${listSelect}`, { values: { townships: listValue(batch) }, types: { townships: LIST(VARCHAR) } });
  // Largest townships first, so that the last workbook to finish is a small one (file names and
  // the returned lists are in name order whatever the writing order). The townships of r_list
  // are those of `sizes` (the same rows), in name order.
  const names = sizes.map((r) => r.township);
  const bySize = (await queryStep<{ township: string }>(store.conn, 'township: sizes',
    'SELECT township FROM r_list GROUP BY township ORDER BY count(*) DESC, township')).map((r) => r.township);
  const secret = await workspaceSecret(store);
  const mark = workspaceMark(secret);
  const passwords: TownshipPassword[] = [];
  const jobs: Promise<void>[] = [];
  for (const township of bySize) {
    // The township's rows as one JSON text made by DuckDB: the worker thread parses it and
    // finishes the rows (completeListRows), so this thread does not turn every value into a
    // JavaScript string (it was the report's critical path at 1M households).
    const [{ rows_json: rowsJson }] = (await queryStep<{ rows_json: string }>(store.conn, 'township: rows', `
      SELECT coalesce(to_json(list({'category': category, 'lead_key': lead_key, 'status': status, 'linkage': linkage, 'priority': priority::INTEGER,
               'village': village, 'household_key': household_key, 'head_name': head_name, 'rules': rules, 'flags': flags, 'last_answer': last_answer,
               'deadline': deadline, 'members_text': members_text, 'evidence_text': evidence_text}
             ORDER BY category_order, priority DESC, village, household_key, lead_key))::VARCHAR, '[]') AS rows_json
      FROM r_list WHERE township = $township`, { township })) as [{ rows_json: string }];
    const base = basePath(township);
    const password = encrypt ? townshipPassword(secret, township, encrypt.round) : undefined;
    if (password) passwords.push({ township, file: `${path.basename(base)}.xlsx`, password });
    const job: WorkbookJob = {
      file: `${base}.xlsx`, csvFile: encrypt ? undefined : `${base}.csv`, township,
      encrypt: encrypt && password ? { password, seed: encryptionSeed(secret, township, encrypt.round) } : undefined, workspaceMark: mark, asOf: run.as_of, runId: run.run_id, rules, columns: LIST_COLUMNS,
      rowsJson, secretHex: secret.toString('hex'), monitoringVerificationDays };
    const written = pool.write(job);
    written.catch(() => {}); // observed by Promise.all below; not an unhandled rejection meanwhile
    jobs.push(written);
  }
  // Returned once every workbook is queued (this thread's queries are done): the caller can use
  // the connection while the worker threads write, and awaits `written`.
  const written = Promise.all(jobs).then(() => undefined);
  written.catch(() => {}); // observed by the caller
  const files = names.flatMap((township) => (encrypt ? [`${basePath(township)}.xlsx`] : [`${basePath(township)}.xlsx`, `${basePath(township)}.csv`]));
  // In name order, whatever order the workbooks were written in.
  return { files, names, passwords: passwords.sort((a, b) => (a.township < b.township ? -1 : a.township > b.township ? 1 : 0)), written };
}
