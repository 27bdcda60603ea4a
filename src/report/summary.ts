import fs from 'node:fs';
import { queryStep } from '../core/sql.js';
import type { Store } from '../core/store.js';
import { DATASETS, type DatasetName } from '../ingest/datasets.js';
import { SKIP_REASON_ZH, type SkipReason } from '../ingest/layout.js';
import type { GateResult } from '../ingest/quality.js';
import { CATEGORIES } from '../rules/catalogue.js';
import { type DatasetQuality, invalidIdText } from './quality.js';
import type { RunRow, RunRuleRow } from './report.js';

/**
 * summary.html: one self-contained page (inline CSS, charts as inline SVG drawn here, no
 * scripts, no external files) that opens offline in any browser. Everything in Chinese.
 */
const COLORS: Record<string, string> = { 漏评: '#c0392b', 错评: '#d68910', 错退: '#2471a3', 信息核对: '#7d3c98' };
const OUTCOME_ZH: Record<string, string> = { Success: '已执行', NotExecuted: '未执行', Error: '出错' };

export function escapeHtml(text: unknown): string {
  return String(text ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const fmt = (n: number) => n.toLocaleString('en-US');

/** Horizontal stacked bars: one bar per label, one segment per series. */
export function stackedBars(id: string, title: string, labels: string[], series: string[], value: (label: string, s: string) => number): string {
  const rowH = 26;
  const left = 150;
  const width = 760;
  const max = Math.max(1, ...labels.map((l) => series.reduce((sum, s) => sum + value(l, s), 0)));
  const scale = (width - left - 80) / max;
  const height = labels.length * rowH + 40;
  const bars = labels.map((label, i) => {
    let x = left;
    const y = 10 + i * rowH;
    const segs = series.map((s) => {
      const v = value(label, s);
      const w = v * scale;
      const rect = v > 0 ? `<rect class="bar" x="${x.toFixed(1)}" y="${y}" width="${Math.max(w, 1).toFixed(1)}" height="${rowH - 8}" fill="${COLORS[s] ?? '#555'}"><title>${escapeHtml(`${label} ${s}：${v}`)}</title></rect>` : '';
      x += w;
      return rect;
    }).join('');
    const total = series.reduce((sum, s) => sum + value(label, s), 0);
    return `<text x="${left - 8}" y="${y + rowH / 2}" text-anchor="end">${escapeHtml(label)}</text>${segs}<text x="${(x + 6).toFixed(1)}" y="${y + rowH / 2}">${fmt(total)}</text>`;
  }).join('');
  const legend = series.map((s, i) => `<rect x="${left + i * 110}" y="${height - 22}" width="12" height="12" fill="${COLORS[s] ?? '#555'}"/><text x="${left + i * 110 + 18}" y="${height - 12}">${escapeHtml(s)}</text>`).join('');
  return `<figure><svg id="${id}" class="chart" role="img" aria-label="${escapeHtml(title)}" viewBox="0 0 ${width} ${height}" width="100%" preserveAspectRatio="xMinYMin meet">${bars}${legend}</svg><figcaption>${escapeHtml(title)}</figcaption></figure>`;
}

function table(headers: string[], rows: (string | number)[][], numeric: boolean[] = []): string {
  const th = headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const tr = rows.map((r) => `<tr>${r.map((c, i) => `<td${numeric[i] ? ' class="n"' : ''}>${escapeHtml(typeof c === 'number' ? fmt(c) : c)}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${tr}\n</tbody></table>`;
}

export async function writeSummary(store: Store, run: RunRow, rules: RunRuleRow[], previousRunId: number | undefined, quality: DatasetQuality[], file: string): Promise<string> {
  const { conn } = store;
  const byTownship = await queryStep<{ township: string; category: string; n: string }>(conn, 'summary: by township',
    'SELECT township_name AS township, category, count(*) AS n FROM r_lead GROUP BY ALL ORDER BY township, category');
  const townships = [...new Set(byTownship.map((r) => r.township))].sort();
  const cell = (t: string, c: string) => Number(byTownship.find((r) => r.township === t && r.category === c)?.n ?? 0);
  const status = await queryStep<{ category: string; new: string; continuing: string; withheld: string }>(conn, 'summary: status',
    `SELECT category, count(*) FILTER (WHERE status = '新增') AS new, count(*) FILTER (WHERE status = '持续') AS continuing,
            count(*) FILTER (WHERE status = '已核实不属实') AS withheld FROM r_lead GROUP BY category`);
  const resolved = await queryStep<{ category: string; n: string }>(conn, 'summary: resolved', 'SELECT category, count(*) AS n FROM r_resolved GROUP BY category');
  const snapshots = JSON.parse(run.snapshots_json) as Partial<Record<DatasetName, number>>;
  const gate = JSON.parse(run.quality_json || '{}') as Partial<GateResult>;
  const unknown = await unknownTownships(store, snapshots);
  const progress = await queryStep<{ township: string; total: string; issued: string; answered: string; confirmed: string; rejected: string; closed: string }>(conn, 'summary: verification', `
    SELECT township_name AS township, count(*) AS total, count(*) FILTER (WHERE status <> '已核实不属实') AS issued,
           count(last_result) AS answered, count(*) FILTER (WHERE last_result = '属实') AS confirmed,
           count(*) FILTER (WHERE last_result = '不属实') AS rejected, count(*) FILTER (WHERE last_result = '已整改') AS closed
    FROM r_lead GROUP BY township_name ORDER BY township_name`);
  const pct = (a: number, b: number) => (b === 0 ? '–' : `${((100 * a) / b).toFixed(1)}%`);
  const progressRows = progress.map((p) => {
    const [total, issued, answered, confirmed, rejected, closed] = [p.total, p.issued, p.answered, p.confirmed, p.rejected, p.closed].map(Number) as [number, number, number, number, number, number];
    // Of all the township's leads of this run: those issued and those withheld after a 不属实
    // (a 不属实 lead issued again with new evidence is counted once).
    return [p.township, issued, answered, confirmed, rejected, closed, pct(answered, total), pct(closed, confirmed + closed)];
  });

  const statusRows = CATEGORIES.map((c) => {
    const s = status.find((x) => x.category === c);
    return [c, Number(s?.new ?? 0), Number(s?.continuing ?? 0), Number(resolved.find((x) => x.category === c)?.n ?? 0), Number(s?.withheld ?? 0)];
  });
  const totalLeads = byTownship.reduce((s, r) => s + Number(r.n), 0);
  const zhOf = (d: string) => `${DATASETS.find((x) => x.name === d)?.zh ?? d}（${d}）`;
  const qualityRows = quality.map((q) => {
    const invalid = Object.values(q.invalidIds).reduce((s, v) => s + v, 0);
    const skipped = Object.entries(q.skipped).map(([k, n]) => `${SKIP_REASON_ZH[k as SkipReason]} ${n}`).join('，');
    return [zhOf(q.dataset), q.snapshot, q.files, q.rowsRead, q.rowsLoaded, q.rowsRejected, q.rowsSkipped, skipped || '–', q.warnings, invalid, invalidIdText(q.invalidIds), unknown.get(q.dataset) ?? '–'];
  });
  const reasonRows = quality.flatMap((q) => q.reasons.map((r) => [zhOf(q.dataset), r.kind, r.reason, r.count]));
  const notLoaded = DATASETS.filter((d) => snapshots[d.name] === undefined).map((d) => `${d.zh}（${d.name}）`);

  const html = `<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>部门数据比对汇总 · 运行 ${run.run_id} · ${escapeHtml(run.as_of)}</title>
<style>
body { font-family: "Microsoft YaHei", "PingFang SC", "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif; margin: 2em auto; max-width: 1100px; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; border-bottom: 2px solid #ddd; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .8em 0; font-size: .92em; } th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; }
th { background: #f3f3f3; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2em 1em; } dt { color: #666; }
figure { margin: 1em 0; } figcaption { color: #666; font-size: .9em; } svg text { font-size: 12px; dominant-baseline: middle; }
.note { color: #666; font-size: .9em; } .warn { color: #8a4b00; background: #fff4e0; padding: .4em .6em; }
</style>
</head>
<body>
<h1>部门数据比对汇总</h1>
<dl>
<dt>运行编号</dt><dd>${run.run_id}</dd>
<dt>比对日期</dt><dd>${escapeHtml(run.as_of)}</dd>
<dt>运行状态</dt><dd>${run.status === 'complete' ? '完整' : '不完整（有规则出错）'}</dd>
<dt>线索总数</dt><dd>${fmt(totalLeads)}（${CATEGORIES.map((c) => `${c} ${fmt(townships.reduce((s, t) => s + cell(t, c), 0))}`).join('，')}）</dd>
<dt>程序版本</dt><dd>bidui ${escapeHtml(run.bidui_version)}，DuckDB ${escapeHtml(run.duckdb_version)}</dd>
<dt>配置摘要</dt><dd><code>${escapeHtml(run.config_hash.slice(0, 16))}</code></dd>
<dt>运行性质</dt><dd>${run.purpose === 'nightly' ? '每晚运行' : '分析运行（不作为以后运行的比较基准）'}</dd>
<dt>比较基准</dt><dd>${previousRunId === undefined ? '无（此前没有交付过报告的每晚运行）' : `运行 ${previousRunId}（此前最近一次交付了报告的每晚运行）`}</dd>
</dl>

<h2>各乡镇线索</h2>
${stackedBars('chart-townships', '各乡镇线索数（按类别）', townships, [...CATEGORIES], cell)}
${table(['乡镇', ...CATEGORIES, '合计'], townships.map((t) => [t, ...CATEGORIES.map((c) => cell(t, c)), CATEGORIES.reduce((s, c) => s + cell(t, c), 0)]), [false, true, true, true, true, true])}

<h2>各规则</h2>
${stackedBars('chart-rules', '各规则命中户数', rules.filter((r) => r.outcome === 'Success').map((r) => `${r.rule_id} ${r.title}`), [...CATEGORIES], (label, c) => {
  const r = rules.find((x) => `${x.rule_id} ${x.title}` === label);
  return r && r.category === c ? Number(r.leads) : 0;
})}
${table(['规则', '类别', '名称', '执行结果', '户数', '证据条数', '未执行或出错的原因'], rules.map((r) => [r.rule_id, r.category, r.title, OUTCOME_ZH[r.outcome] ?? r.outcome, Number(r.leads), Number(r.evidence_rows), r.reason ?? '']), [false, false, false, false, true, true, false])}
<p class="note">“未执行”表示缺少所需数据或配置，不代表没有线索。</p>

<h2>与比较基准相比</h2>
${table(['类别', '新增', '持续', '已消失', '已核实不属实（不再下发）'], statusRows, [false, true, true, true, true])}
<p class="note">比较基准是此前最近一次完整交付了报告的每晚运行。新增：基准中没有的线索；持续：基准中已有；已消失：基准中有、本次没有（见 resolved.csv）。分析运行和没有写完报告的运行不作为基准，所以它们发现的变化会在下一次交付的报告中出现。</p>

<h2>核实进度</h2>
${table(['乡镇', '下发线索', '已答复', '属实', '不属实', '已整改', '答复率', '整改销号率'], progressRows, [false, true, true, true, true, true, true, true])}
<p class="note">依据本次运行完成前导入的乡镇核实结果（bidui feedback import）。答复率 = 已答复 / 本次该乡镇的全部线索（下发的，加上核实不属实、证据未变而不再下发的）；整改销号率 = 已整改 / (属实 + 已整改)。核实为“不属实”且证据没有变化的线索不再下发。</p>

<h2>数据质量</h2>
${gate.accepted && gate.over?.length ? `<p class="warn">本次运行用 --accept-rejects 越过了质量关口：${escapeHtml(gate.over.map((d) => `${zhOf(d.dataset)} 拒收 ${d.rowsRejected} / ${d.rowsConsidered} 行（${(100 * d.share).toFixed(2)}%）`).join('；'))}，超过上限 ${((gate.limit ?? 0) * 100).toFixed(2)}%。这些数据集被拒收的记录没有参与比对。</p>` : ''}
${table(['数据集', '快照', '文件数', '读取行数', '导入行数', '拒收行数', '跳过行数', '跳过原因', '警告', '无效证件号', '无效原因', '乡镇不在名册中的行数'], qualityRows, [false, true, true, true, true, true, true, false, true, true, false, true])}
${notLoaded.length ? `<p class="note">未导入的数据集：${escapeHtml(notLoaded.join('、'))}。依赖这些数据集的规则未执行。</p>` : ''}
<p class="note">读取行数 = 导入 + 拒收 + 跳过（空行、表尾合计行等不是记录，不算拒收）。无效证件号按本次比对日期（${escapeHtml(run.as_of)}）计算，与信息核对 Q1 一致；无效证件号不参与比对，名册中的列为 Q1 线索。</p>
${reasonRows.length ? `<h3>拒收和警告的原因</h3>
${table(['数据集', '类别', '原因', '行数'], reasonRows, [false, false, false, true])}
<p class="note">每条拒收行和警告（文件、行号、原值）见 quality/ 文件夹中各数据集的问题数据工作簿，可发回有关部门核对修正。</p>` : ''}
</body>
</html>
`;
  fs.writeFileSync(file, html, { mode: 0o600 });
  return file;
}

/** Per dataset with a township column: loaded rows whose township is not one of the roster's. */
async function unknownTownships(store: Store, snapshots: Partial<Record<DatasetName, number>>): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const def of DATASETS) {
    if (def.name === 'roster' || snapshots[def.name] === undefined || !def.fields.some((f) => f.name === 'township')) continue;
    const [row] = await queryStep<{ n: string }>(store.conn, `summary: unknown townships ${def.name}`,
      `SELECT count(*) AS n FROM ${def.name} WHERE township IS NULL OR township NOT IN (SELECT DISTINCT township FROM roster WHERE township IS NOT NULL)`);
    out.set(def.name, Number(row?.n ?? 0));
  }
  return out;
}
