import JSZip from 'jszip';

/**
 * XLSX files written part by part, for the quirks that spreadsheet libraries never write but
 * real exporters do: cells without references, error cells, formulas without a saved result,
 * phonetic guides, the 1904 date system, very hidden sheets. Cells are given as XML.
 */
export interface SheetSpec {
  name: string;
  state?: 'visible' | 'hidden' | 'veryHidden';
  /** The <sheetData> content. */
  rows: string;
  /** <mergeCells> content (optional). */
  merges?: string;
}

export interface BookSpec {
  sheets: SheetSpec[];
  /** <si> elements of the shared strings table. */
  sharedStrings?: string[];
  date1904?: boolean;
  /** <numFmts>/<cellXfs> of a styles part: style 1 is a date format (yyyy-mm-dd) when given. */
  dateStyle?: boolean;
}

const NS = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
const REL = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';

export async function buildXlsx(spec: BookSpec): Promise<Buffer> {
  const zip = new JSZip();
  const date = new Date(Date.UTC(2020, 0, 1));
  const add = (name: string, text: string) => zip.file(name, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n${text}`, { date });
  const overrides = spec.sheets.map((_, i) => `<Override PartName="/xl/worksheets/sheet${i + 1}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>`).join('');
  add('[Content_Types].xml', `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>${overrides}<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>`);
  add('_rels/.rels', `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="${REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>`);
  const sheets = spec.sheets.map((s, i) => `<sheet name="${s.name}" sheetId="${i + 1}"${s.state && s.state !== 'visible' ? ` state="${s.state}"` : ''} r:id="rId${i + 1}"/>`).join('');
  add('xl/workbook.xml', `<workbook xmlns="${NS}" xmlns:r="${REL}">${spec.date1904 ? '<workbookPr date1904="1"/>' : '<workbookPr/>'}<sheets>${sheets}</sheets></workbook>`);
  const rels = spec.sheets.map((_, i) => `<Relationship Id="rId${i + 1}" Type="${REL}/worksheet" Target="worksheets/sheet${i + 1}.xml"/>`).join('');
  const n = spec.sheets.length;
  add('xl/_rels/workbook.xml.rels', `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">${rels}<Relationship Id="rId${n + 1}" Type="${REL}/sharedStrings" Target="sharedStrings.xml"/><Relationship Id="rId${n + 2}" Type="${REL}/styles" Target="styles.xml"/></Relationships>`);
  const sst = spec.sharedStrings ?? [];
  add('xl/sharedStrings.xml', `<sst xmlns="${NS}" count="${sst.length}" uniqueCount="${sst.length}">${sst.join('')}</sst>`);
  add('xl/styles.xml', `<styleSheet xmlns="${NS}"><numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/></numFmts><fonts count="1"><font/></fonts><fills count="1"><fill/></fills><borders count="1"><border/></borders><cellStyleXfs count="1"><xf/></cellStyleXfs><cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="164" applyNumberFormat="1"/></cellXfs></styleSheet>`);
  spec.sheets.forEach((s, i) => {
    add(`xl/worksheets/sheet${i + 1}.xml`, `<worksheet xmlns="${NS}" xmlns:r="${REL}"><sheetData>${s.rows}</sheetData>${s.merges ? `<mergeCells>${s.merges}</mergeCells>` : ''}</worksheet>`);
  });
  return zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
}

/** An inline-string cell. */
export const t = (ref: string, text: string) => `<c r="${ref}" t="inlineStr"><is><t>${text}</t></is></c>`;
/** A number cell (style 1: date-formatted). */
export const n = (ref: string, value: number, dateStyle = false) => `<c r="${ref}"${dateStyle ? ' s="1"' : ''}><v>${value}</v></c>`;
/** A row of inline-string cells from column A. */
export function row(r: number, cells: (string | null)[]): string {
  return `<row r="${r}">${cells.map((c, i) => (c === null ? '' : t(`${String.fromCharCode(65 + i)}${r}`, c))).join('')}</row>`;
}

export const ROSTER_HEADER = ['户编号', '证件号码', '姓名', '与户主关系', '乡镇', '行政村', '脱贫状态', '识别时间', '脱贫时间', '人均纯收入'];
