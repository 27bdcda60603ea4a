import { parse } from 'csv-parse/sync';
import { UserError } from '../core/errors.js';
import { type DatasetDef, normaliseHeader } from './datasets.js';

export interface HeaderMapping {
  /** Headers as written in the file. */
  headers: string[];
  /** canonical field → column index in the file */
  fields: Record<string, number>;
  /** canonical field → header as written (recorded in snapshot_file.header_map) */
  fieldHeaders: Record<string, string>;
}

/**
 * Match a file's header row to the dataset's canonical fields: config `columns` first, then the
 * aliases of DOMAIN.md, both after NFKC and whitespace removal. Extra columns are ignored.
 */
export function mapHeaders(
  headers: string[],
  def: DatasetDef,
  overrides: Record<string, string>,
  file: string,
): HeaderMapping {
  const normalised = headers.map(normaliseHeader);
  const fields: Record<string, number> = {};
  const problems: string[] = [];
  const explicit = new Set<string>();
  normalised.forEach((h, i) => {
    const field = overrides[h];
    if (!field) return;
    if (fields[field] !== undefined) {
      problems.push(`配置 columns 把「${headers[fields[field]!]}」和「${headers[i]}」都指定为 ${field}`);
      return;
    }
    fields[field] = i;
    explicit.add(field);
  });
  for (const fd of def.fields) {
    if (explicit.has(fd.name)) continue;
    const aliases = new Set(fd.aliases.map(normaliseHeader));
    const hits = normalised.flatMap((h, i) => (aliases.has(h) && !overrides[h] ? [i] : []));
    if (hits.length > 1) {
      problems.push(
        `表头「${hits.map((i) => headers[i]).join('」「')}」都可以作为字段 ${fd.name}（${fd.zh}），无法确定用哪一列；` +
          `请在配置的 columns 中指定，例如 "columns": { "${headers[hits[0]!]}": "${fd.name}" }`,
      );
    } else if (hits.length === 1) {
      fields[fd.name] = hits[0]!;
    }
  }
  const missing = def.fields.filter((fd) => fd.required && fields[fd.name] === undefined);
  if (missing.length > 0) {
    const example = missing.map((fd) => `"<文件中的表头>": "${fd.name}"`).join(', ');
    problems.push(
      `缺少必需的列：${missing.map((fd) => `${fd.name}（${fd.zh}，可接受的表头：${fd.aliases.join('、')}）`).join('；')}。` +
        `文件中的表头是：${headers.map((h) => `「${h}」`).join(' ')}`,
    );
    throw new UserError('E_MISSING_COLUMN', `${def.zh}（${def.name}）文件${problems.join('；')}`, {
      file,
      hint:
        `如果文件里有这一列但名字不同，在配置文件该数据集下加上 "columns": { ${example} }；` +
        '如果表头显示为乱码，检查 encoding 设置。',
    });
  }
  if (problems.length > 0) {
    throw new UserError('E_AMBIGUOUS_COLUMN', problems.join('；'), { file, hint: '在配置文件的 columns 中写明每个字段用哪一列。' });
  }
  const fieldHeaders = Object.fromEntries(Object.entries(fields).map(([k, i]) => [k, headers[i]!]));
  return { headers, fields, fieldHeaders };
}

const DELIMITERS = [',', '\t', ';', '|'] as const;

/** Parse the header record of a CSV from its first bytes (already decoded); detect the delimiter. */
export function readCsvHeader(headText: string): { headers: string[]; delimiter: string } {
  const text = headText.replace(/^\uFEFF/, '');
  const firstLine = text.split(/\r?\n/, 1)[0] ?? '';
  let best: { headers: string[]; delimiter: string } = { headers: [], delimiter: ',' };
  for (const delimiter of DELIMITERS) {
    let rows: string[][];
    try {
      rows = parse(firstLine, { delimiter, relax_quotes: true, relax_column_count: true, to_line: 1 }) as string[][];
    } catch {
      continue;
    }
    const headers = rows[0] ?? [];
    if (headers.length > best.headers.length) best = { headers, delimiter };
  }
  return best;
}
