import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, readCsvFile, runCli, testDir, writeJson } from './helpers.js';
import { loadFiles } from './ingest-helpers.js';

/**
 * The handed real-world cases (test/cases/realworld, copied from the office's shared cases): each
 * file with the values its expected.txt asks for. More variants of each kind are in
 * real-exports.test.ts.
 */
const CASES = path.join(ROOT, 'test', 'cases', 'realworld');
const file = (dir: string, name: string) => path.join(CASES, dir, name);
const roster = (dir: string, name: string, entry: Record<string, unknown> = {}) => loadFiles('roster', [file(dir, name)], entry);

/** The four households every case writes (with the case's own damage). */
const FOUR = [
  ['52262500000001', '522625197207150037', '张三'],
  ['52262500000001', '522625197503020245', '李四'],
  ['52262500000002', '522625196011110119', '王五'],
  ['52262500000003', '522625198808080577', '赵六'],
];
const people = (rows: Record<string, string | null>[]) => rows.map((r) => [r.household_id, r.id_number, r.name]);

describe('handed real-world exports', () => {
  it('RW-01: IDs that went through an Excel number cell are all invalid (excel), their 15 digits kept', async () => {
    const r = await roster('RW-01-excel-000-damage', '建档立卡名册.csv');
    expect(r.rows).toHaveLength(14);
    expect(r.rows.map((x) => x.id_number_problem)).toEqual(Array(14).fill('excel'));
    const sci = r.rows.find((x) => x.id_number === '5.22625E+17')!;
    expect(sci.id_number_excel_digits).toBe('522625');
    for (const x of r.rows.filter((y) => y !== sci)) expect(x.id_number_excel_digits).toBe(x.id_number!.slice(0, 15));
    expect(r.files[0]!.layout.excel000).toEqual([{ field: 'id_number', damaged: 13, of: 13 }]);
    expect(r.files[0]!.idProblems).toEqual({ excel: 14 });
  });

  it('RW-02: ="…" values are unwrapped: IDs valid, 户编号 as written', async () => {
    const r = await roster('RW-02-excel-formula-text-ids', '建档立卡名册.csv');
    expect(people(r.rows)).toEqual(FOUR);
    expect(r.rows.map((x) => x.id_number_problem)).toEqual([null, null, null, null]);
    expect(r.rejects).toEqual([]);
  });

  it('RW-04: Excel\'s "Unicode 文本" (UTF-16 with BOM, tab-separated) is read', async () => {
    const r = await roster('RW-04-utf16-unicode-text', '建档立卡名册_Unicode文本.txt');
    expect(r.files[0]!.encoding).toBe('utf-16le');
    expect(people(r.rows)).toEqual(FOUR);
    expect(r.rows.map((x) => x.status)).toEqual(['已脱贫', '已脱贫', '未脱贫', '已脱贫']);
  });

  it('RW-05: a quoted header cell with a line break is one header cell; 4 rows load', async () => {
    const r = await roster('RW-05-csv-header-with-newline', '建档立卡名册.csv');
    expect(people(r.rows)).toEqual(FOUR);
    expect(r.rows.map((x) => x.identified_on)).toEqual(['2014-07-18', '2014-07-18', '2015-03-02', '2016-01-05']);
    expect(r.rows.map((x) => x.source_row)).toEqual(['2', '3', '4', '5']);
  });

  it('RW-09: error cells (#N/A, #VALUE!, #REF!) are never text: rows rejected naming the column and the error, or the value taken from the household', async () => {
    const r = await roster('RW-09-xlsx-vlookup-na-errors', '建档立卡名册_vlookup.xlsx');
    // Row 2: the ID is #N/A: loaded (the roster loses no one) with an invalid ID, a Q1 lead.
    expect(r.rows.find((x) => x.source_row === '2')).toMatchObject({ id_number: null, id_number_problem: 'missing', id_number_raw: '#N/A', name: '张三' });
    // Row 3: 乡镇 #N/A on a member's row: the head's value, with a warning that names the error.
    expect(r.rows.find((x) => x.source_row === '3')).toMatchObject({ township: '羊坪镇', name: '李四' });
    expect(r.warnings).toEqual([expect.objectContaining({ source_row: '3', field: 'township', code: 'excel_error_filled', value: '#N/A' })]);
    expect(r.warnings[0]!.message).toMatch(/Excel 错误值/);
    // Rows 4 (姓名 #VALUE!) and 5 (识别时间 #REF!, a one-person household): rejected.
    expect(r.rejects.map((x) => [x.source_row, x.reason_code, x.field])).toEqual([['4', 'excel_error', 'name'], ['5', 'excel_error', 'identified_on']]);
    for (const x of r.rejects) expect(x.reason).toMatch(/Excel 错误值/);
    expect(JSON.parse(r.rejects[0]!.row_json!).name).toBe('#VALUE!');
    const text = JSON.stringify(r.rows);
    for (const e of ['#VALUE!', '#REF!']) expect(text).not.toContain(e);
  });

  it('RW-10: formulas without a saved result are rejected with a message to open and save the file, never loaded as text', async () => {
    const r = await roster('RW-10-xlsx-formula-no-cached-value', '建档立卡名册_报表导出.xlsx');
    expect(r.rows).toEqual([]);
    expect(r.rejects.map((x) => [x.source_row, x.reason_code, x.field])).toEqual([2, 3, 4, 5].map((n) => [String(n), 'formula_no_value', 'name']));
    expect(r.rejects[0]!.reason).toMatch(/没有保存计算结果的公式：请在 Excel\/WPS 中打开该文件、保存后重新导出/);
  });

  it('RW-12: the first visible sheet is read and named; hidden sheets are skipped and said so', async () => {
    const a = await roster('RW-12-xlsx-hidden-first-sheet', '建档立卡名册_含隐藏旧表.xlsx');
    expect(a.files.map((f) => f.sheet)).toEqual(['2020年名册']);
    expect(a.files[0]!.layout.sheetsSkipped).toEqual([{ sheet: '2019年名册', why: 'hidden' }]);
    expect(people(a.rows)).toEqual(FOUR);
    expect(a.rows.map((x) => x.status)).toEqual(['已脱贫', '已脱贫', '未脱贫', '已脱贫']);
    const b = await roster('RW-12-xlsx-hidden-first-sheet', '建档立卡名册.xlsx');
    expect(b.files.map((f) => f.sheet)).toEqual(['名册']);
    expect(b.files[0]!.layout.sheetsSkipped).toEqual([{ sheet: '下拉选项', why: 'hidden' }]);
    expect(people(b.rows)).toEqual(FOUR);
  });

  it('RW-13: title rows above the header, in CSV and XLSX: header found on row 3, 4 rows, row numbers as in the file', async () => {
    for (const name of ['建档立卡名册_带标题.csv', '建档立卡名册_带标题.xlsx']) {
      const r = await roster('RW-13-title-rows-above-header', name);
      expect([name, r.files[0]!.layout.headerRow, people(r.rows)]).toEqual([name, 3, FOUR]);
      expect(r.rows.map((x) => x.source_row)).toEqual(['4', '5', '6', '7']);
    }
  });

  it('RW-14: household cells merged over the members apply to every member row', async () => {
    const r = await roster('RW-14-xlsx-merged-household-cells', '建档立卡花名册_合并单元格.xlsx');
    expect(r.rejects).toEqual([]);
    expect(r.rows.find((x) => x.name === '李四')).toMatchObject({
      source_row: '3', household_id: '52262500000001', township: '羊坪镇', village: '竹坪村', status: '已脱贫', identified_on: '2014-07-18', exited_on: '2018-12-01', income_per_capita: '4100.00',
    });
  });

  it('RW-15: dates typed as numbers: 20140718 is a date, 2019 a year, 2014.07 and 2015.1 never a 1905 date', async () => {
    const r = await roster('RW-15-xlsx-numeric-typed-dates', '建档立卡名册_数字日期.xlsx');
    const byName = (n: string) => r.rows.find((x) => x.name === n);
    expect(byName('张三')).toMatchObject({ identified_on: '2014-07-18', exited_on: '2018-12-01' });
    expect(byName('赵六')).toMatchObject({ exited_on: '2019-01-01' });
    // 李四's 2014.07 is ambiguous: his household's head gives the date, with a warning.
    expect(byName('李四')).toMatchObject({ identified_on: '2014-07-18' });
    expect(r.warnings).toEqual([expect.objectContaining({ source_row: '3', field: 'identified_on', code: 'ambiguous_date_filled', value: '2014.07' })]);
    // 王五's 2015.1 (alone in his household) cannot be read: rejected, saying why.
    expect(r.rejects.map((x) => [x.source_row, x.reason_code, x.field])).toEqual([['4', 'ambiguous_date', 'identified_on']]);
    expect(JSON.stringify(r.rows)).not.toMatch(/1905/);
  });

  it('RW-19: trailing rows of bare delimiters are skipped and counted, not rejected', async () => {
    const r = await roster('RW-19-csv-trailing-blank-rows', '建档立卡名册.csv');
    expect(people(r.rows)).toEqual(FOUR);
    expect(r.files[0]).toMatchObject({ rowsRead: 34, rowsLoaded: 4, rowsRejected: 0, rowsSkipped: 30 });
    expect(r.files[0]!.layout.skipped).toEqual({ empty: 30 });
  });

  it('RW-24: cells written without references follow each other in order', async () => {
    for (const name of ['建档立卡名册_无单元格引用.xlsx', '建档立卡名册_行有引用_单元格无引用.xlsx']) {
      const r = await roster('RW-24-xlsx-no-cell-references', name);
      expect([name, people(r.rows)]).toEqual([name, FOUR]);
      expect(r.rows.map((x) => x.status)).toEqual(['已脱贫', '已脱贫', '未脱贫', '已脱贫']);
    }
  });

  it('RW-21: 已脱贫(享受政策) and 已脱贫（不再享受政策） are 已脱贫: no exited member vanishes, none becomes 漏评', async () => {
    const r = await roster('RW-21-status-xiangshou-zhengce', '建档立卡名册.csv');
    expect(r.rejects).toEqual([]);
    expect(r.rows.map((x) => x.status)).toEqual(['已脱贫', '已脱贫', '未脱贫', '已脱贫']);

    const t = testDir();
    try {
      for (const f of ['建档立卡名册.csv', '户籍人口.csv', '低保特困对象.csv']) fs.copyFileSync(file('RW-21-status-xiangshou-zhengce', f), path.join(t.dir, f));
      const config = path.join(t.dir, 'bidui.config.json');
      writeJson(config, {
        workspace: './ws',
        datasets: [
          { dataset: 'roster', files: ['建档立卡名册.csv'] },
          { dataset: 'hukou', files: ['户籍人口.csv'] },
          { dataset: 'dibao', files: ['低保特困对象.csv'] },
        ],
      });
      const run = runCli(['run', '--config', config, '--as-of', '2020-06-30', '--out', path.join(t.dir, 'out'), '--quiet']);
      expect([run.code, run.stderr]).toEqual([0, '']);
      const evidence = readCsvFile(path.join(t.dir, 'out', 'evidence.csv'));
      // 张三 receives 农村低保 since 2019 and is in the roster: not 漏评.
      expect(evidence.filter((e) => e.category === '漏评')).toEqual([]);
      expect(evidence.filter((e) => e.rule === 'Q5')).toEqual([]);
    } finally {
      t.cleanup();
    }
  });
});
