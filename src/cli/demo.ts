import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../core/errors.js';

/** The committed demo county (fixtures/demo), found relative to the installed package. */
export function demoFixtureDir(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'demo');
}

const DEMO_MARKER = '.bidui-demo';

/** Is `out` an earlier demo folder (its marker, or the config an earlier version wrote)? */
function isDemoFolder(out: string, source: string): boolean {
  if (fs.existsSync(path.join(out, DEMO_MARKER))) return true;
  try {
    const config = JSON.parse(fs.readFileSync(path.join(out, 'bidui.config.json'), 'utf8')) as { workspace?: string; datasets?: { files?: string[] }[] };
    return config.workspace === './workspace' && (config.datasets ?? []).every((d) => (d.files ?? []).every((f) => f.startsWith(source + path.sep)));
  } catch {
    return false;
  }
}

/**
 * Prepare a fresh demo folder: its own workspace and a config whose file paths point at the
 * committed demo exports (which are never written to). A folder that holds anything but an
 * earlier demo is refused (E_DEMO_OUT): the demo replaces its config, workspace and outputs.
 */
export function prepareDemo(out: string): { configFile: string; asOf: string } {
  const source = demoFixtureDir();
  const sourceConfig = path.join(source, 'bidui.config.json');
  if (!fs.existsSync(sourceConfig)) {
    throw new UserError('E_DEMO_MISSING', '找不到内置的演示数据 fixtures/demo', { hint: '在 bidui 的源码目录中运行，或先执行 npm run fixtures:demo 重新生成。' });
  }
  if (fs.existsSync(out)) {
    if (!fs.statSync(out).isDirectory()) throw new UserError('E_DEMO_OUT', `演示目录指向的是一个文件：${out}`, { hint: '用 --out 指定一个新的目录，例如 --out bidui-demo。' });
    if (fs.readdirSync(out).length > 0 && !isDemoFolder(out, source)) {
      throw new UserError('E_DEMO_OUT', `目录中已有其他内容，不是以前的演示目录：${out}`, {
        hint: '演示会覆盖目录中的配置、工作区和报告：用 --out 指定一个新的（或空的）目录，例如 --out bidui-demo。',
      });
    }
  }
  if (fs.existsSync(path.join(out, 'workspace'))) fs.rmSync(path.join(out, 'workspace'), { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(out, DEMO_MARKER), '由 bidui demo 创建的演示目录。\n', { mode: 0o600 });
  const config = JSON.parse(fs.readFileSync(sourceConfig, 'utf8')) as { datasets: { files: string[] }[]; workspace: string; output?: { dir?: string } };
  for (const d of config.datasets) d.files = d.files.map((f) => path.join(source, f));
  config.workspace = './workspace';
  config.output = { ...config.output, dir: './out' };
  const configFile = path.join(out, 'bidui.config.json');
  fs.writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
  const fixture = JSON.parse(fs.readFileSync(path.join(source, 'fixture.json'), 'utf8')) as { asOf: string };
  return { configFile, asOf: fixture.asOf };
}
