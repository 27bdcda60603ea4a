import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.js';
import { createProgress } from '../src/core/progress.js';
import { queryStep } from '../src/core/sql.js';
import { openStore } from '../src/core/store.js';
import { ensureWorkspace } from '../src/core/workspace.js';
import { generateFixtures } from '../src/fixtures/generate.js';
import { ingest } from '../src/ingest/ingest.js';
import { match } from '../src/match/match.js';
import { testDir } from './helpers.js';

/**
 * The central correctness check: on generated counties, at several seeds and as-of dates, the
 * leads equal the generator's expected.csv exactly — precision and recall 1.0 for every rule.
 * expected.csv comes from the generator's own model (src/fixtures/expected.ts), not from bidui.
 */
const CASES = [
  { seed: 11, households: 1500, asOf: '2020-06-30', messy: 0.5, note: 'the demo date, messy exports' },
  { seed: 12, households: 1500, asOf: '2014-09-30', messy: 0, note: 'before most identifications' },
  { seed: 13, households: 1500, asOf: '2021-12-31', messy: 1, note: 'after all exits, messiest exports' },
  { seed: 14, households: 1200, asOf: '2017-03-15', messy: 0.3, note: 'mid-way' },
  // A province: three counties written apart (their own exports, one config listing them all).
  { seed: 15, households: 2400, asOf: '2020-06-30', messy: 0.5, note: 'a province of three counties', countyHouseholds: 800 },
];

describe('leads equal the generator expected.csv', () => {
  let t: { dir: string; cleanup: () => void };
  beforeAll(() => {
    t = testDir('bidui-match-');
  });
  afterAll(() => t.cleanup());

  for (const c of CASES) {
    it(`seed ${c.seed}, as of ${c.asOf} (${c.note})`, async () => {
      const out = path.join(t.dir, `s${c.seed}`);
      await generateFixtures({ households: c.households, seed: c.seed, asOf: c.asOf, messy: c.messy, out, ...(c.countyHouseholds ? { countyHouseholds: c.countyHouseholds } : {}) });
      const config = loadConfig(path.join(out, 'bidui.config.json'));
      const store = await openStore(ensureWorkspace(config.workspace), config.engine);
      const quiet = createProgress(process.stderr, true);
      let got: string[];
      try {
        await ingest(store, config, { progress: quiet });
        const run = await match(store, config, { intent: 'nightly', asOf: c.asOf, progress: quiet });
        expect(run.status).toBe('complete');
        const rows = await queryStep<{ k: string }>(store.conn, 'leads', "SELECT DISTINCT category || '|' || rule || '|' || household_key AS k FROM evidence WHERE run_id = $r", { r: run.runId });
        got = rows.map((r) => r.k).sort();
      } finally {
        store.close();
      }
      const expected = (parse(fs.readFileSync(path.join(out, 'expected.csv')), { columns: true }) as Record<string, string>[])
        .map((r) => `${r.category}|${r.rule}|${r.household_key}`)
        .sort();
      const have = new Set(got);
      const want = new Set(expected);
      const rules = [...new Set([...got, ...expected].map((k) => k.split('|')[1]!))].sort();
      const perRule = rules.map((rule) => {
        const g = got.filter((k) => k.split('|')[1] === rule);
        const e = expected.filter((k) => k.split('|')[1] === rule);
        const tp = g.filter((k) => want.has(k)).length;
        return { rule, precision: g.length ? tp / g.length : 1, recall: e.length ? tp / e.length : 1, missing: e.filter((k) => !have.has(k)).slice(0, 3), extra: g.filter((k) => !want.has(k)).slice(0, 3) };
      });
      expect(perRule.filter((r) => r.precision !== 1 || r.recall !== 1)).toEqual([]);
      expect(got).toEqual(expected);
      expect(expected.length).toBeGreaterThan(100);
    });
  }
});
