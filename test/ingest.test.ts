import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import iconv from 'iconv-lite';
import ExcelJS from '../src/core/exceljs.js';
import { encryptWorkbook } from '../src/core/office-crypto.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.js';
import { UserError } from '../src/core/errors.js';
import { createProgress } from '../src/core/progress.js';
import { queryStep } from '../src/core/sql.js';
import { openStore } from '../src/core/store.js';
import { ensureWorkspace } from '../src/core/workspace.js';
import { DATASET_NAMES, type DatasetName } from '../src/ingest/datasets.js';
import { ingest, type IngestReport } from '../src/ingest/ingest.js';
import { datasetParts, rowsSql } from '../src/ingest/rows.js';
import { buildWorld } from '../src/fixtures/world.js';
import { writeFixtures } from '../src/fixtures/write.js';
import { BIN, runCli, testDir, writeJson, fakeBidui } from './helpers.js';

const QUIET = createProgress(process.stderr, true);

async function runIngest(configFile: string, only?: { dataset: DatasetName; files: string[] }): Promise<IngestReport> {
  const config = loadConfig(configFile);
  const store = await openStore(ensureWorkspace(config.workspace), config.engine);
  try {
    return await ingest(store, config, { only, progress: QUIET, asOf: '2020-06-30' });
  } finally {
    // Staging tables hold typed copies of the files: none may outlive an ingest, failed or not,
    // unless the store records it as the rows of a loaded file (ingest/rows.ts).
    const left = await queryStep<{ table_name: string }>(store.conn, 'temp tables', `SELECT table_name FROM duckdb_tables() WHERE temporary
      OR (starts_with(table_name, 'rows_') AND table_name NOT IN (SELECT rows_table FROM snapshot_file WHERE rows_table IS NOT NULL))`);
    store.close();
    if (left.length) throw new Error(`ingest left staging tables: ${left.map((r) => r.table_name).join(', ')}`);
  }
}

/** A query on the store, with a view `loaded_<dataset>` of every row each dataset's loads stored. */
async function query<T = Record<string, unknown>>(configFile: string, sql: string): Promise<T[]> {
  const config = loadConfig(configFile);
  const store = await openStore(ensureWorkspace(config.workspace), config.engine);
  try {
    for (const d of DATASET_NAMES) await store.conn.run(`CREATE TEMP VIEW loaded_${d} AS ${rowsSql(d, await datasetParts(store.conn, d))}`);
    return await queryStep<T>(store.conn, 'test query', sql);
  } finally {
    store.close();
  }
}

/** Everything the store holds, as counts: any write shows up here. */
async function storeCounts(configFile: string): Promise<Record<string, number>> {
  const tables = ['ingest', 'snapshot', 'snapshot_file', 'reject', 'ingest_warning', ...DATASET_NAMES.map((d) => `loaded_${d}`)];
  const rows = await query<{ t: string; n: string }>(configFile, tables.map((t) => `SELECT '${t}' AS t, count(*) AS n FROM ${t}`).join(' UNION ALL '));
  return Object.fromEntries(rows.map((r) => [r.t, Number(r.n)]));
}

async function errorOf(p: Promise<unknown>): Promise<UserError> {
  try {
    await p;
  } catch (error) {
    if (error instanceof UserError) return error;
    throw error;
  }
  throw new Error('expected a UserError');
}

const ROSTER_HEADER = '户编号,证件号码,姓名,与户主关系,乡镇,行政村,脱贫状态,识别时间,脱贫时间,人均纯收入';
const ROSTER_ROWS = [
  '52262500000001,11010519491231002X,张三,户主,舞阳镇,顺城社区,已脱贫,2014-05-01,2017-11-30,5200',
  '52262500000001,110105195001010020,李四,配偶,舞阳镇,顺城社区,已脱贫,2014-05-01,2017-11-30,5200',
];
const HUKOU_CSV = '公民身份号码,姓名,户号,与户主关系,乡镇,行政村,人口状态,注销日期\n11010519491231002X,张三,522625100000001,户主,舞阳镇,顺城社区,正常,\n';

describe('ingest', () => {
  let t: { dir: string; cleanup: () => void };
  let configFile: string;
  beforeEach(() => {
    t = testDir();
    configFile = path.join(t.dir, 'bidui.config.json');
  });
  afterEach(() => t.cleanup());

  const write = (name: string, content: string | Buffer) => {
    const file = path.join(t.dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
    return file;
  };
  const config = (datasets: unknown[]) => writeJson(configFile, { workspace: './ws', datasets });
  const baseDatasets = () => {
    write('roster.csv', `${ROSTER_HEADER}\n${ROSTER_ROWS.join('\n')}\n`);
    write('hukou.csv', HUKOU_CSV);
    return [
      { dataset: 'roster', files: ['roster.csv'] },
      { dataset: 'hukou', files: ['hukou.csv'] },
    ];
  };

  it('reads a messy generated county back to exactly what the generator wrote', async () => {
    const world = buildWorld({ households: 400, seed: 3, asOf: '2020-06-30', messy: 1 });
    const summary = await writeFixtures(world, t.dir, { seed: 3, messy: 1, households: 400 });
    expect(new Set(summary.files.map((f) => f.format))).toEqual(new Set(['csv-utf8', 'csv-utf8-bom', 'csv-gbk', 'xlsx', 'xls', 'txt-utf16']));
    const report = await runIngest(configFile);

    // Every record written is loaded (the generator writes nothing a reader should reject); its
    // blank and footer rows are read and skipped, its title rows are above the header.
    for (const f of summary.files) {
      const d = report.datasets.find((x) => x.dataset === f.dataset)!;
      const r = d.files[0]!;
      expect([f.dataset, r.rowsRead, r.rowsLoaded, r.rowsRejected, r.rowsSkipped]).toEqual([f.dataset, f.rows + f.skipped, f.rows, 0, f.skipped]);
    }
    // The layouts of real exports were all there: title rows, two-level headers, a hidden sheet,
    // footers, the …000 damage.
    const layout = (d: string) => report.datasets.find((x) => x.dataset === d)!.files[0]!.layout;
    expect(layout('roster').headerRow).toBe(3);
    expect(layout('hukou').twoLevel).toBe(true);
    expect(layout('dibao').sheetsSkipped).toEqual([{ sheet: '旧表（勿用）', why: 'hidden' }]);
    expect(layout('housing_safety').skipped?.footer).toBe(2);
    expect(layout('housing_safety').skipped?.empty).toBeGreaterThanOrEqual(1);
    expect(layout('commercial_housing').excel000?.[0]?.field).toBe('id_number');

    const idOf = (state: string, id: string, written?: string) => (state === 'ok' ? id : state === 'invalid' ? written! : 'EXCEL');
    // An Excel-damaged ID is loaded as written and marked: it never joins.
    const loadedId = (r: Record<string, string | null>) => (r.id_number_problem === 'excel' ? 'EXCEL' : r.id_number!);

    const roster = await query<Record<string, string | null>>(configFile, 'SELECT household_id, id_number, id_number_problem, name, status, identified_on, exited_on, income_per_capita FROM loaded_roster');
    const expectedRoster = world.roster.flatMap((rh) => rh.rows.map((row) => [
      rh.householdId, idOf(row.idState, world.persons[row.pid]!.id, row.writtenId), row.name.trim(), rh.status, rh.identifiedOn, rh.exitedOn, rh.income === null ? null : rh.income.toFixed(2),
    ].join('|')));
    expect(roster.map((r) => [r.household_id, loadedId(r), r.name, r.status, r.identified_on, r.exited_on, r.income_per_capita].join('|')).sort()).toEqual(expectedRoster.sort());

    const hukou = await query<Record<string, string | null>>(configFile, 'SELECT id_number, id_number_problem, hukou_id, status, status_on, township, village FROM loaded_hukou');
    const expectedHukou = world.hukouHouseholds.flatMap((hh) => hh.members.map((pid) => {
      const p = world.persons[pid]!;
      return [idOf(p.hukouIdState, p.id), hh.hukouId, p.status, p.statusOn, hh.township, hh.village].join('|');
    }));
    expect(hukou.map((r) => [loadedId(r), r.hukou_id, r.status, r.status_on, r.township, r.village].join('|')).sort()).toEqual(expectedHukou.sort());

    // The ID problem and birth date stored at ingest give the same answer as the full check, on any
    // date (Excel damage is decided from the file, not from the ID alone).
    for (const d of ['2014-06-30', '2017-01-01', '2020-06-30']) {
      const disagree = await query<{ n: string }>(configFile, `
        SELECT count(*) AS n FROM (SELECT id_number, id_number_problem, id_number_birth FROM loaded_roster UNION ALL SELECT id_number, id_number_problem, id_number_birth FROM loaded_hukou)
        WHERE id_number_problem IS DISTINCT FROM 'excel' AND bidui_id_problem_on(id_number_problem, id_number_birth, DATE '${d}') IS DISTINCT FROM bidui_id_problem(id_number, DATE '${d}')`);
      expect([d, Number(disagree[0]!.n)]).toEqual([d, 0]);
    }

    for (const [dataset, fields] of [
      ['dibao', ['assistance_type', 'started_on', 'ended_on']],
      ['vehicle', ['plate', 'vehicle_type', 'registered_on', 'deregistered_on']],
      ['housing_safety', ['grade', 'assessed_on', 'renovation_status', 'renovated_on']],
      ['disability', ['grade', 'certified_on']],
      ['illness', ['category', 'diagnosed_on']],
    ] as const) {
      const rows = await query<Record<string, string | null>>(configFile, `SELECT id_number, id_number_problem, ${fields.join(', ')} FROM loaded_${dataset}`);
      const canonical = (field: string, v: unknown) => (v === '已竣工' ? '已改造' : v === null || v === undefined ? null : String(v));
      const expected = world.records[dataset].map((rec) => [idOf(rec.idState, world.persons[rec.pid]!.id), ...fields.map((f) => canonical(f, rec.f[f]))].join('|'));
      expect([dataset, rows.map((r) => [loadedId(r), ...fields.map((f) => r[f])].join('|')).sort()]).toEqual([dataset, expected.sort()]);
    }
  });

  it('keeps rows read = loaded + rejected, with each reject row-numbered and explained', async () => {
    write('roster.csv', [
      ROSTER_HEADER,
      ROSTER_ROWS[0],
      '52262500000002,110105195001010025,,户主,舞阳镇,顺城社区,未脱贫,2015-03-01,,2100',
      '52262500000003,"110105195001010063",王五,户主,"舞阳镇","顺城社区",未脱贫,不详,,2100',
      '52262500000004,110105195001010047,"赵\n六",户主,舞阳镇,顺城社区,未脱贫,2016,,2100',
      '52262500000005,110105195001010068,钱七,户主,舞阳镇,顺城社区,已出列,2016,,2100',
      '52262500000006,5.20102E+17,孙八,户主,舞阳镇,顺城社区,未脱贫,2016,,2100',
      '52262500000007,110105195001010071,周九,户主,舞阳镇,顺城社区,已脱贫,2016,2019年13月1日,约3000',
    ].join('\n'));
    config([{ dataset: 'roster', files: ['roster.csv'] }]);
    const report = await runIngest(configFile);
    const file = report.datasets[0]!.files[0]!;
    expect([file.rowsRead, file.rowsLoaded, file.rowsRejected]).toEqual([7, 4, 3]);
    expect(file.rowsRead).toBe(file.rowsLoaded + file.rowsRejected);
    expect(file.idProblems).toEqual({ excel: 1 });

    const rejects = await query<{ source_row: string; reason_code: string; reason: string; row_json: string }>(configFile, 'SELECT * FROM reject ORDER BY source_row');
    expect(rejects.map((r) => [Number(r.source_row), r.reason_code])).toEqual([[3, 'missing_field'], [4, 'bad_date'], [6, 'bad_value']]);
    expect(rejects[0]!.reason).toContain('姓名');
    expect(rejects[1]!.reason).toContain('识别时间');
    expect(rejects[2]!.reason).toContain('脱贫状态');
    expect(JSON.parse(rejects[2]!.row_json).status).toBe('已出列');

    // The multi-line name stays one record (row 5), the Excel-damaged ID is loaded and flagged.
    const loaded = await query<{ source_row: string; name: string; id_number: string; identified_on: string }>(configFile, 'SELECT source_row, name, id_number, identified_on FROM loaded_roster ORDER BY source_row');
    expect(loaded.map((r) => Number(r.source_row))).toEqual([2, 5, 7, 8]);
    expect(loaded[1]!.name).toBe('赵六'); // the line break inside a Chinese name is no part of it
    expect(loaded[1]!.identified_on).toBe('2016-01-01');
    const warnings = await query<{ source_row: string; field: string; code: string }>(configFile, 'SELECT source_row, field, code FROM ingest_warning ORDER BY source_row, field');
    expect(warnings.map((w) => [Number(w.source_row), w.field, w.code])).toEqual([[8, 'exited_on', 'bad_date'], [8, 'income_per_capita', 'bad_number']]);
    const snap = await query<{ rows_read: string; rows_loaded: string; rows_rejected: string; invalid_ids: string }>(configFile, 'SELECT * FROM snapshot');
    expect(snap.map((s) => [s.rows_read, s.rows_loaded, s.rows_rejected, s.invalid_ids].map(Number))).toEqual([[7, 4, 3, 1]]);
  });

  it('numbers rows as in the file on a large file read in parallel, multi-line fields included', async () => {
    const lines = [ROSTER_HEADER];
    const missing: number[] = [];
    let row = 1;
    for (let i = 0; i < 120_000; i++) {
      row++;
      const name = i % 997 === 0 ? '' : i % 7 === 0 ? `"张\n${i}"` : `李${i}`;
      if (name === '') missing.push(row);
      lines.push(`H${i},11010519491231002X,${name},户主,舞阳镇,顺城社区,未脱贫,2015-03-01,,2100,${'备注'.repeat(20)}`);
    }
    write('roster.csv', `${ROSTER_HEADER},备注\n${lines.slice(1).join('\n')}\n`);
    config([{ dataset: 'roster', files: ['roster.csv'] }]);
    await runIngest(configFile);
    const rejects = await query<{ source_row: string }>(configFile, 'SELECT source_row FROM reject ORDER BY source_row');
    expect(rejects.map((r) => Number(r.source_row))).toEqual(missing);
    const sample = await query<{ source_row: string; household_id: string }>(configFile, "SELECT source_row, household_id FROM loaded_roster WHERE household_id IN ('H1', 'H7', 'H77777', 'H119999') ORDER BY source_row");
    expect(sample.map((r) => [Number(r.source_row), r.household_id])).toEqual([[3, 'H1'], [9, 'H7'], [77779, 'H77777'], [120001, 'H119999']]);
  });

  it('reads Chinese XLSX text intact, whatever the chunk boundaries (exceljs streaming bug)', async () => {
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('户籍');
    ws.addRow(['公民身份号码', '姓名', '户号', '乡镇', '行政村', '人口状态']);
    const names: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const name = `${'张王李赵刘陈杨黄吴周'[i % 10]}${'伟芳娜敏静丽强磊军洋'[(i * 7) % 10]}${i}`;
      names.push(name);
      ws.addRow(['11010519491231002X', name, `H${i}`, '舞阳镇', `顺城社区${i % 50}`, '正常']);
    }
    write('hukou.xlsx', Buffer.from(await wb.xlsx.writeBuffer()));
    config([{ dataset: 'hukou', files: ['hukou.xlsx'] }]);
    await runIngest(configFile);
    const got = await query<{ name: string }>(configFile, 'SELECT name FROM loaded_hukou ORDER BY source_row');
    expect(got.filter((r) => r.name.includes('\uFFFD'))).toEqual([]);
    expect(got.map((r) => r.name)).toEqual(names);
  });

  it('maps headers through aliases, full-width folding and config columns; ignores extra columns', async () => {
    write('roster.csv', `序号,户 码,身份证号,姓　名,乡（镇）,村(社区),贫困户状态,纳入时间,备注,家庭人口\n1,A1,11010519491231002X,张三,舞阳镇,顺城社区,贫困户,2014,,3\n`);
    write('hukou.csv', '身份证号,姓名,户口编号,乡镇(街道),行政村,人口状态\n11010519491231002X,张三,H1,舞阳镇,顺城社区,正常\n');
    config([
      { dataset: 'roster', files: ['roster.csv'] },
      { dataset: 'hukou', files: ['hukou.csv'], columns: { 户口编号: 'hukou_id' } },
    ]);
    await runIngest(configFile);
    const roster = await query(configFile, 'SELECT household_id, id_number, name, township, village, status, identified_on FROM loaded_roster');
    expect(roster).toEqual([{ household_id: 'A1', id_number: '11010519491231002X', name: '张三', township: '舞阳镇', village: '顺城社区', status: '未脱贫', identified_on: '2014-01-01' }]);
    const map = await query<{ header_map: string }>(configFile, "SELECT header_map FROM snapshot_file JOIN snapshot USING (snapshot_id) WHERE dataset = 'hukou'");
    expect(JSON.parse(map[0]!.header_map).hukou_id).toBe('户口编号');
  });

  it('reads GBK with auto and with gbk, and a TSV', async () => {
    write('roster.csv', iconv.encode(`${ROSTER_HEADER}\n${ROSTER_ROWS.join('\n')}\n`, 'gbk'));
    write('hukou.tsv', HUKOU_CSV.replace(/,/g, '\t'));
    config([{ dataset: 'roster', files: ['roster.csv'], encoding: 'gbk' }, { dataset: 'hukou', files: ['hukou.tsv'] }]);
    const report = await runIngest(configFile);
    expect(report.datasets.map((d) => [d.dataset, d.files[0]!.encoding, d.files[0]!.rowsLoaded])).toEqual([['hukou', 'utf-8', 1], ['roster', 'gb18030', 2]]);
    expect((await query<{ name: string }>(configFile, 'SELECT name FROM loaded_roster ORDER BY source_row')).map((r) => r.name)).toEqual(['张三', '李四']);
  });

  it('writes nothing for unchanged files, reuses loaded files, and skips duplicates', async () => {
    config(baseDatasets());
    const first = await runIngest(configFile);
    expect(first.datasets.map((d) => d.status)).toEqual(['loaded', 'loaded']);
    const before = await storeCounts(configFile);

    const again = await runIngest(configFile);
    expect(again.ingestId).toBeUndefined();
    expect(again.datasets.map((d) => [d.dataset, d.status])).toEqual([['hukou', 'unchanged'], ['roster', 'unchanged']]);
    expect(await storeCounts(configFile)).toEqual(before);

    // Add a second roster file and a byte-identical copy of it: new roster snapshot only.
    write('roster2.csv', `${ROSTER_HEADER}\n52262500000009,110105195001010071,周九,户主,舞阳镇,顺城社区,未脱贫,2016,,2100\n`);
    fs.copyFileSync(path.join(t.dir, 'roster2.csv'), path.join(t.dir, 'roster2-copy.csv'));
    config([{ dataset: 'roster', files: ['roster.csv', 'roster2*.csv'] }, { dataset: 'hukou', files: ['hukou.csv'] }]);
    const third = await runIngest(configFile);
    const roster = third.datasets.find((d) => d.dataset === 'roster')!;
    expect(roster.status).toBe('loaded');
    expect(roster.files.map((f) => [path.basename(f.path), f.status])).toEqual([
      ['roster.csv', 'reused'], ['roster2-copy.csv', 'loaded'], ['roster2.csv', 'duplicate'],
    ]);
    expect(third.datasets.find((d) => d.dataset === 'hukou')!.status).toBe('unchanged');
    const after = await storeCounts(configFile);
    expect(after.loaded_roster).toBe(before.loaded_roster! + 1);
    expect(after.snapshot).toBe(before.snapshot! + 1);
    // The new snapshot's rows: the reused file's rows (loaded under the first snapshot) plus the new one.
    const rows = await query<{ n: string }>(configFile, `
      SELECT count(*) AS n FROM loaded_roster r JOIN snapshot_file f ON r.snapshot_id = f.rows_from_snapshot AND r.file_no = f.rows_from_file_no
      WHERE f.snapshot_id = ${roster.snapshotId}`);
    expect(Number(rows[0]!.n)).toBe(3);
  });

  it('ingests one dataset from files named on the command line', async () => {
    config(baseDatasets());
    const extra = write('other/名册.csv', `${ROSTER_HEADER}\n${ROSTER_ROWS[0]}\n`);
    const report = await runIngest(configFile, { dataset: 'roster', files: [extra] });
    expect(report.datasets.map((d) => [d.dataset, d.files.length, d.files[0]!.rowsLoaded])).toEqual([['roster', 1, 1]]);
  });

  describe('bad input: a Chinese error naming the file, and the store unchanged', () => {
    const cases: { name: string; setup: (w: typeof write) => unknown; code: string; mentions: RegExp[] }[] = [
      {
        name: 'a required column missing',
        setup: (w) => { w('bad.csv', '公民身份号码,姓名,户号,乡镇,人口状态\n11010519491231002X,张三,H1,舞阳镇,正常\n'); return { dataset: 'hukou', files: ['bad.csv'] }; },
        code: 'E_MISSING_COLUMN',
        mentions: [/village/, /村\(居\)委会/, /「公民身份号码」/, /"columns"/, /bad\.csv/],
      },
      { name: 'an empty file', setup: (w) => { w('bad.csv', ''); return { dataset: 'hukou', files: ['bad.csv'] }; }, code: 'E_EMPTY_FILE', mentions: [/空/, /bad\.csv/] },
      { name: 'a header-only file', setup: (w) => { w('bad.csv', '\uFEFF公民身份号码,姓名,户号,乡镇,行政村,人口状态\n'); return { dataset: 'hukou', files: ['bad.csv'] }; }, code: 'E_HEADER_ONLY', mentions: [/只有表头/, /bad\.csv/] },
      { name: 'binary junk', setup: (w) => { w('bad.csv', Buffer.from([0x50, 0x4b, 0, 1, 2, 3, 0xff, 0, 0x10, 0x20])); return { dataset: 'hukou', files: ['bad.csv'] }; }, code: 'E_BINARY', mentions: [/二进制/, /bad\.csv/] },
      { name: 'a file that is not an XLSX', setup: (w) => { w('bad.xlsx', 'not a workbook'); return { dataset: 'hukou', files: ['bad.xlsx'] }; }, code: 'E_XLSX', mentions: [/xlsx/, /bad\.xlsx/] },
      // Binary content named .xlsx (a renamed PDF): not told to save it with an .xlsx extension.
      { name: 'binary content named .xlsx', setup: (w) => { w('bad.xlsx', Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.from([0, 1, 2, 3, 0xff, 0, 0x10, 0x20])])); return { dataset: 'hukou', files: ['bad.xlsx'] }; }, code: 'E_XLSX', mentions: [/扩展名是 \.xlsx/, /不是改了扩展名/, /bad\.xlsx/] },
      { name: 'a workbook with an open password', setup: (w) => { w('bad.xlsx', encryptWorkbook(Buffer.from('a workbook'), 'secret', 'seed')); return { dataset: 'hukou', files: ['bad.xlsx'] }; }, code: 'E_XLSX', mentions: [/加了密码/, /去掉密码/, /bad\.xlsx/] },
      {
        name: 'ragged rows',
        setup: (w) => { w('bad.csv', '公民身份号码,姓名,户号,乡镇,行政村,人口状态\n11010519491231002X,张三,H1,舞阳镇,顺城社区,正常\n110105195001010020,李四,H1,舞阳镇,顺城,社区,正常\n'); return { dataset: 'hukou', files: ['bad.csv'] }; },
        code: 'E_RAGGED_ROWS',
        mentions: [/第 3 行/, /列数多于表头/, /bad\.csv/],
      },
      {
        name: 'a wrong encoding',
        setup: (w) => { w('bad.csv', iconv.encode(HUKOU_CSV, 'gbk')); return { dataset: 'hukou', files: ['bad.csv'], encoding: 'utf-8' }; },
        code: 'E_ENCODING',
        mentions: [/UTF-8/, /第 1 行/, /gbk/, /bad\.csv/],
      },
      { name: 'a glob that matches nothing', setup: () => ({ dataset: 'hukou', files: ['nothing/*.csv'] }), code: 'E_NO_FILES', mentions: [/没有匹配/, /nothing/] },
      { name: 'an .xls file that is not a workbook', setup: (w) => { w('bad.xls', 'x'); return { dataset: 'hukou', files: ['bad.xls'] }; }, code: 'E_XLSX', mentions: [/\.xls/, /另存为/, /bad\.xls/] },
      { name: 'a file of another kind', setup: (w) => { w('bad.pdf', '%PDF-1.4'); return { dataset: 'hukou', files: ['bad.pdf'] }; }, code: 'E_FORMAT', mentions: [/\.xlsx/, /另存为/, /bad\.pdf/] },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        config(baseDatasets());
        await runIngest(configFile);
        const before = await storeCounts(configFile);
        fs.appendFileSync(path.join(t.dir, 'roster.csv'), `${ROSTER_ROWS[0]!.replace('52262500000001', '52262500000099')}\n`);
        const entry = c.setup(write);
        config([{ dataset: 'roster', files: ['roster.csv'] }, entry]);
        const error = await errorOf(runIngest(configFile));
        expect(error.code).toBe(c.code);
        const text = error.format();
        for (const m of c.mentions) expect(text).toMatch(m);
        expect(text).toMatch(/处理办法/);
        // The changed roster file was not loaded either: one ingest is one transaction.
        expect(await storeCounts(configFile)).toEqual(before);
      });
    }

    it('a truncated XLSX', async () => {
      const wb = new ExcelJS.Workbook();
      const ws = wb.addWorksheet('户籍');
      ws.addRow(['公民身份号码', '姓名', '户号', '乡镇', '行政村', '人口状态']);
      for (let i = 0; i < 500; i++) ws.addRow([`11010519491231002X`, `张${i}`, 'H1', '舞阳镇', '顺城社区', '正常']);
      const full = Buffer.from(await wb.xlsx.writeBuffer());
      config([...baseDatasets(), { dataset: 'dibao', files: ['cut.xlsx'] }]);
      write('cut.xlsx', full.subarray(0, Math.floor(full.length / 2)));
      const error = await errorOf(runIngest(configFile));
      expect(error.code).toBe('E_XLSX');
      expect(error.format()).toMatch(/cut\.xlsx/);
      expect(await storeCounts(configFile)).toMatchObject({ snapshot: 0, loaded_roster: 0 });
    });

    it('reports every problem of every file at once', async () => {
      config([...baseDatasets(), { dataset: 'dibao', files: ['none.csv'] }, { dataset: 'illness', files: ['empty.csv'] }, { dataset: 'vehicle', files: ['v.csv'] }]);
      write('empty.csv', '');
      write('v.csv', '号牌号码\n贵H12345\n');
      const error = await errorOf(runIngest(configFile));
      expect(error.code).toBe('E_INGEST');
      expect(error.message).toMatch(/3 个问题/);
      expect(error.message).toMatch(/none\.csv/);
      expect(error.message).toMatch(/empty\.csv/);
      expect(error.message).toMatch(/v\.csv/);
    });

    it('reports the problems in the order of the files, whichever of the two reading lanes finds one first', async () => {
      // illness.csv (third file to read) is found too long only once DuckDB has read it (it has
      // quotes, so records are counted after reading); v.csv (fourth) fails at once, on the other
      // lane, while illness.csv is still being read.
      const rows = Array.from({ length: 60_000 }, (_, i) => `11010519491231002X,"张${i}",高血压,慢病,2019-01-01`);
      write('illness.csv', `身份证号,姓名,病种,类别,确诊日期\n${rows.join('\n')}\n`);
      write('v.csv', '号牌号码\n贵H12345\n');
      writeJson(configFile, {
        workspace: './ws', limits: { maxRowsPerFile: 1000 },
        datasets: [...baseDatasets(), { dataset: 'illness', files: ['illness.csv'] }, { dataset: 'vehicle', files: ['v.csv'] }],
      });
      const error = await errorOf(runIngest(configFile));
      expect(error.code).toBe('E_INGEST');
      expect(error.message).toMatch(/^1\. [^\n]*illness\.csv[^\n]*超过上限 1000 行[^]*\n2\. [^\n]*v\.csv/m);
    });
  });
});

describe('ingest on the command line', () => {
  let t: { dir: string; cleanup: () => void };
  beforeEach(() => {
    t = testDir();
  });
  afterEach(() => t.cleanup());

  it('loads a county, keeps the log free of IDs and names, and creates owner-only files', async () => {
    const world = buildWorld({ households: 300, seed: 9, asOf: '2020-06-30', messy: 0.5 });
    await writeFixtures(world, t.dir, { seed: 9, messy: 0.5, households: 300 });
    const r = runCli(['ingest', '--config', path.join(t.dir, 'bidui.config.json')]);
    expect(r.stderr).toMatch(/导入 建档立卡/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/roster/);
    const ws = path.join(t.dir, 'workspace');
    const log = fs.readFileSync(path.join(ws, 'logs', 'bidui.log'), 'utf8');
    expect(log).toMatch(/file loaded/);
    const leaks = world.persons.filter((p) => log.includes(p.id) || log.includes(p.id.slice(0, 6) + p.id.slice(8, 17)) || log.includes(p.name));
    expect(leaks.map((p) => p.pid)).toEqual([]);
    expect(fs.statSync(ws).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(ws, 'bidui.duckdb')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(ws, 'logs', 'bidui.log')).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(path.join(ws, 'tmp'))).toEqual([]);

    const list = runCli(['snapshots', '--config', path.join(t.dir, 'bidui.config.json')]);
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n').filter((l) => /^\s*\d+\s/.test(l))).toHaveLength(13);
  });

  it('exits 2 with a Chinese message on bad input, and 3 when the workspace is locked', () => {
    writeJson(path.join(t.dir, 'c.json'), { workspace: './ws', datasets: [{ dataset: 'roster', files: ['missing.csv'] }] });
    const bad = runCli(['ingest', '--config', path.join(t.dir, 'c.json')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/错误 \[E_NO_FILES\]/);
    expect(bad.stderr).not.toMatch(/at .*\.js:\d+/);

    const usage = runCli(["snapshots", "--config", "x.json", "--nope"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/未知的选项/);

    fs.mkdirSync(path.join(t.dir, 'ws'), { recursive: true });
    const holder = fakeBidui();
    try {
      fs.writeFileSync(path.join(t.dir, 'ws', 'bidui.lock'), JSON.stringify({ pid: holder.pid, command: 'run', since: '2020-01-01T00:00:00Z' }));
      const locked = runCli(['ingest', '--config', path.join(t.dir, 'c.json')]);
      expect(locked.code).toBe(3);
      expect(locked.stderr).toMatch(/正被另一个 bidui 进程使用/);
    } finally {
      holder.stop();
    }
    // A lock whose process id now belongs to another program (reused after a reboot) is stale.
    fs.writeFileSync(path.join(t.dir, 'ws', 'bidui.lock'), JSON.stringify({ pid: process.pid, command: 'run', since: '2020-01-01T00:00:00Z' }));
    expect(runCli(['ingest', '--config', path.join(t.dir, 'c.json')]).code).not.toBe(3);
    // Also when that program merely runs from a folder named bidui (a checkout, an editor in it).
    const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)', path.join(t.dir, 'bidui', 'editor.js')], { stdio: 'ignore' });
    try {
      fs.writeFileSync(path.join(t.dir, 'ws', 'bidui.lock'), JSON.stringify({ pid: other.pid, command: 'run', since: '2020-01-01T00:00:00Z' }));
      expect(runCli(['ingest', '--config', path.join(t.dir, 'c.json')]).code).not.toBe(3);
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('leaves no partial snapshot when killed in the middle of a load', async () => {
    const world = buildWorld({ households: 40_000, seed: 2, asOf: '2020-06-30', messy: 0 });
    await writeFixtures(world, t.dir, { seed: 2, messy: 0, households: 40_000 });
    const configFile = path.join(t.dir, 'bidui.config.json');
    const child = spawn(process.execPath, [BIN, 'ingest', '--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    await new Promise<void>((resolve) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('导入 机动车')) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('exit', () => resolve());
    });
    await new Promise((r) => child.on('close', r));
    expect(child.signalCode).toBe('SIGKILL');
    fs.rmSync(path.join(t.dir, 'workspace', 'bidui.lock'), { force: true });
    const counts = await storeCounts(configFile);
    expect(counts).toMatchObject({ ingest: 0, snapshot: 0, snapshot_file: 0, loaded_roster: 0, loaded_hukou: 0 });
    // The files it had read are in tables no snapshot names (never read).
    const unrecorded = async () => Number((await query<{ n: string }>(configFile, "SELECT count(*) AS n FROM duckdb_tables() WHERE starts_with(table_name, 'rows_')"))[0]!.n);
    expect(await unrecorded()).toBeGreaterThan(0);
    // gc drops them too, though it has no run or snapshot to remove; --dry-run only counts them.
    const dry = runCli(['gc', '--config', configFile, '--keep-days', '30', '--dry-run']);
    expect([dry.code, dry.stdout]).toEqual([0, expect.stringMatching(/数据行 [1-9]\d* 行；什么都没有删除/)]);
    expect(await unrecorded()).toBeGreaterThan(0);
    const gc = runCli(['gc', '--config', configFile, '--keep-days', '30', '--yes']);
    expect([gc.code, gc.stdout]).toEqual([0, expect.stringMatching(/已清理：运行 0 次，数据快照 0 个，数据行 [1-9]\d* 行/)]);
    expect(await unrecorded()).toBe(0);
    // The next ingest sweeps such tables itself (runIngest fails on any left) and loads normally.
    await query(configFile, 'CREATE TABLE rows_hukou_999 AS SELECT 1 AS x');
    expect((await runIngest(configFile)).datasets.every((d) => d.status === 'loaded')).toBe(true);
  });
});
