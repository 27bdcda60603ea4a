import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFixtures } from '../src/fixtures/generate.js';
import { ROOT, runCli, testDir } from './helpers.js';

/**
 * Issue 13: a township workbook prints with every line of its evidence. Excel and WPS do not grow
 * a row when they open a file, and LibreOffice keeps the heights a file sets: a row shorter than
 * its content prints cut off. LibreOffice (headless) computes each row's optimal height; none of
 * bidui's may be below it.
 */
const PYTHON = '/usr/bin/python3';
const hasLibreOffice = spawnSync(PYTHON, ['-c', 'import uno'], { encoding: 'utf8' }).status === 0 && spawnSync('soffice', ['--version'], { encoding: 'utf8' }).status === 0;
if (!hasLibreOffice && process.env.BIDUI_REQUIRE_LIBREOFFICE) throw new Error('LibreOffice (soffice and python3-uno) is required here (BIDUI_REQUIRE_LIBREOFFICE)');

describe.skipIf(!hasLibreOffice)('township workbooks in print', () => {
  let t: { dir: string; cleanup: () => void };
  beforeAll(async () => {
    t = testDir('bidui-print-');
    const county = path.join(t.dir, 'county');
    await generateFixtures({ households: 1500, seed: 71, asOf: '2020-06-30', messy: 0.5, out: county });
    expect(runCli(['run', '--config', path.join(county, 'bidui.config.json'), '--as-of', '2020-06-30', '--out', path.join(t.dir, 'out'), '--quiet']).code).toBe(0);
  }, 300_000);
  afterAll(() => t.cleanup());

  it('every row is at least as tall as LibreOffice needs for its lines', () => {
    const dir = path.join(t.dir, 'out', 'townships');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.xlsx')).map((f) => path.join(dir, f));
    const r = spawnSync(PYTHON, [path.join(ROOT, 'test', 'libreoffice-row-heights.py'), String(21000 + (process.pid % 20000)), ...files], { encoding: 'utf8', timeout: 400_000 });
    const m = /ROWS (\d+) SHORT (\d+)/.exec(r.stdout);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(100);
    expect(Number(m![2]), r.stdout).toBe(0);
  }, 400_000);
});
