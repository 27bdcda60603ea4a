import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import JSZip from 'jszip';
import { checkChar } from '../src/ingest/id-number.js';
import fc from 'fast-check';
import { csvSafe, csvSafeSql, csvUnsafe, rowCheck } from '../src/report/list-format.js';
import { maskTextSql } from '../src/report/report.js';
import { safeFileName, uniqueFileNames } from '../src/report/township.js';
import { sqlMap, testDir, withConnection } from './helpers.js';
import { newId, runRules } from './rule-harness.js';

/** What leaves the office is safe (issue 12): formulas never run, file names never escape. */

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = testDir('bidui-safe-')));
afterEach(() => cleanup());

/** Every CSV below dir, as rows of cells (BOM removed). */
function csvCells(root: string): { file: string; cell: string }[] {
  const out: { file: string; cell: string }[] = [];
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d)) {
      const p = path.join(d, name);
      if (fs.statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.csv')) {
        for (const row of parse(fs.readFileSync(p), { bom: true, relax_column_count: true }) as string[][]) for (const cell of row) out.push({ file: path.relative(root, p), cell });
      }
    }
  };
  walk(root);
  return out;
}

/** A roster household whose head's ID is invalid (a Q1 lead), in a township and with a name. */
const household = (i: number, township: string, name: string, village = '顺城社区') => ({
  household_id: `R${i}`, id_number: `${newId('1980-01-01').slice(0, 17)}Z`, name, relation: '户主', township, village, status: '未脱贫', identified_on: '2015-01-01',
});

describe('outputs that leave the office', () => {
  it('no CSV cell starts a formula in a spreadsheet; workbook cells stay strings', async () => {
    const hostile = ['=HYPERLINK("http://x","点")', '+SUM(1,2)', '-2+3', '@SUM(A1)', '\t=1', '\r=1'];
    const tables = { roster: hostile.map((name, i) => household(i, i % 2 ? '舞阳镇' : '=cmd|" /C calc"!A0', name, i % 3 ? '+村' : '顺城社区')), hukou: [] };
    const out = path.join(dir, 'out');
    await runRules(tables, '2020-06-30', {}, out);
    const cells = csvCells(out);
    expect(cells.length).toBeGreaterThan(50);
    expect(cells.filter((c) => /^[=+\-@\t\r]/.test(c.cell))).toEqual([]);
    // The names and villages are all there, each behind an apostrophe.
    const all = cells.map((c) => c.cell).join('\n');
    for (const name of hostile) expect(all).toContain(`'${name}`);
    // In the workbooks every such value is a shared or inline string, never a formula.
    for (const name of fs.readdirSync(path.join(out, 'townships')).filter((n) => n.endsWith('.xlsx'))) {
      const zip = await JSZip.loadAsync(fs.readFileSync(path.join(out, 'townships', name)));
      for (const part of Object.keys(zip.files).filter((p) => p.startsWith('xl/worksheets/'))) expect([name, part, /<f>/.test(await zip.file(part)!.async('string'))]).toEqual([name, part, false]);
    }
  });

  it('csvSafe and csvUnsafe undo each other on every value', () => {
    for (const v of ['=1', '+1', '-1', '@a', '\t1', '\r1', "'=1", "'a", 'a', '', "''=1"]) expect([v, csvUnsafe(csvSafe(v))]).toEqual([v, v]);
  });

  it('the SQL twin of csvSafe (the analyst CSVs) gives the same text for every value', async () => {
    const values = fc.sample(fc.string({ unit: fc.constantFrom("'", '=', '+', '-', '@', '\t', '\r', '\n', 'a', '1', ' ', '报', '＝') }), { numRuns: 400, seed: 12 });
    values.push('', '=1', "''+1", " =1", '＝1');
    await withConnection(async (conn) => expect(await sqlMap(conn, csvSafeSql('s'), values)).toEqual(values.map(csvSafe)));
  });

  it('file names from the data stay inside the output folder and never collide', async () => {
    expect(['..', '.', 'a/b', 'a\\b', '报京乡*', '报京乡?', 'CON', 'con.txt', 'NUL', 'x. ', ' .hidden', 'a:b', '<>|"'].map(safeFileName))
      .toEqual(['_', '_', 'a_b', 'a_b', '报京乡_', '报京乡_', 'CON_', 'con.txt_', 'NUL_', 'x', '_hidden', 'a_b', '____']);
    expect(Buffer.byteLength(safeFileName('乡'.repeat(200)))).toBeLessThanOrEqual(150);
    const names = uniqueFileNames(['报京乡*', '报京乡?', '报京乡_', 'Abc', 'abc']);
    expect([...names.entries()]).toEqual([['Abc', 'Abc'], ['abc', 'abc_2'], ['报京乡*', '报京乡_'], ['报京乡?', '报京乡__2'], ['报京乡_', '报京乡__3']]);
    // A run whose townships are named so: every lead in a file of its own, nothing outside out/.
    const towns = ['..', 'a/b', '报京乡*', '报京乡?', 'CON'];
    const out = path.join(dir, 'deep', 'out');
    const run = await runRules({ roster: towns.map((t, i) => household(i, t, `户${i}`)), hukou: [] }, '2020-06-30', {}, out);
    expect(fs.readdirSync(path.join(dir, 'deep')).sort()).toEqual(['out']);
    const files = fs.readdirSync(path.join(out, 'townships')).sort();
    expect(files).toHaveLength(2 * towns.length);
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')) as { outputs: { file: string }[] };
    const listed = manifest.outputs.map((o) => o.file).filter((f) => f.startsWith('townships/'));
    expect([listed.length, new Set(listed).size]).toEqual([2 * towns.length, 2 * towns.length]);
    // Each lead is in exactly one township CSV.
    const leadKeys = run.leads.map((l) => String(l.lead_key)).sort();
    const inLists = files.filter((f) => f.endsWith('.csv')).flatMap((f) => (parse(fs.readFileSync(path.join(out, 'townships', f)), { bom: true, columns: true }) as Record<string, string>[]).map((r) => r['线索编号']!)).sort();
    expect(inLists).toEqual(leadKeys);
  });
});

describe('masked IDs stay masked', () => {
  /** Every file's text below dir (workbooks unzipped). */
  async function allText(root: string): Promise<string> {
    const parts: string[] = [];
    const walk = async (d: string) => {
      for (const name of fs.readdirSync(d)) {
        const p = path.join(d, name);
        if (fs.statSync(p).isDirectory()) await walk(p);
        else if (name.endsWith('.xlsx')) {
          const zip = await JSZip.loadAsync(fs.readFileSync(p));
          for (const f of Object.values(zip.files)) if (!f.dir) parts.push(await f.async('string'));
        } else parts.push(fs.readFileSync(p, 'utf8'));
      }
    };
    await walk(root);
    return parts.join('\n');
  }

  /** Every ID a masked one (6 digits, 8 stars, 4 characters) can be: each birth date with a valid check digit. */
  function candidates(masked: string): string[] {
    const out: string[] = [];
    for (let t = Date.UTC(1900, 0, 1); t <= Date.UTC(2020, 11, 31); t += 86_400_000) {
      const body = `${masked.slice(0, 6)}${new Date(t).toISOString().slice(0, 10).replace(/-/g, '')}${masked.slice(14, 17)}`;
      const id = body + checkChar(body);
      if (id.endsWith(masked.slice(17))) out.push(id);
    }
    return out;
  }

  /** What an attacker tries: the unkeyed lead key of each candidate, and the candidate itself. */
  const found = (text: string, masked: string, categories: string[]) => candidates(masked).filter((id) =>
    text.includes(id) || categories.some((c) => text.includes(crypto.createHash('sha256').update(`${c}|${id}`).digest('hex').slice(0, 16))));

  it('no masked output holds anything from which a masked ID is recomputed by trying every birth date', async () => {
    // People without 户籍: their household key is their ID (L1: 低保 but not on the roster).
    const people = [newId('1958-03-14'), newId('1990-11-02')];
    const tables = { roster: [household(1, '舞阳镇', '甲')], hukou: [], dibao: people.map((id, i) => ({ id_number: id, name: `低保${i}`, assistance_type: '农村低保', township: '舞阳镇', village: '顺城社区', started_on: '2019-01-01', ended_on: null })) };
    const out = path.join(dir, 'masked');
    const run = await runRules(tables, '2020-06-30', {}, out, true);
    expect(run.leads.filter((l) => people.includes(String(l.household_key)))).toHaveLength(2);
    const text = await allText(out);
    const masked = people.map((id) => `${id.slice(0, 6)}********${id.slice(-4)}`);
    for (const [i, m] of masked.entries()) {
      expect(text).toContain(m);
      expect(text).not.toContain(people[i]!);
      // The attack finds nothing in the outputs...
      expect(found(text, m, ['漏评', '错评', '错退', '信息核对'])).toEqual([]);
      // ...and would have found the ID from an unkeyed lead key (the test can fail).
      const unkeyed = `L-${crypto.createHash('sha256').update(`漏评|${people[i]}`).digest('hex').slice(0, 16)}`;
      expect(found(`${text}\n${unkeyed}`, m, ['漏评'])).toEqual([people[i]]);
    }
  });
});

describe('key columns a spreadsheet turned into numbers', () => {
  it('are the lead key to the digits that survive, and nothing else', async () => {
    const { numberDamageOf } = await import('../src/audit/feedback.js');
    expect(numberDamageOf('5.22625E+14', '522625204000130')).toBe(true);
    expect(numberDamageOf('5.22625E+17', '522625198001011234')).toBe(true);
    expect(numberDamageOf('522625198001011000', '522625198001011234')).toBe(true);
    expect(numberDamageOf('123', '0123')).toBe(true);
    expect(numberDamageOf('5.22626E+14', '522625204000130')).toBe(false);
    expect(numberDamageOf('5.22625E+15', '522625204000130')).toBe(false);
    expect(numberDamageOf('522625198001012000', '522625198001011234')).toBe(false);
    expect(numberDamageOf('5.22625E+14', 'H522625204000130')).toBe(false);
    expect(numberDamageOf('5.22625E+14', '522625****0130')).toBe(false);
  });
});

describe('derived values that leave the office', () => {
  it('list checksums start with a letter, so no spreadsheet takes one for a number', () => {
    const secret = crypto.randomBytes(32);
    for (let i = 0; i < 2000; i++) expect(rowCheck(secret, '舞阳镇', '漏评', { lead_key: `L-${i}` })).toMatch(/^K[0-9a-f]{16}$/);
  });

  it('--mask-ids masks every ID-like number inside details, household numbers of 11 to 18 digits too', async () => {
    const masked = await withConnection((conn) => sqlMap(conn, maskTextSql('s', true), [
      '同时在 2 户中：52262500000063、52262500000064',
      '证件号码 52262519470415115X，户号 522625100000001',
      '户号 12345678901；电话 1234567890；金额 5200',
    ]));
    expect(masked).toEqual([
      '同时在 2 户中：522625****0063、522625****0064',
      '证件号码 522625********115X，户号 522625*****0001',
      '户号 123456*8901；电话 1234567890；金额 5200',
    ]);
  });
});
