import { DATASETS } from './datasets.js';

/**
 * The user guide's table of datasets and their columns (docs/使用说明.md), from the dataset
 * definitions themselves: field, Chinese name, required or not, the header spellings recognised,
 * and for coded fields the standard values. A test keeps the guide in step.
 */
export function datasetsMarkdownTable(): string {
  const out: string[] = [];
  for (const d of DATASETS) {
    out.push(`#### ${d.zh}（\`${d.name}\`，${d.department}）`, '', '| 字段 | 含义 | 必填 | 能识别的表头 | 标准值 |', '| --- | --- | --- | --- | --- |');
    for (const f of d.fields) {
      const values = f.values ? Object.keys(f.values).join('、') : '';
      out.push(`| \`${f.name}\` | ${f.zh} | ${f.required ? '是' : '否'} | ${f.aliases.join('、')} | ${values || '–'} |`);
    }
    out.push('');
  }
  return out.join('\n').trim();
}
