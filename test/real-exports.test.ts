import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import iconv from 'iconv-lite';
import JSZip from 'jszip';
import type * as XLSXTypes from '@e965/xlsx';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cellText, fifteenDigits, printedDouble, readWorkbookNow, serialToIso, type WorkbookJob } from '../src/ingest/readers/spreadsheet.js';
import type { UserError } from '../src/core/errors.js';
import { mayHoldExactNumbers } from '../src/ingest/readers/exact-numbers.js';
import { DEFAULT_LIMITS } from '../src/ingest/limits.js';
import { createProgress } from '../src/core/progress.js';
import { ensureWorkspace } from '../src/core/workspace.js';
import { scanFile } from '../src/ingest/file-scan.js';
import { prepareFile } from '../src/ingest/prepare.js';
import { readCsvFile, ROOT, runCli, testDir, writeJson } from './helpers.js';
import { loadError, loadFiles, put } from './ingest-helpers.js';
import { newId } from './rule-harness.js';
import { buildXlsx, n, ROSTER_HEADER, row, t as cell } from './xlsx-builder.js';

/**
 * Each kind of real export (DOMAIN.md "Real exports"), with inputs made here so that every
 * variant of a kind is tried, not only the handed files (realworld.test.ts).
 */
const XLSX = createRequire(import.meta.url)('@e965/xlsx') as typeof XLSXTypes;

const A = newId('1972-07-15');
const B = newId('1975-03-02');
const C = newId('1960-11-11');
const D = newId('1988-08-08');
/** The roster every variant writes: two households of two and one, one of one. */
const ROSTER: string[][] = [
  ['52262500000001', A, '张三', '户主', '羊坪镇', '竹坪村', '已脱贫', '2014-07-18', '2018-12-01', '4100'],
  ['52262500000001', B, '李四', '配偶', '羊坪镇', '竹坪村', '已脱贫', '2014-07-18', '2018-12-01', '4100'],
  ['52262500000002', C, '王五', '户主', '羊坪镇', '竹坪村', '未脱贫', '2015-03-02', '', '2600'],
  ['52262500000003', D, '赵六', '户主', '蕉溪镇', '猛溪村', '已脱贫', '2016-01-05', '2019-11-30', '5200'],
];
const EXPECTED = ROSTER.map((r) => [r[0], r[1], r[2], r[6], r[7]]);
const picked = (rows: Record<string, string | null>[]) => rows.map((r) => [r.household_id, r.id_number, r.name, r.status, r.identified_on]);
const csv = (rows: string[][], sep = ',') => rows.map((r) => r.join(sep)).join('\r\n') + '\r\n';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = testDir()));
afterEach(() => cleanup());

const sheetOf = (rows: (string | number)[][], name = '名册') => {
  const wb = XLSX.utils.book_new();
  XLSX.utils.book_append_sheet(wb, XLSX.utils.aoa_to_sheet(rows), name);
  return wb;
};

describe('spreadsheet formats: one reader, one set of values', () => {
  it('reads .xlsx, .xls (Excel 97–2003), .et (WPS), .ods and an HTML table saved as .xls (GBK) to the same rows', async () => {
    const wb = sheetOf([ROSTER_HEADER, ...ROSTER]);
    const files = [
      put(dir, 'a.xlsx', XLSX.write(wb, { bookType: 'xlsx', type: 'buffer' }) as Buffer),
      put(dir, 'b.xls', XLSX.write(wb, { bookType: 'biff8', type: 'buffer' }) as Buffer),
      put(dir, 'c.et', XLSX.write(wb, { bookType: 'biff8', type: 'buffer' }) as Buffer),
      put(dir, 'd.ods', XLSX.write(wb, { bookType: 'ods', type: 'buffer' }) as Buffer),
      put(dir, 'e.xls', iconv.encode(`<html><head><meta charset="gbk"></head><body><table>${[ROSTER_HEADER, ...ROSTER].map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</table></body></html>`, 'gbk')),
    ];
    for (const f of files) {
      const r = await loadFiles('roster', [f]);
      expect([path.basename(f), picked(r.rows), r.rejects]).toEqual([path.basename(f), EXPECTED, []]);
    }
  });

  it('a .csv that is really a workbook, and a tab-separated text saved as .xls, are read by their content', async () => {
    const wb = sheetOf([ROSTER_HEADER, ...ROSTER]);
    const a = await loadFiles('roster', [put(dir, 'renamed.csv', XLSX.write(wb, { bookType: 'xlsx', type: 'buffer' }) as Buffer)]);
    expect(picked(a.rows)).toEqual(EXPECTED);
    const b = await loadFiles('roster', [put(dir, 'export.xls', iconv.encode(csv([ROSTER_HEADER, ...ROSTER], '\t'), 'gbk'))]);
    expect(picked(b.rows)).toEqual(EXPECTED);
  });

  it('cell rules: phonetic guides and rich text, error cells, formulas without result, cells without references, very hidden sheets', async () => {
    const header = `<row r="1">${ROSTER_HEADER.map((h) => `<c t="inlineStr"><is><t>${h}</t></is></c>`).join('')}</row>`;
    const file = put(dir, 'quirks.xlsx', await buildXlsx({
      sharedStrings: ['<si><r><t>张</t></r><r><rPr><b/></rPr><t>三</t></r><rPh sb="0" eb="1"><t>zhang</t></rPh></si>', '<si><t>李四</t><rPh sb="0" eb="2"><t>lisi</t></rPh></si>'],
      sheets: [
        { name: '旧', state: 'veryHidden', rows: row(1, ROSTER_HEADER) + row(2, ROSTER[0]!.map((c) => c.replace('张三', '旧人'))) },
        {
          name: '名册',
          rows: header +
            // no references at all; the name is rich text with a phonetic guide
            `<row>${ROSTER[0]!.map((c, i) => (i === 2 ? '<c t="s"><v>0</v></c>' : `<c t="inlineStr"><is><t>${c}</t></is></c>`)).join('')}</row>` +
            `<row r="3">${ROSTER[1]!.map((c, i) => (i === 2 ? '<c r="C3" t="s"><v>1</v></c>' : i === 5 ? '<c r="F3" t="e"><f>VLOOKUP(Z3,A:B,2,FALSE)</f><v>#N/A</v></c>' : cell(`${String.fromCharCode(65 + i)}3`, c))).join('')}</row>` +
            `<row r="4">${ROSTER[2]!.map((c, i) => (i === 9 ? '<c r="J4"><f>SUM(K4:L4)</f></c>' : cell(`${String.fromCharCode(65 + i)}4`, c))).join('')}</row>` +
            row(5, ROSTER[3]!),
        },
      ],
    }));
    const r = await loadFiles('roster', [file]);
    expect(r.files[0]!.sheet).toBe('名册');
    expect(r.files[0]!.layout.sheetsSkipped).toEqual([{ sheet: '旧', why: 'hidden' }]);
    expect(r.rows.map((x) => [x.source_row, x.name, x.village, x.income_per_capita])).toEqual([
      ['2', '张三', '竹坪村', '4100.00'],
      ['3', '李四', '竹坪村', '4100.00'], // #N/A village: the head's, with a warning
      ['4', '王五', '竹坪村', null], // a formula without result: empty, with a warning
      ['5', '赵六', '猛溪村', '5200.00'],
    ]);
    expect(r.warnings.map((w) => [w.source_row, w.field, w.code, w.value])).toEqual([
      ['3', 'village', 'excel_error_filled', '#N/A'],
      ['4', 'income_per_capita', 'formula_no_value', '=SUM(K4:L4)'],
    ]);
  });

  it('a workbook flagged for recalculation on opening (XlsxWriter, openpyxl) has no saved formula results; LibreOffice\'s Err:5xx is an error value', async () => {
    // XlsxWriter writes each formula with the placeholder result 0 and sets fullCalcOnLoad: the
    // names read as "0" before.
    const rows = row(1, ROSTER_HEADER) + ROSTER.map((r, k) => `<row r="${k + 2}">${r.map((c, i) => (i === 2 ? `<c r="C${k + 2}"><f>MID("${c}",1,9)</f><v>0</v></c>` : cell(`${String.fromCharCode(65 + i)}${k + 2}`, c))).join('')}</row>`).join('');
    const zip = await JSZip.loadAsync(await buildXlsx({ sheets: [{ name: '名册', rows }] }));
    const book = await zip.file('xl/workbook.xml')!.async('string');
    expect(book).toContain('</sheets>');
    zip.file('xl/workbook.xml', book.replace('</sheets>', '</sheets><calcPr calcId="124519" fullCalcOnLoad="1"/>'));
    const flagged = await loadFiles('roster', [put(dir, 'xlsxwriter.xlsx', await zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' }))]);
    expect([flagged.rows.length, flagged.rejects.map((x) => [x.reason_code, x.field])]).toEqual([0, ROSTER.map(() => ['formula_no_value', 'name'])]);
    // The same cells without the flag: a saved result is the value (here 0, as a spreadsheet saved it).
    const saved = await loadFiles('roster', [put(dir, 'saved.xlsx', await buildXlsx({ sheets: [{ name: '名册', rows }] }))]);
    expect(saved.rows.map((x) => x.name)).toEqual(ROSTER.map(() => '0'));
    // Flagged, with results the writer computed (POI, EPPlus, XlsxWriter given the value): kept.
    const computed = row(1, ROSTER_HEADER) + ROSTER.map((r, k) => `<row r="${k + 2}">${r.map((c, i) => (i === 2 ? `<c r="C${k + 2}" t="str"><f>MID("${c}",1,9)</f><v>${c}</v></c>` : cell(`${String.fromCharCode(65 + i)}${k + 2}`, c))).join('')}</row>`).join('');
    const zip2 = await JSZip.loadAsync(await buildXlsx({ sheets: [{ name: '名册', rows: computed }] }));
    zip2.file('xl/workbook.xml', (await zip2.file('xl/workbook.xml')!.async('string')).replace('</sheets>', '</sheets><calcPr fullCalcOnLoad="1"/>'));
    const kept = await loadFiles('roster', [put(dir, 'poi.xlsx', await zip2.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' }))]);
    expect(kept.rows.map((x) => x.name)).toEqual(ROSTER.map((r) => r[2]));
    // LibreOffice's error text in its CSV export (and .ods): an error value, not a name.
    const lo = await loadFiles('roster', [put(dir, 'lo.csv', csv([ROSTER_HEADER, ROSTER[0]!.map((c, i) => (i === 2 ? 'Err:502' : c)), ...ROSTER.slice(1)]))]);
    expect([lo.rows.map((x) => x.name), lo.rejects.map((x) => [x.source_row, x.reason_code])]).toEqual([['李四', '王五', '赵六'], [['2', 'excel_error']]]);
  });

  it('numbers in date and ID columns, in the 1900 and the 1904 date systems', async () => {
    for (const date1904 of [false, true]) {
      const serial = (iso: string) => Math.round((Date.parse(iso) - (date1904 ? Date.UTC(1904, 0, 1) : Date.UTC(1899, 11, 30))) / 86_400_000);
      const ids = [newId('1950-01-01'), newId('1951-01-01'), newId('1952-01-01'), newId('1953-01-01'), newId('1954-01-01')];
      const r = (i: number, id: string, identified: string, extra = '') =>
        `<row r="${i}">${cell(`A${i}`, `5226250000000${i}`)}${id}${cell(`C${i}`, `人${i}`)}${cell(`D${i}`, '户主')}${cell(`E${i}`, '羊坪镇')}${cell(`F${i}`, '竹坪村')}${cell(`G${i}`, '未脱贫')}${identified}${extra}</row>`;
      const file = put(dir, `n${date1904}.xlsx`, await buildXlsx({
        date1904,
        sheets: [{
          name: '名册',
          rows: row(1, ROSTER_HEADER.slice(0, 9)) +
            r(2, cell('B2', ids[0]!), n('H2', 2016)) + // a year
            r(3, cell('B3', ids[1]!), n('H3', 20140718)) + // YYYYMMDD
            r(4, cell('B4', ids[2]!), n('H4', serial('2015-03-02'))) + // a serial date of the book's system
            r(5, cell('B5', ids[3]!), n('H5', serial('2016-01-05') + 0.5, true)) + // a date-formatted date and time
            r(6, n('B6', Number(`${ids[4]!.slice(0, 15)}000`)), cell('H6', '2016-01-05')) + // an 18-digit ID typed as a number
            r(7, n('B7', 110105491231002), cell('H7', '2016-01-05')) + // a 15-digit ID as a number survives
            r(8, cell('B8', newId('1956-01-01')), n('H8', 2014.07)), // ambiguous
        }],
      }));
      const out = await loadFiles('roster', [file]);
      expect([date1904, out.rows.map((x) => [x.source_row, x.identified_on, x.id_number_problem])]).toEqual([date1904, [
        ['2', '2016-01-01', null],
        ['3', '2014-07-18', null],
        ['4', '2015-03-02', null],
        ['5', '2016-01-05', null],
        ['6', '2016-01-05', 'excel'],
        ['7', '2016-01-05', null],
      ]]);
      expect(out.rows.find((x) => x.source_row === '7')!.id_number).toBe('11010519491231002X');
      expect(out.rows.find((x) => x.source_row === '6')!.id_number_excel_digits).toBe(ids[4]!.slice(0, 15));
      expect(out.rejects.map((x) => [x.source_row, x.reason_code])).toEqual([['8', 'ambiguous_date']]);
    }
  });

  it('serial dates and Excel-damaged numbers as text', () => {
    expect(serialToIso(43646)).toBe('2019-06-30');
    expect(serialToIso(43646.75)).toBe('2019-06-30');
    expect(serialToIso(1)).toBe('1900-01-01');
    expect(serialToIso(61)).toBe('1900-03-01');
    expect(serialToIso(0, true)).toBe('1904-01-01');
    expect(fifteenDigits(5.22625196001101e17)).toBe('522625196001101000');
    expect(fifteenDigits(522625198408300550)).toBe('522625198408301000');
    expect(cellText({ t: 'n', v: 2016 }, 'date', false)).toEqual({ text: '2016' });
    expect(cellText({ t: 'n', v: 2014.07 }, 'date', false)).toEqual({ text: '2014.07', issue: 'ambiguous_date' });
    expect(cellText({ t: 'n', v: 52262500000001 }, 'code', false)).toEqual({ text: '52262500000001' });
    expect(cellText({ t: 'e', v: 0x2a }, 'other', false)).toEqual({ text: '#N/A', issue: 'error' });
  });

  it('"sheet": "*" reads every visible sheet, one part each with its own header and row numbers; a notes sheet is skipped', async () => {
    const wb = XLSX.utils.book_new();
    XLSX.utils.book_append_sheet(wb, XLSX.utils.aoa_to_sheet([['羊坪镇建档立卡名册'], ROSTER_HEADER, ...ROSTER.slice(0, 3)]), '羊坪镇');
    XLSX.utils.book_append_sheet(wb, XLSX.utils.aoa_to_sheet([['填表说明'], ['每户一行，身份证号写 18 位']]), '说明');
    XLSX.utils.book_append_sheet(wb, XLSX.utils.aoa_to_sheet([ROSTER_HEADER, ROSTER[3]!]), '蕉溪镇');
    XLSX.utils.book_append_sheet(wb, XLSX.utils.aoa_to_sheet([ROSTER_HEADER, ROSTER[0]!.map((c) => c.replace('张三', '旧人'))]), '旧');
    wb.Workbook = { Sheets: [{ name: '羊坪镇', Hidden: 0 }, { name: '说明', Hidden: 0 }, { name: '蕉溪镇', Hidden: 0 }, { name: '旧', Hidden: 1 }] };
    const file = put(dir, 'towns.xlsx', XLSX.write(wb, { bookType: 'xlsx', type: 'buffer' }) as Buffer);
    const r = await loadFiles('roster', [file], { sheet: '*' });
    expect(r.files.map((f) => [f.sheet, f.layout.headerRow, f.rowsLoaded])).toEqual([['羊坪镇', 2, 3], ['蕉溪镇', 1, 1]]);
    expect(r.files[0]!.layout.sheetsSkipped).toEqual([{ sheet: '旧', why: 'hidden' }, { sheet: '说明', why: 'no_header' }]);
    expect(r.rows.map((x) => [x.file_no, x.source_row, x.name])).toEqual([[1, '3', '张三'], [1, '4', '李四'], [1, '5', '王五'], [2, '2', '赵六']]);
    // A named sheet that does not exist: the sheets there are, listed.
    const error = await loadError('roster', [file], { sheet: '名册' });
    expect([error.code, error.message]).toEqual(['E_XLSX_SHEET', expect.stringMatching(/「羊坪镇」.*「旧」（隐藏）/)]);
  });
});

describe('a workbook whose sheet SheetJS cannot find', () => {
  it('is refused as the file\'s fault, naming the sheet, not as a failure of bidui', async () => {
    const wb = XLSX.utils.book_new();
    XLSX.utils.book_append_sheet(wb, XLSX.utils.aoa_to_sheet([ROSTER_HEADER, ...ROSTER]), '名册');
    const zip = await JSZip.loadAsync(XLSX.write(wb, { bookType: 'xlsx', type: 'buffer' }) as Buffer);
    // Some exporters write the relationship's target as ./worksheets/…, which SheetJS does not resolve.
    const rels = await zip.file('xl/_rels/workbook.xml.rels')!.async('string');
    expect(rels).toMatch(/Target="worksheets\/sheet1\.xml"/);
    zip.file('xl/_rels/workbook.xml.rels', rels.replace('Target="worksheets/sheet1.xml"', 'Target="./worksheets/sheet1.xml"'));
    const file = put(dir, 'dot-target.xlsx', await zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' }));
    const error = await loadError('roster', [file]);
    expect([error.code, error.message, error.hint]).toEqual(['E_XLSX', expect.stringMatching(/工作表「名册」无法读取/), expect.stringMatching(/另存为 \.xlsx/)]);
  });
});

describe('a workbook whose sheet part is named in Chinese', () => {
  it('keeps the digits of its long number IDs (the part is found under the zip reader\'s spelling of its name)', async () => {
    // IDs typed as numbers: Excel keeps 18 digits in the XML, a JS number holds 15–17.
    const rows = ROSTER.map((r) => r.map((c, i) => (i === 1 && /^[0-9]{18}$/.test(c) ? Number(c) : c)));
    const numeric = ROSTER.filter((r) => /^[0-9]{18}$/.test(r[1]!));
    expect(numeric.length).toBeGreaterThan(0);
    const zip = await JSZip.loadAsync(XLSX.write(sheetOf([ROSTER_HEADER, ...rows]), { bookType: 'xlsx', type: 'buffer' }) as Buffer);
    let sheet = await zip.file('xl/worksheets/sheet1.xml')!.async('string');
    for (const r of numeric) sheet = sheet.replace(`<v>${String(Number(r[1]))}</v>`, `<v>${r[1]}</v>`);
    zip.remove('xl/worksheets/sheet1.xml');
    zip.file('xl/worksheets/名册.xml', sheet);
    for (const part of ['xl/_rels/workbook.xml.rels', '[Content_Types].xml']) {
      const text = await zip.file(part)!.async('string');
      expect(text).toContain('worksheets/sheet1.xml');
      zip.file(part, text.replace('worksheets/sheet1.xml', 'worksheets/名册.xml'));
    }
    const r = await loadFiles('roster', [put(dir, 'named-part.xlsx', await zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' }))]);
    expect(picked(r.rows)).toEqual(EXPECTED);
  });
});

describe('workbook reader threads', () => {
  it('read workbook after workbook on reused threads as this thread reads them, a refused workbook between, and never keep bidui running', async () => {
    // The compiled pool (the tests' sources read in this thread): a child process reads five
    // workbooks one after another, two of them twice, and a file that is no workbook.
    const cases = path.join(ROOT, 'test', 'cases', 'realworld');
    const books = [
      path.join(cases, 'RW-14-xlsx-merged-household-cells', '建档立卡花名册_合并单元格.xlsx'),
      path.join(cases, 'RW-13-title-rows-above-header', '建档立卡名册_带标题.xlsx'),
      put(dir, 'broken.xlsx', Buffer.from('PK\x03\x04 not a workbook')),
      path.join(cases, 'RW-12-xlsx-hidden-first-sheet', '建档立卡名册_含隐藏旧表.xlsx'),
      path.join(cases, 'RW-14-xlsx-merged-household-cells', '建档立卡花名册_合并单元格.xlsx'),
      path.join(cases, 'RW-15-xlsx-numeric-typed-dates', '建档立卡名册_数字日期.xlsx'),
      path.join(cases, 'RW-13-title-rows-above-header', '建档立卡名册_带标题.xlsx'),
    ];
    const job = (file: string, i: number, tmpDir: string) => ({ file, dataset: 'roster', overrides: {}, sheet: undefined, headerRow: undefined, text: undefined, tmpDir, prefix: `b${i}`, maxRows: DEFAULT_LIMITS.maxRowsPerFile, maxCellChars: DEFAULT_LIMITS.maxCellChars });
    /** A result as comparable text: each part's sheet, rows and normalised CSV, or the error's code. */
    const outcome = (r: { parts: { sheet: string; rows: number; csvPath: string }[] } | { code: string }) =>
      'code' in r ? r.code : r.parts.map((p) => `${p.sheet}|${p.rows}|${fs.readFileSync(p.csvPath, 'utf8')}`).join('\n');
    const here = books.map((file, i) => {
      fs.mkdirSync(path.join(dir, 'here'), { recursive: true });
      try {
        return outcome(readWorkbookNow(job(file, i, path.join(dir, 'here')) as WorkbookJob));
      } catch (error) {
        return (error as UserError).code;
      }
    });
    fs.mkdirSync(path.join(dir, 'threads'));
    const script = `
      import fs from 'node:fs';
      const { readWorkbook } = await import(${JSON.stringify(pathToFileURL(path.join(ROOT, 'dist', 'ingest', 'readers', 'spreadsheet-pool.js')).href)});
      const jobs = JSON.parse(process.argv[2]);
      const out = [];
      for (const job of jobs) {
        try {
          const r = await readWorkbook(job);
          out.push(r.parts.map((p) => p.sheet + '|' + p.rows + '|' + fs.readFileSync(p.csvPath, 'utf8')).join('\\n'));
        } catch (error) {
          out.push(error.code);
        }
      }
      fs.writeFileSync(process.argv[3], JSON.stringify(out));`;
    const started = Date.now();
    fs.writeFileSync(path.join(dir, 'read.mjs'), script);
    const child = spawnSync(process.execPath, [path.join(dir, 'read.mjs'), JSON.stringify(books.map((f, i) => job(f, i, path.join(dir, 'threads')))), path.join(dir, 'out.json')], { encoding: 'utf8', timeout: 60_000 });
    // Ended by itself (the waiting threads do not hold it), with every result as read here.
    expect([child.status, child.signal, child.stderr]).toEqual([0, null, '']);
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(here[2]).toBe('E_XLSX');
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'out.json'), 'utf8'))).toEqual(here);
  });
});

describe('one workbook read never depends on the one read before', () => {
  it('an .xls using an Excel built-in date format it does not define reads the same after an .xls that defines that id', () => {
    // 识别时间 2014.07 in a cell of format id 31 (Excel's 2014年7月1日, built in, so not written
    // into the file): no date format is known, so the number is ambiguous and the row refused.
    // A workbook read before it that defines id 31 as a date must not make it 1905-07-06.
    const rows = [[...ROSTER_HEADER], ...ROSTER.slice(0, 2).map((r) => [...r.slice(0, 6), 2014.07, r[7] === '' ? '' : 2018.5])];
    /** An .xls whose date cells' style points at format id 31; with `define`, a FORMAT record names id 31 too. */
    const xls = (define: boolean) => {
      const ws = XLSX.utils.aoa_to_sheet(rows);
      for (const ref of Object.keys(ws)) if (/^[A-Z]+[2-9]$/.test(ref) && typeof (ws[ref] as XLSXTypes.CellObject).v === 'number') (ws[ref] as XLSXTypes.CellObject).z = 'yyyy"年"m"月"d"日"';
      const wb = XLSX.utils.book_new();
      XLSX.utils.book_append_sheet(wb, ws, '名册');
      const cfb = XLSX.CFB.read(XLSX.write(wb, { type: 'buffer', bookType: 'xls' }) as Buffer, { type: 'buffer' });
      const entry = XLSX.CFB.find(cfb, '/Workbook')!;
      const c = Buffer.from(entry.content as Uint8Array);
      // SheetJS wrote the format as custom id 0x3c: the XF records (0x00e0) point at 31 instead,
      // and with `define` the FORMAT record (0x041e) is renumbered 31, else it stays 0x3c.
      for (let p = 0; p + 4 <= c.length; p += 4 + c.readUInt16LE(p + 2)) {
        const type = c.readUInt16LE(p);
        if (type === 0x00e0 && c.readUInt16LE(p + 6) === 0x3c) c.writeUInt16LE(31, p + 6);
        if (define && type === 0x041e && c.readUInt16LE(p + 4) === 0x3c) c.writeUInt16LE(31, p + 4);
      }
      entry.content = c;
      return XLSX.CFB.write(cfb, { type: 'buffer' }) as Buffer;
    };
    const defines = put(dir, 'defines.xls', xls(true));
    const uses = put(dir, 'uses.xls', xls(false));
    const read = (file: string, k: number) => readWorkbookNow({ file, dataset: 'roster', overrides: {}, sheet: undefined, headerRow: undefined, text: undefined, tmpDir: dir, prefix: `f${k}`, maxRows: 1000, maxCellChars: 1000 });
    const issues = (file: string, k: number) => fs.readFileSync(read(file, k).parts[0]!.csvPath, 'utf8').split('\n').slice(1, 3).map((line) => line.split(',')[1]);
    const alone = issues(uses, 0);
    expect(alone[0]).toMatch(/ambiguous_date/);
    // The defining workbook's own cells are dates; the one read after it is as when read alone.
    expect(issues(defines, 1)[0]).toBe('');
    expect(issues(uses, 2)).toEqual(alone);
  });
});

describe('layout: header, title rows, two-level headers, blank, footer and repeated-header rows', () => {
  it('finds the header below title rows, or takes the configured headerRow (and says when it is wrong)', async () => {
    const text = csv([['镇远县建档立卡贫困人口花名册'], ['单位：羊坪镇', '', '', '日期：2020年6月30日'], ROSTER_HEADER, ...ROSTER]);
    const f = put(dir, 'title.csv', text);
    const auto = await loadFiles('roster', [f]);
    expect([auto.files[0]!.layout.headerRow, picked(auto.rows), auto.rows.map((x) => x.source_row)]).toEqual([3, EXPECTED, ['4', '5', '6', '7']]);
    const fixed = await loadFiles('roster', [f], { headerRow: 3 });
    expect([fixed.files[0]!.layout.headerConfigured, picked(fixed.rows)]).toEqual([true, EXPECTED]);
    const wrong = await loadError('roster', [f], { headerRow: 2 });
    expect([wrong.code, wrong.message]).toEqual(['E_HEADER_ROW', expect.stringMatching(/配置的表头行（第 2 行）不是建档立卡/)]);
    // A configured row that holds a record: its cells (a name, an ID) are never printed.
    const data = await loadError('roster', [f], { headerRow: 4 });
    expect(data.code).toBe('E_HEADER_ROW');
    for (const v of ROSTER[0]!) if (v.length > 1) expect(data.format()).not.toContain(v);
  });

  it('reads two-level headers: group labels above, names below or merged down (CSV and XLSX)', async () => {
    const upper = ['户编号', '证件号码', '姓名', '与户主关系', '住址', '', '脱贫信息', '', '', '人均纯收入'];
    const lower = ['', '', '', '', '乡镇', '行政村', '脱贫状态', '识别时间', '脱贫时间', ''];
    const a = await loadFiles('roster', [put(dir, 'two.csv', csv([upper, lower, ...ROSTER]))]);
    expect([a.files[0]!.layout.headerRow, a.files[0]!.layout.twoLevel, picked(a.rows)]).toEqual([2, true, EXPECTED]);
    const ws = XLSX.utils.aoa_to_sheet([upper, lower, ...ROSTER]);
    ws['!merges'] = [
      ...[0, 1, 2, 3, 9].map((c) => ({ s: { r: 0, c }, e: { r: 1, c } })),
      { s: { r: 0, c: 4 }, e: { r: 0, c: 5 } },
      { s: { r: 0, c: 6 }, e: { r: 0, c: 8 } },
    ];
    const wb = XLSX.utils.book_new();
    XLSX.utils.book_append_sheet(wb, ws, '名册');
    const b = await loadFiles('roster', [put(dir, 'two.xlsx', XLSX.write(wb, { bookType: 'xlsx', type: 'buffer' }) as Buffer)]);
    expect([b.files[0]!.layout.headerRow, picked(b.rows), b.rows.map((x) => x.income_per_capita)]).toEqual([2, EXPECTED, ['4100.00', '4100.00', '2600.00', '5200.00']]);
  });

  it('skips and counts blank rows, footers and repeated headers; keeps row numbers right after a blank line', async () => {
    const rows = [
      ROSTER_HEADER,
      ROSTER[0]!,
      ',,,,,,,,,',
      ROSTER[1]!,
      ROSTER_HEADER, // the header again (a printed export's page break)
      ROSTER[2]!,
      ['52262500000009', newId('1970-01-01'), '钱七', '户主', '羊坪镇', '竹坪村', '未脱贫', '不详', '', ''],
      ROSTER[3]!,
      ['合计：5户', '', '', '', '', '', '', '', '', ''],
    ].map((r) => (typeof r === 'string' ? r : r.join(',')));
    // Fast path (DuckDB reads the file), then with a blank line and a short footer (parsed here).
    for (const [name, text] of [
      ['plain.csv', `${rows.join('\n')}\n`],
      ['blank.csv', `${rows.slice(0, 2).join('\n')}\n\n${rows.slice(3).join('\n')}\n制表人：\n`],
    ] as const) {
      const r = await loadFiles('roster', [put(dir, name, text)]);
      const f = r.files[0]!;
      expect([name, picked(r.rows)]).toEqual([name, EXPECTED]);
      expect([name, r.rows.map((x) => x.source_row)]).toEqual([name, ['2', '4', '6', '8']]);
      expect([name, r.rejects.map((x) => [x.source_row, x.reason_code])]).toEqual([name, [['7', 'bad_date']]]);
      expect([name, f.rowsRead, f.rowsLoaded, f.rowsRejected, f.rowsSkipped]).toEqual([name, f.rowsLoaded + 1 + f.rowsSkipped, 4, 1, f.rowsSkipped]);
      expect([name, f.layout.skipped]).toEqual([name, name === 'plain.csv' ? { empty: 1, header: 1, footer: 1 } : { empty: 1, header: 1, footer: 2 }]);
    }
    // A data row of another width is still refused, naming the row.
    const ragged = await loadError('roster', [put(dir, 'ragged.csv', `${rows.slice(0, 2).join('\n')}\n\n${ROSTER[1]!.join(',')},多余\n`)]);
    expect([ragged.code, ragged.message]).toEqual(['E_RAGGED_ROWS', expect.stringMatching(/第 4 行（列数多于表头）/)]);
  });

  it('reads a file with blank lines and no quotes directly, numbering the rows after them by their lines', async () => {
    // Blank lines planted between the records (one, two together, one before the last record) and
    // one after them:
    // each record's number is its line in the file, counted here from the plant.
    const bad = ['52262500000009', newId('1970-01-01'), '钱七', '户主', '羊坪镇', '竹坪村', '未脱贫', '不详', '', ''];
    const plan: (string[] | '')[] = [ROSTER[0]!, '', ROSTER[1]!, '', '', ROSTER[2]!, bad, '', ROSTER[3]!];
    const lines = [ROSTER_HEADER.join(','), ...plan.map((r) => (r === '' ? '' : r.join(',')))];
    const lineOf = (r: string[]) => String(plan.indexOf(r) + 2);
    const ws = ensureWorkspace(path.join(dir, 'ws'));
    for (const [name, content] of [
      ['lf.csv', `${lines.join('\n')}\n\n`],
      ['crlf.csv', `${lines.join('\r\n')}\r\n\r\n`],
      ['gbk.csv', iconv.encode(`${lines.join('\r\n')}\r\n\r\n`, 'gbk')],
    ] as const) {
      const file = put(dir, name, content);
      // Read directly (not parsed here first), with the blank lines' numbers.
      const prepared = await prepareFile(ws, 'roster', { path: file, scan: await scanFile(file), source: { dataset: 'roster', files: [file], encoding: 'auto', sheet: undefined, headerRow: undefined, columns: {}, values: {} } }, createProgress(process.stderr, true));
      const input = prepared.parts[0]!.input;
      expect([name, input.kind, input.kind === 'raw' ? input.blankLines : undefined]).toEqual([name, 'raw', [3, 5, 6, 9]]);
      for (const t of prepared.temps) fs.rmSync(t, { recursive: true, force: true });
      const r = await loadFiles('roster', [file]);
      const f = r.files[0]!;
      expect([name, picked(r.rows)]).toEqual([name, EXPECTED]);
      expect([name, r.rows.map((x) => x.source_row)]).toEqual([name, ROSTER.map(lineOf)]);
      expect([name, r.rejects.map((x) => [x.source_row, x.reason_code])]).toEqual([name, [[lineOf(bad), 'bad_date']]]);
      // The blank lines (four between the records, one after them) are rows read and skipped as
      // empty, as when a file is parsed here.
      expect([name, f.rowsRead, f.rowsLoaded, f.rowsRejected, f.rowsSkipped, f.layout.skipped]).toEqual([name, 10, 4, 1, 5, { empty: 5 }]);
    }
  });

  it('a direct read skips a title row repeated at a page break, and refuses content after the last named column, as a parsed file does', async () => {
    const title = ['2020年羊坪镇建档立卡花名册', '', '', '', '', '', '', '', '', ''].join(',');
    const rows = [title, ROSTER_HEADER.join(','), ...ROSTER.slice(0, 2).map((r) => r.join(',')), title, ROSTER_HEADER.join(','), ...ROSTER.slice(2).map((r) => r.join(','))];
    // DuckDB reads both directly (the second has a blank line before the page break).
    for (const [name, text] of [['paged.csv', `${rows.join('\n')}\n`], ['paged-blank.csv', `${rows.slice(0, 4).join('\n')}\n\n${rows.slice(4).join('\n')}\n`]] as const) {
      const r = await loadFiles('roster', [put(dir, name, text)]);
      const f = r.files[0]!;
      expect([name, picked(r.rows), r.rejects, f.layout.skipped, f.layout.normalisedBecause]).toEqual([name, EXPECTED, [], name === 'paged.csv' ? { header: 2 } : { header: 2, empty: 1 }, undefined]);
    }
    // A header line ending in empty cells (Excel's formatted columns), a row with a value there.
    const wide = [[...ROSTER_HEADER, '', ''], ...ROSTER.map((r, i) => (i === 1 ? [...r, '已核实', ''] : [...r, '', '']))].map((r) => r.join(','));
    for (const [name, text] of [['wide.csv', `${wide.join('\n')}\n`], ['wide-blank.csv', `${wide.slice(0, 2).join('\n')}\n\n${wide.slice(2).join('\n')}\n`]] as const) {
      const e = await loadError('roster', [put(dir, name, text)]);
      expect([name, e.code, e.message]).toEqual([name, 'E_RAGGED_ROWS', expect.stringMatching(name === 'wide.csv' ? /第 3 行（列数多于表头）/ : /第 4 行（列数多于表头）/)]);
    }
    // Empty cells there are no content: read directly.
    const clean = [[...ROSTER_HEADER, '', ''], ...ROSTER.map((r) => [...r, '', ''])].map((r) => r.join(','));
    expect(picked((await loadFiles('roster', [put(dir, 'wide-ok.csv', `${clean.join('\n')}\n`)])).rows)).toEqual(EXPECTED);
  });

  it('fills merged ranges, counts empty rows inside a sheet, skips a footer merged across the ID column', async () => {
    const ws = XLSX.utils.aoa_to_sheet([ROSTER_HEADER, ROSTER[0]!, ROSTER[1]!.map((c, i) => ([0, 4, 5, 6, 7, 8, 9].includes(i) ? '' : c)), [], ROSTER[2]!, ROSTER[3]!, ['合计：4户4人']]);
    ws['!merges'] = [...[0, 4, 5, 6, 7, 8, 9].map((c) => ({ s: { r: 1, c }, e: { r: 2, c } })), { s: { r: 6, c: 0 }, e: { r: 6, c: 9 } }];
    const wb = XLSX.utils.book_new();
    XLSX.utils.book_append_sheet(wb, ws, '花名册');
    const r = await loadFiles('roster', [put(dir, 'merged.xlsx', XLSX.write(wb, { bookType: 'xlsx', type: 'buffer' }) as Buffer)]);
    expect(picked(r.rows)).toEqual(EXPECTED);
    expect(r.files[0]!.layout.skipped).toEqual({ empty: 1, footer: 1 });
  });
});

describe('text files: encodings and line structure', () => {
  it('reads UTF-16 LE and BE with a BOM', async () => {
    const text = csv([ROSTER_HEADER, ...ROSTER], '\t');
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    const be = Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]);
    for (const [name, bytes] of [['le.txt', le], ['be.txt', be]] as const) {
      const r = await loadFiles('roster', [put(dir, name, bytes)]);
      expect([name, picked(r.rows)]).toEqual([name, EXPECTED]);
    }
  });

  it('refuses a file that switches encoding part-way, naming the line', async () => {
    const head = csv([ROSTER_HEADER, ROSTER[0]!, ROSTER[1]!]);
    const tail = csv([ROSTER[2]!, ROSTER[3]!]);
    const a = await loadError('roster', [put(dir, 'u8-gbk.csv', Buffer.concat([Buffer.from(head, 'utf8'), iconv.encode(tail, 'gbk')]))]);
    expect([a.code, a.message]).toEqual(['E_MIXED_ENCODING', expect.stringMatching(/前面是 UTF-8 编码，从第 4 行起变成了 GBK/)]);
    const b = await loadError('roster', [put(dir, 'gbk-u8.csv', Buffer.concat([iconv.encode(head, 'gbk'), Buffer.from(tail, 'utf8')]))]);
    expect([b.code, b.message]).toEqual(['E_MIXED_ENCODING', expect.stringMatching(/前面是 GBK 编码，从第 4 行起变成了 UTF-8/)]);
  });

  it('names lines in a file whose lines end in CR only (old Mac exports): an encoding switch, a damaged character, a bad GBK byte', async () => {
    // Counting line feeds, each of these was one line: the switch was refused as undecodable
    // bytes on line 1 (or, where the UTF-8 part happened to decode as GB18030, read garbled), and
    // line 1 was named for a bad byte.
    const cr = (text: string) => text.replaceAll('\r\n', '\r');
    const head = cr(csv([ROSTER_HEADER, ROSTER[0]!, ROSTER[1]!]));
    const tail = cr(csv([ROSTER[2]!, ROSTER[3]!]));
    const a = await loadError('roster', [put(dir, 'cr-u8-gbk.csv', Buffer.concat([Buffer.from(head, 'utf8'), iconv.encode(tail, 'gbk')]))]);
    expect([a.code, a.message]).toEqual(['E_MIXED_ENCODING', expect.stringMatching(/前面是 UTF-8 编码，从第 4 行起变成了 GBK/)]);
    const damaged = Buffer.concat([Buffer.from(head, 'utf8'), Buffer.from(ROSTER[2]!.join(',').replace('王五', '王'), 'utf8'), Buffer.from([0xe4, 0xba]), Buffer.from(`\r${ROSTER[3]!.join(',')}\r`)]);
    const b = await loadError('roster', [put(dir, 'cr-damaged.csv', damaged)]);
    expect([b.code, b.message]).toEqual(['E_ENCODING', expect.stringMatching(/^第 4 行有无法解码的字节（可能是复制或截断时损坏的字符），文件其余部分是 UTF-8 编码/)]);
    const gbk = Buffer.concat([iconv.encode(head, 'gbk'), iconv.encode(ROSTER[2]!.join(',').replace('王五,', '王'), 'gbk'), Buffer.from([0xca, 0x2c]), iconv.encode(`户主\r${ROSTER[3]!.join(',')}\r`, 'gbk')]);
    const c = await loadError('roster', [put(dir, 'cr-gbk.csv', gbk)]);
    expect([c.code, c.message]).toEqual(['E_ENCODING', expect.stringMatching(/第 4 行有无法解码的字节/)]);
    // A line feed inside a quoted cell of such a file does not make it a file of LF lines.
    const quoted = cr(csv([ROSTER_HEADER, ROSTER[0]!.map((c, i) => (i === 5 ? `"${c}\n（老村）"` : c)), ROSTER[1]!]));
    const q = await loadError('roster', [put(dir, 'cr-quoted-u8-gbk.csv', Buffer.concat([Buffer.from(quoted, 'utf8'), iconv.encode(tail, 'gbk')]))]);
    expect([q.code, q.message]).toEqual(['E_MIXED_ENCODING', expect.stringMatching(/前面是 UTF-8 编码，从第 4 行起变成了 GBK/)]);
    const u8 = await loadError('roster', [put(dir, 'cr-u8.csv', damaged)], { encoding: 'utf-8' });
    expect([u8.code, u8.message, u8.hint]).toEqual(['E_ENCODING', expect.stringMatching(/第 4 行有无法解码的字节/), expect.stringMatching(/只是这一行有问题.*重新输入这一行/)]);
  });

  it('reads a CRLF file whose quoted cells hold line feeds (and a header cell with one)', async () => {
    const header = ROSTER_HEADER.map((h) => (h === '证件号码' ? '"证件\n号码"' : h));
    const rows = ROSTER.map((r) => r.map((c, i) => (i === 5 ? `"${c}\n（老村）"` : c)));
    const r = await loadFiles('roster', [put(dir, 'crlf.csv', csv([header, ...rows]))]);
    // (place names are width-folded: （） becomes ())
    expect([picked(r.rows), r.rows.map((x) => x.village)]).toEqual([EXPECTED, ROSTER.map((x) => `${x[5]}\n(老村)`)]);
  });
});

describe('values', () => {
  it('unwraps ="…" and removes format characters on every field; IDs and codes with .0; new date forms', async () => {
    const rows = ROSTER.map((r, k) => r.map((c, i) => {
      if (i === 1) return k === 0 ? `="${c}"` : k === 1 ? `\u200B${c}\u2060` : `${c}`;
      if (i === 0) return k === 2 ? `${c}.0` : `="${c}"`;
      if (i === 2) return k === 3 ? `${c.slice(0, 1)}\u00AD${c.slice(1)}` : c;
      if (i === 4) return `\uFEFF${c}`;
      return c;
    }));
    rows[0]![7] = '2014.7.18';
    rows[1]![7] = '2014年7月18日';
    rows[2]![7] = '2015年3月'; // → 2015-03-01
    rows[3]![7] = '2016年度'; // → 2016-01-01
    const r = await loadFiles('roster', [put(dir, 'wrapped.csv', csv([ROSTER_HEADER, ...rows]))]);
    expect(r.rows.map((x) => [x.household_id, x.id_number, x.id_number_problem, x.name, x.township, x.identified_on])).toEqual([
      ['52262500000001', A, null, '张三', '羊坪镇', '2014-07-18'],
      ['52262500000001', B, null, '李四', '羊坪镇', '2014-07-18'],
      ['52262500000002', C, null, '王五', '羊坪镇', '2015-03-01'],
      ['52262500000003', D, null, '赵六', '蕉溪镇', '2016-01-01'],
    ]);
  });

  it('the …000 rule marks a file only when at least 3 and more than 2% of its 18-digit IDs end in 000', async () => {
    const hukou = (ids: string[]) => csv([['公民身份号码', '姓名', '户号', '乡镇', '行政村', '人口状态'], ...ids.map((id, i) => [id, `人${i}`, `H${i}`, '羊坪镇', '竹坪村', '正常'])]);
    const good = Array.from({ length: 200 }, (_, i) => newId(`19${String(40 + (i % 50)).padStart(2, '0')}-0${1 + (i % 9)}-1${i % 9}`));
    const damaged = (n: number) => good.slice(0, n).map((id) => `${id.slice(0, 15)}000`);
    const problems = async (name: string, ids: string[]) => (await loadFiles('hukou', [put(dir, name, hukou(ids))])).rows.filter((x) => x.id_number_problem === 'excel').length;
    expect(await problems('two.csv', [...damaged(2), ...good.slice(2, 50)])).toBe(0); // fewer than 3
    expect(await problems('share.csv', [...damaged(3), ...good.slice(3, 200)])).toBe(0); // 3 of 200: 1.5%
    expect(await problems('marked.csv', [...damaged(3), ...good.slice(3, 100)])).toBe(3); // 3 of 100
  });

  it('maps the national status wording and configured spellings; an unknown value is reported once, with its count and the entry that maps it', async () => {
    const rows = ROSTER.map((r) => [...r]);
    rows[0]![6] = '已脱贫(享受政策)';
    rows[1]![6] = '已脱贫（不再享受政策）';
    rows[2]![6] = '脱贫监测户';
    rows[3]![6] = '脱贫监测户';
    const file = put(dir, 'status.csv', csv([ROSTER_HEADER, ...rows]));
    const unknown = await loadFiles('roster', [file]);
    expect(unknown.rows.map((x) => x.status)).toEqual(['已脱贫', '已脱贫']);
    expect(unknown.rejects.map((x) => [x.source_row, x.reason_code, x.field])).toEqual([['4', 'bad_value', 'status'], ['5', 'bad_value', 'status']]);
    const mapped = await loadFiles('roster', [file], { values: { status: { 脱贫监测户: '已脱贫' } } });
    expect(mapped.rows.map((x) => x.status)).toEqual(['已脱贫', '已脱贫', '已脱贫', '已脱贫']);

    const config = path.join(dir, 'bidui.config.json');
    writeJson(config, { workspace: './ws', datasets: [{ dataset: 'roster', files: ['status.csv'] }] });
    const out = runCli(['ingest', '--config', config, '--quiet']);
    expect(out.code).toBe(0);
    const lines = out.stdout.split('\n').filter((l) => l.includes('脱贫监测户'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/无法识别的脱贫状态「脱贫监测户」：2 行（第 4、5 行）/);
    // The entry to add, never a guess at which standard value it means.
    expect(lines[0]).toContain('"values": { "status": { "脱贫监测户": "<未脱贫、已脱贫、返贫 之一>" } }');
  });
});

describe('the roster loses no one', () => {
  it('loads a member with an empty ID (a Q1 lead), fills household fields from the head, rejects only a household without a value', async () => {
    const rows = [
      ['52262500000001', A, '张三', '户主', '羊坪镇', '竹坪村', '已脱贫', '2014-07-18', '2018-12-01', '4100'],
      ['52262500000001', '', '李四', '配偶', '', '', '', '', '', ''],
      ['52262500000002', C, '王五', '户主', '羊坪镇', '竹坪村', '', '2015-03-02', '', '2600'],
      ['52262500000003', D, '赵六', '子女', '蕉溪镇', '猛溪村', '未脱贫', '', '', ''],
      ['52262500000003', B, '钱七', '子女', '', '', '未脱贫', '2016-01-05', '', ''],
    ];
    const r = await loadFiles('roster', [put(dir, 'members.csv', csv([ROSTER_HEADER, ...rows]))]);
    expect(r.rows.map((x) => [x.source_row, x.name, x.id_number_problem, x.township, x.status, x.identified_on, x.exited_on, x.income_per_capita])).toEqual([
      ['2', '张三', null, '羊坪镇', '已脱贫', '2014-07-18', '2018-12-01', '4100.00'],
      ['3', '李四', 'missing', '羊坪镇', '已脱贫', '2014-07-18', '2018-12-01', '4100.00'],
      // no head: the household's rows agree on a value
      ['5', '赵六', null, '蕉溪镇', '未脱贫', '2016-01-05', null, null],
      ['6', '钱七', null, '蕉溪镇', '未脱贫', '2016-01-05', null, null],
    ]);
    expect(r.rejects.map((x) => [x.source_row, x.reason_code, x.field])).toEqual([['4', 'household_missing', 'status']]);
    expect(r.rejects[0]!.reason).toMatch(/本户.*都没有可用的「脱贫状态」/);
    expect(r.files[0]!.layout.filled).toMatchObject({ township: 2, status: 1, identified_on: 2 });
  });
});

describe('nothing dropped unseen: the quality gate, the problem-data workbooks, counts on the as-of date', () => {
  it('stops a run whose roster lost too many rows (exit 2), goes on with --accept-rejects and records it', async () => {
    const rows = ROSTER.map((r, i) => (i < 2 ? r : r.map((c, j) => (j === 7 ? '不详' : c))));
    put(dir, 'roster.csv', csv([ROSTER_HEADER, ...rows]));
    put(dir, 'hukou.csv', csv([['公民身份号码', '姓名', '户号', '乡镇', '行政村', '人口状态'], [A, '张三', 'H1', '羊坪镇', '竹坪村', '正常']]));
    const config = path.join(dir, 'bidui.config.json');
    writeJson(config, { workspace: './ws', datasets: [{ dataset: 'roster', files: ['roster.csv'] }, { dataset: 'hukou', files: ['hukou.csv'] }] });
    const stopped = runCli(['run', '--config', config, '--as-of', '2020-06-30', '--out', path.join(dir, 'out'), '--quiet']);
    expect(stopped.code).toBe(2);
    expect(stopped.stderr).toMatch(/E_QUALITY_GATE/);
    expect(stopped.stderr).toMatch(/建档立卡（roster）：2 \/ 4 行被拒收（50\.0%，上限 1\.00%）/);
    expect(stopped.stderr).toMatch(/roster\.csv：拒收 2 行 — 「识别时间」（列「识别时间」）不是可识别的日期 2 行（第 4、5 行）/);
    expect(stopped.stderr).toMatch(/--accept-rejects/);
    expect(fs.existsSync(path.join(dir, 'out', 'summary.html'))).toBe(false);
    // The load is shown on stdout, and the rejected rows are written to send back.
    expect(stopped.stdout).toMatch(/roster\s+1\s+已导入\s+roster\.csv/);
    expect(stopped.stderr).toMatch(/已写入：建档立卡\.xlsx/);
    expect(fs.existsSync(path.join(dir, 'out', 'quality-gate', '建档立卡.xlsx'))).toBe(true);
    // The accepted run's report replaces the output folder whole: the stop's workbooks go with it.

    const accepted = runCli(['run', '--config', config, '--as-of', '2020-06-30', '--out', path.join(dir, 'out'), '--quiet', '--accept-rejects', '--mask-ids']);
    expect([accepted.code, accepted.stderr]).toEqual([0, '']);
    expect(accepted.stdout).toMatch(/按 --accept-rejects 继续比对/);
    const summary = fs.readFileSync(path.join(dir, 'out', 'summary.html'), 'utf8');
    expect(summary).toMatch(/越过了质量关口/);
    expect(summary).toMatch(/不是可识别的日期/);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'manifest.json'), 'utf8'));
    expect(manifest.quality_gate).toMatchObject({ accepted: true, limit: 0.01, over: [expect.objectContaining({ dataset: 'roster', rowsRejected: 2 })] });

    // The rejected rows, to send back: owner-only, values as written, IDs masked.
    const book = path.join(dir, 'out', 'quality', '建档立卡.xlsx');
    expect(fs.statSync(book).mode & 0o777).toBe(0o600);
    const wb = XLSX.read(fs.readFileSync(book), { type: 'buffer' });
    expect(wb.SheetNames).toEqual(['拒收记录', '警告', '说明']);
    const rejected = XLSX.utils.sheet_to_json<Record<string, string | number>>(wb.Sheets['拒收记录']!);
    expect(rejected.map((x) => [x['文件'], x['行号'], x['识别时间'], x['姓名'], x['证件号码']])).toEqual([
      ['roster.csv', 4, '不详', '王五', `${C.slice(0, 6)}********${C.slice(-4)}`],
      ['roster.csv', 5, '不详', '赵六', `${D.slice(0, 6)}********${D.slice(-4)}`],
    ]);
    expect(manifest.outputs.map((o: { file: string }) => o.file)).toContain('quality/建档立卡.xlsx');
  });

  it('counts invalid IDs for the run\'s as-of date, so the summary agrees with Q1', async () => {
    const born2019 = newId('2019-05-01');
    const rows = [[...ROSTER[0]!], ['52262500000001', born2019, '小明', '子女', '羊坪镇', '竹坪村', '已脱贫', '2014-07-18', '2018-12-01', '4100']];
    put(dir, 'roster.csv', csv([ROSTER_HEADER, ...rows]));
    put(dir, 'hukou.csv', csv([['公民身份号码', '姓名', '户号', '乡镇', '行政村', '人口状态'], [A, '张三', 'H1', '羊坪镇', '竹坪村', '正常']]));
    const config = path.join(dir, 'bidui.config.json');
    writeJson(config, { workspace: './ws', datasets: [{ dataset: 'roster', files: ['roster.csv'] }, { dataset: 'hukou', files: ['hukou.csv'] }] });
    expect(runCli(['ingest', '--config', config, '--quiet']).code).toBe(0); // counted on the day of the ingest: valid
    const out = runCli(['run', '--config', config, '--as-of', '2018-12-31', '--out', path.join(dir, 'out'), '--quiet']);
    expect([out.code, out.stderr]).toEqual([0, '']);
    const q1 = readCsvFile(path.join(dir, 'out', 'evidence.csv')).filter((e) => e.rule === 'Q1');
    expect(q1.map((e) => e.name)).toEqual(['小明']);
    const summary = fs.readFileSync(path.join(dir, 'out', 'summary.html'), 'utf8');
    expect(summary).toMatch(/建档立卡（roster）<\/td>(<td[^>]*>[^<]*<\/td>){8}<td data-label="无效证件号" class="n">1<\/td><td data-label="无效原因">证件号码中的出生日期无效或晚于比对日期：1<\/td>/);
  });

  it('prints reasons and row numbers, never a name or an ID, and no data row when no header is found', async () => {
    const secret = ['独孤求败', '令狐冲'];
    const rows = ROSTER.map((r, i) => (i === 0 ? r.map((c, j) => (j === 2 ? secret[0]! : c)) : i === 2 ? r.map((c, j) => (j === 2 ? secret[1]! : j === 7 ? '不详' : c)) : r));
    put(dir, 'roster.csv', csv([ROSTER_HEADER, ...rows]));
    put(dir, 'noheader.csv', csv(ROSTER.map((r) => r.map((c, j) => (j === 2 ? secret[0]! : c)))));
    const config = path.join(dir, 'bidui.config.json');
    writeJson(config, { workspace: './ws', datasets: [{ dataset: 'roster', files: ['roster.csv'] }] });
    const out = runCli(['ingest', '--config', config]);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/拒收 1 行：.*第 4 行/);
    writeJson(config, { workspace: './ws2', datasets: [{ dataset: 'roster', files: ['noheader.csv'] }] });
    const bad = runCli(['ingest', '--config', config]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/找不到.*表头/);
    for (const text of [out.stdout, out.stderr, bad.stdout, bad.stderr, fs.readFileSync(path.join(dir, 'ws', 'logs', 'bidui.log'), 'utf8')]) {
      for (const s of [...secret, A, B, C, D]) expect(text).not.toContain(s);
    }
  });
});

describe('variants found by trying to break it', () => {
  it('a 户编号 Excel showed in scientific notation is rejected, never a key that joins households', async () => {
    const rows = ROSTER.map((r) => ['5.22625E+13', ...r.slice(1)]);
    const r = await loadFiles('roster', [put(dir, 'sci.csv', csv([ROSTER_HEADER, ...rows]))]);
    expect(r.rows).toEqual([]);
    expect(r.rejects.map((x) => [x.reason_code, x.field])).toEqual(Array(4).fill(['excel_number', 'household_id']));
  });

  it('an .ods with several sheets must name the sheet (it does not say which are hidden)', async () => {
    const wb = sheetOf([ROSTER_HEADER, ROSTER[0]!.map((c) => c.replace('张三', '旧人'))], '旧');
    XLSX.utils.book_append_sheet(wb, XLSX.utils.aoa_to_sheet([ROSTER_HEADER, ...ROSTER]), '名册');
    const f = put(dir, 'two.ods', XLSX.write(wb, { bookType: 'ods', type: 'buffer' }) as Buffer);
    const e = await loadError('roster', [f]);
    expect([e.code, e.message]).toEqual(['E_XLSX_SHEET', expect.stringMatching(/无法判断哪些是隐藏的/)]);
    expect(picked((await loadFiles('roster', [f], { sheet: '名册' })).rows)).toEqual(EXPECTED);
  });

  it('decodes numeric character references of HTML tables (UTF-8, UTF-16), keeps markup escapes', async () => {
    const ref = (t: string) => [...t].map((ch) => (/[0-9A-Za-z]/.test(ch) ? ch : `&#${ch.codePointAt(0)};`)).join('');
    const html = `<table>${[ROSTER_HEADER, ...ROSTER].map((r) => `<tr>${r.map((c) => `<td>${ref(c)}</td>`).join('')}</tr>`).join('')}</table>`;
    expect(picked((await loadFiles('roster', [put(dir, 'ref.xls', html)])).rows)).toEqual(EXPECTED);
    const u16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(html, 'utf16le')]);
    expect(picked((await loadFiles('roster', [put(dir, 'u16.xls', u16)])).rows)).toEqual(EXPECTED);
  });

  it('a member without an ID but with a name is loaded, whatever its 备注 says (not a footer)', async () => {
    const header = [...ROSTER_HEADER, '备注'];
    const rows = [[...ROSTER[0]!, ''], ['52262500000001', '', '张小宝', '子女', '羊坪镇', '竹坪村', '已脱贫', '2014-07-18', '2018-12-01', '4100', '新生儿户口待审核'], ['', '', '', '', '', '', '', '', '', '', '制表人：扶贫办']];
    const r = await loadFiles('roster', [put(dir, 'noid.csv', csv([header, ...rows]))]);
    expect(r.rows.map((x) => [x.name, x.id_number_problem])).toEqual([['张三', null], ['张小宝', 'missing']]);
    expect(r.files[0]!.layout.skipped).toEqual({ footer: 1 });
  });

  it('refuses a stray quote that swallows the records after it, naming the row (mapped or not)', async () => {
    const header = [...ROSTER_HEADER, '备注'];
    const line = (r: string[], last: string) => [...r, last].join(',');
    for (const [name, text] of [
      ['remark.csv', [header.join(','), line(ROSTER[0]!, '"长期外出务工'), line(ROSTER[1]!, ''), line(ROSTER[2]!, ''), line(ROSTER[3]!, '低保户"')].join('\n') + '\n'],
      ['income.csv', [header.join(','), `${ROSTER[0]!.slice(0, 9).join(',')},"4100,`, line(ROSTER[1]!, ''), `${ROSTER[2]!.slice(0, 9).join(',')},2600",`, line(ROSTER[3]!, '')].join('\n') + '\n'],
    ]) {
      const e = await loadError('roster', [put(dir, name!, text!)]);
      expect([name, e.code, e.message]).toEqual([name, 'E_RAGGED_ROWS', expect.stringMatching(/第 2 行有一个单元格跨越多行/)]);
    }
  });

  it('"sheet": "*" refuses a sheet of records without a header instead of skipping it', async () => {
    const wb = sheetOf([ROSTER_HEADER, ...ROSTER.slice(0, 2)], '羊坪镇');
    XLSX.utils.book_append_sheet(wb, XLSX.utils.aoa_to_sheet(ROSTER.slice(2)), '蕉溪镇');
    const e = await loadError('roster', [put(dir, 'star.xlsx', XLSX.write(wb, { bookType: 'xlsx', type: 'buffer' }) as Buffer)], { sheet: '*' });
    expect([e.code, e.message]).toEqual(['E_MISSING_COLUMN', expect.stringMatching(/工作表「蕉溪镇」有数据（含身份证号码），但前 20 行中找不到/)]);
  });

  it('applies the …000 rule to a workbook as a whole, across its sheets', async () => {
    const zeros = ['1950-01-15', '1951-02-16', '1952-03-17', '1953-04-18'].map((b) => {
      for (let seq = 0; ; seq++) {
        const id = newId(b);
        if (id.endsWith('000')) return id;
        if (seq > 20000) throw new Error('no ID ending in 000');
      }
    });
    const sheet = (ids: string[], first: number) => [ROSTER_HEADER, ...ids.map((id, k) => [`522625000000${first + k}`, id, `人${first + k}`, '户主', '羊坪镇', '竹坪村', '未脱贫', '2015-03-02', '', ''])];
    const wb = sheetOf(sheet([zeros[0]!, zeros[1]!, A, B, C], 10), '一');
    XLSX.utils.book_append_sheet(wb, XLSX.utils.aoa_to_sheet(sheet([zeros[2]!, zeros[3]!, D, newId('1960-01-01'), newId('1961-01-01')], 20)), '二');
    const r = await loadFiles('roster', [put(dir, 'z.xlsx', XLSX.write(wb, { bookType: 'xlsx', type: 'buffer' }) as Buffer)], { sheet: '*' });
    expect(r.rows.filter((x) => x.id_number_problem === 'excel').map((x) => x.id_number).sort()).toEqual([...zeros].sort());
  });

  it('a 花名册 saved as CSV (household cells only on the head\'s row) loses no member', async () => {
    const rows = [ROSTER[0]!, ['', B, '李四', '配偶', '', '', '', '', '', ''], ROSTER[2]!, ['', newId('1990-01-01'), '王小', '子女', '', '', '', '', '', ''], ['', D, '赵六', '户主', '蕉溪镇', '猛溪村', '已脱贫', '2016-01-05', '2019-11-30', '5200']];
    const r = await loadFiles('roster', [put(dir, 'hmc.csv', csv([ROSTER_HEADER, ...rows]))]);
    expect(r.rows.map((x) => [x.source_row, x.household_id, x.name, x.township, x.status])).toEqual([
      ['2', '52262500000001', '张三', '羊坪镇', '已脱贫'],
      ['3', '52262500000001', '李四', '羊坪镇', '已脱贫'],
      ['4', '52262500000002', '王五', '羊坪镇', '未脱贫'],
      ['5', '52262500000002', '王小', '羊坪镇', '未脱贫'],
    ]);
    expect(r.warnings.filter((w) => w.code === 'household_id_filled').map((w) => w.source_row)).toEqual(['3', '5']);
    // A row with household values of its own but no 户编号 is another household: rejected.
    expect(r.rejects.map((x) => [x.source_row, x.reason_code])).toEqual([['6', 'missing_field']]);
  });

  it('a 花名册 row without a name is no member of the household above; a row of ="" wrappers is empty', async () => {
    // A name lost to #N/A, an empty name, a template row numbered down the sheet (with a 序号
    // column), and a row whose cells are all ="": before, the first three were loaded as
    // nameless members of 52262500000001 and the last was rejected (counted against the gate).
    const header = ['序号', ...ROSTER_HEADER];
    const rows = [['1', ...ROSTER[0]!], ['2', '', B, '李四', '配偶', '', '', '', '', '', ''], ['3', '', newId('1990-01-01'), '#N/A', '子女', '', '', '', '', '', ''],
      ['4', '', '', '', '', '', '', '', '', '', ''], ['5', '', newId('1991-01-01'), '', '子女', '', '', '', '', '', ''], header.map(() => '=""')];
    const r = await loadFiles('roster', [put(dir, 'hmc-blank.csv', csv([header, ...rows]))]);
    expect(r.rows.map((x) => [x.source_row, x.household_id, x.name])).toEqual([['2', '52262500000001', '张三'], ['3', '52262500000001', '李四']]);
    // Rejected for the name, with its own reason (the 户编号 is on the head's row); the template
    // row (序号 only) and the row of ="" are empty rows.
    expect(r.rejects.map((x) => [x.source_row, x.reason_code, x.field])).toEqual([['4', 'excel_error', 'name'], ['6', 'missing_field', 'name']]);
    expect(r.files[0]!.layout.skipped).toEqual({ empty: 2 });
  });

  it('merged cells over blank formatted rows make no rows; a stray cell far right makes no columns', async () => {
    const ws = XLSX.utils.aoa_to_sheet([ROSTER_HEADER, ...ROSTER]);
    ws['!merges'] = [{ s: { r: 1, c: 4 }, e: { r: 40, c: 4 } }];
    ws['XFD1'] = { t: 's', v: ' ' };
    ws['!ref'] = 'A1:XFD41';
    for (let r = 6; r <= 41; r++) ws[`E${r}`] = { t: 'z' };
    const wb = XLSX.utils.book_new();
    XLSX.utils.book_append_sheet(wb, ws, '名册');
    const r = await loadFiles('roster', [put(dir, 'styled.xlsx', XLSX.write(wb, { bookType: 'xlsx', type: 'buffer' }) as Buffer)]);
    expect([picked(r.rows), r.rejects, r.files[0]!.rowsRead]).toEqual([EXPECTED.map((e) => [...e]), [], 4]);
  });

  it('numbers in a date column that are no date keep their value as written; a date-time cell is its date', async () => {
    const file = put(dir, 'nd.xlsx', await buildXlsx({
      sheets: [{
        name: '名册',
        rows: row(1, ROSTER_HEADER.slice(0, 8)) +
          `<row r="2">${ROSTER[2]!.slice(0, 7).map((c, i) => cell(`${String.fromCharCode(65 + i)}2`, c)).join('')}${n('H2', 201806)}</row>` +
          `<row r="3">${ROSTER[3]!.slice(0, 7).map((c, i) => cell(`${String.fromCharCode(65 + i)}3`, c)).join('')}<c r="H3" t="d"><v>2016-01-05T23:30:00</v></c></row>`,
      }],
    }));
    const r = await loadFiles('roster', [file]);
    expect(r.rows.map((x) => [x.name, x.identified_on])).toEqual([['赵六', '2016-01-05']]);
    expect(r.rejects.map((x) => [x.source_row, x.reason_code, JSON.parse(x.row_json!).identified_on])).toEqual([['2', 'number_date', '201806']]);
  });

  it('text files: a configured UTF-16 without BOM, a UTF-8 file switching to GBK after 1 MB, an unclosed quote in the first rows', async () => {
    const text = csv([ROSTER_HEADER, ...ROSTER], '\t');
    expect(picked((await loadFiles('roster', [put(dir, 'nobom.txt', Buffer.from(text, 'utf16le'))], { encoding: 'utf-16le' })).rows)).toEqual(EXPECTED);
    const filler = Array.from({ length: 15000 }, (_, i) => ['52262500000009', newId('1970-01-01'), `甲${i}`, '户主', '羊坪镇', '竹坪村', '未脱贫', '2015-03-02', '', '2600'].join(',')).join('\n');
    const mixed = Buffer.concat([Buffer.from(`${ROSTER_HEADER.join(',')}\n${filler}\n`, 'utf8'), iconv.encode(csv([ROSTER[0]!]), 'gbk')]);
    expect(mixed.length).toBeGreaterThan(1 << 20);
    const e = await loadError('roster', [put(dir, 'big.csv', mixed)]);
    expect([e.code, e.message]).toEqual(['E_ENCODING', expect.stringMatching(/第 15002 行是 GBK 编码，文件其余部分是 UTF-8 编码/)]);
    const q = await loadError('roster', [put(dir, 'quote.csv', `${ROSTER_HEADER.join(',')}\n${ROSTER[0]!.join(',').replace('张三', '"张三')}\n${ROSTER[1]!.join(',')}\n`)]);
    expect([q.code, q.message]).toEqual(['E_RAGGED_ROWS', expect.stringMatching(/引号不配对/)]);
  });

  it('a header line with a trailing delimiter, a title row repeated at a page break, 上午/下午 times', async () => {
    const title = ['镇远县建档立卡贫困人口花名册'];
    const rows = ROSTER.map((r) => [...r]);
    rows[0]![7] = '2014/7/18 上午 12:00:00';
    const text = [title.join(','), `${ROSTER_HEADER.join(',')},`, rows[0]!.join(','), rows[1]!.join(','), title.join(','), rows[2]!.join(','), rows[3]!.join(',')].join('\n') + '\n';
    const r = await loadFiles('roster', [put(dir, 'pages.csv', text)]);
    expect(picked(r.rows)).toEqual(EXPECTED);
    expect(r.files[0]!.layout.skipped).toEqual({ header: 1 });
  });

  it('a cell longer than Excel allows (32,767 characters) is cut: an unused column loads, a used one rejects the row', async () => {
    // 4 million characters (12 MB: more than DuckDB reads as one line), 3 million (9 MB: a line
    // DuckDB reads), and a quoted cell of many short lines.
    for (const [n, sep] of [[4_000_000, ''], [3_000_000, ''], [20_000, '\n'], [3_000_000, '\n']] as const) {
      const long = Array.from({ length: n }, () => '长').join(sep);
      const rows = ROSTER.map((r) => [...r, '']);
      rows[1]![10] = `"${long}"`;
      rows[2]![2] = `"${long}"`;
      const r = await loadFiles('roster', [put(dir, `long-${n}.csv`, csv([[...ROSTER_HEADER, '说明'], ...rows]))]);
      expect(picked(r.rows)).toEqual([EXPECTED[0], EXPECTED[1], EXPECTED[3]]);
      expect(r.rejects.map((x) => [x.source_row, x.reason_code, x.reason])).toEqual([['4', 'too_long', expect.stringMatching(/「姓名」.*超过 32767 个字符（单元格长度的上限 limits.maxCellChars，即 Excel 的上限）/)]]);
      expect(JSON.parse(r.rejects[0]!.row_json!).name).toHaveLength(32767);
    }
    const rows = ROSTER.map((r) => [...r]);
    rows[2]![2] = '长'.repeat(40000);
    // Excel itself refuses such a cell; another program may write one.
    const sheet = [ROSTER_HEADER, ...rows].map((r, i) => row(i + 1, r)).join('');
    const x = await loadFiles('roster', [put(dir, 'long.xlsx', await buildXlsx({ sheets: [{ name: '名册', rows: sheet }] }))]);
    expect([picked(x.rows), x.rejects.map((r) => [r.source_row, r.reason_code])]).toEqual([[EXPECTED[0], EXPECTED[1], EXPECTED[3]], [['4', 'too_long']]]);
  });

  it('removes what a dead process left in the workspace\'s tmp folder, at the next start', () => {
    put(dir, 'roster.csv', csv([ROSTER_HEADER, ...ROSTER]));
    const config = path.join(dir, 'bidui.config.json');
    writeJson(config, { workspace: './ws', datasets: [{ dataset: 'roster', files: ['roster.csv'] }] });
    const left = put(dir, 'ws/tmp/999999-1-abc.csv', 'a copy of an export');
    const spill = put(dir, 'ws/tmp/duckdb_temp_storage-0.tmp', 'DuckDB spill');
    expect(runCli(['ingest', '--config', config, '--quiet']).code).toBe(0);
    expect([fs.existsSync(left), fs.existsSync(spill)]).toEqual([false, true]);
  });
});

describe('variants found by a second attack', () => {
  const header = ROSTER_HEADER.join(',');
  const line = (r: string[]) => r.join(',');

  it('number cells that hold all the digits (a program wrote them) keep every digit: .xlsx and XML Spreadsheet 2003', async () => {
    const numeric = (r: number, cells: string[]) => `<row r="${r}">${cells.map((c, i) => {
      const ref = `${String.fromCharCode(65 + i)}${r}`;
      return i <= 1 && /^[0-9]+$/.test(c) ? `<c r="${ref}"><v>${c}</v></c>` : cell(ref, c);
    }).join('')}</row>`;
    const hh17 = '52262500000000001';
    const rows = ROSTER.map((r, i) => (i === 0 ? [hh17, ...r.slice(1)] : r));
    const xlsx = put(dir, 'pandas.xlsx', await buildXlsx({ sheets: [{ name: 'Sheet1', rows: row(1, ROSTER_HEADER) + rows.map((r, i) => numeric(i + 2, r)).join('') }] }));
    const a = await loadFiles('roster', [xlsx]);
    expect([a.rows.map((x) => [x.household_id, x.id_number, x.id_number_problem]), a.rejects]).toEqual([rows.map((r) => [r[0], r[1], null]), []]);
    // XML Spreadsheet 2003 as old systems write it, an ID ending in X in a Number cell too.
    let x = newId('1980-02-02');
    while (!x.endsWith('X')) x = newId('1980-02-02');
    const data = (v: string, type = /^[0-9X]+$/.test(v) && v.length > 6 ? 'Number' : 'String') => `<Cell><Data ss:Type="${type}">${v}</Data></Cell>`;
    const xmlRows = [ROSTER_HEADER, ...ROSTER.map((r, i) => (i === 3 ? [r[0]!, x, ...r.slice(2)] : r))]
      .map((r) => `<Row>${r.map((v, j) => (j >= 7 ? data(v, 'String') : data(v))).join('')}</Row>`).join('');
    const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<?mso-application progid="Excel.Sheet"?>\n<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet"><Worksheet ss:Name="名册"><Table>${xmlRows}</Table></Worksheet></Workbook>`;
    const b = await loadFiles('roster', [put(dir, 'system.xls', xml)]);
    expect(b.rows.map((r) => [r.id_number, r.id_number_problem])).toEqual([[A, null], [B, null], [C, null], [x, null]]);
    expect([b.files[0]!.encoding, b.rejects]).toEqual(['xml', []]);
  });

  it('number cells whose digits are only how a double prints (JavaScript and Go writers) count as damaged, never as another ID or household', async () => {
    // 522625196312241235 through a double prints 522625196312241200: 18 digits, 16 significant,
    // a valid ID one time in eleven. Three 户编号 print as one: three households would be one.
    const codes = ['522625101201000123', '522625101201000125', '522625101201000150'];
    expect(new Set(codes.map((c) => String(Number(c)))).size).toBe(1);
    const rows = ROSTER.slice(0, 3).map((r, i) => [codes[i]!, ...r.slice(1)]);
    const printed = (r: number, cells: string[]) => `<row r="${r}">${cells.map((c, i) => {
      const ref = `${String.fromCharCode(65 + i)}${r}`;
      return i <= 1 ? `<c r="${ref}"><v>${String(Number(c))}</v></c>` : cell(ref, c);
    }).join('')}</row>`;
    const xlsx = put(dir, 'js-written.xlsx', await buildXlsx({ sheets: [{ name: 'Sheet1', rows: row(1, ROSTER_HEADER) + rows.map((r, i) => printed(i + 2, r)).join('') }] }));
    const a = await loadFiles('roster', [xlsx]);
    const loaded = [...a.rows.map((x) => [x.household_id, x.id_number_problem]), ...a.rejects.map((x) => ['rejected', x.reason])];
    // No row keeps the printed digits as its 户编号; every ID that was loaded is marked Excel-damaged.
    for (const x of a.rows) expect([x.household_id === String(Number(codes[0])), x.id_number_problem]).toEqual([false, 'excel']);
    expect(loaded.length).toBe(3);
    // A column of exact integers (openpyxl, a database) keeps every digit, also of an ID that is
    // a round double's print (one in 63: every ID ending in 00) and of 16-digit 户编号 (a double
    // holds them exactly).
    expect([printedDouble('522625196312241235'), printedDouble('522625196312241200'), printedDouble('5226251012010001')]).toEqual([false, true, false]);
    let round = newId('1960-11-11');
    for (let k = 0; !round.endsWith('00'); k++) round = newId(`19${60 + (k % 30)}-0${1 + (k % 9)}-1${k % 9}`);
    expect(printedDouble(round)).toBe(true);
    const exactRows = [['5226251012010001', A, ...ROSTER[0]!.slice(2)], ['5226251012010002', round, ...ROSTER[2]!.slice(2)], ['5226251012010003', D, ...ROSTER[3]!.slice(2)]];
    const exact = (r: number, cells: string[]) => `<row r="${r}">${cells.map((c, i) => (i <= 1 ? `<c r="${String.fromCharCode(65 + i)}${r}"><v>${c}</v></c>` : cell(`${String.fromCharCode(65 + i)}${r}`, c))).join('')}</row>`;
    const b = await loadFiles('roster', [put(dir, 'exact.xlsx', await buildXlsx({ sheets: [{ name: 'Sheet1', rows: row(1, ROSTER_HEADER) + exactRows.map((r, i) => exact(i + 2, r)).join('') }] }))]);
    expect([b.rows.map((x) => [x.household_id, x.id_number, x.id_number_problem]), b.rejects]).toEqual([exactRows.map((r) => [r[0], r[1], null]), []]);
  });

  it('the XML is walked again only when it may hold more digits than a number keeps', () => {
    // What Excel kept (15 digits and zeros), dates and small numbers: nothing to read again.
    expect(mayHoldExactNumbers('<c r="B2"><v>522625198512101000</v></c><c r="C2"><v>43831</v></c><c r="D2"><v>522625000000001</v></c>')).toBe(false);
    expect(mayHoldExactNumbers(Buffer.from('<row r="9"><c r="B9"><v>5.22625198512101E+17</v></c><c><is><t>张三</t></is></c></row>'))).toBe(false);
    // 16 or more significant digits, an ID ending in X, a character reference: read again.
    for (const xml of ['<v>522625197207150037</v>', '<v>0522625197207153000</v>', '<v>5226251972071500370</v>', '<Data ss:Type="Number">52262519720715003X</Data>', '<v>&#53;22625197207150037</v>', '<v>1234567890123456.0</v>']) {
      expect([xml, mayHoldExactNumbers(Buffer.from(xml))]).toEqual([xml, true]);
    }
  });

  it('footers are skipped however their name cell is filled (3人, a signer); a note line too', async () => {
    const text = [header, line(ROSTER[0]!), line(ROSTER[2]!), line(ROSTER[3]!),
      '合计,,3人,,,,,,,', '合计,,共3户3人,,,,,,,7800', '制表人：,,李明,,审核人：,王强,,,,', ',,,,,,,填表日期：2020年6月30日,,', '注：1.本表由村委会填写,,,,,,,,,'].join('\n') + '\n';
    const r = await loadFiles('roster', [put(dir, 'foot.csv', text)]);
    expect([picked(r.rows), r.rejects, r.files[0]!.layout.skipped]).toEqual([[EXPECTED[0], EXPECTED[2], EXPECTED[3]], [], { footer: 5 }]);
  });

  it('a 备注 of several lines, holding an ID or a list with commas, is a cell, not swallowed records', async () => {
    const rows = ROSTER.map((r) => [...r, '']);
    rows[1]![10] = `"户主身份证号已更正，原号码\n${C}"`;
    rows[2]![10] = '"家庭成员：\n张三,李四,王五,赵六"';
    const r = await loadFiles('roster', [put(dir, 'memo.csv', csv([[...ROSTER_HEADER, '备注'], ...rows]))]);
    expect([picked(r.rows), r.rejects]).toEqual([EXPECTED, []]);
  });

  it('a header merged across two columns names the first; two columns of one name are chosen by letter', async () => {
    const ws = XLSX.utils.aoa_to_sheet([[ROSTER_HEADER[0], ROSTER_HEADER[1], '', ...ROSTER_HEADER.slice(2)], ...ROSTER.map((r) => [r[0], r[1], r[1], ...r.slice(2)])]);
    ws['!merges'] = [{ s: { r: 0, c: 1 }, e: { r: 0, c: 2 } }];
    const wb = XLSX.utils.book_new();
    XLSX.utils.book_append_sheet(wb, ws, '名册');
    expect(picked((await loadFiles('roster', [put(dir, 'merged.xlsx', XLSX.write(wb, { bookType: 'xlsx', type: 'buffer' }) as Buffer)])).rows)).toEqual(EXPECTED);
    const twice = csv([[...ROSTER_HEADER, '姓名'], ...ROSTER.map((r) => [...r, '别名'])]);
    const e = await loadError('roster', [put(dir, 'twice.csv', twice)]);
    expect([e.code, e.message]).toEqual(['E_AMBIGUOUS_COLUMN', expect.stringMatching(/第 C 列「姓名」和第 K 列「姓名」.*"@C": "name"/)]);
    expect(picked((await loadFiles('roster', [put(dir, 'twice.csv', twice)], { columns: { '@C': 'name' } })).rows)).toEqual(EXPECTED);
  });

  it('two exports joined into one file (copy /b): the second one\'s byte-order mark and header are skipped, its rows read', async () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    const first = Buffer.from(csv([ROSTER_HEADER, ROSTER[0]!, ROSTER[1]!]));
    const second = Buffer.from(csv([ROSTER_HEADER, ROSTER[2]!, ROSTER[3]!]));
    const r = await loadFiles('roster', [put(dir, 'joined.csv', Buffer.concat([bom, first, bom, second]))]);
    expect([picked(r.rows), r.rejects, r.files[0]!.layout.skipped]).toEqual([EXPECTED, [], { header: 1 }]);
  });

  it('rows that end early (Excel drops trailing empty cells in CSV) are read; a row short of a value is refused', async () => {
    const trimmed = [header, line(ROSTER[0]!), ROSTER[2]!.slice(0, 8).join(','), line(ROSTER[3]!)].join('\n') + '\n';
    const r = await loadFiles('roster', [put(dir, 'trimmed.csv', trimmed)]);
    expect([picked(r.rows), r.files[0]!.layout.paddedRows]).toEqual([[EXPECTED[0], EXPECTED[2], EXPECTED[3]], 1]);
    const short = [header, line(ROSTER[0]!), `${ROSTER[2]!.slice(0, 9).join(',')}`, line(ROSTER[3]!)].join('\n') + '\n';
    const e = await loadError('roster', [put(dir, 'short.csv', short)]);
    expect([e.code, e.message]).toEqual(['E_RAGGED_ROWS', expect.stringMatching(/第 3 行（列数少于表头，且最后一个单元格为空）/)]);
  });

  it('encodings: a damaged UTF-8 character and a bad GBK byte are named by line; UTF-16 without BOM, Ctrl-Z and NUL padding are read', async () => {
    const good = Buffer.from([header, line(ROSTER[0]!), line(ROSTER[1]!)].join('\n') + '\n');
    const cut = Buffer.from(line(ROSTER[2]!).replace('王五', '王'), 'utf8');
    const damaged = Buffer.concat([good, cut, Buffer.from([0xe4, 0xba]), Buffer.from(`\n${line(ROSTER[3]!)}\n`)]);
    const e1 = await loadError('roster', [put(dir, 'damaged.csv', damaged)]);
    expect([e1.code, e1.message]).toEqual(['E_ENCODING', expect.stringMatching(/^第 4 行有无法解码的字节（可能是复制或截断时损坏的字符），文件其余部分是 UTF-8 编码/)]);
    const gbk = Buffer.concat([iconv.encode([header, line(ROSTER[0]!), line(ROSTER[1]!)].join('\n') + '\n', 'gbk'), iconv.encode(line(ROSTER[2]!).replace('王五,', '王'), 'gbk'), Buffer.from([0xca, 0x2c]), iconv.encode(`户主\n${line(ROSTER[3]!)}\n`, 'gbk')]);
    const e2 = await loadError('roster', [put(dir, 'gbk.csv', gbk)]);
    expect([e2.code, e2.message]).toEqual(['E_ENCODING', expect.stringMatching(/第 4 行有无法解码的字节/)]);
    const text = csv([ROSTER_HEADER, ...ROSTER], '\t');
    const u16 = await loadFiles('roster', [put(dir, 'nobom.txt', Buffer.from(text, 'utf16le'))]);
    expect([picked(u16.rows), u16.files[0]!.encoding]).toEqual([EXPECTED, 'utf-16le']);
    const z = await loadFiles('roster', [put(dir, 'ctrlz.csv', Buffer.concat([Buffer.from(csv([ROSTER_HEADER, ...ROSTER])), Buffer.from([0x1a])]))]);
    expect([picked(z.rows), z.files[0]!.layout.skipped]).toEqual([EXPECTED, { empty: 1 }]);
    const padded = csv([ROSTER_HEADER, ...ROSTER.map((r) => r.map((v, j) => (j === 2 ? `${v}\0\0\0\0` : v)))]);
    expect(picked((await loadFiles('roster', [put(dir, 'nul.csv', padded)])).rows)).toEqual(EXPECTED);
  });

  it('template headers (*姓名, 姓名（必填）, 人均纯收入（元）) are read; a column that looks like an unfound field is suggested', async () => {
    const h = ROSTER_HEADER.map((x) => (x === '姓名' ? '*姓名' : x === '证件号码' ? '证件号码（必填）' : x === '人均纯收入' ? '人均纯收入（元）' : x === '脱贫时间' ? '脱贫年份' : x));
    const r = await loadFiles('roster', [put(dir, 'template.csv', csv([h, ...ROSTER]))]);
    expect(r.rows.map((x) => [x.name, x.income_per_capita, x.exited_on])).toEqual(ROSTER.map((x) => [x[2], `${x[9]}.00`, null]));
    expect(r.files[0]!.layout.suggestions).toEqual([{ column: 'I', header: '脱贫年份', field: 'exited_on' }]);
  });

  it('names lose the space that aligns them (李　四, 王 五); dates with spaces and a number\'s .0 are read', async () => {
    const rows = ROSTER.map((r) => [...r]);
    rows[1]![2] = '李　四';
    rows[2]![2] = '王\u00a0五';
    rows[0]![7] = '2014 年 7 月 18 日';
    rows[1]![7] = '2014. 7. 18';
    rows[3]![7] = '20160105.0';
    const r = await loadFiles('roster', [put(dir, 'spaced.csv', csv([ROSTER_HEADER, ...rows]))]);
    expect([picked(r.rows), r.rejects]).toEqual([EXPECTED, []]);
  });

  it('names the sheet read and the others when a 说明 sheet comes first', async () => {
    const wb = XLSX.utils.book_new();
    XLSX.utils.book_append_sheet(wb, XLSX.utils.aoa_to_sheet([['填表说明'], ['1. 身份证号码填 18 位']]), '说明');
    XLSX.utils.book_append_sheet(wb, XLSX.utils.aoa_to_sheet([ROSTER_HEADER, ...ROSTER]), '名册');
    const e = await loadError('roster', [put(dir, 'notes-first.xlsx', XLSX.write(wb, { bookType: 'xlsx', type: 'buffer' }) as Buffer)]);
    expect([e.code, e.message, e.hint]).toEqual(['E_MISSING_COLUMN', expect.stringMatching(/^（读取的是第一个可见工作表「说明」）/), expect.stringMatching(/"sheet": "名册"/)]);
  });

  it('paths that are no files or folders for bidui: a directory as a file, a workspace under /proc, --out a file', () => {
    fs.mkdirSync(path.join(dir, 'exports'));
    const config = path.join(dir, 'bidui.config.json');
    writeJson(config, { workspace: './ws', datasets: [{ dataset: 'roster', files: ['exports'] }] });
    const a = runCli(['ingest', '--config', config, '--quiet']);
    expect([a.code, a.stderr]).toEqual([2, expect.stringMatching(/文件路径是一个目录，不是文件/)]);
    writeJson(config, { workspace: '/proc/bidui-ws', datasets: [{ dataset: 'roster', files: ['exports'] }] });
    const b = runCli(['ingest', '--config', config, '--quiet']);
    expect([b.code, b.stderr]).toEqual([2, expect.stringMatching(/E_WORKSPACE.*这是系统目录/s)]);
    put(dir, 'roster.csv', csv([ROSTER_HEADER, ...ROSTER]));
    writeJson(config, { workspace: './ws', datasets: [{ dataset: 'roster', files: ['roster.csv'] }] });
    put(dir, 'afile', 'x');
    const c = runCli(['run', '--config', config, '--as-of', '2020-06-30', '--out', path.join(dir, 'afile')]);
    expect([c.code, c.stderr]).toEqual([2, expect.stringMatching(/E_OUT_DIR.*输出目录指向的是一个文件/s)]);
  });
});

describe('input limits (limits in the config)', () => {
  /** Set the unpacked size a zip declares for one part (central directory and local header). */
  function declareSize(zip: Buffer, part: string, size: number): Buffer {
    const out = Buffer.from(zip);
    for (let i = 0; i + 46 < out.length; i++) {
      const sig = out.readUInt32LE(i);
      if (sig === 0x02014b50 && out.toString('utf8', i + 46, i + 46 + out.readUInt16LE(i + 28)) === part) out.writeUInt32LE(size, i + 24);
      if (sig === 0x04034b50 && out.toString('utf8', i + 30, i + 30 + out.readUInt16LE(i + 26)) === part) out.writeUInt32LE(size, i + 22);
    }
    return out;
  }
  const book = (rows: string[][]) => {
    const wb = XLSX.utils.book_new();
    XLSX.utils.book_append_sheet(wb, XLSX.utils.aoa_to_sheet([ROSTER_HEADER, ...rows]), '名册');
    return XLSX.write(wb, { bookType: 'xlsx', type: 'buffer', compression: true }) as Buffer;
  };

  it('a workbook that unpacks beyond the limit is refused before it is read; so is one that lies about its sizes', async () => {
    // A small workbook that declares a 3 GB sheet (as a zip bomb does): refused from the directory.
    const bomb = declareSize(book(ROSTER), 'xl/worksheets/sheet1.xml', 3_000_000_000);
    const a = await loadError('roster', [put(dir, 'bomb.xlsx', bomb)]);
    expect([a.code, a.message]).toEqual(['E_TOO_LARGE', expect.stringMatching(/解压后有 2861 MB，超过能读取的上限（512 MB）/)]);
    // 6,000 rows unpack to more than 1 MB.
    const many = Array.from({ length: 6000 }, (_, i) => ROSTER[i % 4]!);
    const b = await loadError('roster', [put(dir, 'big.xlsx', book(many))], {}, { limits: { maxUnpackedMB: 1 } });
    expect([b.code, b.message]).toEqual(['E_TOO_LARGE', expect.stringMatching(/工作簿解压后有 \d+ MB，超过上限（limits.maxUnpackedMB = 1 MB）/)]);
    // A part that declares 100 bytes and inflates to more.
    const liar = declareSize(book(ROSTER), 'xl/worksheets/sheet1.xml', 100);
    const c = await loadError('roster', [put(dir, 'liar.xlsx', liar)]);
    expect([c.code, c.message]).toEqual(['E_TOO_LARGE', expect.stringMatching(/比文件声明的大小更大/)]);
  });

  it('rows per file: a text file, a quoted text file and a sheet over the limit are refused, naming the limit', async () => {
    const limits = { limits: { maxRowsPerFile: 3 } };
    const plain = await loadError('roster', [put(dir, 'plain.csv', csv([ROSTER_HEADER, ...ROSTER]))], {}, limits);
    expect([plain.code, plain.message]).toEqual(['E_TOO_MANY_ROWS', '文件有 4 行，超过上限 3 行（limits.maxRowsPerFile），没有导入']);
    const quoted = await loadError('roster', [put(dir, 'quoted.csv', csv([ROSTER_HEADER, ...ROSTER.map((r) => r.map((c) => `"${c}"`))]))], {}, limits);
    expect([quoted.code, quoted.message]).toEqual(['E_TOO_MANY_ROWS', '文件有 4 行，超过上限 3 行（limits.maxRowsPerFile），没有导入']);
    const sheet = await loadError('roster', [put(dir, 'rows.xlsx', book(Array.from({ length: 30 }, (_, i) => ROSTER[i % 4]!)))], {}, limits);
    expect([sheet.code, sheet.message]).toEqual(['E_TOO_MANY_ROWS', expect.stringMatching(/工作表「名册」超过 3 行/)]);
    expect(picked((await loadFiles('roster', [put(dir, 'ok.csv', csv([ROSTER_HEADER, ...ROSTER]))], {}, '2020-06-30', { limits: { maxRowsPerFile: 4 } })).rows)).toEqual(EXPECTED);
    // The default bounds nothing a real office loads: a province's 户籍 (about 32 million people;
    // the first default, 2,000,000, refused a 1,000,000-household prefecture's 3.2 million).
    expect(DEFAULT_LIMITS.maxRowsPerFile).toBeGreaterThanOrEqual(32_000_000);
  });

  it('characters per cell: a longer cell in a used column rejects its row with the reason', async () => {
    const rows = ROSTER.map((r) => [...r]);
    rows[2]![2] = '王'.repeat(150);
    const r = await loadFiles('roster', [put(dir, 'cells.csv', csv([ROSTER_HEADER, ...rows]))], {}, '2020-06-30', { limits: { maxCellChars: 100 } });
    expect([picked(r.rows), r.rejects.map((x) => [x.source_row, x.reason_code, x.reason])]).toEqual([[EXPECTED[0], EXPECTED[1], EXPECTED[3]], [['4', 'too_long', expect.stringMatching(/「姓名」.*超过 100 个字符（单元格长度的上限 limits.maxCellChars）/)]]]);
    // What a reject or a warning shows of the cell is cut to the limit, whether DuckDB read the
    // file directly (above) or it was parsed here (a blank line and quotes: below).
    rows[1]![5] = '竹'.repeat(150);
    for (const [name, text] of [['direct.csv', csv([ROSTER_HEADER, ...rows])], ['parsed.csv', `${csv([ROSTER_HEADER, ...rows.slice(0, 2)])}\r\n"${rows[2]!.join('","')}"\r\n${csv(rows.slice(3))}`]] as const) {
      const c = await loadFiles('roster', [put(dir, name, text)], {}, '2020-06-30', { limits: { maxCellChars: 100 } });
      const shown = [...c.rejects.map((x) => JSON.parse(x.row_json!) as Record<string, string | null>).flatMap((o) => Object.values(o)), ...c.warnings.map((w) => w.value)].map((v) => v ?? '');
      expect([name, shown.some((v) => v.startsWith('王')), shown.some((v) => v.startsWith('竹')), shown.filter((v) => v.length > 100)]).toEqual([name, true, true, []]);
    }
  });
});
