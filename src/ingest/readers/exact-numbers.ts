import { SaxesParser } from 'saxes';

/**
 * The digits of number cells as the file writes them. A program (Python's openpyxl/pandas, an
 * XML Spreadsheet 2003 export) may store an 18-digit ID as a number cell with all its digits:
 * `<v>522625197207150037</v>`. The workbook reader parses it to a JS number, which keeps about 16
 * significant digits, so the ID would look Excel-damaged. For the few cells that need it, the
 * sheet's XML is read again (streamed with saxes) for the text of those cells only.
 *
 * Cells are keyed `row:column`, 0-based, as the reader's dense sheet places them: by their `r`
 * reference, or, without one, following the previous cell (rows by `<row r>` or in order); in
 * XML Spreadsheet 2003 by ss:Index, and a merged cell (ss:MergeAcross) takes its columns.
 */
export type CellKey = string;
export const cellKey = (row: number, col: number): CellKey => `${row}:${col}`;
/** The column of a cell key. */
export const cellKeyColumn = (key: CellKey): number => Number(key.slice(key.indexOf(':') + 1));

/** 0-based row and column of an A1 reference. */
function parseRef(ref: string): [number, number] | undefined {
  const m = /^\$?([A-Z]{1,3})\$?([0-9]+)$/.exec(ref);
  if (!m) return undefined;
  const col = [...m[1]!].reduce((n, ch) => n * 26 + ch.charCodeAt(0) - 64, 0) - 1;
  return [Number(m[2]) - 1, col];
}

const localName = (name: string) => name.slice(name.indexOf(':') + 1);

/** Feed a UTF-8 document to a parser in pieces (no single string of the whole sheet). */
function feed(parser: SaxesParser, content: Uint8Array | string): void {
  if (typeof content === 'string') {
    for (let i = 0; i < content.length; i += 1 << 20) parser.write(content.slice(i, i + (1 << 20)));
  } else {
    const decoder = new TextDecoder('utf-8');
    for (let i = 0; i < content.length; i += 1 << 20) parser.write(decoder.decode(content.subarray(i, i + (1 << 20)), { stream: true }));
    parser.write(decoder.decode());
  }
  parser.close();
}

/**
 * Could a worksheet's XML (or an XML Spreadsheet 2003) hold the text of a number cell that tells
 * more than the reader's JS number: 16 or more digits up to the last that is not zero (leading
 * zeros count: cellText keeps such a text as written), an ID ending in X, or a
 * character reference that might spell either? A quick test of the whole text (digits are ASCII,
 * so bytes read as Latin-1 do); when it is false, walking the XML again would change nothing, as
 * in a sheet whose long numbers are what Excel kept (15 digits and zeros).
 */
export function mayHoldExactNumbers(xml: Uint8Array | string): boolean {
  const text = typeof xml === 'string' ? xml : Buffer.from(xml.buffer, xml.byteOffset, xml.byteLength).toString('latin1');
  return /[0-9]{15,}[1-9]|[0-9]{17}[Xx]|&#/.test(text);
}

/** The text of the `<v>` of the wanted cells of an OOXML worksheet part. */
export function xlsxCellTexts(sheetXml: Uint8Array | string, wanted: Set<CellKey>): Map<CellKey, string> {
  const out = new Map<CellKey, string>();
  const parser = new SaxesParser({ xmlns: false });
  let row = -1;
  let col = -1;
  let current: CellKey | undefined;
  let inValue = false;
  let text = '';
  parser.on('opentag', (tag) => {
    const name = localName(tag.name);
    if (name === 'row') {
      const r = Number(tag.attributes.r);
      row = Number.isInteger(r) && r > 0 ? r - 1 : row + 1;
      col = -1;
    } else if (name === 'c') {
      const ref = typeof tag.attributes.r === 'string' ? parseRef(tag.attributes.r) : undefined;
      if (ref) [row, col] = ref;
      else col++;
      const key = cellKey(row, col);
      current = wanted.has(key) ? key : undefined;
    } else if (name === 'v' && current !== undefined) {
      inValue = true;
      text = '';
    }
  });
  parser.on('text', (t) => {
    if (inValue) text += t;
  });
  parser.on('closetag', (tag) => {
    const name = localName(tag.name);
    if (name === 'v' && inValue) {
      inValue = false;
      if (current !== undefined) out.set(current, text.trim());
    } else if (name === 'c') {
      current = undefined;
    }
  });
  feed(parser, sheetXml);
  return out;
}

/** The worksheet part of each sheet of an .xlsx, from the workbook's relationships. */
export function xlsxSheetParts(relsXml: Uint8Array | string, sheets: { name: string; id?: string }[]): Map<string, string> {
  const targets = new Map<string, string>();
  const parser = new SaxesParser({ xmlns: false });
  parser.on('opentag', (tag) => {
    if (localName(tag.name) === 'Relationship' && typeof tag.attributes.Id === 'string' && typeof tag.attributes.Target === 'string') {
      targets.set(tag.attributes.Id, tag.attributes.Target);
    }
  });
  feed(parser, relsXml);
  const out = new Map<string, string>();
  for (const s of sheets) {
    const target = s.id ? targets.get(s.id) : undefined;
    if (target) out.set(s.name, target.startsWith('/') ? target.slice(1) : `xl/${target}`);
  }
  return out;
}

/** The text of the `<Data>` of the wanted cells of one worksheet of an XML Spreadsheet 2003. */
export function xml2003CellTexts(xml: string, sheetName: string, wanted: Set<CellKey>): Map<CellKey, string> {
  const out = new Map<CellKey, string>();
  const parser = new SaxesParser({ xmlns: false });
  let inSheet = false;
  let row = -1;
  let col = -1;
  let current: CellKey | undefined;
  let inData = false;
  let text = '';
  const attr = (tag: { attributes: Record<string, unknown> }, name: string) => {
    for (const [k, v] of Object.entries(tag.attributes)) if (localName(k) === name && typeof v === 'string') return v;
    return undefined;
  };
  parser.on('opentag', (tag) => {
    const name = localName(tag.name);
    if (name === 'Worksheet') {
      inSheet = attr(tag, 'Name') === sheetName;
      row = -1;
    } else if (!inSheet) {
      return;
    } else if (name === 'Row') {
      const index = Number(attr(tag, 'Index'));
      row = Number.isInteger(index) && index > 0 ? index - 1 : row + 1;
      col = -1;
    } else if (name === 'Cell') {
      const index = Number(attr(tag, 'Index'));
      col = Number.isInteger(index) && index > 0 ? index - 1 : col + 1;
      const key = cellKey(row, col);
      current = wanted.has(key) ? key : undefined;
      col += Number(attr(tag, 'MergeAcross') ?? 0) || 0;
    } else if (name === 'Data' && current !== undefined) {
      inData = true;
      text = '';
    }
  });
  parser.on('text', (t) => {
    if (inData) text += t;
  });
  parser.on('closetag', (tag) => {
    const name = localName(tag.name);
    if (name === 'Data' && inData) {
      inData = false;
      if (current !== undefined) out.set(current, text.trim());
    } else if (name === 'Cell') {
      current = undefined;
    } else if (name === 'Worksheet') {
      inSheet = false;
    }
  });
  feed(parser, xml);
  return out;
}
