import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ExcelJS from '../src/core/exceljs.js';
import { generateFixtures } from '../src/fixtures/generate.js';
import { readCsvFile as csv, runCli, testDir } from './helpers.js';

/**
 * 核实期限 and overdue answers: a lead's deadline is the day it was first issued plus
 * output.verificationDays (default 15), carried over while the lead continues from one delivered
 * nightly run to the next; the summary counts, per township, issued leads past their deadline
 * with no answer.
 */
describe('verification deadlines and overdue answers', () => {
  let t: { dir: string; cleanup: () => void };
  let config: string;
  const out = (n: number) => path.join(t.dir, `out${n}`);
  beforeAll(async () => {
    t = testDir('bidui-deadline-');
    const county = path.join(t.dir, 'county');
    await generateFixtures({ households: 500, seed: 31, asOf: '2020-06-30', messy: 0, out: county });
    config = path.join(county, 'bidui.config.json');
  });
  afterAll(() => t.cleanup());

  /** The 核实期限 of each lead of a report's township workbooks, by lead key. */
  async function deadlines(dir: string): Promise<Map<string, string>> {
    const m = new Map<string, string>();
    for (const f of fs.readdirSync(path.join(dir, 'townships')).filter((x) => x.endsWith('.xlsx'))) {
      const wb = new ExcelJS.Workbook();
      await wb.xlsx.readFile(path.join(dir, 'townships', f));
      for (const ws of wb.worksheets.filter((w) => w.name !== '说明')) {
        const header = (ws.getRow(1).values as string[]).slice(1);
        ws.eachRow((row, n) => {
          if (n > 1) m.set(String(row.getCell(header.indexOf('线索编号') + 1).value), String(row.getCell(header.indexOf('核实期限') + 1).value));
        });
      }
    }
    return m;
  }
  /** The summary's 逾期未答复 column, by township. */
  function overdue(dir: string): Map<string, number> {
    const html = fs.readFileSync(path.join(dir, 'summary.html'), 'utf8');
    const start = html.indexOf('<h2>核实进度</h2>');
    const section = html.slice(start, html.indexOf('<h2>', start + 4));
    const m = new Map<string, number>();
    for (const row of section.matchAll(/<tr><td data-label="乡镇">([^<]+)<\/td>(.*?)<\/tr>/g)) {
      const cell = /data-label="逾期未答复"[^>]*>(?:<strong[^>]*>)?([0-9,]+)/.exec(row[2]!);
      m.set(row[1]!, Number(cell![1]!.replace(/,/g, '')));
    }
    return m;
  }

  it('carries the first-issued day over continuing leads, and counts unanswered ones past the deadline per township', async () => {
    expect(runCli(['run', '--config', config, '--as-of', '2020-06-30', '--out', out(1), '--quiet']).code).toBe(0);
    const leads1 = csv(path.join(out(1), 'leads.csv'));
    expect(leads1.length).toBeGreaterThan(20);
    const first = await deadlines(out(1));
    expect(first.size).toBe(leads1.length);
    expect([...new Set(first.values())]).toEqual(['2020-07-15']);

    // The busiest township answers its first three leads (属实: they stay issued).
    const busiest = [...leads1.reduce((m, l) => m.set(l.township!, (m.get(l.township!) ?? 0) + 1), new Map<string, number>())].sort((a, b) => b[1] - a[1])[0]![0];
    const listFile = path.join(out(1), 'townships', `${busiest}.csv`);
    const rows = parse(fs.readFileSync(listFile), { bom: true }) as string[][];
    const col = rows[0]!.indexOf('核实结果');
    const answered = new Set<string>();
    for (const row of rows.slice(1, 4)) {
      row[col] = '属实';
      answered.add(row[rows[0]!.indexOf('线索编号')]!);
    }
    const filled = path.join(t.dir, 'answered.csv');
    fs.writeFileSync(filled, `\uFEFF${stringify(rows)}`);
    const imported = runCli(['feedback', 'import', '--config', config, filled]);
    expect(imported.code, imported.stderr).toBe(0);

    // On the deadline itself nothing is overdue; the day after, every unanswered continuing lead is.
    expect(runCli(['run', '--config', config, '--as-of', '2020-07-15', '--out', out(2), '--quiet']).code).toBe(0);
    expect([...overdue(out(2)).values()].every((n) => n === 0)).toBe(true);
    expect(runCli(['run', '--config', config, '--as-of', '2020-07-16', '--out', out(3), '--quiet']).code).toBe(0);
    const leads3 = csv(path.join(out(3), 'leads.csv'));
    const third = await deadlines(out(3));
    const keys1 = new Set(leads1.map((l) => l.lead_key));
    // A lead first issued by run 2 (windows move with the date: 监测预警's 90 days) keeps run 2's date.
    const keys2 = new Set(csv(path.join(out(2), 'leads.csv')).map((l) => l.lead_key));
    for (const l of leads3) expect([l.lead_key, third.get(l.lead_key!)]).toEqual([l.lead_key, keys1.has(l.lead_key) ? '2020-07-15' : keys2.has(l.lead_key) ? '2020-07-30' : '2020-07-31']);
    const expected = new Map<string, number>();
    for (const l of leads3) {
      if (!expected.has(l.township!)) expected.set(l.township!, 0);
      if (keys1.has(l.lead_key) && !answered.has(l.lead_key!)) expected.set(l.township!, expected.get(l.township!)! + 1);
    }
    expect(overdue(out(3))).toEqual(expected);
    expect(expected.get(busiest)).toBe(leads3.filter((l) => l.township === busiest && keys1.has(l.lead_key)).length - 3);
    // The deadline counts as a column the summary explains, and verify reproduces it.
    expect(runCli(['verify', '3', '--config', config]).code).toBe(0);
  });

  it('gives 监测预警 leads their own limit (output.monitoringVerificationDays), named in the summary', async () => {
    const own = path.join(t.dir, 'county', 'monitoring-28.config.json');
    const cfg = JSON.parse(fs.readFileSync(config, 'utf8'));
    fs.writeFileSync(own, JSON.stringify({ ...cfg, workspace: './workspace-m', output: { ...cfg.output, monitoringVerificationDays: 28 } }));
    expect(runCli(['run', '--config', own, '--as-of', '2020-06-30', '--out', out(9), '--quiet']).code).toBe(0);
    const leads = csv(path.join(out(9), 'leads.csv'));
    const byKey = await deadlines(out(9));
    expect(leads.some((l) => l.category === '监测预警')).toBe(true);
    for (const l of leads) expect([l.lead_key, byKey.get(l.lead_key!)]).toEqual([l.lead_key, l.category === '监测预警' ? '2020-07-28' : '2020-07-15']);
    const html = fs.readFileSync(path.join(out(9), 'summary.html'), 'utf8');
    expect(html).toContain('核实期限：线索首次下发后 15 天（监测预警线索 28 天）');
    expect(html).toMatch(/请在核实期限（首次下发后 28 天）内入户核实/);
  });
});
