import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type ExcelJSNamespace from 'exceljs';
import ExcelJS from '../src/core/exceljs.js';
import { generateFixtures } from '../src/fixtures/generate.js';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { spawnSync } from 'node:child_process';
import iconv from 'iconv-lite';
import { readCsvFile as csv, runCli, testDir } from './helpers.js';

const hasLibreOffice = spawnSync('soffice', ['--version'], { encoding: 'utf8' }).status === 0;
if (!hasLibreOffice && process.env.BIDUI_REQUIRE_LIBREOFFICE) throw new Error('LibreOffice is required here (BIDUI_REQUIRE_LIBREOFFICE)');

/** A township CSV list as rows of cells (header first). */
const readList = (file: string): string[][] => parse(fs.readFileSync(file), { bom: true, relax_column_count: true }) as string[][];
const writeList = (file: string, rows: string[][], encoding: 'utf-8-bom' | 'gbk' = 'utf-8-bom') =>
  fs.writeFileSync(file, encoding === 'gbk' ? iconv.encode(stringify(rows), 'gbk') : `\uFEFF${stringify(rows)}`);
/** What Excel makes of a number too long for it, as it shows and saves it (5.22625E+14). */
const excelNumber = (digits: string) => Number(digits).toPrecision(6).replace('e+', 'E+');


/** Fill 核实结果/核实说明 of the given leads in a township workbook, as a township would. */
async function answer(src: string, dst: string, answers: Record<string, [string, string]>, edit?: (header: string[], row: ExcelJSNamespace.Row) => void): Promise<void> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(src);
  for (const ws of wb.worksheets.slice(0, -1)) {
    const header = (ws.getRow(1).values as string[]).slice(1);
    ws.eachRow((row, n) => {
      if (n === 1) return;
      const key = String(row.getCell(header.indexOf('线索编号') + 1).value);
      const a = answers[key];
      if (a) {
        row.getCell(header.indexOf('核实结果') + 1).value = a[0];
        row.getCell(header.indexOf('核实说明') + 1).value = a[1];
        edit?.(header, row);
      }
    });
  }
  await wb.xlsx.writeFile(dst);
}

describe('township feedback', () => {
  let t: { dir: string; cleanup: () => void };
  let config: string;
  let township: string;
  let keys: string[];
  beforeAll(async () => {
    t = testDir('bidui-feedback-');
    const county = path.join(t.dir, 'county');
    await generateFixtures({ households: 600, seed: 51, asOf: '2020-06-30', messy: 0, out: county });
    config = path.join(county, 'bidui.config.json');
    expect(runCli(['run', '--config', config, '--as-of', '2020-06-30', '--out', path.join(t.dir, 'out1'), '--quiet']).code).toBe(0);
    const leads = csv(path.join(t.dir, 'out1', 'leads.csv'));
    const counts = new Map<string, number>();
    for (const l of leads) if (l.township !== '未知乡镇') counts.set(l.township!, (counts.get(l.township!) ?? 0) + 1);
    township = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]![0];
    keys = leads.filter((l) => l.township === township).map((l) => l.lead_key!).slice(0, 3);
    expect(keys).toHaveLength(3);
  });
  afterAll(() => t.cleanup());

  it('refuses bad files row by row and imports nothing', async () => {
    const src = path.join(t.dir, 'out1', 'townships', `${township}.xlsx`);
    const bad = path.join(t.dir, 'bad.xlsx');
    await answer(src, bad, { [keys[0]!]: ['是的', ''], [keys[1]!]: ['属实', '已核实'], [keys[2]!]: ['', '已入户，情况属实'] }, (header, row) => {
      if (String(row.getCell(header.indexOf('线索编号') + 1).value) === keys[1]) row.getCell(header.indexOf('户编号/户号') + 1).value = '999';
    });
    const csvBad = path.join(t.dir, 'bad.csv');
    fs.writeFileSync(csvBad, '\uFEFF类别,线索编号,户编号/户号,涉及规则,村,核实结果,核实说明\n漏评,L-0000000000000000,1,L1 x,村,属实,\n');
    const r = runCli(['feedback', 'import', '--config', config, bad, csvBad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/没有导入任何内容/);
    // 是的 could be anything a cadre typed (a name too): not quoted, the row is named.
    expect(r.stderr).toMatch(/第 \d+ 行：核实结果无效，应为 属实、不属实、已整改 之一/);
    expect(r.stderr).toMatch(/「户编号\/户号」与线索/);
    expect(r.stderr).toMatch(/bad\.xlsx 「[^」]+」第 \d+ 行：填了核实说明，但没有选择核实结果/);
    expect(r.stderr).toMatch(/bad\.csv：这份清单不是本工作区生成的（其中的线索编号都不属于本工作区）/);
    expect(r.stderr).toMatch(/第 \d+ 行/);
    expect(runCli(['report', '--config', config, '--run', '1', '--out', path.join(t.dir, 'check'), '--quiet']).code).toBe(0);
    expect(csv(path.join(t.dir, 'check', 'leads.csv')).every((l) => l.verification === '')).toBe(true);
  });

  it('round trip: answers attach to leads; 不属实 is not issued again; lists show the last answer; progress per township', async () => {
    const src = path.join(t.dir, 'out1', 'townships', `${township}.xlsx`);
    const filled = path.join(t.dir, `${township}-已核实.xlsx`);
    await answer(src, filled, { [keys[0]!]: ['属实', '入户核实属实'], [keys[1]!]: ['不属实', '已有稳定收入'], [keys[2]!]: ['已整改', '已纳入'] });
    const r = runCli(['feedback', 'import', '--config', config, filled]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/已导入\s+3/);
    // The same file again is recognised and skipped.
    const again = runCli(['feedback', 'import', '--config', config, filled]).stdout;
    expect(again).toMatch(/以前已导入过（内容相同），这次没有再导入/);
    expect(again).not.toMatch(/\s0\s/);
    // The next nightly run on the same data.
    const second = runCli(['run', '--config', config, '--as-of', '2020-06-30', '--out', path.join(t.dir, 'out2'), '--quiet']);
    expect(second.code).toBe(0);
    // The lead answered 不属实 is counted, as withheld, wherever leads are counted.
    expect(second.stdout).toMatch(/已核实不属实、不再下发 1\n/);
    const leads = Object.fromEntries(csv(path.join(t.dir, 'out2', 'leads.csv')).map((l) => [l.lead_key, l]));
    expect([leads[keys[0]!]!.status, leads[keys[0]!]!.verification]).toEqual(['持续', '属实']);
    expect([leads[keys[1]!]!.status, leads[keys[1]!]!.verification]).toEqual(['已核实不属实', '不属实']);
    expect(leads[keys[2]!]!.verification).toBe('已整改');
    const list = csv(path.join(t.dir, 'out2', 'townships', `${township}.csv`));
    expect(list.some((row) => row['线索编号'] === keys[1])).toBe(false);
    expect(list.find((row) => row['线索编号'] === keys[0])!['上次核实']).toBe('属实：入户核实属实');
    const html = fs.readFileSync(path.join(t.dir, 'out2', 'summary.html'), 'utf8');
    expect(html).toContain('核实进度');
    expect(html).toMatch(/<th>已核实不属实（不再下发）<\/th>/);
    const withheld = [...html.matchAll(/<tr><td data-label="类别">(漏评|错评|错退|信息核对)<\/td>(?:<td data-label="[^"]+" class="n">\d+<\/td>){3}<td data-label="已核实不属实（不再下发）" class="n">(\d+)<\/td><\/tr>/g)].reduce((n, m) => n + Number(m[2]), 0);
    expect(withheld).toBe(1);
    expect(html).toMatch(new RegExp(`<td data-label="乡镇">${township}</td><td data-label="下发线索" class="n">\\d+</td><td data-label="已答复" class="n">3</td><td data-label="属实（纳入监测）" class="n">1</td><td data-label="不属实（不纳入）" class="n">1</td><td data-label="已整改（已消除风险）" class="n">1</td>`));
    // The first run's report is unchanged by feedback imported after it: still verifiable.
    expect(runCli(['verify', '1', '--config', config, '--quiet']).code).toBe(0);
    expect(runCli(['verify', '2', '--config', config, '--quiet']).code).toBe(0);
  });

  it('refuses answers for another township, edited evidence or members, and lists from another workspace, row by row', async () => {
    const leads = csv(path.join(t.dir, 'out1', 'leads.csv'));
    const other = leads.find((l) => l.township !== township && l.township !== '未知乡镇')!;
    const ours = leads.filter((l) => l.township === township).map((l) => l.lead_key!).slice(3, 6);
    expect(ours).toHaveLength(3);
    // A township's workbook: one row now names another township's lead (marked 不属实), one row's evidence edited.
    const src = path.join(t.dir, 'out1', 'townships', `${township}.xlsx`);
    const edited = path.join(t.dir, 'edited.xlsx');
    await answer(src, edited, { [ours[0]!]: ['不属实', '不是本乡镇的人'], [ours[1]!]: ['属实', ''] }, (header, row) => {
      const key = String(row.getCell(header.indexOf('线索编号') + 1).value);
      if (key === ours[0]) row.getCell(header.indexOf('线索编号') + 1).value = other.lead_key!;
      if (key === ours[1]) row.getCell(header.indexOf('证据') + 1).value = `${String(row.getCell(header.indexOf('证据') + 1).value)}（已补充）`;
    });
    // The township's CSV: a member edited, and a row copied in from the other township's CSV.
    const list = readList(path.join(t.dir, 'out1', 'townships', `${township}.csv`));
    const otherList = readList(path.join(t.dir, 'out1', 'townships', `${other.township}.csv`));
    const h = list[0]!;
    const col = (name: string) => h.indexOf(name);
    const mine = list.findIndex((r) => r[col('线索编号')] === ours[2]);
    list[mine]![col('涉及成员')] = '某某 123';
    list[mine]![col('核实结果')] = '属实';
    const copied = [...otherList.find((r) => r[col('线索编号')] === other.lead_key)!];
    copied[col('核实结果')] = '不属实';
    list.push(copied);
    const editedCsv = path.join(t.dir, 'edited.csv');
    writeList(editedCsv, list);
    // A list from another workspace over the same data (its own secret, so its own keys).
    const county2 = path.join(t.dir, 'county2');
    fs.cpSync(path.join(t.dir, 'county'), county2, { recursive: true, filter: (f) => !f.includes(`${path.sep}workspace`) });
    expect(runCli(['run', '--config', path.join(county2, 'bidui.config.json'), '--as-of', '2020-06-30', '--out', path.join(t.dir, 'out-w2'), '--quiet']).code).toBe(0);
    const foreign = path.join(t.dir, 'foreign.xlsx');
    const foreignKey = csv(path.join(t.dir, 'out-w2', 'leads.csv')).find((l) => l.township === township)!.lead_key!;
    await answer(path.join(t.dir, 'out-w2', 'townships', `${township}.xlsx`), foreign, { [foreignKey]: ['不属实', ''] });

    const r = runCli(['feedback', 'import', '--config', config, edited, editedCsv, foreign]);
    if (process.env.KEEP) fs.cpSync(t.dir, '/tmp/fbdebug', { recursive: true });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/没有导入任何内容/);
    expect(r.stderr).toContain(`edited.xlsx 「${other.category}」第`);
    expect(r.stderr).toContain(`线索「${other.lead_key}」属于「${other.township}」，不是这份「${township}」清单的线索`);
    expect(r.stderr).toMatch(/edited\.xlsx 「[^」]+」第 \d+ 行：「涉及成员」「证据」等列与 bidui 生成时不同（校验码不符）/);
    expect(r.stderr).toMatch(new RegExp(`edited\\.csv 「[^」]+」第 ${mine + 1} 行：「涉及成员」「证据」等列与 bidui 生成时不同`));
    expect(r.stderr).toMatch(new RegExp(`edited\\.csv 「[^」]+」第 ${list.length} 行：线索「${other.lead_key}」属于「${other.township}」`));
    expect(r.stderr).toMatch(/foreign\.xlsx：这份清单不是本工作区生成的（工作区标识 [0-9A-F]{8}，本工作区为 [0-9A-F]{8}）/);
    expect(r.stderr).toMatch(/核实结果有 5 处问题/);
  });

  it('refuses lists whose township or checksum was removed, conflicting answers and a repeated header', () => {
    const leads = csv(path.join(t.dir, 'out1', 'leads.csv'));
    const other = leads.find((l) => l.township !== township && l.township !== '未知乡镇')!;
    const list = readList(path.join(t.dir, 'out1', 'townships', `${township}.csv`));
    const otherList = readList(path.join(t.dir, 'out1', 'townships', `${other.township}.csv`));
    const h = list[0]!;
    const col = (n: string) => h.indexOf(n);
    const otherRow = [...otherList.find((r) => r[col('线索编号')] === other.lead_key)!];
    otherRow[col('核实结果')] = '不属实';
    const drop = (rows: string[][], name: string) => rows.map((r) => r.filter((_, i) => i !== col(name)));
    // The 乡镇 column deleted, and a row of another township added.
    const noTown = path.join(t.dir, 'no-town.csv');
    writeList(noTown, drop([...list, otherRow], '乡镇'));
    // The 校验码 column deleted, and a member edited.
    const edited = list.map((r) => [...r]);
    edited[1]![col('涉及成员')] = '某某 000000000000000000';
    edited[1]![col('核实结果')] = '属实';
    const noCheck = path.join(t.dir, 'no-check.csv');
    writeList(noCheck, drop(edited, '校验码'));
    // One lead answered twice, differently.
    const twice = list.map((r) => [...r]);
    twice[1]![col('核实结果')] = '属实';
    const copy = [...twice[1]!];
    copy[col('核实结果')] = '不属实';
    const conflict = path.join(t.dir, 'conflict.csv');
    writeList(conflict, [...twice, copy]);
    // A second 核实结果 column.
    const dupHeader = path.join(t.dir, 'dup-header.csv');
    writeList(dupHeader, list.map((r, i) => [...r, i === 0 ? '核实结果' : '']));
    const r = runCli(['feedback', 'import', '--config', config, noTown, noCheck, conflict, dupHeader]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no-town\.csv 「[^」]+」第 \d+ 行：清单的「乡镇」/);
    expect(r.stderr).toMatch(/no-check\.csv 「[^」]+」第 2 行：清单的「校验码」被删除或清空了/);
    expect(r.stderr).toMatch(/conflict\.csv 「[^」]+」第 \d+ 行：线索「[^」]+」在 conflict\.csv 「[^」]+」第 2 行 已有不同的答复/);
    expect(r.stderr).toMatch(/dup-header\.csv：表头中 「核实结果」 出现了不止一次/);
  });

  it('quotes no cell that may hold a name or an ID; imports a file named twice once, and a repeated answer once', () => {
    const leads = csv(path.join(t.dir, 'out1', 'leads.csv'));
    const third = [...new Set(leads.map((l) => l.township!))].filter((x) => x !== township && x !== '未知乡镇').sort()[2]!;
    const list = readList(path.join(t.dir, 'out1', 'townships', `${third}.csv`));
    expect(list.length).toBeGreaterThan(2);
    const h = list[0]!;
    const col = (n: string) => h.indexOf(n);
    const misuse = list.map((r) => [...r]);
    misuse[1]![col('线索编号')] = '张三丰 522625199001011234';
    misuse[1]![col('核实结果')] = '属实';
    misuse[2]![col('类别')] = '张三丰';
    misuse[2]![col('核实结果')] = '不属实（王小明已死亡）';
    const misused = path.join(t.dir, 'misused.csv');
    writeList(misused, misuse);
    const bad = runCli(['feedback', 'import', '--config', config, misused]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/misused\.csv 「[^」]+」第 2 行：线索编号（该格的内容不是线索编号）不是本工作区/);
    expect(bad.stderr).toMatch(/misused\.csv 第 3 行：核实结果无效/);
    for (const piece of ['张三丰', '522625199001011234', '王小明']) expect(bad.stderr).not.toContain(piece);

    const once = list.map((r) => [...r]);
    once[1]![col('核实结果')] = '属实';
    const ok = path.join(t.dir, 'repeated.csv');
    writeList(ok, [...once, [...once[1]!]]);
    const r = runCli(['feedback', 'import', '--config', config, ok, ok]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/repeated\.csv\s+已导入\s+1\s/);
    expect(r.stdout).toMatch(/repeated\.csv\s+以前已导入过（内容相同），这次没有再导入/);
  });

  it('reads lists as spreadsheets save them: GBK CSV, keys turned into numbers', async () => {
    const leads = csv(path.join(t.dir, 'out1', 'leads.csv'));
    const numeric = leads.find((l) => l.township === township && /^[0-9]{12,}$/.test(l.household_key!) && !keys.includes(l.lead_key!))!;
    expect(numeric).toBeDefined();
    // Excel on Chinese Windows: saved as "CSV" in GBK, no BOM, the 户编号 shown and saved as 5.22625E+14.
    const list = readList(path.join(t.dir, 'out1', 'townships', `${township}.csv`));
    const h = list[0]!;
    const row = list.find((r) => r[h.indexOf('线索编号')] === numeric.lead_key)!;
    row[h.indexOf('户编号/户号')] = excelNumber(numeric.household_key!);
    row[h.indexOf('核实结果')] = '属实';
    row[h.indexOf('核实说明')] = '已入户核实';
    const gbk = path.join(t.dir, `${township}-gbk.csv`);
    writeList(gbk, list, 'gbk');
    expect(fs.readFileSync(gbk).subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf]))).toBe(false);
    const r = runCli(['feedback', 'import', '--config', config, gbk]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`${township}-gbk\\.csv\\s+已导入\\s+1`));
    // The next run shows the answers (run 1's own report stays as it was delivered).
    expect(runCli(['run', '--config', config, '--as-of', '2020-06-30', '--out', path.join(t.dir, 'check2'), '--quiet']).code).toBe(0);
    const after = Object.fromEntries(csv(path.join(t.dir, 'check2', 'leads.csv')).map((l) => [l.lead_key, l.verification]));
    expect(after[numeric.lead_key!]).toBe('属实');
  });

  it('监测预警 rows take their own answers (纳入监测 / 不纳入 / 已消除风险), counted as 属实 / 不属实 / 已整改', async () => {
    const leads = csv(path.join(t.dir, 'out1', 'leads.csv'));
    const perTownship = new Map<string, string[]>();
    for (const l of leads) if (l.category === '监测预警' && l.township !== '未知乡镇') perTownship.set(l.township!, [...(perTownship.get(l.township!) ?? []), l.lead_key!]);
    const [where, m] = [...perTownship].sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]))[0]!;
    expect(m.length).toBeGreaterThanOrEqual(2);
    expect(m.every((k) => k.startsWith('M-'))).toBe(true);
    const src = path.join(t.dir, 'out1', 'townships', `${where}.xlsx`);
    // The classic answers are refused on a 监测预警 row, naming the sheet's own.
    const wrong = path.join(t.dir, 'm-wrong.xlsx');
    await answer(src, wrong, { [m[0]!]: ['属实', ''] });
    const refused = runCli(['feedback', 'import', '--config', config, wrong]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/「监测预警」第 \d+ 行：核实结果(「属实」)?无效，应为 纳入监测、不纳入、已消除风险 之一/);
    // The workbook's drop-down offers them.
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(src);
    const sheet = wb.getWorksheet('监测预警')!;
    const header = (sheet.getRow(1).values as string[]).slice(1);
    const validation = (sheet.getCell(2, header.indexOf('核实结果') + 1) as unknown as { dataValidation: { formulae: string[] } }).dataValidation;
    expect(validation.formulae).toEqual(['"纳入监测,不纳入,已消除风险"']);
    const filled = path.join(t.dir, 'm-answered.xlsx');
    await answer(src, filled, { [m[0]!]: ['纳入监测', '已纳入监测，落实帮扶'], [m[1]!]: ['不纳入', '已报销，无返贫风险'] });
    const imported = runCli(['feedback', 'import', '--config', config, filled]);
    expect(imported.stderr).toBe('');
    expect(imported.stdout).toMatch(/已导入\s+2/);
    const next = runCli(['run', '--config', config, '--as-of', '2020-06-30', '--out', path.join(t.dir, 'out-m'), '--quiet']);
    expect(next.code).toBe(0);
    const after = Object.fromEntries(csv(path.join(t.dir, 'out-m', 'leads.csv')).map((l) => [l.lead_key, l]));
    // 纳入监测 keeps the lead (属实); 不纳入 withholds it while its evidence stays (不属实).
    expect([after[m[0]!]!.status, after[m[0]!]!.verification]).toEqual(['持续', '纳入监测']);
    expect([after[m[1]!]!.status, after[m[1]!]!.verification]).toEqual(['已核实不属实', '不纳入']);
    const html = fs.readFileSync(path.join(t.dir, 'out-m', 'summary.html'), 'utf8');
    const section = html.slice(html.indexOf('<h2>监测预警（防止返贫监测）</h2>'), html.indexOf('<h2>', html.indexOf('<h2>监测预警（防止返贫监测）</h2>') + 5));
    expect(section).toMatch(new RegExp(`<td data-label="乡镇">${where}</td>.*<td data-label="已答复" class="n">2</td><td data-label="纳入监测" class="n">1</td><td data-label="不纳入" class="n">1</td><td data-label="已消除风险" class="n">0</td>`));
  });

  it('accepts a list written before 0.6, which has no 监测预警 sheet', async () => {
    const leads = csv(path.join(t.dir, 'out1', 'leads.csv'));
    const [where, classic] = [...leads.reduce((m, l) => (l.category !== '监测预警' && l.township !== '未知乡镇' ? m.set(l.township!, l.lead_key!) : m), new Map<string, string>())].sort()[0]!;
    const old = path.join(t.dir, 'before-0.6.xlsx');
    await answer(path.join(t.dir, 'out1', 'townships', `${where}.xlsx`), old, { [classic]: ['属实', '旧版清单'] });
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(old);
    wb.removeWorksheet(wb.getWorksheet('监测预警')!.id);
    await wb.xlsx.writeFile(old);
    const imported = runCli(['feedback', 'import', '--config', config, old]);
    expect(imported.stderr).toBe('');
    expect(imported.stdout).toMatch(/已导入\s+1/);
    // Without one of the classic sheets it is still no bidui list.
    wb.removeWorksheet(wb.getWorksheet('错评')!.id);
    await wb.xlsx.writeFile(old);
    const refused = runCli(['feedback', 'import', '--config', config, old]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/缺少工作表「错评」/);
  });

  it.skipIf(!hasLibreOffice)('takes back a township CSV opened and saved by a spreadsheet (LibreOffice headless)', () => {
    const leads = csv(path.join(t.dir, 'out1', 'leads.csv'));
    const other = [...new Set(leads.map((l) => l.township!))].filter((x) => x !== township && x !== '未知乡镇').sort()[1]!;
    const work = path.join(t.dir, 'lo');
    fs.mkdirSync(work, { recursive: true });
    fs.copyFileSync(path.join(t.dir, 'out1', 'townships', `${other}.csv`), path.join(work, 'list.csv'));
    // Opened with "detect special numbers" (户编号 become numbers), saved again as CSV.
    const r = spawnSync('soffice', ['--headless', `-env:UserInstallation=file://${path.join(work, 'profile')}`, '--infilter=CSV:44,34,76,1,,,,,,true',
      '--convert-to', 'csv:Text - txt - csv (StarCalc):44,34,76,1', '--outdir', path.join(work, 'saved'), path.join(work, 'list.csv')], { encoding: 'utf8', timeout: 180_000 });
    expect(r.status).toBe(0);
    const rows = readList(path.join(work, 'saved', 'list.csv'));
    const h = rows[0]!;
    expect(rows.length).toBeGreaterThan(1);
    rows[1]![h.indexOf('核实结果')] = '属实';
    const back = path.join(work, 'answered.csv');
    writeList(back, rows);
    const imported = runCli(['feedback', 'import', '--config', config, back]);
    expect(imported.stderr).toBe('');
    expect(imported.stdout).toMatch(/answered\.csv\s+已导入\s+1/);
  }, 300_000);
});
