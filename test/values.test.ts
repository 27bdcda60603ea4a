import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { quoteLiteral } from '../src/core/sql.js';
import { cellText, excelSerialToIso } from '../src/ingest/xlsx.js';
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
      ['2018-06', null],
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

describe('the per-row shortcut of ingest (bidui_row_dirty)', () => {
  // Ingest tests a row's joined text values once and skips folding and trimming when the row is
  // clean; the result must equal bidui_text / bidui_name of each value, whatever the values hold.
  const char = fc.constantFrom(' ', '\t', '\n', '\u3000', '\u00A0', '\uFEFF', '\u0001', 'Ａ', '（', '１', 'a', '镇', '1', '-');
  const value = fc.option(fc.array(char, { maxLength: 6 }).map((cs) => cs.join('')), { nil: null });
  const row = fc.tuple(value, value, value, value);
  const lit = (v: string | null) => (v === null ? 'NULL::VARCHAR' : quoteLiteral(v));

  it('gives every value its full normalisation, clean rows and dirty rows alike', async () => {
    await withConnection(async (conn) => {
      await fc.assert(
        fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 40 }), async (rows) => {
          const values = rows.map((r, i) => `(${i}, ${r.map(lit).join(', ')})`).join(', ');
          const cols = ['a', 'b', 'c', 'd'];
          const reader = await conn.runAndReadAll(
            `SELECT ${cols.map((c) => `bidui_text_in(${c}, dirty) IS NOT DISTINCT FROM bidui_text(${c}) AND bidui_name_in(${c}, dirty) IS NOT DISTINCT FROM bidui_name(${c})`).join(' AND ')} AS same
             FROM (SELECT *, bidui_row_dirty(concat_ws(chr(1), a, b, c, d)) AS dirty FROM (VALUES ${values}) AS t(i, a, b, c, d)) ORDER BY i`,
          );
          expect(reader.getRowObjectsJson().map((r) => r.same)).toEqual(rows.map(() => true));
        }),
        { numRuns: 200 },
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

describe('XLSX cells as text', () => {
  it('converts Excel serial dates with day 0 = 1899-12-30', () => {
    expect(excelSerialToIso(0)).toBe('1899-12-30');
    expect(excelSerialToIso(43646)).toBe('2019-06-30');
    expect(cellText(43646, 'date')).toBe('2019-06-30');
    expect(cellText(43646.75, 'date')).toBe('2019-06-30');
  });

  it('reads a whole number 1900–2100 in a date column as a year', () => {
    expect(cellText(2016, 'date')).toBe('2016');
  });

  it('reads a year typed into a date-formatted cell (shown as 1905) as that year', () => {
    expect(cellText(new Date(Date.UTC(1905, 6, 6)), 'date')).toBe('2014');
    expect(cellText(new Date(Date.UTC(1905, 6, 6)), 'other')).toBe('1905-07-06');
  });

  it('keeps date cells as ISO dates in UTC', () => {
    expect(cellText(new Date(Date.UTC(2018, 5, 30)), 'date')).toBe('2018-06-30');
  });

  it('turns an 18-digit numeric ID into the Excel notation it really is (unrecoverable)', () => {
    expect(cellText(522625198408300550, 'id')).toBe('5.22625E+17');
    expect(cellText(110105491231002, 'id')).toBe('110105491231002');
  });

  it('flattens rich text and formula results', () => {
    expect(cellText({ richText: [{ text: '舞阳' }, { text: '镇' }] }, 'other')).toBe('舞阳镇');
    expect(cellText({ formula: 'A1', result: 42 }, 'other')).toBe('42');
  });
});
