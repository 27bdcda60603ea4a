import fs from 'node:fs';
import path from 'node:path';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ExcelJS from '../src/core/exceljs.js';
import { runCli, testDir, writeJson } from './helpers.js';

/**
 * Issue 12, item 5: no message bidui prints (stdout, stderr) or logs quotes the personal data of
 * its input. Each case is an error path or a warning path fed a file full of IDs and names; the
 * whole output and the workspace log are searched for every one of them.
 */
const PEOPLE = [
  { id: '11010519491231002X', name: '诸葛孔明' },
  { id: '110105195001010020', name: '欧阳修文' },
  { id: '522625194704151156', name: '上官婉儿' },
];
const HUKOU_HEADER = '公民身份号码,姓名,户号,乡镇,行政村,人口状态';
const hukouRow = (p: { id: string; name: string }, i: number) => `${p.id},${p.name},52262510000000${i},舞阳镇,顺城社区,正常`;
const ROSTER = `户编号,证件号码,姓名,与户主关系,乡镇,行政村,脱贫状态,识别时间,脱贫时间,人均纯收入\n${PEOPLE.map((p) => `522625000000010,${p.id},${p.name},户主,舞阳镇,顺城社区,已脱贫,2014-05-01,2017-11-30,5200`).join('\n')}\n`;

interface Case {
  name: string;
  /** Files of the case, written in its folder; the hukou entry of the config. */
  files: Record<string, string | Buffer | (() => Promise<Buffer>)>;
  hukou: Record<string, unknown>;
  roster?: string;
  /** What the message says instead of the data. */
  says: RegExp;
}

async function xlsxWithoutHeader(): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  const ok = wb.addWorksheet('舞阳镇');
  ok.addRow(HUKOU_HEADER.split(','));
  ok.addRow(hukouRow(PEOPLE[0]!, 0).split(','));
  const bare = wb.addWorksheet('补充');
  PEOPLE.forEach((p, i) => bare.addRow(hukouRow(p, i).split(',')));
  return Buffer.from(await wb.xlsx.writeBuffer());
}

const CASES: Case[] = [
  {
    name: 'a file without a header row',
    files: { 'hukou.csv': `${PEOPLE.map(hukouRow).join('\n')}\n` },
    hukou: { files: ['hukou.csv'] },
    says: /似乎没有表头行：第 1 行已经是数据/,
  },
  {
    name: 'a header row whose first cells hold an ID and a name',
    files: { 'hukou.csv': `${PEOPLE[0]!.id},${PEOPLE[0]!.name},户号,乡镇,行政村,人口状态\n${PEOPLE.slice(1).map(hukouRow).join('\n')}\n` },
    hukou: { files: ['hukou.csv'] },
    says: /这一行含有证件号码，其余单元格不显示/,
  },
  {
    name: 'a configured header row that is data',
    files: { 'hukou.csv': `${HUKOU_HEADER}\n${PEOPLE.map(hukouRow).join('\n')}\n` },
    hukou: { files: ['hukou.csv'], headerRow: 3 },
    says: /不是户籍人口（hukou）的表头/,
  },
  {
    name: 'a sheet of IDs without a header among sheets read with "*"',
    files: { 'hukou.xlsx': xlsxWithoutHeader },
    hukou: { files: ['hukou.xlsx'], sheet: '*' },
    says: /工作表「补充」有数据（含身份证号码）/,
  },
  {
    name: 'a column of names where a coded field is expected',
    files: { 'hukou.csv': `公民身份号码,户号,乡镇,行政村,人口状态,姓名\n${PEOPLE.map((p, i) => `${p.id},52262510000000${i},舞阳镇,顺城社区,${p.name},正常`).join('\n')}\n` },
    hukou: { files: ['hukou.csv'] },
    says: /为保护个人信息不显示原值/,
  },
  {
    name: 'a quote left open',
    files: { 'hukou.csv': `${HUKOU_HEADER}\n${hukouRow(PEOPLE[0]!, 0)}\n"${hukouRow(PEOPLE[1]!, 1)}\n${hukouRow(PEOPLE[2]!, 2)}\n` },
    hukou: { files: ['hukou.csv'] },
    says: /第 3 行|引号/,
  },
  {
    name: 'a file that switches encoding',
    files: { 'hukou.csv': Buffer.concat([iconv.encode(`${HUKOU_HEADER}\n${hukouRow(PEOPLE[0]!, 0)}\n${hukouRow(PEOPLE[1]!, 1)}\n`, 'gbk'), Buffer.from(`${hukouRow(PEOPLE[2]!, 2)}\n`)]) },
    hukou: { files: ['hukou.csv'] },
    says: /编码/,
  },
  {
    name: 'rows with more cells than the header',
    files: { 'hukou.csv': `${HUKOU_HEADER}\n${hukouRow(PEOPLE[0]!, 0)}\n${hukouRow(PEOPLE[1]!, 1)},多余,${PEOPLE[2]!.id}\n` },
    hukou: { files: ['hukou.csv'] },
    says: /列数多于表头/,
  },
  {
    name: 'IDs damaged, too short, with bad check digits (rejected rows)',
    files: { 'hukou.csv': `${HUKOU_HEADER}\n${PEOPLE.map((p, i) => hukouRow({ ...p, id: i === 0 ? `${p.id.slice(0, 15)}000` : i === 1 ? p.id.slice(0, 12) : `${p.id.slice(0, 17)}9` }, i)).join('\n')}\n` },
    hukou: { files: ['hukou.csv'] },
    says: /拒收|有数据集被拒收的行过多/,
  },
];

describe('no personal data in messages or logs', () => {
  let t: { dir: string; cleanup: () => void };
  beforeAll(() => {
    t = testDir('bidui-personal-');
  });
  afterAll(() => t.cleanup());

  for (const [n, c] of CASES.entries()) {
    it(c.name, async () => {
      const dir = path.join(t.dir, `case${n}`);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'roster.csv'), c.roster ?? ROSTER);
      for (const [name, content] of Object.entries(c.files)) fs.writeFileSync(path.join(dir, name), typeof content === 'function' ? await content() : content);
      writeJson(path.join(dir, 'bidui.config.json'), {
        workspace: './ws',
        datasets: [{ dataset: 'roster', files: ['roster.csv'] }, { dataset: 'hukou', ...c.hukou }],
      });
      const r = runCli(['run', '--config', path.join(dir, 'bidui.config.json'), '--as-of', '2020-06-30', '--out', path.join(dir, 'out'), '--quiet']);
      const said = `${r.stdout}\n${r.stderr}`;
      expect(said).toMatch(c.says);
      const logFile = path.join(dir, 'ws', 'logs', 'bidui.log');
      const logged = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
      expect(logged.length).toBeGreaterThan(0);
      for (const p of PEOPLE) {
        // The ID, any 8 or more of its digits in a row, and the name.
        const pieces = [p.id, p.name, ...Array.from({ length: p.id.length - 7 }, (_, i) => p.id.slice(i, i + 8))];
        for (const piece of pieces) {
          expect(said.includes(piece), `terminal output quotes "${piece}":\n${said}`).toBe(false);
          expect(logged.includes(piece), `log quotes "${piece}"`).toBe(false);
        }
      }
    });
  }
});
