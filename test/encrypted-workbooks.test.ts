import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import officeCrypto from 'officecrypto-tool';
import ExcelJS from '../src/core/exceljs.js';
import { generateFixtures } from '../src/fixtures/generate.js';
import { readCsvFile as csv, hashTree, ROOT, runCli, testDir } from './helpers.js';

/** Issue 12, item 6: township workbooks with an open password per township (output.encrypt). */
const PYTHON = '/usr/bin/python3';
const hasLibreOffice = spawnSync(PYTHON, ['-c', 'import uno'], { encoding: 'utf8' }).status === 0 && spawnSync('soffice', ['--version'], { encoding: 'utf8' }).status === 0;
if (!hasLibreOffice && process.env.BIDUI_REQUIRE_LIBREOFFICE) throw new Error('LibreOffice (soffice and python3-uno) is required here (BIDUI_REQUIRE_LIBREOFFICE)');

function libreOfficeOpens(file: string, password: string): string {
  const r = spawnSync(PYTHON, [path.join(ROOT, 'test', 'libreoffice-open.py'), file, password, String(20000 + (process.pid % 20000))], { encoding: 'utf8', timeout: 180_000 });
  return r.stdout.trim();
}

describe('encrypted township workbooks', () => {
  let t: { dir: string; cleanup: () => void };
  let config: string;
  let passwords: Record<string, string>[];
  let passwordsFile: string;
  let stdout: string;
  beforeAll(async () => {
    t = testDir('bidui-encrypt-');
    const county = path.join(t.dir, 'county');
    await generateFixtures({ households: 300, seed: 61, asOf: '2020-06-30', messy: 0, out: county });
    config = path.join(county, 'bidui.config.json');
    const raw = JSON.parse(fs.readFileSync(config, 'utf8')) as { output?: Record<string, unknown> };
    raw.output = { ...(raw.output ?? {}), encrypt: true };
    fs.writeFileSync(config, JSON.stringify(raw, null, 2));
    const r = runCli(['run', '--config', config, '--as-of', '2020-06-30', '--out', path.join(t.dir, 'out'), '--quiet']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    stdout = r.stdout;
    passwordsFile = path.join(county, 'workspace', 'passwords', 'township-passwords-round-1.csv');
    passwords = parse(fs.readFileSync(passwordsFile), { columns: true, bom: true }) as Record<string, string>[];
  }, 300_000);
  afterAll(() => t.cleanup());

  it('writes each township one workbook with its own password, listed in an owner-only file in the workspace', async () => {
    const files = fs.readdirSync(path.join(t.dir, 'out', 'townships')).sort();
    expect(files.length).toBeGreaterThan(1);
    expect(files.every((f) => f.endsWith('.xlsx'))).toBe(true); // no plain CSV twin beside them
    expect(passwords.map((p) => p['工作簿']).sort()).toEqual(files);
    expect(new Set(passwords.map((p) => p['打开密码'])).size).toBe(passwords.length);
    expect(fs.statSync(passwordsFile).mode & 0o777).toBe(0o600);
    expect(stdout).toContain(passwordsFile);
    for (const p of passwords) expect(stdout).not.toContain(p['打开密码']);
    // Nothing in the output folder holds a password.
    const out = path.join(t.dir, 'out');
    const all = fs.readdirSync(out, { recursive: true }).map(String).filter((f) => fs.statSync(path.join(out, f)).isFile());
    for (const f of all) for (const p of passwords) expect(fs.readFileSync(path.join(out, f)).includes(Buffer.from(p['打开密码']!))).toBe(false);
    // Each opens with its password (to the township's leads) and with no other.
    const leads = csv(path.join(out, 'leads.csv'));
    for (const p of passwords.slice(0, 2)) {
      const bytes = fs.readFileSync(path.join(out, 'townships', p['工作簿']!));
      expect(officeCrypto.isEncrypted(bytes)).toBe(true);
      const wb = new ExcelJS.Workbook();
      await wb.xlsx.load((await officeCrypto.decrypt(bytes, { password: p['打开密码']! })) as unknown as ArrayBuffer);
      expect(wb.getWorksheet('说明')!.getCell('B1').value).toBe(p['乡镇']);
      const rows = wb.worksheets.slice(0, -1).reduce((n, ws) => n + ws.rowCount - 1, 0);
      expect(rows).toBe(leads.filter((l) => l.township === p['乡镇'] && l.status !== '已核实不属实').length);
      const other = passwords.find((x) => x !== p)!['打开密码']!;
      await expect(officeCrypto.decrypt(bytes, { password: other })).rejects.toThrow();
    }
  });

  it.skipIf(!hasLibreOffice)('opens in LibreOffice with the password, and not without it', () => {
    const p = passwords[0]!;
    const file = path.join(t.dir, 'out', 'townships', p['工作簿']!);
    expect(libreOfficeOpens(file, p['打开密码']!)).toMatch(/^OPENED 漏评,错评,错退,信息核对,监测预警,说明 /);
    expect(libreOfficeOpens(file, 'wrong-password')).toBe('REFUSED');
  }, 400_000);

  it('verifies to the byte, and takes answers back in the encrypted workbook', async () => {
    expect(runCli(['verify', '1', '--config', config, '--quiet']).code).toBe(0);
    const p = passwords.find((x) => x['乡镇'] !== '未知乡镇')!;
    const file = path.join(t.dir, 'out', 'townships', p['工作簿']!);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load((await officeCrypto.decrypt(fs.readFileSync(file), { password: p['打开密码']! })) as unknown as ArrayBuffer);
    const ws = wb.worksheets.slice(0, -1).find((w) => w.rowCount > 1)!;
    const header = (ws.getRow(1).values as string[]).slice(1);
    ws.getRow(2).getCell(header.indexOf('核实结果') + 1).value = '属实';
    const answered = Buffer.from(await wb.xlsx.writeBuffer());
    // Saved by the township with the password it came with; and once with a password of its own.
    const back = path.join(t.dir, `${p['乡镇']}-已核实.xlsx`);
    fs.writeFileSync(back, officeCrypto.encrypt(answered, { password: p['打开密码']! }));
    const changed = path.join(t.dir, 'changed-password.xlsx');
    fs.writeFileSync(changed, officeCrypto.encrypt(answered, { password: 'township-own-password' }));
    const refused = runCli(['feedback', 'import', '--config', config, changed]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/changed-password\.xlsx：工作簿加了打开密码，但不是本工作区发给任何乡镇的密码/);
    const r = runCli(['feedback', 'import', '--config', config, back]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/已导入\s+1/);
  }, 300_000);

  it('rerun writes the original report, encrypted as it was, whatever the configuration says today', () => {
    const raw = JSON.parse(fs.readFileSync(config, 'utf8')) as { output: Record<string, unknown> };
    raw.output = { ...raw.output, encrypt: false };
    fs.writeFileSync(config, JSON.stringify(raw, null, 2));
    const out = path.join(t.dir, 'rerun');
    const r = runCli(['rerun', '1', '--config', config, '--out', out, '--quiet']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('每个乡镇一个加了打开密码的 .xlsx');
    const original = hashTree(path.join(t.dir, 'out'));
    const again = hashTree(out);
    expect(Object.keys(again).filter((f) => !f.startsWith('.')).sort()).toEqual(Object.keys(original).filter((f) => !f.startsWith('.')).sort());
    for (const f of Object.keys(original)) if (!f.startsWith('.')) expect([f, again[f]]).toEqual([f, original[f]]);
  }, 300_000);
});
