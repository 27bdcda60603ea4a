import { UserError } from '../core/errors.js';
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
  /** Required fields no header matched. */
  missing: DatasetDef['fields'][number][];
  /** Conflicts (two columns for one field), in Chinese. */
  conflicts: string[];
}

/**
 * Match a row of header cells to the dataset's canonical fields: config `columns` first, then
 * the aliases of DOMAIN.md, both after format-character removal, NFKC and whitespace removal.
 * Extra columns are ignored. Never throws: layout.ts scores candidate rows with it.
 */
export function matchHeaders(headers: string[], def: DatasetDef, overrides: Record<string, string>): HeaderMatch {
  const normalised = headers.map(normaliseHeader);
  const fields: Record<string, number> = {};
  const conflicts: string[] = [];
  const explicit = new Set<string>();
  normalised.forEach((h, i) => {
    const field = h ? overrides[h] : undefined;
    if (!field) return;
    if (fields[field] !== undefined) {
      conflicts.push(`配置 columns 把「${headers[fields[field]!]}」和「${headers[i]}」都指定为 ${field}`);
      return;
    }
    fields[field] = i;
    explicit.add(field);
  });
  for (const fd of def.fields) {
    if (explicit.has(fd.name)) continue;
    const aliases = new Set(fd.aliases.map(normaliseHeader));
    const hits = normalised.flatMap((h, i) => (h && aliases.has(h) && !overrides[h] ? [i] : []));
    if (hits.length > 1) {
      conflicts.push(
        `表头「${hits.map((i) => headers[i]).join('」「')}」都可以作为字段 ${fd.name}（${fd.zh}），无法确定用哪一列；` +
          `请在配置的 columns 中指定，例如 "columns": { "${headers[hits[0]!]}": "${fd.name}" }`,
      );
    } else if (hits.length === 1) {
      fields[fd.name] = hits[0]!;
    }
  }
  const missing = def.fields.filter((fd) => fd.required && fields[fd.name] === undefined);
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
    const example = m.missing.map((fd) => `"<文件中的表头>": "${fd.name}"`).join(', ');
    const shown = headers.filter((h) => h.trim() !== '').map((h) => `「${h}」`).join(' ');
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
