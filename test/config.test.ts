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
    const paths = problems.map((p) => p.split(':')[0]);
    expect(paths).toEqual(expect.arrayContaining([
      'workspace', 'datasets[0].files', 'datasets[1].dataset', 'datasets[2].encoding', 'rules.illnessWindowDays', 'rules.remoteVillages[0]',
    ]));
    expect(problems.length).toBeGreaterThanOrEqual(8);
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

describe('README', () => {
  it('shows the rule table exactly as the rule files define it', async () => {
    const { rulesMarkdownTable } = await import('../src/rules/table.js');
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const section = readme.split('<!-- rules:begin -->')[1]!.split('<!-- rules:end -->')[0]!.trim();
    expect(section).toBe(rulesMarkdownTable());
  });
});
