import { maskDigitRuns, UserError } from '../core/errors.js';
import { type DatasetDef, normaliseHeader } from './datasets.js';

export interface HeaderMapping {
  /** Headers as written in the file (a two-level header: the names used, see layout.ts). */
  headers: string[];
  /** canonical field → column index in the file */
  fields: Record<string, number>;
  /** canonical field → header as written (recorded in snapshot_file.header_map) */
  fieldHeaders: Record<string, string>;
}

export interface HeaderMatch extends HeaderMapping {
  /** Required fields no header matched (a field two columns match is a conflict instead). */
  missing: DatasetDef['fields'][number][];
  /** Conflicts (two columns for one field), in Chinese. */
  conflicts: string[];
}

/** Excel's column letters of a 0-based index (0 → A, 26 → AA). */
export function columnLetter(index: number): string {
  let s = '';
  for (let n = index + 1; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(65 + ((n - 1) % 26)) + s;
  return s;
}

/** The 0-based index of a `columns` key naming a column by its letter (`@C`), else undefined. */
export function columnOfKey(key: string): number | undefined {
  const m = /^@([A-Za-z]{1,3})$/.exec(key);
  if (!m) return undefined;
  return [...m[1]!.toUpperCase()].reduce((n, ch) => n * 26 + ch.charCodeAt(0) - 64, 0) - 1;
}

/**
 * A header without the marks of a form template: a leading required-field star (*姓名) and a
 * trailing bracketed note or unit (姓名（必填）, 人均纯收入（元）). Tried when no alias matches the
 * header as written.
 */
export function bareHeader(normalised: string): string {
  return normalised.replace(/^[*＊]+/, '').replace(/(?:\([^()]*\)|（[^（）]*）|\[[^\[\]]*\]|【[^【】]*】)+$/, '');
}

/**
 * Match a row of header cells to the dataset's canonical fields: config `columns` first (by
 * header, or by column letter `@C`), then the aliases of DOMAIN.md, both after format-character
 * removal, NFKC and whitespace removal; then the aliases again on the bare header (bareHeader).
 * Extra columns are ignored. Never throws: layout.ts scores candidate rows with it.
 */
export function matchHeaders(headers: string[], def: DatasetDef, overrides: Record<string, string>): HeaderMatch {
  const normalised = headers.map(normaliseHeader);
  const fields: Record<string, number> = {};
  const conflicts: string[] = [];
  const conflicted = new Set<string>();
  const explicit = new Set<string>();
  const claim = (field: string, i: number) => {
    if (fields[field] !== undefined && fields[field] !== i) {
      conflicts.push(`配置 columns 把第 ${columnLetter(fields[field]!)} 列「${headers[fields[field]!]}」和第 ${columnLetter(i)} 列「${headers[i]}」都指定为 ${field}`);
      conflicted.add(field);
      return;
    }
    fields[field] = i;
    explicit.add(field);
  };
  for (const [key, field] of Object.entries(overrides)) {
    const i = columnOfKey(key);
    if (i !== undefined && i < headers.length) claim(field, i);
  }
  normalised.forEach((h, i) => {
    const field = h ? overrides[h] : undefined;
    if (field) claim(field, i);
  });
  const taken = new Set(Object.values(fields));
  const bare = normalised.map(bareHeader);
  for (const fd of def.fields) {
    if (explicit.has(fd.name)) continue;
    const aliases = new Set(fd.aliases.map(normaliseHeader));
    const free = (h: string, i: number) => h !== '' && aliases.has(h) && !overrides[normalised[i]!] && !taken.has(i);
    let hits = normalised.flatMap((h, i) => (free(h, i) ? [i] : []));
    if (hits.length === 0) hits = bare.flatMap((h, i) => (free(h, i) ? [i] : []));
    if (hits.length > 1) {
      conflicted.add(fd.name);
      conflicts.push(
        `${hits.map((i) => `第 ${columnLetter(i)} 列「${headers[i]}」`).join('和')}都可以作为字段 ${fd.name}（${fd.zh}），无法确定用哪一列；` +
          `请在配置的 columns 中用列字母指定，例如 "columns": { "@${columnLetter(hits[0]!)}": "${fd.name}" }，或在文件中把另一列改名`,
      );
    } else if (hits.length === 1) {
      fields[fd.name] = hits[0]!;
    }
  }
  const missing = def.fields.filter((fd) => fd.required && fields[fd.name] === undefined && !conflicted.has(fd.name));
  const fieldHeaders = Object.fromEntries(Object.entries(fields).map(([k, i]) => [k, headers[i]!]));
  return { headers, fields, fieldHeaders, missing, conflicts };
}

/**
 * The mapping of a header row, or a UserError that names the missing or conflicting columns and
 * the `columns` entry that would fix it. `where` says which row was taken as the header.
 */
export function mapHeaders(
  headers: string[],
  def: DatasetDef,
  overrides: Record<string, string>,
  file: string,
  where = '',
): HeaderMapping {
  const m = matchHeaders(headers, def, overrides);
  if (m.missing.length > 0) {
    const example = m.missing.map((fd) => `"<${fd.zh}列的表头>": "${fd.name}"`).join(', ');
    // A row holding an ID number is partly data: only the headers bidui recognised are shown.
    const partlyData = headers.some((h) => /[0-9]{15}/.test(h.replace(/\s/g, '')));
    const recognised = new Set(Object.values(m.fields));
    const shown = headers.map((h, i) => ({ h, i })).filter(({ h, i }) => h.trim() !== '' && (!partlyData || recognised.has(i)))
      .map(({ h }) => `「${maskDigitRuns(h)}」`).join(' ') + (partlyData ? '（这一行含有证件号码，其余单元格不显示）' : '');
    throw new UserError(
      'E_MISSING_COLUMN',
      `${def.zh}（${def.name}）文件缺少必需的列：${m.missing.map((fd) => `${fd.name}（${fd.zh}，可接受的表头：${fd.aliases.join('、')}）`).join('；')}。` +
        `${where}的表头是：${shown}${m.conflicts.length ? `；另外：${m.conflicts.join('；')}` : ''}`,
      {
        file,
        hint:
          `如果文件里有这一列但名字不同，在配置文件该数据集下加上 "columns": { ${example} }；` +
          '如果表头不在这一行，用 "headerRow" 指定表头所在的行号；如果表头显示为乱码，检查 encoding 设置。',
      },
    );
  }
  if (m.conflicts.length > 0) {
    throw new UserError('E_AMBIGUOUS_COLUMN', m.conflicts.join('；'), { file, hint: '在配置文件的 columns 中写明每个字段用哪一列。' });
  }
  return { headers: m.headers, fields: m.fields, fieldHeaders: m.fieldHeaders };
}

/** Endings that name a kind of value, not a field (脱贫时间 → 脱贫). */
const GENERIC_ENDINGS = ['时间', '日期', '年份', '年度', '年月', '号码', '编号', '名称', '情况', '类别', '类型', '等级'];

export interface ColumnSuggestion {
  /** Excel's letter of the column. */
  column: string;
  header: string;
  /** The canonical field it may be. */
  field: string;
}

/**
 * Columns no field was mapped to that look like a field no column was mapped to: the header
 * holds an alias's stem (the alias without an ending such as 时间: 脱贫年份 holds 脱贫 of
 * 脱贫时间). Shown by ingest with the `columns` entry to add; never applied by itself.
 */
export function suggestColumns(headers: string[], mapping: Pick<HeaderMapping, 'fields'>, def: DatasetDef): ColumnSuggestion[] {
  const mappedColumns = new Set(Object.values(mapping.fields));
  const open = def.fields.filter((fd) => mapping.fields[fd.name] === undefined);
  const out: ColumnSuggestion[] = [];
  headers.forEach((header, i) => {
    const bare = bareHeader(normaliseHeader(header));
    if (bare === '' || mappedColumns.has(i)) return;
    const fd = open.find((f) => f.aliases.some((a) => {
      const alias = normaliseHeader(a);
      const ending = GENERIC_ENDINGS.find((e) => alias.endsWith(e) && alias.length > e.length);
      const stem = ending ? alias.slice(0, -ending.length) : alias;
      return stem.length >= 2 && bare.includes(stem);
    }));
    if (fd) out.push({ column: columnLetter(i), header, field: fd.name });
  });
  return out;
}
