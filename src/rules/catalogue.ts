import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { packageRoot } from '../core/paths.js';
import { DATASET_NAMES, type DatasetName, datasetDef } from '../ingest/datasets.js';
import { PARAMETER_NAMES, type ParameterName } from './parameters.js';

/**
 * Rules are data: one SQL file per rule in src/rules/sql/, opening with a JSON header between
 * `/*---` and `---*\/`. Adding a rule is adding a file. Every rule returns the same columns:
 *   key, id_number, name, township, village, dataset, snapshot_id, file_no, source_row, detail
 * where `key` is, by the header's `target`:
 *   person            — the person's ID; match maps it to their 户籍 household (漏评);
 *   hukou_household   — a 户号 (漏评 rules on 户籍 households);
 *   roster_household  — a roster household_id (错评, 错退, 信息核对);
 *   watch_household   — a household of 防止返贫监测 (监测预警): a monitoring 户编号 or a roster
 *                       household_id (match/sql/people.sql m_watch_place gives its place).
 * Parameters are referenced as $name (and $asOf) and always bound, never pasted.
 */
export const CATEGORIES = ['漏评', '错评', '错退', '信息核对', '监测预警'] as const;
export type Category = (typeof CATEGORIES)[number];
export const CATEGORY_CODE: Record<Category, string> = { 漏评: 'L', 错评: 'C', 错退: 'T', 信息核对: 'Q', 监测预警: 'M' };

const headerSchema = z
  .object({
    id: z.string().regex(/^[A-Z][0-9]+$/),
    category: z.enum(CATEGORIES),
    title: z.string().min(2),
    explain: z.string().min(4),
    target: z.enum(['person', 'hukou_household', 'roster_household', 'watch_household']),
    weight: z.number().int().min(1).max(5),
    needs: z.partialRecord(z.enum(DATASET_NAMES), z.array(z.string().min(1)).min(1)),
    params: z.array(z.enum(PARAMETER_NAMES as [ParameterName, ...ParameterName[]])),
    requiresNonEmpty: z.array(z.enum(PARAMETER_NAMES as [ParameterName, ...ParameterName[]])).optional(),
  })
  .strict();

export type RuleHeader = z.infer<typeof headerSchema>;

export interface Rule extends RuleHeader {
  file: string;
  /** The SELECT, without its header. */
  sql: string;
  sqlHash: string;
  needs: Partial<Record<DatasetName, string[]>>;
}

export function rulesDir(): string {
  return path.join(packageRoot(), 'src', 'rules', 'sql');
}

/** Catalogue order: 漏评, 错评, 错退, 信息核对, 监测预警, then by rule number (L2 before L10). */
export function compareRules(a: { category: string; id: string }, b: { category: string; id: string }): number {
  return CATEGORIES.indexOf(a.category as Category) - CATEGORIES.indexOf(b.category as Category) || Number(a.id.slice(1)) - Number(b.id.slice(1));
}

const HEADER = /^\s*\/\*---\s*\n([\s\S]*?)\n---\*\/\s*\n/;

/** Parse one rule file; problems are returned, not thrown, so all files can be checked at once. */
export function parseRule(file: string, text: string): { rule?: Rule; problems: string[] } {
  const name = path.basename(file);
  const m = HEADER.exec(text);
  if (!m) return { problems: [`${name}: 缺少开头的 /*--- {JSON} ---*/ 规则说明`] };
  let json: unknown;
  try {
    json = JSON.parse(m[1]!);
  } catch (error) {
    return { problems: [`${name}: 规则说明不是合法的 JSON：${(error as Error).message}`] };
  }
  const parsed = headerSchema.safeParse(json);
  if (!parsed.success) return { problems: parsed.error.issues.map((i) => `${name}: ${i.path.join('.') || '(根)'}: ${i.message}`) };
  const header = parsed.data;
  const sql = text.slice(m[0].length).trim().replace(/;\s*$/, '');
  const problems: string[] = [];
  if (`${header.id}.sql` !== name) problems.push(`${name}: id「${header.id}」与文件名不一致`);
  for (const [dataset, columns] of Object.entries(header.needs) as [DatasetName, string[]][]) {
    const fields = new Set(datasetDef(dataset).fields.map((f) => f.name).concat(['snapshot_id', 'file_no', 'source_row']));
    for (const c of columns) if (!fields.has(c)) problems.push(`${name}: needs.${dataset} 中的「${c}」不是该数据集的字段`);
  }
  const used = new Set([...sql.matchAll(/\$([A-Za-z_][A-Za-z0-9_]*)/g)].map((x) => x[1]!));
  used.delete('asOf');
  for (const p of used) if (!header.params.includes(p as ParameterName)) problems.push(`${name}: SQL 用到 $${p}，但 params 中没有声明`);
  for (const p of header.params) if (!used.has(p)) problems.push(`${name}: params 声明了 ${p}，但 SQL 没有用到`);
  if (problems.length) return { problems };
  return {
    rule: { ...header, needs: header.needs as Partial<Record<DatasetName, string[]>>, file, sql, sqlHash: crypto.createHash('sha256').update(sql).digest('hex') },
    problems,
  };
}

/** Load every rule of a folder, in catalogue order (漏评, 错评, 错退, 信息核对, 监测预警; then number). */
export function loadCatalogue(dir = rulesDir()): { rules: Rule[]; problems: string[] } {
  const rules: Rule[] = [];
  const problems: string[] = [];
  for (const name of fs.readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()) {
    const r = parseRule(path.join(dir, name), fs.readFileSync(path.join(dir, name), 'utf8'));
    problems.push(...r.problems);
    if (r.rule) rules.push(r.rule);
  }
  const ids = new Set<string>();
  for (const r of rules) {
    if (ids.has(r.id)) problems.push(`${r.id}: 规则编号重复`);
    ids.add(r.id);
  }
  rules.sort(compareRules);
  return { rules, problems };
}
