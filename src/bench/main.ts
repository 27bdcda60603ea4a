/**
 * Benchmarks (never timed unit tests). Figures go to docs/BENCHMARKS.md.
 *   npm run bench -- fixtures --households N
 *   npm run bench -- ingest --households N [--messy X] [--runs R]
 *   npm run bench -- match --households N [--runs R]
 *   npm run bench -- run --households N [--messy X] [--runs R] [--memory-limit 6GB] [--no-bare]
 *   npm run bench -- sheets --rows N [--runs R]
 *   npm run bench -- linkage --households N [--messy X] [--runs R]
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { Command } from 'commander';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = path.join(ROOT, 'bin', 'bidui.js');
const CHILD = path.join(ROOT, 'dist', 'bench', 'child.js');

interface Measured {
  ms: number;
  maxRssMb: number;
  parts: { name: string; rows: number; ms: number }[];
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

/** Generate (or reuse) a county under bench-data/ and return its folder; reports the time taken. */
function fixtures(households: number, messy: number, seed: number, force = false): { dir: string; genSeconds: number | undefined; maxRssMb: number | undefined } {
  const dir = path.join(ROOT, 'bench-data', `h${households}-m${messy}-s${seed}`);
  if (!force && fs.existsSync(path.join(dir, 'fixture.json'))) return { dir, genSeconds: undefined, maxRssMb: undefined };
  fs.rmSync(dir, { recursive: true, force: true });
  const started = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, BIN, 'fixtures', '--households', String(households), '--messy', String(messy), '--seed', String(seed), '--out', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`fixture generation failed: ${r.stderr}`);
  const rssKb = Number(r.stderr.trim().split('\n').pop());
  return { dir, genSeconds: (performance.now() - started) / 1000, maxRssMb: Number.isFinite(rssKb) ? rssKb / 1024 : undefined };
}

function child(args: string[]): Measured {
  const out = execFileSync(process.execPath, [CHILD, ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
  return JSON.parse(out.trim().split('\n').pop()!) as Measured;
}

function summarise(runs: Measured[]): { ms: number; rss: number; byName: Map<string, { rows: number; ms: number }> } {
  const byName = new Map<string, { rows: number; ms: number }>();
  const names = [...new Set(runs[0]!.parts.map((p) => p.name))];
  for (const name of names) {
    const rows = runs[0]!.parts.filter((p) => p.name === name).reduce((s, p) => s + p.rows, 0);
    byName.set(name, { rows, ms: median(runs.map((r) => r.parts.filter((p) => p.name === name).reduce((s, p) => s + p.ms, 0))) });
  }
  return { ms: median(runs.map((r) => r.ms)), rss: Math.max(...runs.map((r) => r.maxRssMb)), byName };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/**
 * A benchmark of wrong answers measures nothing: compare a run's evidence.csv with the county's
 * expected.csv (the generator's own model) as (category, rule, household) sets. Returns a line
 * for the report; throws on any difference.
 */
function checkLeads(dir: string, evidenceCsv: string, asOf: string): string {
  const info = JSON.parse(fs.readFileSync(path.join(dir, 'fixture.json'), 'utf8')) as { asOf: string };
  if (info.asOf !== asOf) return `leads not checked: expected.csv is for ${info.asOf}, the run was as of ${asOf}`;
  const keys = (file: string) =>
    new Set((parse(fs.readFileSync(file), { columns: true, bom: true }) as Record<string, string>[]).map((r) => `${r.category}|${r.rule}|${r.household_key}`));
  const got = keys(evidenceCsv);
  const want = keys(path.join(dir, 'expected.csv'));
  const missing = [...want].filter((k) => !got.has(k)).length;
  const extra = [...got].filter((k) => !want.has(k)).length;
  if (missing || extra) throw new Error(`leads differ from expected.csv: ${missing} missing, ${extra} extra`);
  return `leads equal expected.csv: ${fmt(want.size)} (category, rule, household) rows, none missing, none extra`;
}

const program = new Command('bench');

program
  .command('fixtures')
  .option('--households <n>', 'households', (v) => Number(v), 1_000_000)
  .option('--messy <x>', 'messiness', (v) => Number(v), 0)
  .option('--seed <n>', 'seed', (v) => Number(v), 1)
  .action((o: { households: number; messy: number; seed: number }) => {
    const r = fixtures(o.households, o.messy, o.seed, true);
    const info = JSON.parse(fs.readFileSync(path.join(r.dir, 'fixture.json'), 'utf8')) as { persons: number; files: { rows: number }[] };
    const rows = info.files.reduce((s, f) => s + f.rows, 0);
    process.stdout.write(`machine: ${machine()}\nfixtures: ${fmt(o.households)} households, ${fmt(info.persons)} people, ${fmt(rows)} rows, messy ${o.messy}: ${r.genSeconds!.toFixed(1)} s, peak RSS ${fmt(r.maxRssMb ?? 0)} MB\n`);
  });

program
  .command('ingest')
  .option('--households <n>', 'households', (v) => Number(v), 100_000)
  .option('--messy <x>', 'messiness', (v) => Number(v), 0)
  .option('--seed <n>', 'seed', (v) => Number(v), 1)
  .option('--runs <n>', 'runs (median reported)', (v) => Number(v), 3)
  .action((o: { households: number; messy: number; seed: number; runs: number }) => {
    const { dir } = fixtures(o.households, o.messy, o.seed);
    const configFile = path.join(dir, 'bidui.config.json');
    const config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as { datasets: { files: string[] }[] };
    const allUtf8Csv = config.datasets.every((d) => d.files.every((f) => f.endsWith('.csv'))) && o.messy === 0;
    const bidui: Measured[] = [];
    const bare: Measured[] = [];
    for (let i = 0; i < o.runs; i++) {
      fs.rmSync(path.join(dir, 'workspace'), { recursive: true, force: true });
      const first = () => bidui.push(child(['ingest', configFile]));
      const second = () => allUtf8Csv && bare.push(child(['bare', configFile, path.join(dir, 'bare.duckdb')]));
      // Alternate the order so neither side always gets the warm page cache.
      if (i % 2 === 0) { first(); second(); } else { second(); first(); }
      process.stderr.write(`run ${i + 1}/${o.runs}: bidui ${(bidui.at(-1)!.ms / 1000).toFixed(2)} s${bare.length ? `, bare ${(bare.at(-1)!.ms / 1000).toFixed(2)} s` : ''}\n`);
    }
    const b = summarise(bidui);
    const base = bare.length ? summarise(bare) : undefined;
    const totalRows = [...b.byName.values()].reduce((s, x) => s + x.rows, 0);
    const lines = [
      `machine: ${machine()}`,
      `county: ${fmt(o.households)} households, messy ${o.messy}, ${fmt(totalRows)} rows; median of ${o.runs} runs`,
      '',
      '| dataset | rows | bidui rows/s | bare read_csv rows/s |',
      '| --- | ---: | ---: | ---: |',
      ...[...b.byName.entries()].map(([name, x]) => `| ${name} | ${fmt(x.rows)} | ${fmt(x.rows / (x.ms / 1000))} | ${base ? fmt(x.rows / (base.byName.get(name)!.ms / 1000)) : '–'} |`),
      `| **all (end to end)** | ${fmt(totalRows)} | ${fmt(totalRows / (b.ms / 1000))} | ${base ? fmt(totalRows / (base.ms / 1000)) : '–'} |`,
      '',
      `bidui ingest: ${(b.ms / 1000).toFixed(2)} s, peak RSS ${fmt(b.rss)} MB` +
        (base ? `; bare read_csv: ${(base.ms / 1000).toFixed(2)} s, peak RSS ${fmt(base.rss)} MB; ratio ${(b.ms / base.ms).toFixed(2)}x` : ''),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  });

program
  .command('match')
  .option('--households <n>', 'households', (v) => Number(v), 100_000)
  .option('--seed <n>', 'seed', (v) => Number(v), 1)
  .option('--as-of <date>', 'as-of date', '2020-06-30')
  .option('--runs <n>', 'runs (median reported)', (v) => Number(v), 3)
  .action((o: { households: number; seed: number; asOf: string; runs: number }) => {
    const { dir } = fixtures(o.households, 0, o.seed);
    const configFile = path.join(dir, 'bidui.config.json');
    // A fresh workspace, ingested once; every match run then pins the same snapshots.
    fs.rmSync(path.join(dir, 'workspace'), { recursive: true, force: true });
    child(['ingest', configFile]);
    const runs: Measured[] = [];
    const bare: Measured[] = [];
    for (let i = 0; i < o.runs; i++) {
      const a = () => runs.push(child(['match', configFile, o.asOf]));
      const b = () => bare.push(child(['match-bare', configFile, o.asOf]));
      if (i % 2 === 0) { a(); b(); } else { b(); a(); }
      process.stderr.write(`run ${i + 1}/${o.runs}: match ${(runs.at(-1)!.ms / 1000).toFixed(2)} s, bare ${(bare.at(-1)!.ms / 1000).toFixed(2)} s\n`);
    }
    const m = summarise(runs);
    const b = summarise(bare);
    const lines = [
      `machine: ${machine()}`,
      `county: ${fmt(o.households)} households, as of ${o.asOf}; median of ${o.runs} runs`,
      '',
      '| rule | evidence rows | match ms | bare SELECT ms |',
      '| --- | ---: | ---: | ---: |',
      ...[...m.byName.entries()].map(([name, x]) => `| ${name} | ${fmt(x.rows)} | ${fmt(x.ms)} | ${fmt(b.byName.get(name)?.ms ?? 0)} |`),
      `| people tables (bare) | | | ${fmt(b.byName.get('people')?.ms ?? 0)} |`,
      '',
      `bidui match (end to end, in its own process): ${(m.ms / 1000).toFixed(2)} s, peak RSS ${fmt(m.rss)} MB; ` +
        `bare people tables + rule SELECTs: ${(b.ms / 1000).toFixed(2)} s, peak RSS ${fmt(b.rss)} MB; ratio ${(m.ms / b.ms).toFixed(2)}x`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  });

program
  .command('linkage')
  .description('linkage of damaged IDs: precision and recall against the generator\'s truth, and match time with it on and off')
  .option('--households <n>', 'households', (v) => Number(v), 100_000)
  .option('--messy <x>', 'messiness', (v) => Number(v), 1)
  .option('--seed <n>', 'seed', (v) => Number(v), 1)
  .option('--as-of <date>', 'as-of date', '2020-06-30')
  .option('--runs <n>', 'runs (median reported)', (v) => Number(v), 3)
  .action(async (o: { households: number; messy: number; seed: number; asOf: string; runs: number }) => {
    const { dir } = fixtures(o.households, o.messy, o.seed);
    const on = path.join(dir, 'bidui.config.json');
    const off = path.join(dir, 'linkage-off.config.json');
    fs.writeFileSync(off, JSON.stringify({ ...(JSON.parse(fs.readFileSync(on, 'utf8')) as object), linkage: { recoverDamagedIds: false } }));
    fs.rmSync(path.join(dir, 'workspace'), { recursive: true, force: true });
    child(['ingest', on]);
    // Wall time of `bidui match` as the office runs it, alternating on and off.
    const time = (config: string) => {
      const started = performance.now();
      const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, BIN, 'match', '--config', config, '--as-of', o.asOf, '--quiet'], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`match failed: ${r.stderr}`);
      return { s: (performance.now() - started) / 1000, rssMb: Number(r.stderr.trim().split('\n').pop()) / 1024 };
    };
    const onRuns: { s: number; rssMb: number }[] = [];
    const offRuns: { s: number; rssMb: number }[] = [];
    for (let i = 0; i < o.runs; i++) {
      if (i % 2 === 0) { onRuns.push(time(on)); offRuns.push(time(off)); } else { offRuns.push(time(off)); onRuns.push(time(on)); }
      process.stderr.write(`run ${i + 1}/${o.runs}: on ${onRuns.at(-1)!.s.toFixed(2)} s, off ${offRuns.at(-1)!.s.toFixed(2)} s\n`);
    }
    const { linkQuality } = await import('../fixtures/link-quality.js');
    const q = await linkQuality(on, o.asOf);
    const mOn = median(onRuns.map((r) => r.s));
    const mOff = median(offRuns.map((r) => r.s));
    const lines = [
      `machine: ${machine()}`,
      `county: ${fmt(o.households)} households, --messy ${o.messy}, seed ${o.seed}, as of ${o.asOf}; median of ${o.runs} runs`,
      `links: ${fmt(q.links.length)}; precision ${q.precision.toFixed(4)} (${q.wrong.length} wrong); recall ${q.found}/${q.eligible} = ${(100 * q.recall).toFixed(1)}% of damaged records that kept 15 digits or have one typo and whose person is unique by name and place; model says ${q.missing.length} missing, ${q.extra.length} extra`,
      `bidui match: linkage on ${mOn.toFixed(2)} s (peak ${fmt(Math.max(...onRuns.map((r) => r.rssMb)))} MB), off ${mOff.toFixed(2)} s (peak ${fmt(Math.max(...offRuns.map((r) => r.rssMb)))} MB): ${(100 * (mOn / mOff - 1)).toFixed(1)}%`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (q.wrong.length > 0) process.exitCode = 1;
  });

/**
 * `bidui run` as the office runs it, timed from outside, with the progress lines it prints on
 * stderr timestamped as they arrive: each step's time is the gap to the next line.
 */
function timedRun(args: string[]): Promise<{ ms: number; rssMb: number; steps: { step: string; ms: number; rssMb: number }[] }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('/usr/bin/time', ['-f', '%M', process.execPath, BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    const lines: { t: number; text: string }[] = [];
    // Resident memory of the bidui process (the child of /usr/bin/time), sampled every 200 ms.
    const samples: { t: number; kb: number }[] = [];
    const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    const sampler = setInterval(() => {
      try {
        const kids = fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
        samples.push({ t: performance.now(), kb: kids.reduce((m, k) => Math.max(m, rssKb(k)), 0) });
      } catch {
        // the process has ended
      }
    }, 200);
    let buffer = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      buffer += chunk;
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        lines.push({ t: performance.now(), text: buffer.slice(0, nl) });
        buffer = buffer.slice(nl + 1);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(sampler);
      const ms = performance.now() - started;
      if (code !== 0) return reject(new Error(`bidui run failed (${code}): ${lines.slice(-5).map((l) => l.text).join('\n')}`));
      const rssMb = Number(lines.pop()?.text) / 1024;
      // A step is a progress line; numbers (counts, run ids) are dropped so runs compare.
      // Per-file and per-rule lines are summed into one step each.
      const group = (text: string) => (/^检查 /.test(text) ? '检查 (check each file)' : /^准备 /.test(text) ? '准备 (plan each file)' : /^读取 /.test(text) ? '读取 (read and type each file)' : /^导入 /.test(text) ? '导入 (store each dataset)' : /^规则 /.test(text) ? '规则 (each rule)' : text.replace(/[0-9][0-9,.-]*/g, 'N').slice(0, 40));
      const steps = [{ step: 'start (process, config, store)', t: started }, ...lines.map((l) => ({ step: group(l.text), t: l.t }))]
        .map((l, i, all) => {
          const end = all[i + 1]?.t ?? started + ms;
          return { step: l.step, ms: end - l.t, rssMb: samples.filter((x) => x.t >= l.t && x.t < end).reduce((m, x) => Math.max(m, x.kb), 0) / 1024 };
        });
      resolve({ ms, rssMb, steps });
    });
  });
}

program
  .command('run')
  .description('bidui run end to end on a fresh workspace (leads checked against expected.csv), beside a bare DuckDB pipeline in the same run')
  .option('--households <n>', 'households', (v) => Number(v), 100_000)
  .option('--messy <x>', 'messiness', (v) => Number(v), 0)
  .option('--seed <n>', 'seed', (v) => Number(v), 1)
  .option('--as-of <date>', 'as-of date', '2020-06-30')
  .option('--runs <n>', 'runs (median reported)', (v) => Number(v), 3)
  .option('--memory-limit <size>', "engine.memoryLimit for the run (e.g. 6GB, 2GB); default: the config's")
  .option('--no-bare', 'skip the bare pipeline (it needs a clean county)')
  .option('--nightly <n>', 'then bidui run N more times on the last workspace with the exports unchanged (a night without new pushes: nothing to ingest), median reported', (v) => Number(v), 0)
  .action(async (o: { households: number; messy: number; seed: number; asOf: string; runs: number; memoryLimit?: string; bare: boolean; nightly: number }) => {
    const { dir } = fixtures(o.households, o.messy, o.seed);
    let configFile = path.join(dir, 'bidui.config.json');
    if (o.memoryLimit) {
      const config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as Record<string, unknown>;
      configFile = path.join(dir, `bench-${o.memoryLimit}.config.json`);
      fs.writeFileSync(configFile, JSON.stringify({ ...config, engine: { ...(config.engine as object | undefined), memoryLimit: o.memoryLimit } }, null, 2));
    }
    if (!Number.isInteger(o.runs) || o.runs < 1 || !Number.isInteger(o.nightly) || o.nightly < 0) throw new Error('--runs must be a whole number of at least 1, --nightly a whole number');
    const bare = o.bare && o.messy === 0;
    const runs: Awaited<ReturnType<typeof timedRun>>[] = [];
    const bares: Measured[] = [];
    const out = path.join(dir, 'out');
    for (let i = 0; i < o.runs; i++) {
      // The nightly job on a fresh workspace: ingest everything, match, report.
      const a = async () => {
        fs.rmSync(path.join(dir, 'workspace'), { recursive: true, force: true });
        runs.push(await timedRun(['run', '--config', configFile, '--as-of', o.asOf, '--out', out]));
      };
      const b = () => bare && bares.push(child(['pipeline-bare', configFile, o.asOf, path.join(dir, 'bare')]));
      // Alternate the order so neither side always gets the warm page cache.
      if (i % 2 === 0) { await a(); b(); } else { b(); await a(); }
      process.stderr.write(`run ${i + 1}/${o.runs}: bidui ${(runs.at(-1)!.ms / 1000).toFixed(2)} s, peak RSS ${fmt(runs.at(-1)!.rssMb)} MB${bare ? `; bare ${(bares.at(-1)!.ms / 1000).toFixed(2)} s, peak ${fmt(bares.at(-1)!.maxRssMb)} MB` : ''}\n`);
    }
    fs.rmSync(path.join(dir, 'bare'), { recursive: true, force: true });
    // A night without new exports: the workspace of the last run, every file unchanged (checked,
    // not read again), the match and the report as of the same date (so the leads still check).
    const nightly: Awaited<ReturnType<typeof timedRun>>[] = [];
    const freshCheck = o.nightly > 0 ? checkLeads(dir, path.join(out, 'evidence.csv'), o.asOf) : undefined;
    for (let i = 0; i < o.nightly; i++) {
      nightly.push(await timedRun(['run', '--config', configFile, '--as-of', o.asOf, '--out', out]));
      process.stderr.write(`nightly ${i + 1}/${o.nightly}: bidui ${(nightly.at(-1)!.ms / 1000).toFixed(2)} s, peak RSS ${fmt(nightly.at(-1)!.rssMb)} MB\n`);
    }
    const check = checkLeads(dir, path.join(out, 'evidence.csv'), o.asOf);
    const m = median(runs.map((r) => r.ms));
    // Steps: median over runs of each step's time, and its share of the median run.
    const names = [...new Set(runs.flatMap((r) => r.steps.map((s) => s.step)))];
    const stepMs = names.map((name) => ({
      name,
      ms: median(runs.map((r) => r.steps.filter((s) => s.step === name).reduce((t, s) => t + s.ms, 0))),
      rssMb: Math.max(...runs.flatMap((r) => r.steps.filter((s) => s.step === name).map((s) => s.rssMb))),
    }));
    const b = bares.length ? summarise(bares) : undefined;
    const lines = [
      `machine: ${machine()}`,
      `county: ${fmt(o.households)} households, messy ${o.messy}${o.memoryLimit ? `, engine.memoryLimit ${o.memoryLimit}` : ''}; median of ${o.runs} run${o.runs === 1 ? '' : 's'}; data in ${path.relative(ROOT, dir)}`,
      `bidui run (ingest + match + report, fresh workspace): ${(m / 1000).toFixed(2)} s (runs ${runs.map((r) => (r.ms / 1000).toFixed(2)).join(', ')}), peak RSS ${fmt(Math.max(...runs.map((r) => r.rssMb)))} MB`,
      ...(nightly.length ? [`bidui run again on that workspace, exports unchanged (nothing to ingest): ${(median(nightly.map((r) => r.ms)) / 1000).toFixed(2)} s (runs ${nightly.map((r) => (r.ms / 1000).toFixed(2)).join(', ')}), peak RSS ${fmt(Math.max(...nightly.map((r) => r.rssMb)))} MB`,
        // The steps of the median one that took 2% of it or more.
        `  its steps (median run): ${((r) => r.steps.filter((x) => x.ms >= 0.02 * r.ms).map((x) => `${x.step} ${(x.ms / 1000).toFixed(1)} s`).join(', '))([...nightly].sort((x, y) => x.ms - y.ms)[Math.floor((nightly.length - 1) / 2)]!)}`] : []),
      ...(!b && o.bare && o.messy > 0 ? ['bare pipeline: not run (it reads a clean county only)'] : []),
      ...(b ? [`bare pipeline (read_csv, normalise, people + rule SELECTs, evidence CSV): ${(b.ms / 1000).toFixed(2)} s (runs ${bares.map((r) => (r.ms / 1000).toFixed(2)).join(', ')}), peak RSS ${fmt(b.rss)} MB; ratio ${(m / b.ms).toFixed(2)}x`,
        `  bare steps: ${[...b.byName.entries()].map(([name, x]) => `${name} ${(x.ms / 1000).toFixed(2)} s`).join(', ')}`] : []),
      ...(freshCheck ? [`last fresh run: ${freshCheck}`, `last run (exports unchanged): ${check}`] : [check]),
      '',
      '| step of the fresh-workspace runs (progress line of bidui run) | s | share | peak RSS in the step (sampled) |',
      '| --- | ---: | ---: | ---: |',
      ...stepMs.map((s) => `| ${s.name} | ${(s.ms / 1000).toFixed(2)} | ${((100 * s.ms) / m).toFixed(1)}% | ${s.rssMb ? `${fmt(s.rssMb)} MB` : '–'} |`),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  });

/**
 * A roster workbook of `rows` rows (12 columns, shared strings, dates as date cells), as .xlsx
 * (exceljs's streaming writer) and as .xls (SheetJS BIFF8: 50,000 rows a sheet, the format holds
 * 65,536), with a config for each. Valid IDs, households of three.
 */
async function sheetFixtures(rows: number): Promise<{ dir: string; xlsx: string; xls: string }> {
  const dir = path.join(ROOT, 'bench-data', `sheets-${rows}`);
  const xlsx = path.join(dir, 'roster.xlsx');
  const xls = path.join(dir, 'roster.xls');
  if (fs.existsSync(xls)) return { dir, xlsx, xls };
  fs.mkdirSync(dir, { recursive: true });
  const { default: ExcelJS } = await import('../core/exceljs.js');
  const { checkChar } = await import('../ingest/id-number.js');
  const header = ['序号', '户编号', '证件号码', '姓名', '与户主关系', '乡镇', '行政村', '脱贫状态', '识别时间', '脱贫时间', '人均纯收入', '备注'];
  const towns = ['羊坪镇', '蕉溪镇', '青溪镇', '涌溪乡', '江古镇', '都坪镇', '金堡镇', '尚寨土家族乡'];
  const rowOf = (i: number): (string | number | Date)[] => {
    const birth = `19${String(40 + (i % 60)).padStart(2, '0')}${String(1 + (i % 12)).padStart(2, '0')}${String(1 + (i % 28)).padStart(2, '0')}`;
    const body = `522625${birth}${String(i % 1000).padStart(3, '0')}`;
    const exited = i % 2 === 0;
    return [i + 1, String(52262500000000 + Math.floor(i / 3)), body + checkChar(body), `张${String.fromCharCode(0x4e00 + (i % 2000))}`, i % 3 === 0 ? '户主' : '子女',
      towns[i % 8]!, `${towns[i % 8]!.slice(0, 2)}${i % 129}村`, exited ? '已脱贫' : '未脱贫', new Date(Date.UTC(2014 + (i % 3), i % 12, 1 + (i % 28))), exited ? '2018-12-01' : '', 2600 + (i % 5000), ''];
  };
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: xlsx, useSharedStrings: true, useStyles: true });
  const ws = wb.addWorksheet('名册');
  ws.addRow(header).commit();
  for (let i = 0; i < rows; i++) ws.addRow(rowOf(i)).commit();
  ws.commit();
  await wb.commit();
  const XLSX = (await import('node:module')).createRequire(import.meta.url)('@e965/xlsx') as typeof import('@e965/xlsx');
  const book = XLSX.utils.book_new();
  for (let start = 0, n = 1; start < rows; start += 50_000, n++) {
    const aoa = [header, ...Array.from({ length: Math.min(50_000, rows - start) }, (_, k) => rowOf(start + k))];
    XLSX.utils.book_append_sheet(book, XLSX.utils.aoa_to_sheet(aoa, { cellDates: true }), `名册${n}`);
  }
  fs.writeFileSync(xls, XLSX.write(book, { bookType: 'biff8', type: 'buffer' }) as Buffer);
  for (const [name, file, sheet] of [['xlsx', xlsx, undefined], ['xls', xls, '*']] as const) {
    fs.writeFileSync(path.join(dir, `${name}.config.json`), JSON.stringify({ workspace: `./ws-${name}`, datasets: [{ dataset: 'roster', files: [path.basename(file)], ...(sheet ? { sheet } : {}) }] }));
  }
  return { dir, xlsx, xls };
}

program
  .command('sheet-fixtures')
  .option('--rows <n>', 'rows', (v) => Number(v), 200_000)
  .action(async (o: { rows: number }) => {
    await sheetFixtures(o.rows);
  });

program
  .command('sheets')
  .description('spreadsheet reading: SheetJS and exceljs on one workbook, and bidui ingest of .xlsx and .xls')
  .option('--rows <n>', 'rows', (v) => Number(v), 200_000)
  .option('--runs <n>', 'runs (median reported)', (v) => Number(v), 3)
  .action(async (o: { rows: number; runs: number }) => {
    // Written by a process of its own: peak RSS (ru_maxrss) survives fork and exec, so the
    // children measured below would otherwise report the memory this process used to write them.
    const made = spawnSync(process.execPath, [fileURLToPath(import.meta.url), 'sheet-fixtures', '--rows', String(o.rows)], { stdio: 'inherit' });
    if (made.status !== 0) throw new Error('writing the workbooks failed');
    const { dir, xlsx, xls } = await sheetFixtures(o.rows);
    const jobs: [string, string[], string | undefined][] = [
      ['SheetJS read + convert (.xlsx)', ['read-sheetjs', xlsx], undefined],
      ['exceljs streaming read (.xlsx)', ['read-exceljs', xlsx], undefined],
      ['SheetJS read + convert (.xls, 4 sheets)', ['read-sheetjs', xls, '*'], undefined],
      ['bidui ingest (.xlsx)', ['ingest', path.join(dir, 'xlsx.config.json')], path.join(dir, 'ws-xlsx')],
      ['bidui ingest (.xls, "sheet": "*")', ['ingest', path.join(dir, 'xls.config.json')], path.join(dir, 'ws-xls')],
    ];
    const lines = [`machine: ${machine()}`, `workbook: ${fmt(o.rows)} rows × 12 columns; .xlsx ${fmt(fs.statSync(xlsx).size / 2 ** 20)} MB, .xls ${fmt(fs.statSync(xls).size / 2 ** 20)} MB; median of ${o.runs} runs`, '', '| job | rows | s | rows/s | peak RSS MB |', '| --- | ---: | ---: | ---: | ---: |'];
    for (const [name, args, ws] of jobs) {
      const runs: Measured[] = [];
      for (let i = 0; i < o.runs; i++) {
        if (ws) fs.rmSync(ws, { recursive: true, force: true });
        runs.push(child(args));
      }
      const s = summarise(runs);
      const rows = [...s.byName.values()].reduce((a, x) => a + x.rows, 0);
      lines.push(`| ${name} | ${fmt(rows)} | ${(s.ms / 1000).toFixed(2)} | ${fmt(rows / (s.ms / 1000))} | ${fmt(s.rss)} |`);
      process.stderr.write(`${name}: ${(s.ms / 1000).toFixed(2)} s\n`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  });

program
  .command('chart')
  .description('redraw docs/growth.svg from the figures in docs/growth.json')
  .action(async () => {
    const { writeGrowthChart } = await import('./chart.js');
    writeGrowthChart(path.join(ROOT, 'docs', 'growth.json'), path.join(ROOT, 'docs', 'growth.svg'));
  });

await program.parseAsync(process.argv);
