import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFixtures } from '../src/fixtures/generate.js';
import { fakeBidui, readCsvFile, ROOT, runCli, sqlOnWorkspace, testDir, withConnection } from './helpers.js';

/**
 * Nightly operations an office can trust (issue 11): purposes and baselines, outputs written
 * whole, kills at every step of the report, dates, workspace and output folder safety, gc.
 */

interface Manifest {
  run_id: number;
  outputs: { file: string; sha256: string }[];
  counts: { previous_run_id: number | null; new: number; continuing: number; resolved: number };
}

const require = createRequire(import.meta.url);
const sha = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const manifestOf = (out: string) => JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Manifest;
const keys = (file: string) => new Set(readCsvFile(file).map((r) => r.lead_key));

/** The files of an output folder, relative (the marker aside). */
function filesOf(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, prefix: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const rel = prefix ? `${prefix}/${name}` : name;
      if (fs.statSync(path.join(d, name)).isDirectory()) walk(path.join(d, name), rel);
      else if (rel !== '.bidui-output') out.push(rel);
    }
  };
  walk(dir, '');
  return out;
}

/** The folder is one complete report: exactly the files its manifest lists, each with its hash. */
function expectComplete(out: string): Manifest {
  const manifest = manifestOf(out);
  expect(filesOf(out)).toEqual([...manifest.outputs.map((o) => o.file), 'manifest.json'].sort());
  for (const o of manifest.outputs) expect([o.file, sha(path.join(out, o.file))]).toEqual([o.file, o.sha256]);
  return manifest;
}

/** Leftovers of a report beside its folder (staging or the previous outputs mid-swap). */
const leftovers = (out: string) => fs.readdirSync(path.dirname(out)).filter((n) => n.startsWith(`.${path.basename(out)}.bidui-`));

async function county(dir: string, seed: number): Promise<{ config: string; dibao: string; original: string }> {
  await generateFixtures({ households: 400, seed, asOf: '2020-06-30', messy: 0, out: dir });
  const dibao = path.join(dir, 'exports', '低保特困对象.csv');
  return { config: path.join(dir, 'bidui.config.json'), dibao, original: fs.readFileSync(dibao, 'utf8') };
}

/** A third of the 低保 records gone: some leads resolve. */
function dropDibao(c: { dibao: string; original: string }): void {
  const lines = c.original.trimEnd().split('\n');
  fs.writeFileSync(c.dibao, `${lines.filter((_, i) => i === 0 || i % 3 !== 0).join('\n')}\n`);
}

const run = (config: string, out: string, extra: string[] = [], env: Record<string, string> = {}) =>
  runCli(['run', '--config', config, '--as-of', '2020-06-30', '--out', out, '--quiet', ...extra], { env });

let t: { dir: string; cleanup: () => void };
beforeAll(() => {
  t = testDir('bidui-nightly-');
});
afterAll(() => t.cleanup());

describe('purposes and baselines', () => {
  it('a what-if run between two nightly runs leaves 新增/持续/已消失 unchanged', async () => {
    const c = await county(path.join(t.dir, 'whatif'), 51);
    const out = path.join(t.dir, 'whatif', 'out');
    expect(run(c.config, out).code).toBe(0);
    const first = keys(path.join(out, 'leads.csv'));
    // What if: an earlier as-of date (match alone), reported elsewhere; and --data-as-of.
    const whatIf = runCli(['match', '--config', c.config, '--as-of', '2016-01-01', '--quiet']);
    expect(whatIf.code).toBe(0);
    expect(whatIf.stdout).toMatch(/运行 2，比对日期 2016-01-01，分析运行/);
    expect(runCli(['report', '--config', c.config, '--run', '2', '--out', path.join(t.dir, 'whatif', 'out-2016'), '--quiet']).code).toBe(0);
    // bidui run with an as-of date before the last delivered nightly run is an analysis too.
    const back = run(c.config, path.join(t.dir, 'whatif', 'out-back'), ['--as-of', '2019-01-01']);
    expect(back.code).toBe(0);
    expect(back.stdout).toMatch(/分析运行（比对日期早于上次交付的每晚运行的比对日期（2020-06-30））/);
    // The next nightly run compares with run 1: the same data, so every lead continues.
    const night = run(c.config, out);
    expect(night.code).toBe(0);
    expect(night.stdout).toMatch(/运行 4，比对日期 2020-06-30，每晚运行；比较基准：运行 1/);
    const m = expectComplete(out);
    expect(m.counts).toMatchObject({ previous_run_id: 1, new: 0, resolved: 0, continuing: first.size });
    expect(readCsvFile(path.join(out, 'leads.csv')).every((l) => l.status === '持续')).toBe(true);
    // Lead keys are stable within the workspace: the townships see the same 线索编号 every night.
    expect(keys(path.join(out, 'leads.csv'))).toEqual(first);
    const runs = runCli(['runs', '--config', c.config]).stdout;
    expect(runs).toMatch(/^\s*2\s+2016-01-01\s+分析\s+.*已交付/m);
    expect(runs).toMatch(/^\s*4\s+2020-06-30\s+每晚\s+.*已交付 .*\(UTC\+8\)\s+运行 1\s/m);
  });

  it('a run killed while its lists are written is not delivered: the next delivered run reports what it found resolved', async () => {
    const c = await county(path.join(t.dir, 'killed'), 52);
    const out = path.join(t.dir, 'killed', 'out');
    expect(run(c.config, out).code).toBe(0);
    const first = expectComplete(out);
    const firstLeads = keys(path.join(out, 'leads.csv'));
    dropDibao(c);
    const killed = run(c.config, out, [], { BIDUI_FAILPOINT: 'report:townships' });
    expect(killed.code).toBe(-1);
    // The previous complete outputs, untouched; the unfinished ones beside them.
    expect(expectComplete(out)).toEqual(first);
    expect(leftovers(out)).toHaveLength(1);
    expect(runCli(['runs', '--config', c.config]).stdout).toMatch(/^\s*2\s+2020-06-30\s+每晚\s+\S+ \S+ \(UTC\+8\)\s+完整\s+未交付/m);
    // The next night (the same data): compared with run 1, so what run 2 found resolved is reported.
    expect(run(c.config, out).code).toBe(0);
    const third = expectComplete(out);
    const thirdLeads = keys(path.join(out, 'leads.csv'));
    const gone = [...firstLeads].filter((k) => !thirdLeads.has(k)).sort();
    expect(gone.length).toBeGreaterThan(0);
    expect(third.counts.previous_run_id).toBe(1);
    expect([...keys(path.join(out, 'resolved.csv'))].sort()).toEqual(gone);
    expect(leftovers(out)).toEqual([]);
  });

  it('a kill in the middle of moving the new outputs into place: the previous ones are put back at the next start', async () => {
    const c = await county(path.join(t.dir, 'swap'), 53);
    const out = path.join(t.dir, 'swap', 'out');
    const cfg = JSON.parse(fs.readFileSync(c.config, 'utf8'));
    fs.writeFileSync(c.config, JSON.stringify({ ...cfg, output: { dir: './out' } }));
    expect(runCli(['run', '--config', c.config, '--as-of', '2020-06-30', '--quiet']).code).toBe(0);
    const first = expectComplete(out);
    dropDibao(c);
    expect(runCli(['run', '--config', c.config, '--as-of', '2020-06-30', '--quiet'], { env: { BIDUI_FAILPOINT: 'output:mid-swap' } }).code).toBe(-1);
    expect(fs.existsSync(out)).toBe(false);
    expect(leftovers(out).map((n) => n.replace(/[0-9]+$/, ''))).toEqual(['.out.bidui-new-', '.out.bidui-old-']);
    // Any command that takes the workspace lock puts the previous outputs back.
    expect(runCli(['ingest', '--config', c.config, '--quiet']).code).toBe(0);
    expect(expectComplete(out)).toEqual(first);
    expect(leftovers(out)).toEqual([]);
    // Killed after the swap, before the delivery was recorded: the new outputs are complete.
    expect(runCli(['run', '--config', c.config, '--as-of', '2020-06-30', '--quiet'], { env: { BIDUI_FAILPOINT: 'report:after-swap' } }).code).toBe(-1);
    expect(expectComplete(out).run_id).toBe(3);
  });
});

describe('output and workspace folders', () => {
  it('refuses an output path that is a file, a folder with other content, or the home folder; leaves them as they were', async () => {
    const c = await county(path.join(t.dir, 'safety'), 54);
    const file = path.join(t.dir, 'safety', 'notes.txt');
    fs.writeFileSync(file, 'x');
    const mine = path.join(t.dir, 'safety', 'mine');
    fs.mkdirSync(mine);
    fs.writeFileSync(path.join(mine, '工作计划.docx'), 'x');
    for (const [target, message] of [[file, /输出目录指向的是一个文件/], [mine, /输出目录中已有其他文件（工作计划\.docx）/], [os.homedir(), /不能是根目录或用户主目录/]] as const) {
      const r = run(c.config, target);
      expect([target, r.code, r.stderr]).toEqual([target, 2, expect.stringMatching(message)]);
    }
    expect(fs.readFileSync(file, 'utf8')).toBe('x');
    expect(fs.readdirSync(mine)).toEqual(['工作计划.docx']);
    // Nothing was ingested or matched either: the output folder is checked first.
    expect(runCli(['runs', '--config', c.config]).stdout).toMatch(/还没有运行/);
  });

  it('refuses a workspace in a folder with other content, and makes an existing workspace owner-only', async () => {
    const c = await county(path.join(t.dir, 'ws'), 55);
    const cfg = JSON.parse(fs.readFileSync(c.config, 'utf8'));
    fs.mkdirSync(path.join(t.dir, 'ws', 'docs'));
    fs.writeFileSync(path.join(t.dir, 'ws', 'docs', 'a.txt'), 'x');
    fs.writeFileSync(c.config, JSON.stringify({ ...cfg, workspace: './docs' }));
    const r = runCli(['ingest', '--config', c.config, '--quiet']);
    expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/E_WORKSPACE.*不是 bidui 的工作区/s)]);
    fs.writeFileSync(c.config, JSON.stringify(cfg));
    expect(runCli(['ingest', '--config', c.config, '--quiet']).code).toBe(0);
    const ws = path.join(t.dir, 'ws', 'workspace');
    fs.chmodSync(ws, 0o755);
    fs.chmodSync(path.join(ws, 'bidui.duckdb'), 0o644);
    expect(runCli(['snapshots', '--config', c.config]).code).toBe(0);
    expect([fs.statSync(ws).mode & 0o777, fs.statSync(path.join(ws, 'bidui.duckdb')).mode & 0o777]).toEqual([0o700, 0o600]);
  });

  it('demo --out refuses a folder that holds anything but an earlier demo', () => {
    const real = path.join(t.dir, 'county-office');
    fs.mkdirSync(path.join(real, 'workspace'), { recursive: true });
    fs.writeFileSync(path.join(real, 'bidui.config.json'), '{"workspace":"./workspace","datasets":[{"dataset":"roster","files":["名册.xlsx"]}]}');
    fs.writeFileSync(path.join(real, 'workspace', 'bidui.duckdb'), 'the office store');
    const r = runCli(['demo', '--out', real]);
    expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/E_DEMO_OUT/)]);
    expect(fs.readFileSync(path.join(real, 'workspace', 'bidui.duckdb'), 'utf8')).toBe('the office store');
    expect(fs.readFileSync(path.join(real, 'bidui.config.json'), 'utf8')).toMatch(/名册\.xlsx/);
  });
});

describe('dates', () => {
  it('refuses an as-of date in the future unless asked, and warns of one before the roster\'s first 识别时间', async () => {
    const c = await county(path.join(t.dir, 'dates'), 56);
    const future = runCli(['match', '--config', c.config, '--as-of', '2099-01-01', '--quiet']);
    expect([future.code, future.stderr]).toEqual([2, expect.stringMatching(/E_FUTURE_DATE.*比对日期 2099-01-01 在今天（\d{4}-\d{2}-\d{2}，时区 Asia\/Shanghai）之后.*--allow-future/s)]);
    expect(runCli(['ingest', '--config', c.config, '--quiet']).code).toBe(0);
    const allowed = runCli(['match', '--config', c.config, '--as-of', '2099-01-01', '--allow-future', '--quiet']);
    expect(allowed.code).toBe(0);
    const early = runCli(['match', '--config', c.config, '--as-of', '2010-01-01', '--quiet']);
    expect(early.code).toBe(0);
    expect(early.stdout).toMatch(/注意：比对日期 2010-01-01 早于名册中最早的识别时间（2014-\d\d-\d\d）/);
  });

  it('--data-as-of YYYY-MM-DD is the end of that day in the office\'s time zone', async () => {
    const c = await county(path.join(t.dir, 'zone'), 57);
    expect(runCli(['ingest', '--config', c.config, '--quiet']).code).toBe(0);
    // The load happened at 2020-07-01 20:00 UTC: 2020-07-02 04:00 in Beijing.
    await sqlOnWorkspace(c.config, 'move the load', "UPDATE snapshot SET created_at = TIMESTAMP '2020-07-01 20:00:00'");
    const before = runCli(['match', '--config', c.config, '--as-of', '2020-06-30', '--data-as-of', '2020-07-01', '--quiet']);
    expect([before.code, before.stderr]).toEqual([2, expect.stringMatching(/E_NO_DATA_THEN.*最早的一次导入在 2020-07-02 04:00:00 \(UTC\+8\)/s)]);
    expect(runCli(['match', '--config', c.config, '--as-of', '2020-06-30', '--data-as-of', '2020-07-02', '--quiet']).code).toBe(0);
    expect(runCli(['match', '--config', c.config, '--as-of', '2020-06-30', '--data-as-of', '2020-07-02T03:59', '--quiet']).code).toBe(2);
    // In UTC the same load is on 2020-07-01.
    fs.writeFileSync(c.config, JSON.stringify({ ...JSON.parse(fs.readFileSync(c.config, 'utf8')), timeZone: 'UTC' }));
    expect(runCli(['match', '--config', c.config, '--as-of', '2020-06-30', '--data-as-of', '2020-07-01', '--quiet']).code).toBe(0);
    expect(runCli(['snapshots', '--config', c.config]).stdout).toMatch(/2020-07-01 20:00 \(UTC\+0\)/);
  });
});

describe('small things', () => {
  it('gc --dry-run lists what would go and why, and removes nothing; snapshots --dataset with an unknown name is an error', async () => {
    const c = await county(path.join(t.dir, 'gc'), 58);
    for (let night = 0; night < 3; night++) expect(run(c.config, path.join(t.dir, 'gc', 'out')).code).toBe(0);
    await sqlOnWorkspace(c.config, 'age', 'UPDATE run SET finished_at = finished_at - INTERVAL 400 DAY WHERE run_id < 3; UPDATE snapshot SET created_at = created_at - INTERVAL 400 DAY');
    const dry = runCli(['gc', '--config', c.config, '--keep-days', '30', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^\s*1\s+2020-06-30\s+.*\s删除\s+超过保留天数/m);
    expect(dry.stdout).toMatch(/^\s*2\s+2020-06-30\s+.*\s保留\s+运行 3 的比较基准/m);
    expect(dry.stdout).toMatch(/^\s*3\s+2020-06-30\s+.*\s保留\s+最近 30 天内的运行/m);
    expect(dry.stdout).toMatch(/将删除运行 1 次.*什么都没有删除/);
    expect(runCli(['runs', '--config', c.config]).stdout.match(/^\s*\d+\s+2020-06-30/gm)).toHaveLength(3);
    const done = runCli(['gc', '--config', c.config, '--keep-days', '30']);
    expect([done.code, done.stdout]).toEqual([0, expect.stringMatching(/已清理：运行 1 次/)]);

    const unknown = runCli(['snapshots', '--config', c.config, '--dataset', 'rosters']);
    expect([unknown.code, unknown.stderr]).toEqual([2, expect.stringMatching(/没有名为「rosters」的数据集/)]);
  });
});

describe('failures and exit codes', () => {
  it('maps each documented failure to its exit code, in Chinese; nothing exits 1', async () => {
    const c = await county(path.join(t.dir, 'codes'), 59);
    const out = path.join(t.dir, 'codes', 'out');
    const ws = path.join(t.dir, 'codes', 'workspace');
    const cases: [string, () => ReturnType<typeof runCli>, number, RegExp][] = [
      ['usage', () => runCli(['runs', '--config', c.config, '--nope']), 2, /E_USAGE.*未知的选项/s],
      ['config missing', () => runCli(['runs', '--config', path.join(t.dir, 'codes', 'none.json')]), 2, /E_CONFIG_MISSING/],
      // A full disk while the load commits: nothing of it is in the store.
      ['disk full (ingest)', () => runCli(['ingest', '--config', c.config, '--quiet'], { env: { BIDUI_FAILPOINT: 'ingest:commit:enospc' } }), 2, /E_DISK_FULL.*磁盘空间不足.*工作区 .*codes\/workspace（剩余 .*B）.*至少约/s],
      ['loads after room is made', () => runCli(['ingest', '--config', c.config, '--quiet']), 0, /^$/],
      // A full disk while the lists are written: the run is recorded, not delivered; nothing in out.
      ['disk full (report)', () => run(c.config, out, [], { BIDUI_FAILPOINT: 'report:townships:enospc' }), 2, /E_DISK_FULL.*输出目录 .*codes\/out/s],
      ['a bug', () => run(c.config, out, [], { BIDUI_FAILPOINT: 'report:townships:throw' }), 70, /内部错误：这是 bidui 的缺陷/],
      ['done', () => run(c.config, out), 0, /^$/],
    ];
    for (const [name, act, code, stderr] of cases) {
      const r = act();
      expect([name, r.code, r.stderr]).toEqual([name, code, expect.stringMatching(stderr)]);
    }
    expect(fs.existsSync(out) && expectComplete(out).counts.previous_run_id).toBe(null);
    const runs = runCli(['runs', '--config', c.config]).stdout;
    expect(runs).toMatch(/^\s*1\s+2020-06-30\s+每晚\s.*未交付/m);
    expect(runs).toMatch(/^\s*3\s+2020-06-30\s+每晚\s.*已交付/m);
    // Another bidui holds the workspace (this test's own process stands in for it).
    const holder = fakeBidui();
    fs.writeFileSync(path.join(ws, 'bidui.lock'), JSON.stringify({ pid: holder.pid, command: 'run', since: '2026-11-29T13:56:00.000Z' }));
    try {
      const locked = runCli(['ingest', '--config', c.config, '--quiet']);
      expect([locked.code, locked.stderr]).toEqual([3, expect.stringMatching(/E_LOCKED.*开始于 2026-11-29 21:56 \(UTC\+8\)/s)]);
      const busy = runCli(['runs', '--config', c.config], { env: { BIDUI_BUSY_WAIT_MS: '300' } });
      expect([busy.code, busy.stderr]).toEqual([3, expect.stringMatching(/E_BUSY.*暂时无法读取/s)]);
    } finally {
      fs.rmSync(path.join(ws, 'bidui.lock'));
    }
    // A read-only command waits for a short run to finish.
    fs.writeFileSync(path.join(ws, 'bidui.lock'), JSON.stringify({ pid: holder.pid, command: 'run', since: new Date().toISOString() }));
    setTimeout(() => {
      fs.rmSync(path.join(ws, 'bidui.lock'), { force: true });
      holder.stop();
    }, 500);
    const { spawn } = await import('node:child_process');
    const { BIN } = await import('./helpers.js');
    const waited = await new Promise<number | null>((resolve) => spawn(process.execPath, [BIN, 'runs', '--config', c.config], { stdio: 'ignore' }).on('exit', resolve));
    expect(waited).toBe(0);
  });

  // A real full disk: a 256 KB tmpfs, where the machine lets the tests mount one (root on Linux).
  const canMount = (() => {
    if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bidui-mount-'));
    const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
    const ok = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]).status === 0;
    if (ok) spawnSync('umount', [dir]);
    fs.rmSync(dir, { recursive: true, force: true });
    return ok;
  })();
  it.skipIf(!canMount)('a workspace on a full disk: a clear message, exit 2, and the store loads once there is room', async () => {
    const { spawnSync } = await import('node:child_process');
    const c = await county(path.join(t.dir, 'full'), 60);
    const mnt = path.join(t.dir, 'full', 'mnt');
    fs.mkdirSync(mnt);
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt]).status).toBe(0);
    try {
      const cfg = JSON.parse(fs.readFileSync(c.config, 'utf8'));
      fs.writeFileSync(c.config, JSON.stringify({ ...cfg, workspace: path.join(mnt, 'ws') }));
      const r = run(c.config, path.join(t.dir, 'full', 'out'));
      expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/E_DISK_FULL.*磁盘空间不足.*full\/mnt\/ws（剩余/s)]);
      expect(r.stderr).not.toMatch(/内部错误/);
      expect(spawnSync('mount', ['-o', 'remount,size=64m', mnt]).status).toBe(0);
      expect(run(c.config, path.join(t.dir, 'full', 'out')).code).toBe(0);
      expect(runCli(['verify', '1', '--config', c.config, '--quiet']).code).toBe(0);
    } finally {
      spawnSync('umount', [mnt]);
    }
  });
});

describe('a workspace of an earlier version', () => {
  it('reads the rows a kept snapshot reused where the gc of 0.1 removed the load that first read them', async () => {
    const dir = path.join(t.dir, 'v1gc');
    fs.mkdirSync(dir);
    const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
    expect(spawnSync('tar', ['xzf', path.join(ROOT, 'test', 'cases', 'store-v1', 'county.tgz'), '-C', dir]).status).toBe(0);
    const config = path.join(dir, 'county', 'bidui.config.json');
    const total = () => {
      const r = runCli(['match', '--config', config, '--as-of', '2020-06-30']);
      expect(r.code).toBe(0);
      return Number(/线索合计 (\d+) 条/.exec(r.stdout)?.[1]);
    };
    const before = total();
    expect(before).toBeGreaterThan(0);
    // What bidui 0.1's gc left: a kept snapshot of 低保 whose file reuses rows (in ds_dibao) of a
    // load whose own snapshot and snapshot_file rows it removed.
    await sqlOnWorkspace(config, 'as 0.1 gc left it', `
      CREATE TEMP TABLE s AS SELECT max(snapshot_id) AS old, (SELECT max(snapshot_id) + 1 FROM snapshot) AS new FROM snapshot WHERE dataset = 'dibao';
      INSERT INTO snapshot SELECT * REPLACE ((SELECT new FROM s) AS snapshot_id, created_at + INTERVAL 2 DAY AS created_at) FROM snapshot WHERE snapshot_id = (SELECT old FROM s);
      INSERT INTO snapshot_file SELECT * REPLACE ((SELECT new FROM s) AS snapshot_id) FROM snapshot_file WHERE snapshot_id = (SELECT old FROM s);
      DELETE FROM snapshot_file WHERE snapshot_id = (SELECT old FROM s);
      DELETE FROM snapshot WHERE snapshot_id = (SELECT old FROM s);`);
    expect(total()).toBe(before);
  });

  it('is migrated: its runs keep the baselines their reports used, and the next nightly run compares with the last delivered one', async () => {
    const dir = path.join(t.dir, 'v1');
    fs.mkdirSync(dir);
    const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
    expect(spawnSync('tar', ['xzf', path.join(ROOT, 'test', 'cases', 'store-v1', 'county.tgz'), '-C', dir]).status).toBe(0);
    const config = path.join(dir, 'county', 'bidui.config.json');
    const runs = runCli(['runs', '--config', config]);
    expect(runs.code).toBe(0);
    // Run 2 pinned its data (--data-as-of): an analysis. Runs 1 and 3 were reported (delivered).
    expect(runs.stdout).toMatch(/^\s*1\s+2020-06-30\s+每晚\s+.*已交付/m);
    expect(runs.stdout).toMatch(/^\s*2\s+2019-06-30\s+分析\s+.*未交付\s+运行 1\s/m);
    expect(runs.stdout).toMatch(/^\s*3\s+2020-06-30\s+每晚\s+.*已交付 .*\s+运行 2\s/m);
    // The leads and evidence of an old run are reproduced; its files were written by 0.1.0.
    const v = runCli(['verify', '1', '--config', config, '--quiet']);
    expect(v.stdout).toMatch(/线索（lead）\s+一致/);
    expect(v.stdout).toMatch(/证据（evidence）\s+一致/);
    expect(v.stdout).toMatch(/该运行由 bidui 0\.1\.0/);
    // A new nightly run: its baseline is run 3, the last delivered nightly run.
    const night = runCli(['run', '--config', config, '--as-of', '2020-06-30', '--out', path.join(dir, 'out4'), '--quiet']);
    expect([night.code, night.stdout]).toEqual([0, expect.stringMatching(/运行 4，比对日期 2020-06-30，每晚运行；比较基准：运行 3/)]);
    // Store v5 dated the old runs' leads down their chain of baselines (run 1 ← none, run 2 ←
    // run 1, run 3 ← run 2), never after the run's as-of date; run 4 carries run 3's dates.
    const rows = await withConnection(async (conn) => {
      await conn.run(`ATTACH '${path.join(dir, 'county', 'workspace', 'bidui.duckdb')}' AS s (READ_ONLY)`);
      const r = await conn.runAndReadAll(`
        SELECT l.run_id, count(*) AS n, count(l.first_issued) AS dated, count(*) FILTER (WHERE l.first_issued > r.as_of) AS late,
               count(*) FILTER (WHERE p.lead_key IS NULL AND l.first_issued <> r.as_of) AS new_not_as_of,
               count(*) FILTER (WHERE p.lead_key IS NOT NULL AND l.first_issued <> least(p.first_issued, r.as_of)) AS not_carried
        FROM s.lead l JOIN s.run r USING (run_id)
        LEFT JOIN s.lead p ON p.run_id = r.baseline_run_id AND p.category = l.category AND p.household_key = l.household_key
        GROUP BY l.run_id ORDER BY l.run_id`);
      return r.getRowObjectsJson();
    });
    expect(rows.map((r) => Number(r.run_id))).toEqual([1, 2, 3, 4]);
    for (const r of rows) expect([r.run_id, Number(r.dated), Number(r.late), Number(r.new_not_as_of), Number(r.not_carried)]).toEqual([r.run_id, Number(r.n), 0, 0, 0]);
  });
});

describe('what a month of nights turned up', () => {
  it('fixtures --out refuses a folder holding a real county', async () => {
    const c = await county(path.join(t.dir, 'real'), 61);
    expect(run(c.config, path.join(t.dir, 'real', 'out')).code).toBe(0);
    fs.rmSync(path.join(t.dir, 'real', 'fixture.json'));
    const before = fs.readFileSync(c.config, 'utf8');
    const r = runCli(['fixtures', '--households', '100', '--out', path.join(t.dir, 'real')]);
    expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/E_FIXTURES_OUT.*不是以前生成的合成县/s)]);
    expect(fs.readFileSync(c.config, 'utf8')).toBe(before);
  });

  it('gc keeps the snapshot whose rows a kept snapshot reuses: kept runs still verify', async () => {
    const c = await county(path.join(t.dir, 'reuse'), 62);
    const out = path.join(t.dir, 'reuse', 'out');
    expect(run(c.config, out).code).toBe(0); // run 1: the original 低保 file
    dropDibao(c);
    expect(run(c.config, out).code).toBe(0); // run 2: rows gone
    fs.writeFileSync(c.dibao, c.original);
    expect(run(c.config, out).code).toBe(0); // run 3: the original again, its rows reused from run 1's load
    await sqlOnWorkspace(c.config, 'age', 'UPDATE run SET finished_at = finished_at - INTERVAL 400 DAY WHERE run_id < 3; UPDATE snapshot SET created_at = created_at - INTERVAL 400 DAY');
    // Ageing rewrote the load times the summary shows: run 3 reported again with them.
    expect(runCli(['report', '--config', c.config, '--run', '3', '--out', out, '--quiet']).code).toBe(0);
    const gc = runCli(['gc', '--config', c.config, '--keep-days', '30']);
    expect([gc.code, gc.stdout]).toEqual([0, expect.stringMatching(/保留\s+保留的快照 \d+ 复用它导入的行/)]);
    const v = runCli(['verify', '3', '--config', c.config, '--quiet']);
    expect([v.code, v.stdout]).toEqual([0, expect.stringMatching(/evidence\.csv\s+一致/)]);
  });

  it('a run dated after today is an analysis: the next nights stay nightly', async () => {
    const c = await county(path.join(t.dir, 'future'), 63);
    const out = path.join(t.dir, 'future', 'out');
    expect(run(c.config, out).code).toBe(0);
    const ahead = runCli(['run', '--config', c.config, '--as-of', '2099-06-30', '--allow-future', '--out', path.join(t.dir, 'future', 'out-2099'), '--quiet']);
    expect([ahead.code, ahead.stdout]).toEqual([0, expect.stringMatching(/运行 2，比对日期 2099-06-30，分析运行（比对日期在今天（\d{4}-\d\d-\d\d）之后）/)]);
    const next = runCli(['run', '--config', c.config, '--out', out, '--quiet']);
    expect([next.code, next.stdout]).toEqual([0, expect.stringMatching(/运行 3，比对日期 \d{4}-\d\d-\d\d，每晚运行；比较基准：运行 1/)]);
  });

  it('Ctrl-C or kill while the lists are written leaves no copy of them; a killed night\'s copy is removed by the next night', async () => {
    const c = await county(path.join(t.dir, 'term'), 64);
    const base = path.join(t.dir, 'term', 'nights');
    fs.mkdirSync(base);
    const { spawn } = await import('node:child_process');
    const { BIN } = await import('./helpers.js');
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const night = path.join(base, `night-${signal}`);
      const child = spawn(process.execPath, [BIN, 'run', '--config', c.config, '--as-of', '2020-06-30', '--out', night], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        if (err.includes('生成乡镇清单')) child.kill(signal);
      });
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect([signal, code]).toEqual([signal, signal === 'SIGTERM' ? 143 : 130]);
      expect(fs.readdirSync(base).filter((n) => n.includes('.bidui-'))).toEqual([]);
    }
    // A SIGKILL leaves the copy; the next night, into another folder, removes it.
    expect(run(c.config, path.join(base, 'night-a'), [], { BIDUI_FAILPOINT: 'report:townships' }).code).toBe(-1);
    expect(fs.readdirSync(base).filter((n) => n.includes('.bidui-'))).toHaveLength(1);
    expect(run(c.config, path.join(base, 'night-b')).code).toBe(0);
    expect(fs.readdirSync(base).filter((n) => n.includes('.bidui-'))).toEqual([]);
  });

  it('a report in place whose delivery was not recorded (killed between) counts as delivered at the next night', async () => {
    const c = await county(path.join(t.dir, 'after'), 65);
    const out = path.join(t.dir, 'after', 'out');
    expect(run(c.config, out).code).toBe(0);
    dropDibao(c);
    expect(run(c.config, out, [], { BIDUI_FAILPOINT: 'report:after-swap' }).code).toBe(-1);
    expect(expectComplete(out).run_id).toBe(2);
    const next = run(c.config, out);
    expect([next.code, next.stdout]).toEqual([0, expect.stringMatching(/运行 3，比对日期 2020-06-30，每晚运行；比较基准：运行 2/)]);
    expect(runCli(['runs', '--config', c.config]).stdout).toMatch(/^\s*2\s+2020-06-30\s+每晚\s+.*已交付/m);
  });

  it('paths and words an office gets wrong: a system folder, --out inside the workspace or empty, a mistyped workspace, bad JSON, a bad choice, no command', async () => {
    const c = await county(path.join(t.dir, 'words'), 66);
    for (const [out, message] of [['/etc/bidui-out', /这是系统目录/], [path.join(t.dir, 'words', 'workspace', 'tmp'), /不能在工作区里面/], ['', /--out 的取值是空的/]] as const) {
      const r = run(c.config, out);
      expect([out, r.code, r.stderr]).toEqual([out, 2, expect.stringMatching(message)]);
    }
    const typo = path.join(t.dir, 'words', 'typo.json');
    fs.writeFileSync(typo, JSON.stringify({ ...JSON.parse(fs.readFileSync(c.config, 'utf8')), workspace: './wrokspace' }));
    const r = runCli(['runs', '--config', typo]);
    expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/E_NO_WORKSPACE.*工作区中还没有数据库/s)]);
    expect(fs.existsSync(path.join(t.dir, 'words', 'wrokspace'))).toBe(false);
    const broken = path.join(t.dir, 'words', 'broken.json');
    fs.writeFileSync(broken, '{\n  "workspace": "./ws",\n  datasets: []\n}');
    const j = runCli(['runs', '--config', broken]);
    expect([j.code, j.stderr]).toEqual([2, expect.stringMatching(/配置文件不是合法的 JSON（第 3 行第 3 列附近）/)]);
    expect(j.stderr).not.toMatch(/Expected|position/);
    const choice = runCli(['ingest', '--config', c.config, '--dataset', 'foo', 'x.csv']);
    expect([choice.code, choice.stderr]).toEqual([2, expect.stringMatching(/没有名为「foo」的数据集\n处理办法：可用的数据集：roster（建档立卡）、hukou（户籍人口）/)]);
    const slip = runCli(['ingest', '--config', c.config, '--dataset', 'rostr', 'x.csv']);
    expect([slip.code, slip.stderr]).toEqual([2, expect.stringMatching(/没有名为「rostr」的数据集，是不是 roster（建档立卡）？/)]);
    const label = runCli(['snapshots', '--config', c.config, '--dataset', '低保']);
    expect([label.code, label.stderr]).toEqual([2, expect.stringMatching(/是不是 dibao（低保特困）？/)]);
    const bare = runCli([]);
    expect([bare.code, bare.stdout]).toEqual([0, expect.stringMatching(/^用法： bidui \[选项\] \[命令\]/)]);
    // Help and commander's own messages in Chinese, every command's too.
    for (const args of [['--help'], ['run', '--help'], ['feedback', 'import', '--help'], ['help', 'verify'], ['fixtures', '--help']]) {
      const h = runCli(args);
      expect(h.code).toBe(0);
      expect(h.stdout).toMatch(/选项：\n[\s\S]*-h, --help\s+显示帮助/);
      expect(h.stdout).not.toMatch(/Usage:|Options:|Commands:|Arguments:|display help|output the version|\(default:/);
    }
    expect(runCli(['fixtures', '--help']).stdout).toMatch(/--seed <n>\s+随机种子（默认 1）/);
    expect(runCli(['--help']).stdout).toMatch(/-V, --version\s+显示版本号[\s\S]*命令：[\s\S]*help \[command\]\s+显示某个命令的帮助/);
    const unknownCommand = runCli(['rnu']);
    expect([unknownCommand.code, unknownCommand.stderr]).toEqual([2, expect.stringMatching(/未知的命令：'rnu'（是不是 run？）/)]);
    const option = runCli(['run', '--config', c.config, '--asof', '2020-06-30']);
    expect([option.code, option.stderr]).toEqual([2, expect.stringMatching(/未知的选项：'--asof'（是不是 --as-of？）/)]);
    expect(`${unknownCommand.stderr}${option.stderr}`).not.toMatch(/Did you mean/);
  });

  it('output cut off by the reader (| head) ends quietly, exit 0; a run piped into head is still done whole', async () => {
    const c = await county(path.join(t.dir, 'pipe'), 67);
    expect(run(c.config, path.join(t.dir, 'pipe', 'out')).code).toBe(0);
    const { spawn } = await import('node:child_process');
    const { BIN } = await import('./helpers.js');
    const cut = async (args: string[]) => {
      const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.once('data', () => child.stdout.destroy());
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      return [code, err];
    };
    expect(await cut(['runs', '--config', c.config])).toEqual([0, '']);
    // The nightly job's output read by head: the run is recorded and its report delivered.
    const out = path.join(t.dir, 'pipe', 'out2');
    const [code] = await cut(['run', '--config', c.config, '--as-of', '2020-06-30', '--out', out]);
    expect(code).toBe(0);
    expect(fs.existsSync(path.join(out, 'summary.html'))).toBe(true);
    expect(runCli(['runs', '--config', c.config]).stdout).toMatch(/^\s*2\s+2020-06-30\s+每晚\s+.*已交付/m);
  });
});
