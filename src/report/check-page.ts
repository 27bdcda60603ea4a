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

/** Run headless Chromium on a page with extra arguments; its stdout and stderr. */
function chromiumRun(file: string, args: string[]): { stdout: string; stderr: string } {
  const chromium = chromiumPath();
  if (!chromium) throw new Error('Chromium not found: install Debian package "chromium" (apt-get install chromium) or set CHROMIUM');
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'bidui-chromium-'));
  try {
    const r = spawnSync(chromium, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, '--enable-logging=stderr', '--v=0', '--hide-scrollbars',
      ...args, pathToFileURL(path.resolve(file)).href,
    ], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`chromium exited with ${r.status}: ${r.stderr.slice(-500)}`);
    return { stdout: r.stdout, stderr: r.stderr };
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

/**
 * How wide the page lays out in a window `width` CSS pixels wide: the document's scroll width
 * (more than `width` means a sideways scroll) and the widest element. Headless Chromium's window
 * is at least 500 px wide, so the page is opened in a frame `width` px wide; it has no script, so
 * a copy with a small probe added is used (beside the file, removed after).
 */
export function pageWidth(file: string, width: number): { scrollWidth: number; widest: string; right: number } {
  const dir = path.dirname(path.resolve(file));
  const copy = path.join(dir, `.probe-${process.pid}.html`);
  const frame = path.join(dir, `.probe-${process.pid}-frame.html`);
  const script = `<script>addEventListener('load', () => { let w = '', max = 0; for (const e of document.querySelectorAll('body *')) { const r = e.getBoundingClientRect(); if (r.right > max) { max = r.right; w = e.tagName + (e.id ? '#' + e.id : ''); } } parent.postMessage(JSON.stringify({ scrollWidth: document.documentElement.scrollWidth, widest: w + ' ' + Math.round(max) + ' of ' + innerWidth, right: Math.ceil(max) }), '*'); });</script>`;
  fs.writeFileSync(copy, fs.readFileSync(file, 'utf8').replace('</body>', `${script}</body>`));
  fs.writeFileSync(frame, `<!DOCTYPE html><html><body style="margin:0"><iframe src="${path.basename(copy)}" style="width:${width}px;height:900px;border:0"></iframe><script>addEventListener('message', (e) => document.body.setAttribute('data-probe', e.data));</script></body></html>`);
  try {
    const { stdout } = chromiumRun(frame, ['--virtual-time-budget=3000', '--allow-file-access-from-files', '--dump-dom']);
    const m = /data-probe="([^"]+)"/.exec(stdout);
    if (!m) throw new Error('the probe did not run');
    return JSON.parse(m[1]!.replace(/&quot;/g, '"')) as { scrollWidth: number; widest: string; right: number };
  } finally {
    fs.rmSync(copy, { force: true });
    fs.rmSync(frame, { force: true });
  }
}

export function checkPage(file: string): PageCheck {
  {
    const r = chromiumRun(file, ['--dump-dom']);
    const consoleMessages = r.stderr.split('\n').filter((l) => /:CONSOLE[:(]/.test(l));
    const charts = [...r.stdout.matchAll(/<svg id="([^"]+)" class="chart"[\s\S]*?<\/svg>/g)].map((m) => ({
      id: m[1]!,
      bars: [...m[0].matchAll(/<rect class="bar"[^>]*width="([0-9.]+)"/g)].filter((b) => Number(b[1]) > 0).length,
    }));
    return { consoleMessages, charts };
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = process.argv[2] ?? 'out/summary.html';
  if (!fs.existsSync(file)) {
    process.stderr.write(`no such file: ${file} (give the summary.html of a report, e.g. bidui-demo/out/summary.html)\n`);
    process.exit(2);
  }
  const result = checkPage(file);
  const phone = pageWidth(file, 390);
  process.stdout.write(`${JSON.stringify({ ...result, phone }, null, 2)}\n`);
  // An element past the window's right edge is a problem even where it does not scroll the page
  // (text clipped at a chart's edge).
  process.exitCode = result.consoleMessages.length === 0 && result.charts.length > 0 && result.charts.every((c) => c.bars > 0) && phone.scrollWidth <= 390 && phone.right <= 390 ? 0 : 1;
}
