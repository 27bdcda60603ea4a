/**
 * Open a report page in headless Chromium (Debian's `chromium` package) and report what a person
 * would see go wrong: console messages (errors included) and charts with nothing drawn.
 *   node dist/report/check-page.js out/summary.html
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export interface PageCheck {
  consoleMessages: string[];
  charts: { id: string; bars: number }[];
}

export function chromiumPath(): string | undefined {
  for (const p of [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser']) if (p && fs.existsSync(p)) return p;
  return undefined;
}

export function checkPage(file: string): PageCheck {
  const chromium = chromiumPath();
  if (!chromium) throw new Error('Chromium not found: install Debian package "chromium" (apt-get install chromium) or set CHROMIUM');
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'bidui-chromium-'));
  try {
    const r = spawnSync(chromium, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, '--enable-logging=stderr', '--v=0',
      '--dump-dom', pathToFileURL(path.resolve(file)).href,
    ], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`chromium exited with ${r.status}: ${r.stderr.slice(-500)}`);
    const consoleMessages = r.stderr.split('\n').filter((l) => /:CONSOLE[:(]/.test(l));
    const charts = [...r.stdout.matchAll(/<svg id="([^"]+)" class="chart"[\s\S]*?<\/svg>/g)].map((m) => ({
      id: m[1]!,
      bars: [...m[0].matchAll(/<rect class="bar"[^>]*width="([0-9.]+)"/g)].filter((b) => Number(b[1]) > 0).length,
    }));
    return { consoleMessages, charts };
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = process.argv[2] ?? 'out/summary.html';
  if (!fs.existsSync(file)) {
    process.stderr.write(`no such file: ${file} (give the summary.html of a report, e.g. bidui-demo/out/summary.html)\n`);
    process.exit(2);
  }
  const result = checkPage(file);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  process.exitCode = result.consoleMessages.length === 0 && result.charts.length > 0 && result.charts.every((c) => c.bars > 0) ? 0 : 1;
}
