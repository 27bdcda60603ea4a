import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { quoteLiteral } from '../src/core/sql.js';
import { cellIssue, cleanName, cleanText } from '../src/ingest/values.js';
import { sqlMap, withConnection } from './helpers.js';

describe('date parsing (bidui_parse_date)', () => {
  it('reads every date form of DOMAIN.md and rejects the rest', async () => {
    const cases: [string, string | null][] = [
      ['2018-06-30', '2018-06-30'],
      ['2018-6-3', '2018-06-03'],
      ['2018/6/30', '2018-06-30'],
      ['2018/06/30', '2018-06-30'],
      ['20180630', '2018-06-30'],
      ['2018年6月30日', '2018-06-30'],
      ['2018年06月30日', '2018-06-30'],
      ['2016', '2016-01-01'],
      [' 2016 ', '2016-01-01'],
      ['\u00A02018-06-30\u3000', '2018-06-30'],
      ['２０１８－０６－３０', '2018-06-30'],
      ['２０１８/０６/３０', '2018-06-30'],
      ['2018-06-30 00:00:00', '2018-06-30'],
      ['2018-02-30', null],
      ['20181301', null],
      ['2018.6.30', '2018-06-30'],
      ['2018年', '2018-01-01'],
      ['2018年度', '2018-01-01'],
      ['2018年6月', '2018-06-01'],
      ['2018-06', '2018-06-01'],
      ['2018/6', '2018-06-01'],
      ['2014.07', '2014-07-01'],
      ['2015.1', '2015-01-01'],
      ['201807', '2018-07-01'],
      ['2018/6/30 0:00', '2018-06-30'],
      ['2018年6月30', '2018-06-30'],
      ['="2018-06-30"', '2018-06-30'],
      ['2018-06-30\u200B', '2018-06-30'],
      ['201813', null],
      ['2018.13', null],
      ['2018年13月', null],
      ['1899', null],
      ['不详', null],
      ['0000-01-01', null],
      ['43646', null],
      ['', null],
    ];
    await withConnection(async (conn) => {
      const got = await sqlMap(conn, 'bidui_parse_date(s)', cases.map(([s]) => s));
      expect(cases.map(([s], i) => [s, got[i]])).toEqual(cases);
    });
  });

  it('reads amounts with separators and units', async () => {
    await withConnection(async (conn) => {
      expect(await sqlMap(conn, 'bidui_parse_number(s)', ['3,535', '3535.50', '￥4000元', '１２００', 'abc', ''])).toEqual([
        '3535.00', '3535.50', '4000.00', '1200.00', null, null,
      ]);
    });
  });

  it('folds full-width forms and trims all kinds of space in place names', async () => {
    await withConnection(async (conn) => {
      expect(await sqlMap(conn, 'bidui_text(s)', ['\u3000乡（镇）\u3000', ' 舞阳镇 ', '\u3000', 'ＡＢＣ'])).toEqual(['乡(镇)', '舞阳镇', null, 'ABC']);
    });
  });
});

/** What real exports put into cells: space of every width, format characters, the ="…" wrapper, error values, full width. */
const CELL_PIECES = [
  ' ', '\t', '\n', '\r', '\f', '\v', '\u3000', '\u00A0', '\uFEFF', '\u200B', '\u200D', '\u200E', '\u202E', '\u2060', '\u00AD', '\u180E',
  '="', '"', '=', '#N/A', '#REF!', '#', '\u0001', 'Ａ', '（', '）', '１', 'a', '镇', '张', '1', '-', '.', '(', ')', '享受政策', '·', '•',
];
const cellValue = fc.array(fc.constantFrom(...CELL_PIECES), { maxLength: 7 }).map((cs) => cs.join(''));

describe('cell values: the SQL macros and their JS twin (values.ts)', () => {
  it('clean text, names and cell issues alike on drawn values', async () => {
    const inputs = fc.sample(cellValue, { numRuns: 3000, seed: 21 });
    await withConnection(async (conn) => {
      expect(await sqlMap(conn, 'bidui_text(s)', inputs)).toEqual(inputs.map(cleanText));
      expect(await sqlMap(conn, 'bidui_name(s)', inputs)).toEqual(inputs.map(cleanName));
      expect(await sqlMap(conn, 'bidui_cell_issue(s)', inputs)).toEqual(inputs.map(cellIssue));
    });
  });

  it('unwraps ="…", removes format characters, finds error values and formulas without result', async () => {
    const cases: [string, string | null, string | null][] = [
      ['="52262500000001"', '52262500000001', null],
      [' ="羊坪镇" ', '羊坪镇', null],
      ['\u200B羊坪\u00AD镇\u2060', '羊坪镇', null],
      ['#N/A', '#N/A', 'error'],
      [' #VALUE! ', '#VALUE!', 'error'],
      ['="#REF!"', '#REF!', 'error'],
      ['=TRIM(K2)', '=TRIM(K2)', 'formula'],
      ['#3栋', '#3栋', null],
      ['=', '=', 'formula'],
    ];
    expect(cases.map(([s]) => [s, cleanText(s), cellIssue(s)])).toEqual(cases);
    await withConnection(async (conn) => {
      expect(await sqlMap(conn, 'bidui_text(s)', cases.map(([s]) => s))).toEqual(cases.map(([, t]) => t));
      expect(await sqlMap(conn, 'bidui_cell_issue(s)', cases.map(([s]) => s))).toEqual(cases.map(([, , i]) => i));
    });
  });
});

describe('the per-row shortcut of ingest (bidui_row_dirty)', () => {
  // Ingest tests a row's joined text values once and skips the per-value work when the row is
  // clean; the result must equal the full cleaning of each value (NULL for an error value or a
  // formula without result), whatever the values hold.
  const value = fc.option(cellValue, { nil: null });
  const row = fc.tuple(value, value, value, value);
  const lit = (v: string | null) => (v === null ? 'NULL::VARCHAR' : quoteLiteral(v));

  it('gives every value its full normalisation, clean rows and dirty rows alike', async () => {
    await withConnection(async (conn) => {
      await fc.assert(
        fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 40 }), async (rows) => {
          const values = rows.map((r, i) => `(${i}, ${r.map(lit).join(', ')})`).join(', ');
          const cols = ['a', 'b', 'c', 'd'];
          const reader = await conn.runAndReadAll(
            `SELECT ${cols.map((c) => `bidui_value_in(${c}, dirty) IS NOT DISTINCT FROM CASE WHEN bidui_cell_issue(${c}) IS NULL THEN bidui_text(${c}) END
               AND bidui_name_value_in(${c}, dirty) IS NOT DISTINCT FROM CASE WHEN bidui_cell_issue(${c}) IS NULL THEN bidui_name(${c}) END`).join(' AND ')} AS same
             FROM (SELECT *, bidui_row_dirty(concat_ws(chr(1), a, b, c, d)) AS dirty FROM (VALUES ${values}) AS t(i, a, b, c, d)) ORDER BY i`,
          );
          expect(reader.getRowObjectsJson().map((r) => r.same)).toEqual(rows.map(() => true));
        }),
        { numRuns: 300, seed: 4 },
      );
    });
  });

  it('is false for a clean row and true when one value needs work', async () => {
    await withConnection(async (conn) => {
      expect(await sqlMap(conn, "bidui_row_dirty(s)", ['舞阳镇\u0001张三\u0001户主', '舞阳镇\u0001 张三', '舞阳镇\u0001张三\u3000', '（镇）', '\u0001\u0001'])).toEqual([
        'false', 'true', 'true', 'true', 'false',
      ]);
    });
  });
});
