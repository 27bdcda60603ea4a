import { spawnSync } from 'node:child_process';
import type { Reporter, TestModule } from 'vitest/node';
import { chromiumPath } from '../src/report/check-page.js';

/** The tools some tests need besides Node; when one is missing, one line says what was skipped and how to install it. */
function missingTools(): string[] {
  const has = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' }).status === 0;
  const out: string[] = [];
  if (!chromiumPath()) out.push('Chromium not found: the summary page checks were skipped (Debian: apt-get install chromium fonts-noto-cjk; or set CHROMIUM to a Chromium binary).');
  else if (!(spawnSync('fc-list', [':lang=zh'], { encoding: 'utf8' }).stdout ?? '').trim()) out.push('No Chinese font found: the summary page renders with boxes (Debian: apt-get install fonts-noto-cjk).');
  if (!has('soffice', ['--version']) || !has('/usr/bin/python3', ['-c', 'import uno'])) out.push('LibreOffice not found: the print and round-trip checks were skipped (Debian: apt-get install libreoffice-calc-nogui python3-uno).');
  return out;
}

/** Prints the plain closing line CI reads: "tests: N passed, N failed, N skipped". */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
      }
      if (module.state() === 'failed' && [...module.children.allTests()].length === 0) failed++;
    }
    process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
    if (skipped > 0) for (const line of missingTools()) process.stdout.write(`note: ${line}\n`);
  }
}
