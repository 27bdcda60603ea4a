import fs from 'node:fs';
import type { DuckDBConnection } from '@duckdb/node-api';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ExcelJS from '../src/core/exceljs.js';
import { generateFixtures } from '../src/fixtures/generate.js';
import { buildWorld } from '../src/fixtures/world.js';
import { checkPage, chromiumPath, pageWidth } from '../src/report/check-page.js';
import { analystCsvs, copyCsv } from '../src/report/report.js';
import { flowLegend } from '../src/report/summary.js';
import { hashTree, readCsvFile as csv, runCli, testDir, fakeBidui, withConnection } from './helpers.js';
import { newId, runRules } from './rule-harness.js';

const EVIDENCE_HEADER = 'lead_key,category,rule,township,village,household_key,id_number,name,dataset,record_ref,detail,linkage';



describe('bidui run and report on a generated county', () => {
  let t: { dir: string; cleanup: () => void };
  let county: string;
  let config: string;
  beforeAll(async () => {
    t = testDir('bidui-report-');
    county = path.join(t.dir, 'county');
    await generateFixtures({ households: 800, seed: 21, asOf: '2020-06-30', messy: 0.5, out: county });
    config = path.join(county, 'bidui.config.json');
  });
  afterAll(() => t.cleanup());

  it('writes every output, owner-only, with the exact evidence header; the log holds no ID or name', () => {
    const out = path.join(t.dir, 'out1');
    const r = runCli(['run', '--config', config, '--as-of', '2020-06-30', '--out', out, '--quiet']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/汇总页：.*summary\.html/);
    for (const f of ['evidence.csv', 'leads.csv', 'resolved.csv', 'summary.html', 'manifest.json', 'townships']) expect(fs.existsSync(path.join(out, f))).toBe(true);
    // UTF-8 with BOM (Excel on Chinese Windows reads it as UTF-8), then exactly the header.
    expect(fs.readFileSync(path.join(out, 'evidence.csv'), 'utf8').split('\n')[0]).toBe(`\uFEFF${EVIDENCE_HEADER}`);
    for (const f of ['leads.csv', 'resolved.csv']) expect([...fs.readFileSync(path.join(out, f)).subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const walk = (d: string): string[] => fs.readdirSync(d).flatMap((n) => (fs.statSync(path.join(d, n)).isDirectory() ? [path.join(d, n), ...walk(path.join(d, n))] : [path.join(d, n)]));
    for (const p of [out, ...walk(out)]) expect([p, fs.statSync(p).mode & 0o777]).toEqual([p, fs.statSync(p).isDirectory() ? 0o700 : 0o600]);
    // Evidence agrees with the generator: every expected (category, rule, household) is there.
    const evidence = csv(path.join(out, 'evidence.csv'));
    const got = new Set(evidence.map((e) => `${e.category}|${e.rule}|${e.household_key}`));
    const expected = csv(path.join(county, 'expected.csv')).map((e) => `${e.category}|${e.rule}|${e.household_key}`);
    expect(expected.filter((k) => !got.has(k))).toEqual([]);
    expect(got.size).toBe(expected.length);
    // The log of the whole pipeline holds no ID or name of the county.
    const world = buildWorld({ households: 800, seed: 21, asOf: '2020-06-30', messy: 0.5 });
    const log = fs.readFileSync(path.join(county, 'workspace', 'logs', 'bidui.log'), 'utf8');
    expect(log).toMatch(/report written/);
    expect(world.persons.filter((p) => log.includes(p.id) || log.includes(p.name)).map((p) => p.pid)).toEqual([]);
  });

  it('reports the same run twice byte for byte, and the manifest hashes every output', () => {
    const a = path.join(t.dir, 'a');
    const b = path.join(t.dir, 'b');
    expect(runCli(['report', '--config', config, '--run', '1', '--out', a, '--quiet']).code).toBe(0);
    expect(runCli(['report', '--config', config, '--run', '1', '--out', b, '--quiet']).code).toBe(0);
    const ha = hashTree(a);
    expect(Object.keys(ha).filter((f) => f.endsWith('.xlsx')).length).toBeGreaterThan(5);
    expect(hashTree(b)).toEqual(ha);
    const manifest = JSON.parse(fs.readFileSync(path.join(a, 'manifest.json'), 'utf8'));
    expect(manifest.run_id).toBe(1);
    expect(manifest.as_of).toBe('2020-06-30');
    expect(manifest.outputs.map((o: { file: string }) => o.file).sort()).toEqual(Object.keys(ha).filter((f) => f !== 'manifest.json' && f !== '.bidui-output').sort());
    for (const o of manifest.outputs) expect([o.file, o.sha256]).toEqual([o.file, ha[o.file]]);
    expect(manifest.rules).toHaveLength(27);
    expect(manifest.rules.every((r: { sql_sha256: string }) => /^[0-9a-f]{64}$/.test(r.sql_sha256))).toBe(true);
    expect(manifest.snapshots).toHaveLength(13);
    expect(manifest.snapshots.every((s: { files: { sha256: string }[] }) => s.files.length > 0 && /^[0-9a-f]{64}$/.test(s.files[0]!.sha256))).toBe(true);
    // A province's list rows are aggregated in runs of townships (a small memory limit cannot
    // hold them at once): runs of 20 evidence rows give the very same files.
    const c = path.join(t.dir, 'c');
    expect(runCli(['report', '--config', config, '--run', '1', '--out', c, '--quiet'], { env: { BIDUI_LIST_BATCH_ROWS: '20' } }).code).toBe(0);
    expect(hashTree(c)).toEqual(ha);
  });

  it('masks IDs for lists shared beyond the township', () => {
    const masked = path.join(t.dir, 'masked');
    expect(runCli(['report', '--config', config, '--run', '1', '--out', masked, '--mask-ids', '--quiet']).code).toBe(0);
    const world = buildWorld({ households: 800, seed: 21, asOf: '2020-06-30', messy: 0.5 });
    const texts = ['evidence.csv', 'leads.csv', ...fs.readdirSync(path.join(masked, 'townships')).filter((f) => f.endsWith('.csv')).map((f) => `townships/${f}`)]
      .map((f) => fs.readFileSync(path.join(masked, f), 'utf8')).join('\n');
    expect(world.persons.filter((p) => texts.includes(p.id)).map((p) => p.pid)).toEqual([]);
    expect(texts).toMatch(/522625\*{8}\d{3}[\dX]/);
  });

  it('marks leads new or continuing against the previous run, and lists the resolved ones', () => {
    const out2 = path.join(t.dir, 'out2');
    expect(runCli(['run', '--config', config, '--as-of', '2021-06-30', '--out', out2, '--quiet']).code).toBe(0);
    const first = csv(path.join(t.dir, 'a', 'leads.csv'));
    const second = csv(path.join(out2, 'leads.csv'));
    const before = new Set(first.map((l) => l.lead_key));
    const after = new Set(second.map((l) => l.lead_key));
    for (const l of second) expect([l.lead_key, l.status]).toEqual([l.lead_key, before.has(l.lead_key!) ? '持续' : '新增']);
    const resolved = csv(path.join(out2, 'resolved.csv')).map((l) => l.lead_key).sort();
    expect(resolved).toEqual([...before].filter((k) => !after.has(k)).sort());
    expect(resolved.length).toBeGreaterThan(0);
    expect(second.some((l) => l.status === '新增') && second.some((l) => l.status === '持续')).toBe(true);
  });

  it('writes township workbooks people can act on', async () => {
    const dir = path.join(t.dir, 'a', 'townships');
    const leads = csv(path.join(t.dir, 'a', 'leads.csv'));
    const busiest = [...new Set(leads.map((l) => l.township))].sort((x, y) => leads.filter((l) => l.township === y).length - leads.filter((l) => l.township === x).length)[0]!;
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(path.join(dir, `${busiest}.xlsx`));
    expect(wb.worksheets.map((w) => w.name)).toEqual(['漏评', '错评', '错退', '信息核对', '监测预警', '说明']);
    const sheet = wb.getWorksheet('漏评')!;
    const header = (sheet.getRow(1).values as string[]).slice(1);
    expect(header).toEqual(['线索编号', '状态', '关联', '优先级', '村', '户编号/户号', '户主', '涉及规则', '涉及成员', '证据', '四有提示', '上次核实', '核实期限', '核实结果', '核实说明', '校验码']);
    // Printing: A4 landscape, one page wide, the header row on every page; the checksum hidden.
    for (const ws of wb.worksheets.slice(0, -1)) {
      expect(ws.pageSetup).toMatchObject({ paperSize: 9, orientation: 'landscape', fitToPage: true, fitToWidth: 1, fitToHeight: 0, printTitlesRow: '1:1' });
      expect(ws.getColumn(header.indexOf('校验码') + 1).hidden).toBe(true);
    }
    // 核实结果: a drop-down of the three answers, refusing other text, on every lead row.
    const answerCol = header.indexOf('核实结果') + 1;
    const letter = String.fromCharCode(64 + answerCol);
    const validations = (sheet as unknown as { dataValidations: { model: Record<string, { type: string; formulae: string[]; showErrorMessage: boolean; errorStyle?: string }> } }).dataValidations.model;
    const cells = Object.keys(validations).filter((k) => k.startsWith(letter)).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
    expect(cells).toEqual(Array.from({ length: sheet.rowCount - 1 }, (_, i) => `${letter}${i + 2}`));
    for (const c of cells) {
      expect(validations[c]).toMatchObject({ type: 'list', formulae: ['"属实,不属实,已整改"'], showErrorMessage: true });
      expect(validations[c]!.errorStyle ?? 'stop').toBe('stop');
    }
    // 户主: the roster household's head, where the roster names one.
    const headCol = header.indexOf('户主') + 1;
    expect(sheet.getRows(2, sheet.rowCount - 1)!.every((r) => String(r.getCell(headCol).value ?? '') !== '')).toBe(true);
    // Rows tall enough for every line of their wrapped cells (15 points a line).
    for (const row of sheet.getRows(2, sheet.rowCount - 1)!) {
      const lines = Math.max(...['涉及成员', '证据'].map((h) => String(row.getCell(header.indexOf(h) + 1).value ?? '').split('\n').length));
      if (lines > 1) expect(row.height).toBeGreaterThanOrEqual(15 * lines);
      expect(row.getCell(header.indexOf('证据') + 1).alignment).toMatchObject({ wrapText: true });
    }
    expect(sheet.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 });
    expect(sheet.autoFilter).toBeTruthy();
    const idCol = header.indexOf('户编号/户号') + 1;
    const rows = sheet.getRows(2, sheet.rowCount - 1)!;
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      const cell = row.getCell(idCol);
      expect(typeof cell.value).toBe('string');
      expect(cell.numFmt).toBe('@');
      expect(row.getCell(header.indexOf('核实结果') + 1).value ?? '').toBe('');
    }
    // Sorted by priority (descending), then village.
    const keys = rows.map((r) => [Number(r.getCell(header.indexOf('优先级') + 1).value), String(r.getCell(header.indexOf('村') + 1).value ?? '')] as const);
    for (let i = 1; i < keys.length; i++) {
      const [p0, v0] = keys[i - 1]!;
      const [p1, v1] = keys[i]!;
      expect(p0 > p1 || (p0 === p1 && v0 <= v1)).toBe(true);
    }
    expect(String(wb.getWorksheet('说明')!.getCell('B2').value)).toBe('2020-06-30');
    const twin = fs.readFileSync(path.join(dir, `${busiest}.csv`));
    expect([...twin.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(csv(path.join(dir, `${busiest}.csv`)).length).toBe(wb.worksheets.slice(0, -1).reduce((s, w) => s + w.rowCount - 1, 0));
    // One row per lead of the township, each with its evidence.
    expect(wb.worksheets.slice(0, -1).reduce((s, w) => s + w.rowCount - 1, 0)).toBe(leads.filter((l) => l.township === busiest).length);
    expect(String(rows[0]!.getCell(header.indexOf('证据') + 1).value)).toMatch(/^\[[LCTQ][0-9]\] /);
  });

  // Needs Debian's Chromium: skipped on a machine without it, unless BIDUI_REQUIRE_CHROMIUM is set
  // (.ci/run sets it, so CI never skips it).
  it.skipIf(!chromiumPath() && !process.env.BIDUI_REQUIRE_CHROMIUM)('renders the summary in headless Chromium with no console message and every chart drawn', () => {
    const page = checkPage(path.join(t.dir, 'a', 'summary.html'));
    expect(page.consoleMessages).toEqual([]);
    expect(page.charts.map((c) => c.id)).toEqual(['chart-townships', 'chart-rules']);
    for (const c of page.charts) expect([c.id, c.bars > 0]).toEqual([c.id, true]);
    const html = fs.readFileSync(path.join(t.dir, 'a', 'summary.html'), 'utf8');
    expect(html).not.toMatch(/<script|<link|src=/);
    for (const s of ['运行编号', '比较基准', '各乡镇线索', '各规则', '与比较基准相比', '数据质量', '数据新鲜度', '本次运行的设置']) expect(html).toContain(s);
    // Readable on a phone: nothing wider than 390 px (tables become cards, charts have a narrow
    // twin); and the wide layout still uses the width at 1400 px.
    // No element past the right edge either (the narrow charts' legend text was clipped there).
    const phone = pageWidth(path.join(t.dir, 'a', 'summary.html'), 390);
    expect([phone.scrollWidth <= 390, phone.right <= 390, phone.widest]).toEqual([true, true, expect.any(String)]);
    expect(pageWidth(path.join(t.dir, 'a', 'summary.html'), 1400).scrollWidth).toBeLessThanOrEqual(1400);
    expect(html).toContain('id="chart-townships-narrow"');
  });

  it('orders townships by their leads, tables villages within each, dates each dataset and describes the configuration', () => {
    const html = fs.readFileSync(path.join(t.dir, 'a', 'summary.html'), 'utf8');
    const leads = csv(path.join(t.dir, 'a', 'leads.csv'));
    const perTownship = new Map<string, number>();
    const perVillage = new Map<string, number>();
    for (const l of leads) {
      perTownship.set(l.township!, (perTownship.get(l.township!) ?? 0) + 1);
      perVillage.set(`${l.township}/${l.village}`, (perVillage.get(`${l.township}/${l.village}`) ?? 0) + 1);
    }
    const section = html.slice(html.indexOf('<h2>各乡镇线索</h2>'), html.indexOf('<h2>各规则</h2>'));
    const order = [...section.slice(section.indexOf('<table>')).matchAll(/<tr><td data-label="乡镇">([^<]+)<\/td>/g)].map((m) => m[1]!);
    const expectedOrder = [...perTownship].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([name]) => name);
    expect(order).toEqual(expectedOrder);
    // One <details> per township; its village rows add up to what leads.csv says.
    for (const [township, n] of perTownship) {
      const d = new RegExp(`<details><summary>${township}：(\\d+) 个村，(\\d+) 条线索</summary>([\\s\\S]*?)</details>`).exec(section);
      expect(d, township).not.toBeNull();
      expect(Number(d![2])).toBe(n);
      const villages = [...d![3]!.matchAll(/<tr><td data-label="村">([^<]+)<\/td>.*?data-label="合计"[^>]*>([0-9,]+)</g)].map((m) => [m[1]!, Number(m[2]!.replace(/,/g, ''))] as const);
      expect(villages.length).toBe(Number(d![1]));
      for (const [v, count] of villages) expect([township, v, count]).toEqual([township, v, perVillage.get(`${township}/${v}`)]);
    }
    // Freshness: every loaded dataset has a row with its file date and load time.
    const fresh = html.slice(html.indexOf('<h2>数据新鲜度</h2>'), html.indexOf('<h2>数据质量</h2>'));
    expect([...fresh.matchAll(/data-label="导出文件日期">(\d{4}-\d\d-\d\d)/g)]).toHaveLength(13);
    // The configuration in words, the hash in small print.
    const settings = html.slice(html.indexOf('<h2>本次运行的设置</h2>'));
    expect(settings).toContain('核实期限：线索首次下发后 15 天');
    expect(settings).toMatch(/比对的数据集：建档立卡（\d+ 个文件或通配符）、户籍人口/);
    expect(settings).toMatch(/<p class="fine">配置摘要（SHA-256）：<code>[0-9a-f]{64}<\/code>/);
  });

  it('refuses a second run on a locked workspace with exit 3, and bad input with exit 2', () => {
    const holder = fakeBidui();
    fs.writeFileSync(path.join(county, 'workspace', 'bidui.lock'), JSON.stringify({ pid: holder.pid, command: 'run', since: 'x' }));
    try {
      const r = runCli(['run', '--config', config, '--out', path.join(t.dir, 'x'), '--quiet']);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/正被另一个 bidui 进程使用/);
    } finally {
      fs.rmSync(path.join(county, 'workspace', 'bidui.lock'));
      holder.stop();
    }
    const bad = runCli(['run', '--config', path.join(t.dir, 'missing.json'), '--out', path.join(t.dir, 'x')]);
    expect(bad.code).toBe(2);
    expect(runCli(['report', '--config', config, '--run', '99', '--out', path.join(t.dir, 'x')]).stderr).toMatch(/没有编号为 99 的运行/);
  });
});

describe('township of a lead', () => {
  it('goes to 未知乡镇 when nothing tells where the household lives', async () => {
    const t = testDir();
    try {
      const someone = newId('1970-01-01');
      await runRules({ roster: [{ household_id: 'R1', id_number: newId('1980-01-01'), name: '甲', relation: '户主', township: '舞阳镇', village: '顺城社区', status: '未脱贫', identified_on: '2015-01-01' }], hukou: [], illness: [{ id_number: someone, name: '乙', category: '大病', diagnosed_on: '2020-01-01' }] }, '2020-06-30', {}, t.dir);
      expect(fs.readdirSync(path.join(t.dir, 'townships')).sort()).toEqual(['未知乡镇.csv', '未知乡镇.xlsx']);
      expect(csv(path.join(t.dir, 'leads.csv'))[0]).toMatchObject({ township: '未知乡镇', household_key: someone, rules: 'L3' });
    } finally {
      t.cleanup();
    }
  });
});

describe('the analyst CSVs', () => {
  /** fn with an in-memory DuckDB (bidui's macros) and a fresh folder for the CSVs, both removed after. */
  const withCsvDir = async (fn: (conn: DuckDBConnection, dir: string) => Promise<void>) => {
    const t = testDir('bidui-csv-');
    try {
      await withConnection((conn) => fn(conn, t.dir));
    } finally {
      t.cleanup();
    }
  };

  it('are in their sort order on every run, also over many blocks of rows and threads', async () => {
    // 300,000 rows stored out of order: with the sort in a subquery under the CSV-safe
    // projection, DuckDB wrote blocks of 2,048 rows out of place, differently on each run.
    await withCsvDir(async (conn, dir) => {
      await conn.run(`CREATE TABLE r AS SELECT 'L-' || md5(i::VARCHAR)[1:16] AS lead_key, i % 5 AS category_order, 'T' || hash(i) % 12 AS township,
        'V' || hash(i * 7) % 50 AS village, (hash(i * 3) % 1000000)::VARCHAR AS household_key, i AS source_row FROM range(300000) t(i) ORDER BY hash(i)`);
      const orderBy = 'r.category_order, r.township, r.village, r.household_key, r.source_row';
      const expected = (await conn.runAndReadAll(`SELECT concat_ws(',', lead_key, township, village, household_key) AS line FROM r ORDER BY ${orderBy}`))
        .getRowObjectsJson().map((x) => x.line as string);
      for (const n of [1, 2, 3]) {
        const file = path.join(dir, `${n}.csv`);
        await copyCsv(conn, 'test', ['lead_key', 'township', 'village', 'household_key'].map((c): [string, string] => [c, `r.${c}`]), 'r', orderBy, file);
        const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
        expect(lines[0]).toBe('\uFEFFlead_key,township,village,household_key');
        expect(lines.slice(1).findIndex((l, i) => l !== expected[i])).toBe(-1);
      }
    });
  });

  it('with masked IDs sort households whose keys mask alike by the key itself, whatever order they are stored in', async () => {
    // Keys that mask alike (522625*****0947): stored in the reverse of their order, they came out
    // as stored, and at a province's scale differently from run to run.
    await withCsvDir(async (conn, dir) => {
      const keys = [5, 4, 3, 2, 1].map((d) => `52262510${d}000947`);
      const stored = keys.map((k) => `'${k}'`).join(', ');
      await conn.run(`CREATE TABLE r_lead AS SELECT 'L-' || k AS lead_key, '漏评' AS category, '舞阳镇' AS township_name, '苦李村' AS village, k AS household_key,
        'L6' AS rules, 1 AS priority, 1 AS members, NULL::VARCHAR AS flags, '新增' AS status, NULL::VARCHAR AS last_result, NULL::VARCHAR AS linkage, 0 AS category_order
        FROM unnest([${stored}]) t(k)`);
      await conn.run(`CREATE TABLE r_resolved AS SELECT 'L-' || k AS lead_key, '漏评' AS category, '舞阳镇' AS township, '苦李村' AS village,
        left(k, 6) || '*****' || right(k, 4) AS household_key, 'L6' AS rules, 0 AS category_order FROM unnest([${stored}]) t(k)`);
      for (const csv of analystCsvs(true).filter((c) => c.file !== 'evidence.csv')) {
        const file = path.join(dir, csv.file);
        await copyCsv(conn, 'test', csv.columns, csv.from, csv.orderBy, file);
        const leadKeys = fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(1).map((l) => l.split(',')[0]);
        expect([csv.file, leadKeys]).toEqual([csv.file, [...keys].sort().map((k) => `L-${k}`)]);
      }
    });
  });
});

describe('deterministic workbooks', () => {
  it('stamps a fixed date on every zip entry and in the document properties', async () => {
    const JSZip = (await import('jszip')).default;
    const { writeDeterministicXlsx } = await import('../src/core/xlsx-write.js');
    const t = testDir();
    try {
      const wb = new ExcelJS.Workbook();
      wb.addWorksheet('漏评').addRow(['线索编号', '证件号码']);
      const file = path.join(t.dir, 'x.xlsx');
      await writeDeterministicXlsx(wb, file);
      const zip = await JSZip.loadAsync(fs.readFileSync(file));
      const dates = new Set(Object.values(zip.files).map((f) => f.date.toISOString()));
      expect(dates).toEqual(new Set(['2020-01-01T00:00:00.000Z']));
      expect(await zip.file('docProps/core.xml')!.async('string')).toMatch(/2020-01-01T00:00:00Z/);
    } finally {
      t.cleanup();
    }
  });
});

describe('the phone charts\' legend', () => {
  it('keeps every item inside the chart, on more rows when they do not fit on one, never overlapping', () => {
    // A label at the charts' 12 px: about 12 units a Chinese character (the five categories'
    // legend at 88 units an item ended at 420 of 360, cutting off 监测预警).
    const end = (s: string, x: number) => x + 16 + 12 * [...s].length;
    const categories = ['漏评', '错评', '错退', '信息核对', '监测预警'];
    for (const width of [360, 200, 100]) {
      const items = flowLegend(categories, width);
      expect(items.map((i) => i.s)).toEqual(categories);
      for (const i of items) expect([width, i.s, end(i.s, i.x) <= width]).toEqual([width, i.s, true]);
      for (const [a, b] of items.slice(1).map((b, k) => [items[k]!, b] as const)) {
        if (a.row === b.row) expect([width, b.s, b.x >= end(a.s, a.x) + 8]).toEqual([width, b.s, true]);
        else expect([width, b.s, b.row, b.x]).toEqual([width, b.s, a.row + 1, 0]);
      }
    }
    expect(Math.max(...flowLegend(categories, 200).map((i) => i.row))).toBeGreaterThan(0);
  });
});
