import { distance } from 'fastest-levenshtein';
import type { z } from 'zod';
import { DATASETS } from '../ingest/datasets.js';

/**
 * zod's findings about a config, in words an office user knows: where (the key path, with
 * "第 N 个" for list items), what was expected in plain terms (文本, 数字, true 或 false, 列表),
 * what was found, and for a misspelt key or dataset name the nearest correct one ("是不是 …？").
 */
type Issue = z.core.$ZodIssue;

/** The path of a finding as the user wrote it in the file (datasets[0].files). */
export function formatPath(p: readonly PropertyKey[]): string {
  return p.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)), '');
}

const TYPE_WORDS: Record<string, string> = {
  string: '文本（用英文双引号括起来）',
  number: '数字（不加引号）',
  int: '整数（不加引号）',
  boolean: ' true 或 false（不加引号）',
  array: '列表（方括号 [ … ]，各项用逗号隔开）',
  object: '一组设置（花括号 { … }）',
  record: '一组设置（花括号 { … }）',
};
function typeOf(value: unknown): string {
  if (value === undefined) return '没有填写';
  if (value === null) return 'null';
  if (Array.isArray(value)) return '列表';
  if (typeof value === 'string') return `文本 ${JSON.stringify(value)}`;
  if (typeof value === 'number') return `数字 ${value}`;
  if (typeof value === 'boolean') return `${value}`;
  if (typeof value === 'object') return '一组设置 { … }';
  return typeof value;
}

/** The nearest of `candidates` to `word` when it is close enough to be a slip (about a third of its letters). */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  // A slip: a third of the letters, and two for words of five or more (hukuo for hukou).
  const len = Math.max(word.length, best?.length ?? 0);
  return best !== undefined && bestD <= (len >= 5 ? Math.max(2, Math.floor(len / 3)) : 1) ? best : undefined;
}

/** Names people use for a value that has another name here (encodings). */
const OTHER_NAMES: Record<string, string> = { gb2312: 'gbk', cp936: 'gbk', ansi: 'gbk', utf8: 'utf-8', 'utf-8-sig': 'utf-8', unicode: 'utf-16le', utf16: 'utf-16le' };

/** The dataset meant by a misspelt name, or by (part of) its Chinese label (户籍, 低保). */
export function datasetGuess(name: string): string | undefined {
  const byLabel = DATASETS.filter((d) => name.length >= 2 && (d.zh.includes(name) || name.includes(d.zh))).map((d) => d.name);
  return byLabel.length === 1 ? byLabel[0] : nearest(name, DATASETS.map((d) => d.name));
}

/** A dataset name with its Chinese label: `roster（建档立卡）`. */
export function datasetLabel(name: string): string {
  const zh = DATASETS.find((d) => d.name === name)?.zh;
  return zh ? `${name}（${zh}）` : name;
}

/** The keys an object at `path` of `schema` allows (for "did you mean" on an unknown key). */
function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let s: unknown = schema;
  const unwrap = () => {
    for (let guard = 0; guard < 10; guard++) {
      const def = (s as { def?: { innerType?: unknown; in?: unknown; type?: string } }).def;
      if (def?.innerType) s = def.innerType;
      else if (def?.type === 'pipe' && def.in) s = def.in;
      else break;
    }
  };
  unwrap();
  for (const k of path) {
    const def = (s as { def?: { type?: string; element?: unknown; shape?: Record<string, unknown> } }).def;
    if (typeof k === 'number' && def?.type === 'array') s = def.element;
    else if (def?.type === 'object' && def.shape && typeof k === 'string') s = def.shape[k];
    else return [];
    unwrap();
  }
  const shape = (s as { def?: { type?: string; shape?: Record<string, unknown> } }).def;
  return shape?.type === 'object' && shape.shape ? Object.keys(shape.shape) : [];
}

/** One finding as one line: `path：message`. */
export function describeIssue(issue: Issue, schema: z.ZodType): string {
  const path = formatPath(issue.path);
  // Positions counted as people count them: datasets[0] is the first entry.
  const nth = [...path.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1]) + 1);
  const where = path ? `${path}${nth.length ? `（${nth.map((n) => `第 ${n} 项`).join('中的')}）` : ''}` : '配置文件顶层';
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'invalid_type': {
      if (input === undefined) return `${where}：缺少这一项（应为${TYPE_WORDS[issue.expected] ?? issue.expected}）`;
      return `${where}：应为${TYPE_WORDS[issue.expected] ?? issue.expected}，这里是${typeOf(input)}`;
    }
    case 'invalid_value': {
      const options = issue.values.map(String);
      const isDataset = issue.path[issue.path.length - 1] === 'dataset';
      const label = (o: string) => (isDataset ? datasetLabel(o) : o);
      const guess = typeof input === 'string' ? (isDataset ? datasetGuess(input) : nearest(input, options) ?? OTHER_NAMES[input.toLowerCase()]) : undefined;
      return `${where}：${typeOf(input)} 不是可用的值；${guess && options.includes(guess) ? `是不是 ${label(guess)}？` : ''}可用的值：${options.map(label).join('、')}`;
    }
    case 'unrecognized_keys': {
      const allowed = keysAt(schema, issue.path);
      return issue.keys.map((k) => {
        const guess = nearest(k, allowed);
        return `${where}：不认识的配置项 "${k}"${guess ? `，是不是 "${guess}"？` : ''}${allowed.length ? `（这里可用：${allowed.join('、')}）` : ''}`;
      }).join('\n  ');
    }
    case 'too_small': {
      const n = String(issue.minimum);
      if (issue.origin === 'array') return `${where}：至少要有 ${n} 项`;
      if (issue.origin === 'string') return `${where}：不能为空`;
      return `${where}：不能小于 ${n}${issue.inclusive === false ? '（也不能等于）' : ''}，这里是${typeOf(input)}`;
    }
    case 'too_big': {
      const n = String(issue.maximum);
      if (issue.origin === 'array') return `${where}：最多 ${n} 项`;
      if (issue.origin === 'string') return `${where}：最长 ${n} 个字符`;
      return `${where}：不能大于 ${n}，这里是${typeOf(input)}`;
    }
    case 'invalid_format':
    case 'custom':
      return `${where}：${issue.message}`;
    default:
      return `${where}：${issue.message}`;
  }
}
