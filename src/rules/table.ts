import { datasetDef } from '../ingest/datasets.js';
import { loadCatalogue } from './catalogue.js';
import { PARAMETERS } from './parameters.js';

/** The README's rule table, from the rule files themselves (a test keeps README in step). */
export function rulesMarkdownTable(lang: 'en' | 'zh' = 'en'): string {
  const { rules } = loadCatalogue();
  const rows = rules.map((r) => {
    const datasets = Object.keys(r.needs).map((d) => `${d}（${datasetDef(d as Parameters<typeof datasetDef>[0]).zh}）`).join('、');
    const params = r.params.map((p) => `\`${p}\` = ${JSON.stringify(PARAMETERS[p].default)}`).join('<br>') || '–';
    return `| ${r.id} | ${r.category} | ${r.title} | ${r.explain} | ${datasets} | ${params} |`;
  });
  const header = lang === 'zh' ? '| 编号 | 类别 | 名称 | 查找什么 | 所需数据集 | 参数（默认值） |' : '| id | category | title | what it finds | datasets | parameters (default) |';
  return [header, '| --- | --- | --- | --- | --- | --- |', ...rows].join('\n');
}
