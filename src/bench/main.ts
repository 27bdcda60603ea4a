/**
 * Benchmarks (never timed unit tests). Figures go to docs/BENCHMARKS.md.
 *   npm run bench -- fixtures --households N
 *   npm run bench -- ingest --households N [--messy X] [--runs R]
 */
import { execFileSync, spawnSync } from 'node:child_process';
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
  .command('run')
  .option('--households <n>', 'households', (v) => Number(v), 100_000)
  .option('--messy <x>', 'messiness', (v) => Number(v), 0)
  .option('--seed <n>', 'seed', (v) => Number(v), 1)
  .option('--as-of <date>', 'as-of date', '2020-06-30')
  .option('--runs <n>', 'runs (median reported)', (v) => Number(v), 3)
  .action((o: { households: number; messy: number; seed: number; asOf: string; runs: number }) => {
    const { dir } = fixtures(o.households, o.messy, o.seed);
    const configFile = path.join(dir, 'bidui.config.json');
    const times: number[] = [];
    const rss: number[] = [];
    for (let i = 0; i < o.runs; i++) {
      // The nightly job on a fresh workspace: ingest everything, match, report.
      fs.rmSync(path.join(dir, 'workspace'), { recursive: true, force: true });
      const out = path.join(dir, 'out');
      const started = performance.now();
      const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, BIN, 'run', '--config', configFile, '--as-of', o.asOf, '--out', out, '--quiet'], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`bidui run failed: ${r.stderr}`);
      times.push(performance.now() - started);
      rss.push(Number(r.stderr.trim().split('\n').pop()) / 1024);
      process.stderr.write(`run ${i + 1}/${o.runs}: ${(times.at(-1)! / 1000).toFixed(2)} s, peak RSS ${fmt(rss.at(-1)!)} MB\n`);
    }
    const check = checkLeads(dir, path.join(dir, 'out', 'evidence.csv'), o.asOf);
    process.stdout.write(`machine: ${machine()}\ncounty: ${fmt(o.households)} households, messy ${o.messy}; bidui run (ingest + match + report, fresh workspace), median of ${o.runs}: ${(median(times) / 1000).toFixed(2)} s, peak RSS ${fmt(Math.max(...rss))} MB\n${check}\n`);
  });

await program.parseAsync(process.argv);
