/**
 * Rewrite the generated tables of the docs from the code that defines them (a test checks they
 * are in step): the rule table of README.md (English headers) and of docs/使用说明.md (Chinese),
 * and the guide's datasets table.   npm run docs:tables
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { datasetsMarkdownTable } from '../ingest/dataset-table.js';
import { rulesMarkdownTable } from '../rules/table.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const GENERATED: { file: string; marker: string; content: () => string }[] = [
  { file: 'README.md', marker: 'rules', content: () => rulesMarkdownTable('en') },
  { file: 'docs/使用说明.md', marker: 'rules', content: () => rulesMarkdownTable('zh') },
  { file: 'docs/使用说明.md', marker: 'datasets', content: () => datasetsMarkdownTable() },
];

/** The text between `<!-- marker:begin -->` and `<!-- marker:end -->`, trimmed. */
export function section(text: string, marker: string): string | undefined {
  const parts = text.split(`<!-- ${marker}:begin -->`);
  return parts.length === 2 ? parts[1]!.split(`<!-- ${marker}:end -->`)[0]!.trim() : undefined;
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  for (const g of GENERATED) {
    const file = path.join(ROOT, g.file);
    const text = fs.readFileSync(file, 'utf8');
    const re = new RegExp(`<!-- ${g.marker}:begin -->[\\s\\S]*?<!-- ${g.marker}:end -->`);
    if (!re.test(text)) throw new Error(`${g.file} has no ${g.marker} markers`);
    fs.writeFileSync(file, text.replace(re, () => `<!-- ${g.marker}:begin -->\n${g.content()}\n<!-- ${g.marker}:end -->`));
  }
}
