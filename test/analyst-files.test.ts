import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ExcelJS from '../src/core/exceljs.js';
import { generateFixtures } from '../src/fixtures/generate.js';
import { readCsvFile as csv, runCli, testDir } from './helpers.js';

/**
 * Issue 13: the analyst files survive a spreadsheet. evidence.csv and leads.csv are for
 * programs; their XLSX twins (IDs, household numbers and lead keys as text cells) are for people.
 * Checked by a round trip through LibreOffice (headless): the twin comes back with every ID
 * exact, while the CSV opened the ordinary way does not, which is why the twins exist.
 */
const hasLibreOffice = spawnSync('soffice', ['--version'], { encoding: 'utf8' }).status === 0;
if (!hasLibreOffice && process.env.BIDUI_REQUIRE_LIBREOFFICE) throw new Error('LibreOffice is required here (BIDUI_REQUIRE_LIBREOFFICE)');

/** Every row of a workbook's sheets (header excluded) as strings, and the cells that are not text. */
async function readSheets(file: string): Promise<{ header: string[]; rows: string[][]; nonText: string[] }> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(file);
  let header: string[] = [];
  const rows: string[][] = [];
  const nonText: string[] = [];
  for (const ws of wb.worksheets) {
    header = (ws.getRow(1).values as unknown[]).slice(1).map(String);
    ws.eachRow((row, n) => {
      if (n === 1) return;
      const cells = header.map((h, i) => {
        const v = row.getCell(i + 1).value;
        if (v !== null && v !== undefined && typeof v !== 'string' && ['lead_key', 'household_key', 'id_number'].includes(h)) nonText.push(`${ws.name}!${n}:${h}`);
        return v === null || v === undefined ? '' : String(v);
      });
      rows.push(cells);
    });
  }
  return { header, rows, nonText };
}

/** LibreOffice opens `file` and saves it as .xlsx into `dir` (its own profile, so runs do not collide). */
function libreOfficeRoundTrip(file: string, dir: string, infilter?: string): string {
  const profile = path.join(dir, 'profile');
  const r = spawnSync('soffice', [`-env:UserInstallation=${pathToFileURL(profile).href}`, '--headless', '--norestore',
    ...(infilter ? [`--infilter=${infilter}`] : []), '--convert-to', 'xlsx:Calc MS Excel 2007 XML', '--outdir', dir, file], { encoding: 'utf8', timeout: 120_000 });
  const out = path.join(dir, `${path.basename(file, path.extname(file))}.xlsx`);
  if (!fs.existsSync(out)) throw new Error(`LibreOffice did not convert ${file}: ${r.stdout}${r.stderr}`);
  return out;
}

describe('analyst files', () => {
  let t: { dir: string; cleanup: () => void };
  let out: string;
  beforeAll(async () => {
    t = testDir('bidui-analyst-');
    const county = path.join(t.dir, 'county');
    await generateFixtures({ households: 600, seed: 41, asOf: '2020-06-30', messy: 0.5, out: county });
    out = path.join(t.dir, 'out');
    expect(runCli(['run', '--config', path.join(county, 'bidui.config.json'), '--as-of', '2020-06-30', '--out', out, '--quiet']).code).toBe(0);
  }, 120_000);
  afterAll(() => t.cleanup());

  it('writes XLSX twins of evidence.csv and leads.csv: the same rows, IDs and keys as text cells', async () => {
    for (const name of ['evidence', 'leads']) {
      const rows = csv(path.join(out, `${name}.csv`));
      const twin = await readSheets(path.join(out, `${name}.xlsx`));
      expect(twin.header).toEqual(Object.keys(rows[0]!));
      expect(twin.nonText).toEqual([]);
      expect(twin.rows).toEqual(rows.map((r) => twin.header.map((h) => r[h] ?? '')));
    }
  });

  it('"auto" (the default) leaves the twins out of a run with more evidence rows than its limit, and says so; true writes them anyway', () => {
    const config = path.join(t.dir, 'county', 'bidui.config.json');
    const evidenceRows = csv(path.join(out, 'evidence.csv')).length;
    const limit = String(evidenceRows - 1);
    const auto = path.join(t.dir, 'auto');
    const r = runCli(['report', '--config', config, '--run', '1', '--out', auto], { env: { BIDUI_ANALYST_AUTO_ROWS: limit } });
    expect(r.code).toBe(0);
    expect(fs.existsSync(path.join(auto, 'evidence.csv'))).toBe(true);
    expect(fs.existsSync(path.join(auto, 'evidence.xlsx'))).toBe(false);
    expect(fs.existsSync(path.join(auto, 'leads.xlsx'))).toBe(false);
    expect(r.stdout).toContain(`证据表行数较多（${evidenceRows.toLocaleString('en-US')} 行，超过自动生成上限），未生成 evidence.xlsx、leads.xlsx`);
    expect(fs.readFileSync(path.join(auto, 'summary.html'), 'utf8')).toContain(`未生成（证据表共 ${evidenceRows.toLocaleString('en-US')} 行，超过自动生成上限 ${Number(limit).toLocaleString('en-US')} 行`);
    const manifest = JSON.parse(fs.readFileSync(path.join(auto, 'manifest.json'), 'utf8')) as { outputs: { file: string }[] };
    expect(manifest.outputs.map((f) => f.file)).toContain('evidence.csv');
    expect(manifest.outputs.map((f) => f.file).filter((f) => f === 'evidence.xlsx' || f === 'leads.xlsx')).toEqual([]);
    // At the limit they are written; `true` writes them whatever the size (the run records the config).
    const at = path.join(t.dir, 'at-limit');
    expect(runCli(['report', '--config', config, '--run', '1', '--out', at, '--quiet'], { env: { BIDUI_ANALYST_AUTO_ROWS: String(evidenceRows) } }).code).toBe(0);
    expect(fs.existsSync(path.join(at, 'evidence.xlsx'))).toBe(true);
    const forced = JSON.parse(fs.readFileSync(config, 'utf8')) as { output: Record<string, unknown> };
    forced.output.analystWorkbooks = true;
    const forcedConfig = path.join(t.dir, 'county', 'forced.config.json');
    fs.writeFileSync(forcedConfig, JSON.stringify(forced));
    const on = path.join(t.dir, 'forced');
    expect(runCli(['run', '--config', forcedConfig, '--as-of', '2020-06-30', '--out', on, '--quiet'], { env: { BIDUI_ANALYST_AUTO_ROWS: '0' } }).code).toBe(0);
    expect(fs.existsSync(path.join(on, 'evidence.xlsx'))).toBe(true);
    expect(fs.readFileSync(path.join(on, 'summary.html'), 'utf8')).toContain('分析用工作簿 evidence.xlsx、leads.xlsx：已生成');
  });

  it('continues on a next sheet past the rows a worksheet holds (a lowered limit stands in for 1,048,575)', async () => {
    const small = path.join(t.dir, 'small');
    const r = runCli(['report', '--config', path.join(t.dir, 'county', 'bidui.config.json'), '--run', '1', '--out', small, '--quiet'], { env: { BIDUI_SHEET_ROWS: '50' } });
    expect(r.code, r.stderr).toBe(0);
    const rows = csv(path.join(small, 'evidence.csv'));
    expect(rows.length).toBeGreaterThan(120);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(path.join(small, 'evidence.xlsx'));
    expect(wb.worksheets.map((w) => [w.name, w.rowCount - 1])).toEqual(
      Array.from({ length: Math.ceil(rows.length / 50) }, (_, i) => [i === 0 ? 'evidence' : `evidence (${i + 1})`, Math.min(50, rows.length - 50 * i)]));
    expect((await readSheets(path.join(small, 'evidence.xlsx'))).rows.length).toBe(rows.length);
  });

  it('splits a township category with more leads than a sheet holds across sheets, says so, and reads answers back from every one', async () => {
    const small = path.join(t.dir, 'tiny');
    const config = path.join(t.dir, 'county', 'bidui.config.json');
    expect(runCli(['report', '--config', config, '--run', '1', '--out', small, '--quiet'], { env: { BIDUI_SHEET_ROWS: '5' } }).code).toBe(0);
    const leads = csv(path.join(small, 'leads.csv'));
    const perTownship = new Map<string, number>();
    for (const l of leads.filter((x) => x.category === '漏评')) perTownship.set(l.township!, (perTownship.get(l.township!) ?? 0) + 1);
    const [township, n] = [...perTownship].sort((a, b) => b[1] - a[1])[0]!;
    expect(n).toBeGreaterThan(10);
    const file = path.join(small, 'townships', `${township}.xlsx`);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(file);
    const sheets = wb.worksheets.filter((w) => /^漏评( \(\d+\))?$/.test(w.name));
    expect(sheets.map((w) => [w.name, w.rowCount - 1])).toEqual(Array.from({ length: Math.ceil(n / 5) }, (_, i) => [i === 0 ? '漏评' : `漏评 (${i + 1})`, Math.min(5, n - 5 * i)]));
    const about = wb.getWorksheet('说明')!;
    const aboutText = about.getSheetValues().flat().map(String).join('\n');
    expect(aboutText).toContain(`「漏评」线索较多，分在 「漏评」、「漏评 (2)」`);
    // Answer the first lead of the second sheet, as a township would, and import it.
    const second = wb.getWorksheet('漏评 (2)')!;
    const header = (second.getRow(1).values as string[]).slice(1);
    const key = String(second.getRow(2).getCell(header.indexOf('线索编号') + 1).value);
    second.getRow(2).getCell(header.indexOf('核实结果') + 1).value = '属实';
    const answered = path.join(t.dir, `${township}-answered.xlsx`);
    await wb.xlsx.writeFile(answered);
    const r = runCli(['feedback', 'import', '--config', config, answered]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/导入.*1/);
    expect(key).toMatch(/^L-/);
  });

  it.skipIf(!hasLibreOffice)('the twin survives a LibreOffice round trip with every ID exact; the CSV opened as is does not', async () => {
    const rows = csv(path.join(out, 'evidence.csv'));
    const ids = rows.map((r) => r.id_number ?? '');
    expect(ids.filter((id) => /^\d{17}[\dX]$/.test(id)).length).toBeGreaterThan(100);
    const twinDir = path.join(t.dir, 'lo-twin');
    fs.mkdirSync(twinDir);
    const back = await readSheets(libreOfficeRoundTrip(path.join(out, 'evidence.xlsx'), twinDir));
    expect(back.nonText).toEqual([]);
    expect(back.rows.map((r) => r[back.header.indexOf('id_number')])).toEqual(ids);
    expect(back.rows.map((r) => r[back.header.indexOf('household_key')])).toEqual(rows.map((r) => r.household_key));
    // The CSV, opened with LibreOffice's ordinary settings (UTF-8, comma, standard columns): the
    // IDs become numbers and lose their last digits.
    const csvDir = path.join(t.dir, 'lo-csv');
    fs.mkdirSync(csvDir);
    const opened = await readSheets(libreOfficeRoundTrip(path.join(out, 'evidence.csv'), csvDir, 'CSV:44,34,76,1'));
    expect(opened.nonText.length).toBeGreaterThan(100);
    expect(opened.rows.map((r) => r[opened.header.indexOf('id_number')]).filter((v, i) => v !== ids[i]).length).toBeGreaterThan(100);
  }, 300_000);
});
