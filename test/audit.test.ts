import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.js';
import { queryStep, runStep } from '../src/core/sql.js';
import { openStore } from '../src/core/store.js';
import { ensureWorkspace } from '../src/core/workspace.js';
import { generateFixtures } from '../src/fixtures/generate.js';
import { hashTree, readCsvFile, runCli, testDir } from './helpers.js';

const leadKeys = (file: string) => readCsvFile(file).map((r) => r.lead_key).sort();

describe('audit trail', () => {
  let t: { dir: string; cleanup: () => void };
  let county: string;
  let config: string;
  let between: string;
  beforeAll(async () => {
    t = testDir('bidui-audit-');
    county = path.join(t.dir, 'county');
    await generateFixtures({ households: 700, seed: 31, asOf: '2020-06-30', messy: 0, out: county });
    config = path.join(county, 'bidui.config.json');
    expect(runCli(['run', '--config', config, '--as-of', '2020-06-30', '--out', path.join(t.dir, 'out1'), '--quiet']).code).toBe(0);
    expect(runCli(['report', '--config', config, '--run', '1', '--out', path.join(t.dir, 'out1-masked'), '--mask-ids', '--quiet']).code).toBe(0);
    await new Promise((r) => setTimeout(r, 1100));
    // --data-as-of is a time in the office's time zone (Asia/Shanghai, UTC+8, by default).
    between = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 19);
    await new Promise((r) => setTimeout(r, 1100));
    // New data (a third of the 低保 records gone) and an edited rule parameter and config.
    const dibao = path.join(county, 'exports', '低保特困对象.csv');
    const lines = fs.readFileSync(dibao, 'utf8').trimEnd().split('\n');
    fs.writeFileSync(dibao, `${lines.filter((_, i) => i === 0 || i % 3 !== 0).join('\n')}\n`);
    const c = JSON.parse(fs.readFileSync(config, 'utf8'));
    c.rules = { ...c.rules, illnessWindowDays: 365, remoteVillages: [] };
    fs.writeFileSync(config, JSON.stringify(c, null, 2));
    expect(runCli(['run', '--config', config, '--as-of', '2020-06-30', '--out', path.join(t.dir, 'out2'), '--quiet']).code).toBe(0);
  });
  afterAll(() => t.cleanup());

  it('the second run differs from the first (new data, edited rules)', () => {
    expect(leadKeys(path.join(t.dir, 'out2', 'leads.csv'))).not.toEqual(leadKeys(path.join(t.dir, 'out1', 'leads.csv')));
    const list = runCli(['runs', '--config', config]);
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n').filter((l) => /^\s*\d+\s+2020-06-30/.test(l))).toHaveLength(2);
  });

  it('rerun reproduces the first run byte for byte, plain and masked', () => {
    const re = path.join(t.dir, 're1');
    const r = runCli(['rerun', '1', '--config', config, '--out', re, '--quiet']);
    expect(r.code).toBe(0);
    expect(hashTree(re)).toEqual(hashTree(path.join(t.dir, 'out1')));
    const reMasked = path.join(t.dir, 're1-masked');
    expect(runCli(['rerun', '1', '--config', config, '--out', reMasked, '--mask-ids', '--quiet']).code).toBe(0);
    expect(hashTree(reMasked)).toEqual(hashTree(path.join(t.dir, 'out1-masked')));
  });

  it('verify passes for every run of the workspace', () => {
    for (const run of ['1', '2']) {
      const r = runCli(['verify', run, '--config', config, '--quiet']);
      expect([run, r.code]).toEqual([run, 0]);
      expect(r.stdout).toMatch(/核对通过/);
    }
  });

  it('answers "what would we have found with the data we had then" (--data-as-of)', () => {
    const r = runCli(['match', '--config', config, '--as-of', '2020-06-30', '--data-as-of', between, '--quiet']);
    expect(r.code).toBe(0);
    expect(runCli(['report', '--config', config, '--run', '3', '--out', path.join(t.dir, 'out3'), '--quiet']).code).toBe(0);
    const m1 = JSON.parse(fs.readFileSync(path.join(t.dir, 'out1', 'manifest.json'), 'utf8'));
    const m3 = JSON.parse(fs.readFileSync(path.join(t.dir, 'out3', 'manifest.json'), 'utf8'));
    expect(m3.snapshots).toEqual(m1.snapshots);
    expect(m3.data_as_of).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/);
    // Same data, but today's rule parameters: L3 uses 365 days and L7 is not evaluated now.
    expect(m3.rules.find((x: { id: string }) => x.id === 'L7').outcome).toBe('NotExecuted');
    expect(m1.rules.find((x: { id: string }) => x.id === 'L7').outcome).toBe('Success');
  });

  it('verify fails, exit 4, when a recorded result has been altered', async () => {
    const cfg = loadConfig(config);
    const store = await openStore(ensureWorkspace(cfg.workspace), cfg.engine);
    try {
      await runStep(store.conn, 'tamper', "UPDATE evidence SET detail = detail || '（改）' WHERE run_id = 1 AND rule = 'L1'");
    } finally {
      store.close();
    }
    const r = runCli(['verify', '1', '--config', config, '--quiet']);
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/证据（evidence）\s+不一致/);
    expect(r.stderr).toMatch(/E_VERIFY_MISMATCH/);
  });
});

describe('retention (gc)', () => {
  it('removes old runs and snapshots, never one a kept run uses; kept runs still verify', async () => {
    const t = testDir('bidui-gc-');
    try {
      const county = path.join(t.dir, 'county');
      await generateFixtures({ households: 400, seed: 41, asOf: '2020-06-30', messy: 0, out: county });
      const config = path.join(county, 'bidui.config.json');
      const dibao = path.join(county, 'exports', '低保特困对象.csv');
      const original = fs.readFileSync(dibao, 'utf8').trimEnd().split('\n');
      for (let night = 1; night <= 3; night++) {
        if (night > 1) fs.writeFileSync(dibao, `${original.filter((_, i) => i === 0 || i % (night + 1) !== 0).join('\n')}\n`);
        expect(runCli(['run', '--config', config, '--as-of', '2020-06-30', '--out', path.join(t.dir, `out${night}`), '--quiet']).code).toBe(0);
      }
      const cfg = loadConfig(config);
      const age = async (sql: string) => {
        const store = await openStore(ensureWorkspace(cfg.workspace), cfg.engine);
        try {
          await runStep(store.conn, 'age', sql);
        } finally {
          store.close();
        }
      };
      await age("UPDATE run SET finished_at = finished_at - INTERVAL 400 DAY WHERE run_id IN (1, 2); UPDATE snapshot SET created_at = created_at - INTERVAL 400 DAY");
      // Ageing rewrote the load times the summary shows (数据新鲜度): run 3 is reported again, as
      // it would have been with those times.
      expect(runCli(['report', '--config', config, '--run', '3', '--out', path.join(t.dir, 'out3'), '--quiet']).code).toBe(0);
      const r = runCli(['gc', '--config', config, '--keep-days', '30']);
      expect(r.code).toBe(0);
      // Run 1 goes; run 2 stays (run 3's 新增/持续 are relative to it); run 3 stays.
      expect(r.stdout).toMatch(/运行 1 次，数据快照 1 个/);
      const runs = runCli(['runs', '--config', config]).stdout.split('\n').filter((l) => /^\s*\d+\s+2020/.test(l)).map((l) => Number(l.trim().split(/\s+/)[0]));
      expect(runs).toEqual([2, 3]);
      // The removed snapshot's rows were a table of their own (ingest/rows.ts): dropped with it;
      // the two 低保 loads left are each named by their snapshot.
      const store = await openStore(ensureWorkspace(cfg.workspace), cfg.engine);
      try {
        const tables = await queryStep<{ table_name: string; named: boolean }>(store.conn, 'row tables',
          `SELECT table_name, table_name IN (SELECT rows_table FROM snapshot_file WHERE rows_table IS NOT NULL) AS named
           FROM duckdb_tables() WHERE starts_with(table_name, 'rows_dibao_') ORDER BY table_name`);
        expect(tables.map((r) => r.named)).toEqual([true, true]);
      } finally {
        store.close();
      }
      const v3 = runCli(['verify', '3', '--config', config, '--quiet']);
      expect(v3.code).toBe(0);
      expect(v3.stdout).toMatch(/leads\.csv\s+一致/);
      const v2 = runCli(['verify', '2', '--config', config, '--quiet']);
      expect(v2.code).toBe(0);
      expect(v2.stdout).toMatch(/没有可核对的输出文件/);
      expect(runCli(['rerun', '1', '--config', config, '--out', path.join(t.dir, 're1')]).stderr).toMatch(/没有编号为 1 的运行/);
      const snaps = runCli(['snapshots', '--config', config, '--dataset', 'dibao']).stdout.split('\n').filter((l) => /^\s*\d+\s+dibao/.test(l));
      expect(snaps).toHaveLength(2);
    } finally {
      t.cleanup();
    }
  });
});
