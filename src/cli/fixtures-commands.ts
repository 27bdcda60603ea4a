import path from 'node:path';
import type { Command } from 'commander';
import { generateFixtures } from '../fixtures/generate.js';

export function registerFixturesCommands(program: Command): void {
  program
    .command('fixtures')
    .description('生成一个合成县（超过 1,000,000 户时为由多个县组成的合成省）的各部门导出文件（含预埋线索和干扰项）、配置文件和应得线索 expected.csv')
    .requiredOption('--households <n>', '户数', (v) => Number(v))
    .requiredOption('--out <dir>', '输出目录')
    .option('--seed <n>', '随机种子', (v) => Number(v), 1)
    .option('--as-of <date>', '比对日期 YYYY-MM-DD', '2020-06-30')
    .option('--messy <x>', '导出文件的“脏”程度 0..1', (v) => Number(v), 0)
    .action(async (opts: { households: number; out: string; seed: number; asOf: string; messy: number }) => {
      const started = performance.now();
      const out = path.resolve(opts.out);
      const summary = await generateFixtures({ households: opts.households, seed: opts.seed, asOf: opts.asOf, messy: opts.messy, out });
      const secs = ((performance.now() - started) / 1000).toFixed(1);
      process.stdout.write(
        `已生成合成${summary.households > 1_000_000 ? '省' : '县'}：${summary.households} 户 ${summary.persons} 人，${summary.files.length} 个导出文件，应得线索（类别、规则、户）${summary.expected} 条（${secs} 秒）\n` +
          `目录：${out}\n配置：${path.join(out, 'bidui.config.json')}\n`,
      );
    });
}
