import path from 'node:path';
import { queryStep, runStep } from '../core/sql.js';
import { type Store, workspaceSecret } from '../core/store.js';
import { privateDir } from '../core/files.js';
import { encryptionSeed, townshipPassword } from '../core/office-crypto.js';
import { LIST_COLUMNS, rowCheck, workspaceMark } from './list-format.js';
import { type WorkbookJob, type WorkbookPool } from './workbook.js';
import type { RunRow, RunRuleRow } from './report.js';

/**
 * One workbook per township (乡镇): a sheet per category with one row per lead (household),
 * sorted by priority then village, and a 说明 sheet; plus a CSV twin in UTF-8 with BOM (Excel and WPS open it without garbling). IDs are
 * text cells in text-formatted columns so that Excel never shows 5.2E+17.
 */
export type ListRow = Record<string, string | number | null>;

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
export async function writeTownshipLists(store: Store, run: RunRow, rules: RunRuleRow[], dir: string, encrypt: { round: number } | undefined, pool: WorkbookPool): Promise<{ files: string[]; names: string[]; passwords: TownshipPassword[] }> {
  privateDir(dir);
  const all = (await queryStep<{ township: string }>(store.conn, 'township: all names', 'SELECT DISTINCT township FROM r_evidence')).map((r) => r.township);
  const fileNames = uniqueFileNames(all);
  const basePath = (township: string) => {
    const file = path.join(dir, fileNames.get(township) ?? safeFileName(township));
    // Nothing is ever written outside the lists' folder.
    if (path.dirname(file) !== path.resolve(dir)) throw new Error(`township file name escapes its folder: ${JSON.stringify(fileNames.get(township))}`);
    return file;
  };
  const ruleOrder = new Map(rules.map((r, i) => [r.rule_id, i]));
  const title = new Map(rules.map((r) => [r.rule_id, r.title]));
  // One row per lead (the township answers once per household; 核实结果 attaches to the lead),
  // aggregated once for all townships.
  await runStep(store.conn, 'township: list rows', `
    CREATE OR REPLACE TEMP TABLE r_list AS
    SELECT township, category, lead_key, any_value(category_order) AS category_order, any_value(status) AS status,
           any_value(priority) AS priority, any_value(village) AS village, any_value(household_key) AS household_key,
           any_value(rules) AS rules, coalesce(any_value(flags), '') AS flags,
           CASE WHEN any_value(last_result) IS NULL THEN '' ELSE any_value(last_result) || coalesce('：' || any_value(last_note), '') END AS last_answer,
           coalesce(any_value(head_name), '') AS head_name,
           CASE WHEN any_value(lead_linkage) IS NULL THEN '' ELSE '疑似（关联）' || any_value(lead_linkage) END AS linkage, strftime(any_value(deadline), '%Y-%m-%d') AS deadline,
           string_agg(DISTINCT coalesce(name, '') || ' ' || coalesce(id_number, ''), chr(10) ORDER BY coalesce(name, '') || ' ' || coalesce(id_number, '')) AS members_text,
           string_agg('[' || rule || '] ' || coalesce(name, '') || '，' || dataset_zh || ' ' || record_place || '：' || coalesce(detail, ''), chr(10)
                      ORDER BY rule, dataset, snapshot_id, file_no, source_row, id_number) AS evidence_text
    FROM r_evidence WHERE status <> '已核实不属实' GROUP BY township, category, lead_key`);
  // Largest townships first, so that the last workbook to finish is a small one (file names and
  // the returned lists are in name order whatever the writing order).
  const names = (await queryStep<{ township: string }>(store.conn, 'township: names', 'SELECT DISTINCT township FROM r_list ORDER BY township')).map((r) => r.township);
  const bySize = (await queryStep<{ township: string }>(store.conn, 'township: sizes',
    'SELECT township FROM r_list GROUP BY township ORDER BY count(*) DESC, township')).map((r) => r.township);
  const secret = await workspaceSecret(store);
  const mark = workspaceMark(secret);
  const passwords: TownshipPassword[] = [];
  const jobs: Promise<void>[] = [];
  {
    for (const township of bySize) {
      const rows = await queryStep<ListRow>(store.conn, 'township: rows', `
        SELECT category, lead_key, status, linkage, priority, village, household_key, head_name, rules, flags, last_answer, deadline, members_text, evidence_text
        FROM r_list WHERE township = $township
        ORDER BY category_order, priority DESC, village, household_key, lead_key`, { township });
      for (const row of rows) {
        row.rules_text = String(row.rules).split(',').sort((a, b) => (ruleOrder.get(a) ?? 0) - (ruleOrder.get(b) ?? 0)).map((r) => `${r} ${title.get(r) ?? ''}`).join('；');
        row.priority = Number(row.priority);
        row.verify_result = '';
        row.verify_note = '';
        row.row_check = rowCheck(secret, township, String(row.category), row);
      }
      const base = basePath(township);
      const password = encrypt ? townshipPassword(secret, township, encrypt.round) : undefined;
      if (password) passwords.push({ township, file: `${path.basename(base)}.xlsx`, password });
      const job: WorkbookJob = {
        file: `${base}.xlsx`, csvFile: encrypt ? undefined : `${base}.csv`, township,
        encrypt: encrypt && password ? { password, seed: encryptionSeed(secret, township, encrypt.round) } : undefined, workspaceMark: mark, asOf: run.as_of, runId: run.run_id, rules, columns: LIST_COLUMNS, rows };
      const written = pool.write(job);
      written.catch(() => {}); // observed by Promise.all below; not an unhandled rejection meanwhile
      jobs.push(written);
    }
    await Promise.all(jobs);
  }
  const files = names.flatMap((township) => (encrypt ? [`${basePath(township)}.xlsx`] : [`${basePath(township)}.xlsx`, `${basePath(township)}.csv`]));
  // In name order, whatever order the workbooks were written in.
  return { files, names, passwords: passwords.sort((a, b) => (a.township < b.township ? -1 : a.township > b.township ? 1 : 0)) };
}
