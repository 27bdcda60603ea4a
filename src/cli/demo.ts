import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../core/errors.js';

/** The committed demo county (fixtures/demo), found relative to the installed package. */
export function demoFixtureDir(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'demo');
}

/**
 * Prepare a fresh demo folder: its own workspace and a config whose file paths point at the
 * committed demo exports (which are never written to).
 */
export function prepareDemo(out: string): { configFile: string; asOf: string } {
  const source = demoFixtureDir();
  const sourceConfig = path.join(source, 'bidui.config.json');
  if (!fs.existsSync(sourceConfig)) {
    throw new UserError('E_DEMO_MISSING', '找不到内置的演示数据 fixtures/demo', { hint: '在 bidui 的源码目录中运行，或先执行 npm run fixtures:demo 重新生成。' });
  }
  if (fs.existsSync(path.join(out, 'workspace'))) fs.rmSync(path.join(out, 'workspace'), { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true, mode: 0o700 });
  const config = JSON.parse(fs.readFileSync(sourceConfig, 'utf8')) as { datasets: { files: string[] }[]; workspace: string; output?: { dir?: string } };
  for (const d of config.datasets) d.files = d.files.map((f) => path.join(source, f));
  config.workspace = './workspace';
  config.output = { ...config.output, dir: './out' };
  const configFile = path.join(out, 'bidui.config.json');
  fs.writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
  const fixture = JSON.parse(fs.readFileSync(path.join(source, 'fixture.json'), 'utf8')) as { asOf: string };
  return { configFile, asOf: fixture.asOf };
}
