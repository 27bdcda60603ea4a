import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ageOn, fromDays, toDays } from '../src/fixtures/dates.js';
import { oneEditAway } from '../src/fixtures/expected.js';
import { generateFixtures } from '../src/fixtures/generate.js';
import { PROVINCE_COUNTIES, buildWorld } from '../src/fixtures/world.js';
import { idProblem } from '../src/ingest/id-number.js';
import { ROOT, hashTree, readCsvFile, testDir } from './helpers.js';

const ALL_RULES = ['L1', 'L2', 'L3', 'L4', 'L5', 'L6', 'L7', 'C1', 'C2', 'C3', 'C4', 'T1', 'T2', 'T3', 'T4', 'Q1', 'Q2', 'Q3', 'Q4', 'Q5', 'Q6', 'M1', 'M2', 'M3', 'M4', 'M5', 'M6'];


const readCsv = readCsvFile;

describe('fixture generator', () => {
  let t: { dir: string; cleanup: () => void };
  beforeAll(() => {
    t = testDir('bidui-fixtures-');
  });
  afterAll(() => t.cleanup());

  it('is deterministic: same arguments, byte-identical files (XLSX and GBK included)', async () => {
    const a = path.join(t.dir, 'a');
    const b = path.join(t.dir, 'b');
    await generateFixtures({ households: 600, seed: 5, asOf: '2019-12-31', messy: 0.7, out: a });
    await generateFixtures({ households: 600, seed: 5, asOf: '2019-12-31', messy: 0.7, out: b });
    const ha = hashTree(a);
    expect(Object.keys(ha).some((f) => f.endsWith('.xlsx'))).toBe(true);
    expect(hashTree(b)).toEqual(ha);
    const c = path.join(t.dir, 'c');
    await generateFixtures({ households: 600, seed: 6, asOf: '2019-12-31', messy: 0.7, out: c });
    expect(hashTree(c)['expected.csv']).not.toBe(ha['expected.csv']);
  });

  describe('at 3,000 households, messy 0.5', () => {
    let expected: Record<string, string>[];
    let planted: Record<string, string>[];
    const out = () => path.join(t.dir, 'county');
    beforeAll(async () => {
      await generateFixtures({ households: 3000, seed: 1, asOf: '2020-06-30', messy: 0.5, out: out() });
      expected = readCsv(path.join(out(), 'expected.csv'));
      planted = readCsv(path.join(out(), 'planted.csv'));
    });
    const key = (r: Record<string, string>) => `${r.category}|${r.rule}|${r.household_key}`;

    it('writes all thirteen datasets and a config that names them', () => {
      const config = JSON.parse(fs.readFileSync(path.join(out(), 'bidui.config.json'), 'utf8'));
      expect(config.datasets.map((d: { dataset: string }) => d.dataset).sort()).toEqual([
        'commercial_housing', 'dibao', 'disability', 'dropout', 'housing_safety', 'hukou', 'illness', 'market_entity', 'medical_expense', 'monitoring', 'public_servant', 'roster', 'vehicle',
      ]);
      expect(config.rules.ruralIncomeReference).toBe(10756);
      for (const d of config.datasets) expect(fs.existsSync(path.join(out(), d.files[0]))).toBe(true);
      expect(config.rules.remoteVillages).toHaveLength(1);
    });

    it('has positives for every rule of the catalogue', () => {
      const rules = new Set(expected.map((r) => r.rule));
      expect(ALL_RULES.filter((r) => !rules.has(r))).toEqual([]);
      expect(expected.every((r) => ['漏评', '错评', '错退', '信息核对', '监测预警'].includes(r.category!))).toBe(true);
    });

    it('expects every planted positive', () => {
      const have = new Set(expected.map(key));
      const missing = planted.filter((p) => p.kind === 'positive' && !have.has(key(p)));
      expect(missing.map((p) => p.tag)).toEqual([]);
      expect(new Set(planted.filter((p) => p.kind === 'positive').map((p) => p.rule))).toEqual(new Set(ALL_RULES));
    });

    it('expects no planted trap', () => {
      const have = new Set(expected.map(key));
      const fired = planted.filter((p) => p.kind === 'trap' && have.has(key(p)));
      expect(fired.map((p) => `${p.tag} ${p.household_key}`)).toEqual([]);
      const tags = new Set(planted.filter((p) => p.kind === 'trap').map((p) => p.tag));
      for (const trap of ['trap 城市低保', 'trap 低保 ended before D', 'trap 低保 starting after D', 'trap renovated C/D house', 'trap B-grade house',
        'trap truck/tricycle/motorcycle', 'trap car after identification', 'trap car deregistered before identification', 'trap 农民专业合作社',
        'trap business after identification', 'trap business closed before identification', 'trap 大病 older than 730 days', 'trap 慢病',
        'trap dropout returned', 'trap dropout aged 16+', 'trap disability grade 3-4', 'trap house assessed after D', 'trap 大病 diagnosed after D',
        'trap non-roster member of a roster 户籍 household',
        // 监测预警: a cost one fen under the line, outside the window or after D; a 低保 start 91
        // days ago; a low-income 脱贫户 already monitored; a risk cleared after the condition ended …
        'trap M1 out-of-pocket one fen under the line', 'trap M1 costs older than the window', 'trap M1 costs settled after D',
        'trap M2 one fen under the line', 'trap M2 a monitored person (M1 instead)', 'trap M3 低保 started 91 days before D', 'trap M3 城市低保',
        'trap M3 脱贫户 already monitored', 'trap M4 new C/D house renovated by D', 'trap M4 disability certified 91+ days before D',
        'trap M4 new grade 3-4 disability', 'trap M5 risk cleared after the house was renovated', 'trap M5 大病 long before clearance',
        'trap M5 clearance dated after D (still monitored)', 'trap M6 income equal to the line', 'trap M6 low-income 脱贫户 already monitored']) {
        expect([trap, tags.has(trap)]).toEqual([trap, true]);
      }
    });

    it('keys households as DOMAIN.md says: roster ID, 户号, or the normalised ID of a person without 户籍', () => {
      for (const r of expected) {
        // 监测预警: a roster household, a person's 户籍 household (M2), or a new monitoring 户编号 (…9nnnnnnn).
        if (r.category === '监测预警') expect(r.household_key).toMatch(r.rule === 'M2' ? /^522625[12]\d{2}\d{6}$/ : /^522625\d{8}$/);
        else if (r.category !== '漏评') expect(r.household_key).toMatch(/^522625\d{8}$/);
        else expect(r.household_key).toMatch(/^(522625[12]\d{2}\d{6}|\d{17}[\dX])$/);
      }
      const singles = expected.filter((r) => r.category === '漏评' && r.household_key!.length === 18);
      expect(singles.length).toBeGreaterThan(0);
      for (const s of singles) expect(idProblem(s.household_key!, '2020-06-30')).toBeNull();
    });

    it('writes the messy forms of real exports', () => {
      const fixture = JSON.parse(fs.readFileSync(path.join(out(), 'fixture.json'), 'utf8'));
      expect(new Set(fixture.files.map((f: { format: string }) => f.format))).toEqual(new Set(['csv-utf8', 'csv-utf8-bom', 'csv-gbk', 'xlsx', 'xls', 'txt-utf16']));
      const utf16 = fs.readFileSync(path.join(out(), fixture.files.find((f: { format: string }) => f.format === 'txt-utf16').file));
      expect([...utf16.subarray(0, 2)]).toEqual([0xff, 0xfe]);
      expect(new TextDecoder('utf-16le').decode(utf16)).toMatch(/\t/);
      const all = fixture.files.map((f: { file: string }) => fs.readFileSync(path.join(out(), f.file), 'latin1')).join('');
      expect(all).toMatch(/="/); // the text-forcing idiom
      // Year-month dates, the national status wording and footers (GBK and UTF-8 files alike).
      const texts = fixture.files.filter((f: { format: string }) => f.format.startsWith('csv')).map((f: { file: string; format: string }) => {
        const b = fs.readFileSync(path.join(out(), f.file));
        return f.format === 'csv-gbk' ? new TextDecoder('gb18030').decode(b) : b.toString('utf8');
      }).join('\n');
      expect(texts).toMatch(/\d{4}年\d{1,2}月[,"\n]|\d{4}-\d{2}[,"\n]/);
      expect(texts).toMatch(/合计/);
      expect(texts).toMatch(/,{5,}/); // a row of bare delimiters
      const gbk = fixture.files.find((f: { format: string }) => f.format === 'csv-gbk');
      const bytes = fs.readFileSync(path.join(out(), gbk.file));
      expect(() => new TextDecoder('utf-8', { fatal: true }).decode(bytes)).toThrow();
      const text = new TextDecoder('gb18030').decode(bytes);
      expect(text).toMatch(/\d{4}年\d{1,2}月\d{1,2}日|\d{4}\/\d{1,2}\/\d{1,2}/);
      expect(text).toMatch(/[０-９]{6}/);
    });
  });

  it('the committed demo county is exactly what `npm run fixtures:demo` generates', async () => {
    const regenerated = path.join(t.dir, 'demo');
    await generateFixtures({ households: 3000, seed: 1, asOf: '2020-06-30', messy: 0.5, out: regenerated });
    const committed = hashTree(path.join(ROOT, 'fixtures', 'demo'));
    for (const k of Object.keys(committed)) if (k.startsWith('workspace') || k.startsWith('out')) delete committed[k];
    expect(committed).toEqual(hashTree(regenerated));
  });

  describe('a province (counties built apart)', () => {
    it('writes each county to its own folder and lists every file in one config', async () => {
      const out = path.join(t.dir, 'province');
      const summary = await generateFixtures({ households: 2000, seed: 4, asOf: '2020-06-30', messy: 0.5, out, countyHouseholds: 700 });
      const config = JSON.parse(fs.readFileSync(path.join(out, 'bidui.config.json'), 'utf8'));
      const info = JSON.parse(fs.readFileSync(path.join(out, 'fixture.json'), 'utf8'));
      expect(info.counties.map((c: { county: string }) => c.county)).toEqual(PROVINCE_COUNTIES.slice(0, 3).map((c) => c.county));
      expect(info.counties.map((c: { households: number }) => c.households)).toEqual([667, 667, 666]);
      for (const d of config.datasets) {
        expect(d.files.map((f: string) => f.split('/')[1])).toEqual(info.counties.map((c: { county: string }) => c.county));
        for (const f of d.files) expect(fs.existsSync(path.join(out, f))).toBe(true);
      }
      expect(config.rules.remoteVillages).toHaveLength(3);
      // Every county plants its own positives: all rules appear in each county's expected leads.
      const expected = readCsv(path.join(out, 'expected.csv'));
      expect(expected.length).toBe(summary.expected);
      for (const c of info.counties as { code: string }[]) {
        const mine = expected.filter((r) => r.household_key!.startsWith(c.code));
        expect(ALL_RULES.filter((rule) => !mine.some((r) => r.rule === rule))).toEqual([]);
      }
    });

    it('never gives two people one ID, across counties built apart', () => {
      const ids = new Set<string>();
      let n = 0;
      for (let k = 0; k < 3; k++) {
        const world = buildWorld({ households: 3000, seed: 4, asOf: '2020-06-30', messy: 0, county: PROVINCE_COUNTIES[k]!, countyIndex: k });
        for (const p of world.persons) ids.add(p.id);
        n += world.persons.length;
      }
      expect(ids.size).toBe(n);
    });

    it('built on worker threads (the compiled generator), byte-identical to one thread', async () => {
      const dist = (await import(pathToFileURL(path.join(ROOT, 'dist', 'fixtures', 'generate.js')).href)) as typeof import('../src/fixtures/generate.js');
      const a = path.join(t.dir, 'pa');
      const b = path.join(t.dir, 'pb');
      await dist.generateFixtures({ households: 1500, seed: 8, asOf: '2020-06-30', messy: 0.7, out: a, countyHouseholds: 500 });
      await generateFixtures({ households: 1500, seed: 8, asOf: '2020-06-30', messy: 0.7, out: b, countyHouseholds: 500 });
      expect(hashTree(a)).toEqual(hashTree(b));
    });
  });

  it('plants 错退 only when the as-of date allows an exit', async () => {
    const early = path.join(t.dir, 'early');
    await generateFixtures({ households: 1500, seed: 2, asOf: '2014-12-31', messy: 0, out: early });
    const rules = new Set(readCsv(path.join(early, 'expected.csv')).map((r) => r.rule));
    expect([...rules].filter((r) => r!.startsWith('T'))).toEqual([]);
    expect(rules.has('C1')).toBe(true);
  });

  it('rejects impossible arguments in Chinese', async () => {
    await expect(generateFixtures({ households: 5, seed: -1, asOf: '2020-13-01', messy: 2, out: path.join(t.dir, 'x') })).rejects.toThrow(/--households.*--seed.*--as-of.*--messy/);
  });
});

describe('oneEditAway', () => {
  it('accepts one substitution or one adjacent transposition, nothing else', () => {
    expect(oneEditAway('12345', '12845')).toBe(true);
    expect(oneEditAway('12345', '13245')).toBe(true);
    expect(oneEditAway('12345', '12345')).toBe(false);
    expect(oneEditAway('12345', '14325')).toBe(false);
    expect(oneEditAway('12345', '12354X')).toBe(false);
    expect(oneEditAway('12345', '22346')).toBe(false);
  });
});

describe('generator date arithmetic', () => {
  it('agrees with Date for every day from 1900 to 2100', () => {
    const start = Date.UTC(1900, 0, 1) / 86_400_000;
    const end = Date.UTC(2100, 11, 31) / 86_400_000;
    for (let day = start; day <= end; day++) {
      const iso = new Date(day * 86_400_000).toISOString().slice(0, 10);
      if (fromDays(day) !== iso || toDays(iso) !== day) throw new Error(`mismatch at ${iso}`);
    }
    expect(fromDays(toDays('2020-02-29') + 1)).toBe('2020-03-01');
  });

  it('computes whole years of age, birthdays included', () => {
    expect(ageOn('2004-06-30', '2020-06-30')).toBe(16);
    expect(ageOn('2004-07-01', '2020-06-30')).toBe(15);
    expect(ageOn('2000-02-29', '2019-02-28')).toBe(18);
  });
});
