import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../src/config/config.js';
import { UserError } from '../src/core/errors.js';
import { PARAMETERS } from '../src/rules/parameters.js';
import { ROOT, testDir, writeJson } from './helpers.js';

function problemsOf(value: unknown): string[] {
  try {
    parseConfig(value, '/x/bidui.config.json');
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    return (error as UserError).message.split('\n').slice(1).map((l) => l.trim());
  }
  throw new Error('expected a config error');
}

describe('config', () => {
  it('resolves paths against the config file and fills defaults', () => {
    const config = parseConfig(
      { workspace: 'ws', datasets: [{ dataset: 'roster', files: ['exports/*.csv'], columns: { '户 编号': 'household_id' } }], rules: { remoteVillages: ['舞阳镇/顺城社区'] } },
      '/data/county/bidui.config.json',
    );
    expect(config.workspace).toBe(path.resolve('/data/county/ws'));
    expect(config.sources[0]!.files).toEqual([path.resolve('/data/county/exports/*.csv')]);
    expect(config.sources[0]!.encoding).toBe('auto');
    expect(config.sources[0]!.columns).toEqual({ 户编号: 'household_id' });
    expect(config.rules.illnessWindowDays).toBe(PARAMETERS.illnessWindowDays.default);
    expect(config.rules.remoteVillages).toEqual(['舞阳镇/顺城社区']);
    expect(config.engine.memoryLimit).toBe('3GB');
  });

  it('says what output.analystWorkbooks takes', () => {
    expect(problemsOf({ datasets: [], output: { analystWorkbooks: 'yes' } })).toContain('output.analystWorkbooks：应为 true、false（不加引号）或 "auto"，这里是 "yes"');
  });

  it('gives the same hash whatever the key order', () => {
    const a = parseConfig({ workspace: 'w', datasets: [{ dataset: 'roster', files: ['a.csv'] }] }, '/c/x.json');
    const b = parseConfig({ datasets: [{ files: ['a.csv'], dataset: 'roster' }], workspace: 'w' }, '/c/x.json');
    expect(a.hash).toBe(b.hash);
    const c = parseConfig({ workspace: 'w', datasets: [{ dataset: 'roster', files: ['b.csv'] }] }, '/c/x.json');
    expect(c.hash).not.toBe(a.hash);
  });

  it('reports every problem at once as path: message', () => {
    const problems = problemsOf({
      datasets: [
        { dataset: 'roster', files: [] },
        { dataset: 'cars', files: ['a.csv'] },
        { dataset: 'hukou', files: ['h.csv'], encoding: 'latin1', columns: { 户口号: 'hukou_no' } },
      ],
      rules: { illnessWindowDays: -1, remoteVillages: ['舞阳镇顺城社区'], nosuch: 1 },
      extra: true,
    });
    const paths = problems.map((p) => p.split('：')[0]!.replace(/（第 \d+ 项(中的第 \d+ 项)*）$/, ''));
    expect(paths).toEqual(expect.arrayContaining([
      'workspace', 'datasets[0].files', 'datasets[1].dataset', 'datasets[2].encoding', 'rules.illnessWindowDays', 'rules.remoteVillages[0]',
    ]));
    expect(problems.length).toBeGreaterThanOrEqual(8);
  });

  it('words problems as a user would: what is expected, what was found, and the nearest key or dataset for a slip', () => {
    const problems = problemsOf({
      workspce: './ws',
      datasets: [{ dataset: 'rostr', files: 'a.csv', encodng: 'gbk', headerRow: '3' }, { dataset: 'hukou', files: ['h.csv'], columns: { 户口号: 'hukou_i' } }],
      rules: { illnessWindowDay: 30, elderlyAge: -1 },
      output: { maskIds: 'yes' },
    });
    const text = problems.join('\n');
    for (const line of [
      'workspace：缺少这一项',
      '配置文件顶层：不认识的配置项 "workspce"，是不是 "workspace"？',
      'datasets[0].dataset（第 1 项）：文本 "rostr" 不是可用的值；是不是 roster（建档立卡）？',
      'datasets[0].files（第 1 项）：应为列表（方括号 [ … ]，各项用逗号隔开），这里是文本 "a.csv"',
      'datasets[0]（第 1 项）：不认识的配置项 "encodng"，是不是 "encoding"？',
      'datasets[0].headerRow（第 1 项）：应为数字（不加引号），这里是文本 "3"',
      'rules：不认识的配置项 "illnessWindowDay"，是不是 "illnessWindowDays"？',
      'rules.elderlyAge：不能小于 0，这里是数字 -1',
      'output.maskIds：应为 true 或 false（不加引号），这里是文本 "yes"',
    ]) expect(text).toContain(line);
    // Chinese labels, an encoding's other name and two swapped letters are recognised.
    expect(problemsOf({ workspace: 'w', datasets: [{ dataset: '低保', files: ['a'], encoding: 'GB2312' }, { dataset: 'hukuo', files: ['b'] }] }).join('\n'))
      .toMatch(/是不是 dibao（低保特困）？[\s\S]*encoding（第 1 项）：文本 "GB2312" 不是可用的值；是不是 gbk？[\s\S]*是不是 hukou（户籍人口）？/);
    // zod's own words (types in English, "invalid input") never reach the user.
    expect(text).not.toMatch(/string|number|boolean|undefined|无效输入|期望/);
    // Cross-field problems too: a misspelt field gets its nearest name.
    expect(problemsOf({ workspace: 'w', datasets: [{ dataset: 'hukou', files: ['h.csv'], columns: { 户口号: 'hukou_i' } }] }).join('\n'))
      .toMatch(/datasets\[0\]\.columns\.户口号：「hukou_i」不是 hukou（户籍人口）的字段；是不是 hukou_id？可用字段/);
  });

  it('checks cross-field rules after the schema', () => {
    const problems = problemsOf({
      workspace: 'w',
      datasets: [{ dataset: 'hukou', files: ['h.csv'], columns: { 户口号: 'hukou_no' }, sheet: 'Sheet1' }],
      rules: { dropoutMinAge: 16, dropoutMaxAge: 15 },
    });
    expect(problems.join('\n')).toContain('datasets[0].columns.户口号');
    expect(problems.join('\n')).toContain('hukou_id');
    expect(problems.join('\n')).toContain('datasets[0].sheet');
    expect(problems.join('\n')).toContain('rules.dropoutMinAge');
  });

  it('explains a missing file and broken JSON in Chinese', () => {
    const t = testDir();
    try {
      expect(() => loadConfig(path.join(t.dir, 'none.json'))).toThrow(/找不到或无法读取配置文件/);
      const bad = path.join(t.dir, 'bad.json');
      writeJson(bad, {});
      fs.writeFileSync(bad, '{"workspace": "w",}');
      expect(() => loadConfig(bad)).toThrow(/不是合法的 JSON/);
    } finally {
      t.cleanup();
    }
  });
});

describe('README and the user guide', () => {
  it('show the rule and dataset tables exactly as the rule files and dataset definitions define them (npm run docs:tables)', async () => {
    const { GENERATED, section } = await import('../src/cli/doc-tables.js');
    for (const g of GENERATED) {
      const text = fs.readFileSync(path.join(ROOT, g.file), 'utf8');
      expect([g.file, g.marker, section(text, g.marker)]).toEqual([g.file, g.marker, g.content()]);
    }
  });

  it('the guide covers every command, and the README links it and points nowhere outside the repository', async () => {
    const guide = fs.readFileSync(path.join(ROOT, 'docs', '使用说明.md'), 'utf8');
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const { buildProgram } = await import('../src/cli/main.js');
    const commands = buildProgram().commands.flatMap((c) => (c.commands.length ? c.commands.map((s) => `${c.name()} ${s.name()}`) : [c.name()])).filter((n) => n !== 'help');
    expect(commands.length).toBeGreaterThan(10);
    for (const c of commands) expect([c, guide.includes(`bidui ${c}`)]).toEqual([c, true]);
    expect(readme).toContain('docs/使用说明.md');
    expect(readme).not.toMatch(/\.\.\/shared|DOMAIN\.md/);
  });
});
