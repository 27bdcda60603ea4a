import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { zhCN } from 'zod/v4/locales';
import { UserError } from '../core/errors.js';
import { datasetLabel, describeIssue, nearest } from './config-errors.js';
import { DEFAULT_TIME_ZONE, isTimeZone } from '../core/time.js';
import { DEFAULT_LIMITS, type InputLimits } from '../ingest/limits.js';
import { DATASET_NAMES, type DatasetName, datasetDef, normaliseHeader } from '../ingest/datasets.js';
import { cleanText } from '../ingest/values.js';
import { defaultParameters, type ParameterValues, rulesConfigSchema } from '../rules/parameters.js';

z.config(zhCN());

/**
 * bidui.config.json, validated in three steps (schema → normalise → cross-field rules); every
 * problem is collected and reported at once, one line each (config-errors.ts words them).
 */
export const ENCODINGS = ['auto', 'utf-8', 'gbk', 'gb18030', 'utf-16le', 'utf-16be'] as const;
/** File extensions read as workbooks (SheetJS); everything else is delimited text. */
export const SPREADSHEET_EXTENSIONS = ['.xlsx', '.xlsm', '.xls', '.et', '.ods'] as const;
export type Encoding = (typeof ENCODINGS)[number];

const datasetEntrySchema = z
  .object({
    dataset: z.enum(DATASET_NAMES),
    files: z.array(z.string().min(1)).min(1),
    encoding: z.enum(ENCODINGS).default('auto'),
    sheet: z.string().min(1).optional(),
    headerRow: z.number().int().min(1).max(1_048_576).optional(),
    columns: z.record(z.string().min(1), z.string().min(1)).default({}),
    values: z.record(z.string().min(1), z.record(z.string().min(1), z.string().min(1))).default({}),
  })
  .strict();

export const configSchema = z
  .object({
    workspace: z.string().min(1),
    datasets: z.array(datasetEntrySchema).min(1),
    rules: rulesConfigSchema.default({}),
    output: z
      .object({
        dir: z.string().min(1).optional(),
        maskIds: z.boolean().default(false),
        // Optional without defaults: a config that does not use them keeps its hash.
        encrypt: z.boolean().optional(),
        passwordRound: z.number().int().min(1).max(999).optional(),
        /** Days a township has to verify a lead, from the day it was first issued (核实期限). */
        verificationDays: z.number().int().min(1).max(365).optional(),
        /** The same for 监测预警 leads (default: verificationDays). */
        monitoringVerificationDays: z.number().int().min(1).max(365).optional(),
        /** XLSX twins of evidence.csv and leads.csv: true, false or 'auto' (default: up to report.ts ANALYST_AUTO_MAX_ROWS evidence rows). */
        analystWorkbooks: z.union([z.boolean(), z.literal('auto')], { error: (issue) => `应为 true、false（不加引号）或 "auto"，这里是 ${JSON.stringify(issue.input)}` }).optional(),
      })
      .strict()
      .default({ maskIds: false }),
    engine: z
      .object({
        memoryLimit: z
          .string()
          .regex(/^[0-9]+(\.[0-9]+)?\s*(MB|GB|MiB|GiB)$/i, '应写成如 "3GB" 或 "512MB"')
          .default('3GB'),
        threads: z.number().int().min(1).max(256).optional(),
      })
      .strict()
      .default({ memoryLimit: '3GB' }),
    quality: z
      .object({
        /** Share of a dataset's rows that may be rejected before `bidui run` stops (DOMAIN.md "Counting"). */
        maxRejectedShare: z.number().min(0).max(1).default(0.01),
        /** A dataset whose export is older than this many days on the as-of date is flagged in the summary. */
        staleDays: z.number().int().min(1).max(3650).optional(),
      })
      .strict()
      .default({ maxRejectedShare: 0.01 }),
    linkage: z
      .object({
        /** Link records with a damaged ID to 户籍 people (match/linkage.ts); default on. */
        recoverDamagedIds: z.boolean().optional(),
      })
      .strict()
      .optional(),
    /** The office's time zone (IANA): dates without a time, and times shown to users. */
    timeZone: z.string().refine(isTimeZone, '不是可识别的时区名称（IANA 时区，例如 "Asia/Shanghai"）').default(DEFAULT_TIME_ZONE),
    limits: z
      .object({
        /** Rows read from one file or sheet (default above Excel's 1,048,576). */
        maxRowsPerFile: z.number().int().min(1).max(100_000_000).default(DEFAULT_LIMITS.maxRowsPerFile),
        /** Characters in one cell (default Excel's 32,767). */
        maxCellChars: z.number().int().min(100).max(100_000).default(DEFAULT_LIMITS.maxCellChars),
        /** Unpacked size of a workbook's parts, in MB, checked before reading them. */
        maxUnpackedMB: z.number().int().min(1).max(4096).default(DEFAULT_LIMITS.maxUnpackedMB),
      })
      .strict()
      .default(DEFAULT_LIMITS),
  })
  .strict();

export type RawConfig = z.infer<typeof configSchema>;

export interface DatasetSource {
  dataset: DatasetName;
  /** Glob patterns, absolute. */
  files: string[];
  encoding: Encoding;
  /** A worksheet name, '*' (every visible sheet) or undefined (the first visible sheet). */
  sheet: string | undefined;
  /** 1-based row of the header; undefined: found automatically. */
  headerRow: number | undefined;
  /** normalised header in file → canonical field */
  columns: Record<string, string>;
  /** field → cleaned spelling → canonical value (other spellings of coded fields). */
  values: Record<string, Record<string, string>>;
}

export interface Config {
  file: string;
  dir: string;
  /** SHA-256 of the validated config with defaults filled in (paths as written). */
  hash: string;
  workspace: string;
  sources: DatasetSource[];
  rules: ParameterValues;
  /** encrypt: township workbooks with an open password per township (round: config passwordRound, default 1). */
  output: { dir: string | undefined; maskIds: boolean; encrypt: { round: number } | undefined };
  engine: { memoryLimit: string; threads: number | undefined };
  quality: { maxRejectedShare: number };
  /** recoverDamagedIds: the linkage lane of damaged IDs (default true). */
  linkage: { recoverDamagedIds: boolean };
  timeZone: string;
  limits: InputLimits;
  raw: RawConfig;
}


/** Canonical JSON (sorted keys) so that the hash does not depend on key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function parseConfig(value: unknown, file: string): Config {
  const parsed = configSchema.safeParse(value, { reportInput: true });
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(describeIssue(issue, configSchema));
    throw configError(file, problems);
  }
  const raw = parsed.data;
  // Cross-field rules.
  raw.datasets.forEach((entry, i) => {
    const def = datasetDef(entry.dataset);
    const fieldNames = new Set(def.fields.map((fd) => fd.name));
    for (const [header, field] of Object.entries(entry.columns)) {
      if (!fieldNames.has(field)) {
        problems.push(
          `datasets[${i}].columns.${header}：「${field}」不是 ${datasetLabel(entry.dataset)}的字段${nearest(field, [...fieldNames]) ? `；是不是 ${nearest(field, [...fieldNames])}？` : '；'}可用字段：${def.fields.map((f) => `${f.name}（${f.zh}）`).join('、')}`,
        );
      }
    }
    if (entry.sheet && !entry.files.some((p) => SPREADSHEET_EXTENSIONS.some((ext) => p.toLowerCase().endsWith(ext)))) {
      problems.push(`datasets[${i}].sheet：只对工作簿（${SPREADSHEET_EXTENSIONS.join('、')}）有效，但 files 中没有工作簿`);
    }
    for (const [field, spellings] of Object.entries(entry.values)) {
      const fd = def.fields.find((x) => x.name === field);
      if (!fd || !fd.values) {
        const coded = def.fields.filter((x) => x.values).map((x) => `${x.name}（${x.zh}）`);
        problems.push(`datasets[${i}].values.${field}：「${field}」不是 ${datasetLabel(entry.dataset)}的代码字段；可映射的字段：${coded.join('、') || '（无）'}`);
        continue;
      }
      const canonical = Object.keys(fd.values);
      for (const [spelling, value] of Object.entries(spellings)) {
        if (!canonical.includes(value)) {
          problems.push(`datasets[${i}].values.${field}.${spelling}：「${value}」不是${fd.zh}的标准值；应为 ${canonical.join('、')} 之一`);
        }
      }
    }
  });
  const rules = { ...defaultParameters(), ...raw.rules } as ParameterValues;
  if (rules.dropoutMinAge > rules.dropoutMaxAge) {
    problems.push(`rules.dropoutMinAge：不能大于 rules.dropoutMaxAge（${rules.dropoutMaxAge}）`);
  }
  if (problems.length > 0) throw configError(file, problems);

  const dir = path.dirname(path.resolve(file));
  const sources: DatasetSource[] = raw.datasets.map((entry) => ({
    dataset: entry.dataset,
    files: entry.files.map((p) => path.resolve(dir, p)),
    encoding: entry.encoding,
    sheet: entry.sheet,
    headerRow: entry.headerRow,
    columns: Object.fromEntries(Object.entries(entry.columns).map(([h, fld]) => [normaliseHeader(h), fld])),
    values: Object.fromEntries(Object.entries(entry.values).map(([fld, map]) => [fld, Object.fromEntries(Object.entries(map).map(([k, v]) => [cleanText(k) ?? k, v]))])),
  }));
  return {
    file: path.resolve(file),
    dir,
    hash: crypto.createHash('sha256').update(canonicalJson(raw)).digest('hex'),
    workspace: path.resolve(dir, raw.workspace),
    sources,
    rules,
    output: { dir: raw.output.dir ? path.resolve(dir, raw.output.dir) : undefined, maskIds: raw.output.maskIds, encrypt: raw.output.encrypt ? { round: raw.output.passwordRound ?? 1 } : undefined },
    engine: { memoryLimit: raw.engine.memoryLimit, threads: raw.engine.threads },
    quality: { maxRejectedShare: raw.quality.maxRejectedShare },
    linkage: { recoverDamagedIds: raw.linkage?.recoverDamagedIds ?? true },
    timeZone: raw.timeZone,
    limits: { ...raw.limits },
    raw,
  };
}

function configError(file: string, problems: string[]): UserError {
  return new UserError('E_CONFIG', `配置文件有 ${problems.length} 处问题：\n  ${problems.join('\n  ')}`, {
    file,
    hint: '按上面列出的路径逐项修改配置文件后重试；各项的含义见 docs/使用说明.md 第 2 节（英文见 README 的 “Configuration”）。',
  });
}

export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new UserError('E_CONFIG_MISSING', `找不到或无法读取配置文件`, {
      file,
      hint: '用 --config 指定 bidui.config.json 的路径。',
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    // The place of the mistake, in Chinese (the parser's own words are English).
    const message = (error as Error).message;
    const lc = /line (\d+) column (\d+)/.exec(message);
    const pos = /position (\d+)/.exec(message);
    const before = pos ? text.replace(/^\uFEFF/, '').slice(0, Number(pos[1])) : undefined;
    // A comma before } or ] (the commonest slip) has no position in some of Node's messages.
    const comma = /,\s*[}\]]/.exec(text.replace(/^\uFEFF/, ''));
    const at = before ?? (comma ? text.replace(/^\uFEFF/, '').slice(0, comma.index) : undefined);
    const where = lc ? `第 ${lc[1]} 行第 ${lc[2]} 列附近` : at !== undefined ? `第 ${at.split('\n').length} 行第 ${at.length - at.lastIndexOf('\n')} 列附近${!before && comma ? '，可能是多余的逗号' : ''}` : '';
    throw new UserError('E_CONFIG_JSON', `配置文件不是合法的 JSON${where ? `（${where}）` : ''}`, {
      file,
      hint: '检查是否有多余的逗号、缺少引号或注释（JSON 不允许注释）。',
    });
  }
  return parseConfig(value, file);
}
