import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type ExcelJSNamespace from 'exceljs';
import ExcelJS from '../src/core/exceljs.js';
import { generateFixtures } from '../src/fixtures/generate.js';
import { readCsvFile as csv, runCli, testDir } from './helpers.js';


/** Fill 核实结果/核实说明 of the given leads in a township workbook, as a township would. */
async function answer(src: string, dst: string, answers: Record<string, [string, string]>, edit?: (header: string[], row: ExcelJSNamespace.Row) => void): Promise<void> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(src);
  for (const ws of wb.worksheets.slice(0, 4)) {
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
    township = leads[0]!.township!;
    keys = leads.filter((l) => l.township === township).map((l) => l.lead_key!).slice(0, 3);
    expect(keys).toHaveLength(3);
  });
  afterAll(() => t.cleanup());

  it('refuses bad files row by row and imports nothing', async () => {
    const src = path.join(t.dir, 'out1', 'townships', `${township}.xlsx`);
    const bad = path.join(t.dir, 'bad.xlsx');
    await answer(src, bad, { [keys[0]!]: ['是的', ''], [keys[1]!]: ['属实', '已核实'] }, (header, row) => {
      if (String(row.getCell(header.indexOf('线索编号') + 1).value) === keys[1]) row.getCell(header.indexOf('户编号/户号') + 1).value = '999';
    });
    const csvBad = path.join(t.dir, 'bad.csv');
    fs.writeFileSync(csvBad, '\uFEFF类别,线索编号,户编号/户号,涉及规则,村,核实结果,核实说明\n漏评,L-0000000000000000,1,L1 x,村,属实,\n');
    const r = runCli(['feedback', 'import', '--config', config, bad, csvBad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/没有导入任何内容/);
    expect(r.stderr).toMatch(/核实结果「是的」无效/);
    expect(r.stderr).toMatch(/「户编号\/户号」与线索/);
    expect(r.stderr).toMatch(/bad\.csv 「漏评」第 2 行：线索编号「L-0000000000000000」不是本工作区/);
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
    expect(runCli(['run', '--config', config, '--as-of', '2020-06-30', '--out', path.join(t.dir, 'out2'), '--quiet']).code).toBe(0);
    const leads = Object.fromEntries(csv(path.join(t.dir, 'out2', 'leads.csv')).map((l) => [l.lead_key, l]));
    expect([leads[keys[0]!]!.status, leads[keys[0]!]!.verification]).toEqual(['持续', '属实']);
    expect([leads[keys[1]!]!.status, leads[keys[1]!]!.verification]).toEqual(['已核实不属实', '不属实']);
    expect(leads[keys[2]!]!.verification).toBe('已整改');
    const list = csv(path.join(t.dir, 'out2', 'townships', `${township}.csv`));
    expect(list.some((row) => row['线索编号'] === keys[1])).toBe(false);
    expect(list.find((row) => row['线索编号'] === keys[0])!['上次核实']).toBe('属实：入户核实属实');
    const html = fs.readFileSync(path.join(t.dir, 'out2', 'summary.html'), 'utf8');
    expect(html).toContain('核实进度');
    expect(html).toMatch(new RegExp(`<td>${township}</td><td class="n">\\d+</td><td class="n">3</td><td class="n">1</td><td class="n">1</td><td class="n">1</td>`));
    // The first run's report is unchanged by feedback imported after it: still verifiable.
    expect(runCli(['verify', '1', '--config', config, '--quiet']).code).toBe(0);
    expect(runCli(['verify', '2', '--config', config, '--quiet']).code).toBe(0);
  });
});
