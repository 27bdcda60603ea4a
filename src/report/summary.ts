import fs from 'node:fs';
import { queryStep } from '../core/sql.js';
import type { Store } from '../core/store.js';
import { DATASETS, type DatasetName } from '../ingest/datasets.js';
import { SKIP_REASON_ZH, type SkipReason } from '../ingest/layout.js';
import type { GateResult } from '../ingest/quality.js';
import { CATEGORIES } from '../rules/catalogue.js';
import { type DatasetQuality, invalidIdText } from './quality.js';
import { DEFAULT_TIME_ZONE, formatLocal, localDate } from '../core/time.js';
import { PARAMETERS, PARAMETER_NAMES, defaultParameters } from '../rules/parameters.js';
import { canonicalJson } from '../config/config.js';
import { type AnalystTwins, analystAutoMaxRows, listSettings, type RunRow, type RunRuleRow } from './report.js';
import { MONITORING_ANSWERS } from './list-format.js';

/**
 * summary.html: one self-contained page (inline CSS, charts as inline SVG drawn here, no
 * scripts, no external files) that opens offline in any browser. Everything in Chinese.
 */
const COLORS: Record<string, string> = { 漏评: '#c0392b', 错评: '#d68910', 错退: '#2471a3', 信息核对: '#7d3c98', 监测预警: '#138d75' };
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
  const wide = `<svg id="${id}" class="chart" role="img" aria-label="${escapeHtml(title)}" viewBox="0 0 ${width} ${height}" width="100%" preserveAspectRatio="xMinYMin meet">${bars}${legend}</svg>`;
  return `<figure>${wide}${narrowBars(`${id}-narrow`, title, labels, series, value)}<figcaption>${escapeHtml(title)}</figcaption></figure>`;
}

/**
 * Legend items (a 12-unit swatch, then the label) placed left to right and onto a new row where
 * the next would pass `width`. A label's width is estimated at the charts' 12 px: 12 units a
 * Chinese character, 7 another. (Five categories at 88 units each passed the phone chart's 360:
 * 监测预警 was cut off.)
 */
export function flowLegend(series: string[], width: number): { s: string; x: number; row: number }[] {
  const out: { s: string; x: number; row: number }[] = [];
  let x = 0;
  let row = 0;
  for (const s of series) {
    const w = 16 + [...s].reduce((sum, c) => sum + (c.charCodeAt(0) < 0x80 ? 7 : 12), 0);
    if (x > 0 && x + w > width) {
      x = 0;
      row++;
    }
    out.push({ s, x, row });
    x += w + 14;
  }
  return out;
}

/**
 * The same chart for a phone (shown instead of the wide one below 640 px): 360 units wide, so
 * that its text keeps about its size, with each label above its bar.
 */
function narrowBars(id: string, title: string, labels: string[], series: string[], value: (label: string, s: string) => number): string {
  const width = 360;
  const rowH = 40;
  const total = (l: string) => series.reduce((sum, s) => sum + value(l, s), 0);
  const scale = (width - 50) / Math.max(1, ...labels.map(total));
  const legendItems = flowLegend(series, width);
  const legendRows = Math.max(1, ...legendItems.map((l) => l.row + 1));
  const height = labels.length * rowH + 12 + 18 * legendRows;
  const bars = labels.map((label, i) => {
    const y = 6 + i * rowH;
    let x = 0;
    const segs = series.map((s) => {
      const v = value(label, s);
      const w = v * scale;
      const rect = v > 0 ? `<rect class="bar" x="${x.toFixed(1)}" y="${y + 16}" width="${Math.max(w, 1).toFixed(1)}" height="16" fill="${COLORS[s] ?? '#555'}"><title>${escapeHtml(`${label} ${s}：${v}`)}</title></rect>` : '';
      x += w;
      return rect;
    }).join('');
    return `<text x="0" y="${y + 7}">${escapeHtml(label)}</text>${segs}<text x="${(x + 5).toFixed(1)}" y="${y + 24}">${fmt(total(label))}</text>`;
  }).join('');
  const top = labels.length * rowH + 10;
  const legend = legendItems.map(({ s, x, row }) => `<rect x="${x}" y="${top + 18 * row}" width="12" height="12" fill="${COLORS[s] ?? '#555'}"/><text x="${x + 16}" y="${top + 18 * row + 7}">${escapeHtml(s)}</text>`).join('');
  return `<svg id="${id}" class="chart-narrow" role="img" aria-label="${escapeHtml(title)}" viewBox="0 0 ${width} ${height}" width="100%" preserveAspectRatio="xMinYMin meet">${bars}${legend}</svg>`;
}

/**
 * A table; each cell carries its column's header (data-label), so that on a narrow screen (a
 * phone) every row is shown as a card of "header: value" lines instead of scrolling sideways.
 * A cell given as { html } is inserted as is (already escaped).
 */
type Cell = string | number | { html: string };
function table(headers: string[], rows: Cell[][], numeric: boolean[] = []): string {
  const th = headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const text = (c: Cell) => (typeof c === 'object' ? c.html : escapeHtml(typeof c === 'number' ? fmt(c) : c));
  const tr = rows.map((r) => `<tr>${r.map((c, i) => `<td data-label="${escapeHtml(headers[i] ?? '')}"${numeric[i] ? ' class="n"' : ''}>${text(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${tr}\n</tbody></table>`;
}

export async function writeSummary(store: Store, run: RunRow, rules: RunRuleRow[], previousRunId: number | undefined, quality: DatasetQuality[], analyst: AnalystTwins, file: string): Promise<string> {
  const { conn } = store;
  const settings = listSettings(run);
  const byVillage = await queryStep<{ township: string; village: string; category: string; n: string }>(conn, 'summary: by village',
    "SELECT township_name AS township, coalesce(village, '（村不详）') AS village, category, count(*) AS n FROM r_lead GROUP BY ALL ORDER BY township, village, category");
  const counts = new Map<string, number>();
  const add = (k: string, n: number) => counts.set(k, (counts.get(k) ?? 0) + n);
  for (const r of byVillage) {
    add(`${r.township}\u0000${r.category}`, Number(r.n));
    add(`${r.township}\u0000`, Number(r.n));
    add(`${r.township}\u0000${r.village}\u0000${r.category}`, Number(r.n));
    add(`${r.township}\u0000${r.village}\u0000`, Number(r.n));
  }
  const cell = (t: string, c: string) => counts.get(`${t}\u0000${c}`) ?? 0;
  const villageCell = (t: string, v: string, c: string) => counts.get(`${t}\u0000${v}\u0000${c}`) ?? 0;
  // Most leads first (the township with most work at the top), then by name.
  const byCount = (total: (x: string) => number) => (a: string, b: string) => total(b) - total(a) || (a < b ? -1 : a > b ? 1 : 0);
  const townships = [...new Set(byVillage.map((r) => r.township))].sort(byCount((t) => cell(t, '')));
  const villagesOf = (t: string) => [...new Set(byVillage.filter((r) => r.township === t).map((r) => r.village))].sort(byCount((v) => villageCell(t, v, '')));
  const status = await queryStep<{ category: string; new: string; continuing: string; withheld: string }>(conn, 'summary: status',
    `SELECT category, count(*) FILTER (WHERE status = '新增') AS new, count(*) FILTER (WHERE status = '持续') AS continuing,
            count(*) FILTER (WHERE status = '已核实不属实') AS withheld FROM r_lead GROUP BY category`);
  const resolved = await queryStep<{ category: string; n: string }>(conn, 'summary: resolved', 'SELECT category, count(*) AS n FROM r_resolved GROUP BY category');
  const snapshots = JSON.parse(run.snapshots_json) as Partial<Record<DatasetName, number>>;
  const gate = JSON.parse(run.quality_json || '{}') as Partial<GateResult>;
  const unknown = await unknownTownships(store, snapshots);
  const progress = await queryStep<{ township: string; total: string; issued: string; answered: string; confirmed: string; rejected: string; closed: string; overdue: string }>(conn, 'summary: verification', `
    SELECT township_name AS township, count(*) AS total, count(*) FILTER (WHERE status <> '已核实不属实') AS issued,
           count(last_result) AS answered, count(*) FILTER (WHERE last_outcome = '属实') AS confirmed,
           count(*) FILTER (WHERE last_outcome = '不属实') AS rejected, count(*) FILTER (WHERE last_outcome = '已整改') AS closed,
           count(*) FILTER (WHERE overdue) AS overdue
    FROM r_lead GROUP BY township_name ORDER BY township_name`);
  progress.sort((a, b) => townships.indexOf(a.township) - townships.indexOf(b.township));
  const pct = (a: number, b: number) => (b === 0 ? '–' : `${((100 * a) / b).toFixed(1)}%`);
  const progressRows = progress.map((p) => {
    const [total, issued, answered, confirmed, rejected, closed, overdue] = [p.total, p.issued, p.answered, p.confirmed, p.rejected, p.closed, p.overdue].map(Number) as [number, number, number, number, number, number, number];
    // Of all the township's leads of this run: those issued and those withheld after a 不属实
    // (a 不属实 lead issued again with new evidence is counted once).
    return [p.township, issued, answered, confirmed, rejected, closed, overdue > 0 ? { html: `<strong class="late">${fmt(overdue)}</strong>` } : 0, pct(answered, total), pct(closed, confirmed + closed)];
  });
  const zhOf = (d: string) => `${DATASETS.find((x) => x.name === d)?.zh ?? d}（${d}）`;
  // In catalogue order: the page is compared byte for byte by verify (an unordered GROUP BY gave
  // 错评 before 漏评 on one run and after it on the next).
  const linkedByCategory = await queryStep<{ category: string; n: string }>(conn, 'summary: linked leads', 'SELECT category, count(*) AS n FROM r_lead WHERE linkage IS NOT NULL GROUP BY category, category_order ORDER BY category_order');
  const linkedLeads = linkedByCategory.reduce((a, r) => a + Number(r.n), 0);
  const linkStats = JSON.parse(run.linkage_json || '{}') as Record<string, { linked: number; ambiguous: number; unmatched: number }>;
  const linkRows = Object.entries(linkStats).filter(([, v]) => v.linked + v.ambiguous + v.unmatched > 0)
    .map(([d, v]) => [zhOf(d), v.linked + v.ambiguous + v.unmatched, v.linked, v.ambiguous, v.unmatched]);
  const totalOverdue = progress.reduce((s, p) => s + Number(p.overdue), 0);
  const timeZone = (JSON.parse(run.config_json || '{}') as { timeZone?: string }).timeZone ?? DEFAULT_TIME_ZONE;
  const freshnessRows = quality.map((q) => {
    const fileDay = q.fileTimes.oldest ? localDate(timeZone, utc(q.fileTimes.oldest)) : undefined;
    const newestDay = q.fileTimes.newest ? localDate(timeZone, utc(q.fileTimes.newest)) : undefined;
    const loadedDay = localDate(timeZone, utc(q.loadedAt));
    // The age of the data: from the oldest file's date (the stalest part of the snapshot), else
    // from the day it was loaded.
    const age = daysBetween(fileDay ?? loadedDay, run.as_of);
    const stale = age > settings.staleDays;
    return [zhOf(q.dataset), fileDay ? (newestDay && newestDay !== fileDay ? `${fileDay} 至 ${newestDay}` : fileDay) : '（未记录）', formatLocal(q.loadedAt, timeZone),
      age < 0 ? '–（晚于比对日期）' : `${age}${fileDay ? '' : '（按导入日）'}`, stale ? { html: `<strong class="late">过旧（超过 ${settings.staleDays} 天）</strong>` } : '正常'];
  });
  const staleCount = freshnessRows.filter((r) => typeof r[4] === 'object').length;

  const statusRows = CATEGORIES.map((c) => {
    const s = status.find((x) => x.category === c);
    return [c, Number(s?.new ?? 0), Number(s?.continuing ?? 0), Number(resolved.find((x) => x.category === c)?.n ?? 0), Number(s?.withheld ?? 0)];
  });
  const totalLeads = townships.reduce((s, t) => s + cell(t, ''), 0);
  const qualityRows = quality.map((q) => {
    const invalid = Object.values(q.invalidIds).reduce((s, v) => s + v, 0);
    const skipped = Object.entries(q.skipped).map(([k, n]) => `${SKIP_REASON_ZH[k as SkipReason]} ${n}`).join('，');
    return [zhOf(q.dataset), q.snapshot, q.files, q.rowsRead, q.rowsLoaded, q.rowsRejected, q.rowsSkipped, skipped || '–', q.warnings, invalid, invalidIdText(q.invalidIds), unknown.get(q.dataset) ?? '–'];
  });
  const reasonRows = quality.flatMap((q) => q.reasons.map((r) => [zhOf(q.dataset), r.kind, r.reason, r.count]));
  const notLoaded = DATASETS.filter((d) => snapshots[d.name] === undefined).map((d) => `${d.zh}（${d.name}）`);

  // 监测预警 per township: households per M rule, and how the township answered.
  const mRules = rules.filter((r) => r.category === '监测预警');
  const mByRule = await queryStep<{ township: string; rule: string; n: string }>(conn, 'summary: monitoring by rule',
    "SELECT township, rule, count(DISTINCT lead_key) AS n FROM r_evidence WHERE category = '监测预警' GROUP BY ALL");
  const mLeads = await queryStep<{ township: string; total: string; answered: string; taken: string; declined: string; cleared: string; overdue: string }>(conn, 'summary: monitoring answers', `
    SELECT township_name AS township, count(*) AS total, count(last_result) AS answered,
           count(*) FILTER (WHERE last_outcome = '属实') AS taken, count(*) FILTER (WHERE last_outcome = '不属实') AS declined,
           count(*) FILTER (WHERE last_outcome = '已整改') AS cleared, count(*) FILTER (WHERE overdue) AS overdue
    FROM r_lead WHERE category = '监测预警' GROUP BY township_name`);
  const mTownships = mLeads.map((r) => r.township).sort((a, b) => townships.indexOf(a) - townships.indexOf(b));
  const mCell = (t: string, rule: string) => Number(mByRule.find((x) => x.township === t && x.rule === rule)?.n ?? 0);
  const mNotRun = mRules.filter((r) => r.outcome !== 'Success');
  const monitoringSection = mRules.length === 0 ? '<p class="note">本次运行没有监测预警规则（由 0.6 以前的版本运行）。</p>' : `${mTownships.length === 0
    ? '<p>本次没有监测预警线索。</p>'
    : table(['乡镇', ...mRules.map((r) => `${r.rule_id} ${r.title}`), '线索户数', '已答复', ...MONITORING_ANSWERS, '逾期未答复'],
      mTownships.map((t) => {
        const l = mLeads.find((x) => x.township === t)!;
        const overdue = Number(l.overdue);
        return [t, ...mRules.map((r) => mCell(t, r.rule_id)), Number(l.total), Number(l.answered), Number(l.taken), Number(l.declined), Number(l.cleared),
          overdue > 0 ? { html: `<strong class="late">${fmt(overdue)}</strong>` } : 0];
      }), [false, ...mRules.map(() => true), true, true, true, true, true, true])}
<p class="note">防止返贫动态监测的预警线索：脱贫户、监测户和一般农户中，医疗自付费用高、新纳入低保特困、新增重度残疾或危房、风险消除不实或收入低于监测范围的家庭（各规则的说明见“各规则”）。每户一行列在乡镇工作簿的“监测预警”工作表中，请在核实期限（首次下发后 ${settings.monitoringVerificationDays} 天）内入户核实并选择：${MONITORING_ANSWERS.join('、')}。一户命中多条规则时，各规则列分别计数，线索户数只计一次。</p>${mNotRun.length
    ? `\n<p class="warn">未执行的监测预警规则：${mNotRun.map((r) => `${escapeHtml(r.rule_id)}（${escapeHtml(r.reason ?? '')}）`).join('；')}。</p>` : ''}`;

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
.late { color: #b03a2e; } .fine { color: #888; font-size: .8em; overflow-wrap: anywhere; }
details { margin: .3em 0; } summary { cursor: pointer; color: #1f4e79; }
ul.settings { padding-left: 1.2em; } ul.settings li { margin: .2em 0; }
/* A phone (390 px): no sideways scroll. Tables become cards, one "header: value" line per cell. */
.chart-narrow { display: none; }
@media (max-width: 640px) {
  .chart { display: none; } .chart-narrow { display: block; }
  td:empty { display: none; }
  body { margin: 1em auto; padding: 0 .6em; font-size: 15px; }
  h1 { font-size: 1.35em; }
  dl { grid-template-columns: 1fr; } dd { margin: 0 0 .4em 0; }
  table, thead, tbody, tr, td { display: block; width: auto; }
  thead { display: none; }
  tr { border: 1px solid #ccc; margin: .5em 0; padding: .2em .4em; }
  td { border: none; padding: .15em 0; text-align: left; overflow-wrap: anywhere; }
  td.n { text-align: left; }
  td::before { content: attr(data-label) "："; color: #666; }
}
</style>
</head>
<body>
<h1>部门数据比对汇总</h1>
<dl>
<dt>运行编号</dt><dd>${run.run_id}</dd>
<dt>比对日期</dt><dd>${escapeHtml(run.as_of)}</dd>
<dt>运行状态</dt><dd>${run.status === 'complete' ? '完整' : '不完整（有规则出错）'}</dd>
<dt>线索总数</dt><dd>${fmt(totalLeads)}（${CATEGORIES.map((c) => `${c} ${fmt(townships.reduce((s, t) => s + cell(t, c), 0))}`).join('，')}）${linkedLeads ? `；其中按证件号码精确比对 ${fmt(totalLeads - linkedLeads)} 条，<strong>疑似（关联）${fmt(linkedLeads)} 条</strong>（${linkedByCategory.map((r) => `${escapeHtml(r.category)} ${fmt(Number(r.n))}`).join('，')}；见“证件号码受损记录的关联”）` : ''}</dd>
${totalOverdue ? `<dt>逾期未答复</dt><dd><strong class="late">${fmt(totalOverdue)}</strong> 条线索已过核实期限仍未答复（见“核实进度”）</dd>` : ''}
${staleCount ? `<dt>数据过旧</dt><dd><strong class="late">${staleCount}</strong> 个数据集的导出文件超过 ${settings.staleDays} 天（见“数据新鲜度”）</dd>` : ''}
<dt>程序版本</dt><dd>bidui ${escapeHtml(run.bidui_version)}，DuckDB ${escapeHtml(run.duckdb_version)}</dd>
<dt>运行性质</dt><dd>${run.purpose === 'nightly' ? '每晚运行' : '分析运行（不作为以后运行的比较基准）'}</dd>
<dt>比较基准</dt><dd>${previousRunId === undefined ? '无（此前没有交付过报告的每晚运行）' : `运行 ${previousRunId}（此前最近一次交付了报告的每晚运行）`}</dd>
</dl>

<h2>各乡镇线索</h2>
${stackedBars('chart-townships', '各乡镇线索数（按类别）', townships, [...CATEGORIES], cell)}
${table(['乡镇', ...CATEGORIES, '合计'], townships.map((t) => [t, ...CATEGORIES.map((c) => cell(t, c)), cell(t, '')]), [false, ...CATEGORIES.map(() => true), true])}
<p class="note">乡镇按线索数从多到少排列；线索数含核实为“不属实”、证据未变而不再下发的线索，所以可能多于乡镇工作簿中的行数。点开乡镇名称可看各村的线索数。</p>
${townships.map((t) => `<details><summary>${escapeHtml(t)}：${fmt(villagesOf(t).length)} 个村，${fmt(cell(t, ''))} 条线索</summary>
${table(['村', ...CATEGORIES, '合计'], villagesOf(t).map((v) => [v, ...CATEGORIES.map((c) => villageCell(t, v, c)), villageCell(t, v, '')]), [false, ...CATEGORIES.map(() => true), true])}
</details>`).join('\n')}

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
${table(['乡镇', '下发线索', '已答复', '属实（纳入监测）', '不属实（不纳入）', '已整改（已消除风险）', '逾期未答复', '答复率', '整改销号率'], progressRows, [false, true, true, true, true, true, true, true, true])}
<p class="note">依据本次运行完成前导入的乡镇核实结果（bidui feedback import）。核实期限 = 线索首次下发之日（连续出现在此前交付的每晚运行中的线索，从它第一次出现算起）加 ${settings.verificationDays} 天${settings.monitoringVerificationDays !== settings.verificationDays ? `（监测预警线索加 ${settings.monitoringVerificationDays} 天）` : ''}；逾期未答复 = 核实期限早于比对日期（${escapeHtml(run.as_of)}）而还没有导入核实结果的下发线索。答复率 = 已答复 / 本次该乡镇的全部线索（下发的，加上核实不属实、证据未变而不再下发的）；整改销号率 = 已整改 / (属实 + 已整改)。核实为“不属实”且证据没有变化的线索不再下发。监测预警线索的答复“纳入监测”“不纳入”“已消除风险”分别计入属实、不属实、已整改。</p>

<h2>监测预警（防止返贫监测）</h2>
${monitoringSection}

${linkRows.length ? `<h2>证件号码受损记录的关联</h2>
${table(['数据集', '证件号码无效的记录', '已关联', '有多个可能的人（未关联）', '找不到对应的人'], linkRows, [false, true, true, true, true])}
<p class="note">证件号码无效（被 Excel 损坏、录错一两位或 15 位旧号码）的记录，按姓名、乡镇（和村）及号码的其余部分在户籍中找对应的人；只有唯一一人符合时才关联。关联记录引出的线索标为“疑似（关联）”并注明可信度（高：号码前 15 位或出生日期和顺序码相同且同村；中：同乡镇，或录错一位且同村；低：其他），须先核对是否本人。名册中号码受损的成员关联后不算作名册成员，只用于错评、错退规则（线索同样标为疑似（关联））和信息核对 Q6 的更正建议。“找不到对应的人”包括只剩 6 位的号码（如 5.22625E+17，不做关联）。关联可在配置 linkage.recoverDamagedIds 中关闭。</p>` : ''}

<h2>数据新鲜度</h2>
${table(['数据集', '导出文件日期', '导入时间', '距比对日期（天）', '状态'], freshnessRows, [false, false, false, true, false])}
<p class="note">导出文件日期是文件的修改日期（复制文件时可能变为复制的日期）；一个数据集有多个文件时列出最早和最晚的，天数按最早的算。超过 ${settings.staleDays} 天的数据集标为“过旧”：部门没有按时推送新数据，比对只能用旧数据，可能漏掉线索。</p>

<h2>数据质量</h2>
${gate.accepted && gate.over?.length ? `<p class="warn">本次运行用 --accept-rejects 越过了质量关口：${escapeHtml(gate.over.map((d) => `${zhOf(d.dataset)} 拒收 ${d.rowsRejected} / ${d.rowsConsidered} 行（${(100 * d.share).toFixed(2)}%）`).join('；'))}，超过上限 ${((gate.limit ?? 0) * 100).toFixed(2)}%。这些数据集被拒收的记录没有参与比对。</p>` : ''}
${table(['数据集', '快照', '文件数', '读取行数', '导入行数', '拒收行数', '跳过行数', '跳过原因', '警告', '无效证件号', '无效原因', '乡镇不在名册中的行数'], qualityRows, [false, true, true, true, true, true, true, false, true, true, false, true])}
${notLoaded.length ? `<p class="note">未导入的数据集：${escapeHtml(notLoaded.join('、'))}。依赖这些数据集的规则未执行。</p>` : ''}
<p class="note">读取行数 = 导入 + 拒收 + 跳过（空行、表尾合计行等不是记录，不算拒收）。无效证件号按本次比对日期（${escapeHtml(run.as_of)}）计算，与信息核对 Q1 一致；无效证件号不参与比对，名册中的列为 Q1 线索。</p>
${reasonRows.length ? `<h3>拒收和警告的原因</h3>
${table(['数据集', '类别', '原因', '行数'], reasonRows, [false, false, false, true])}
<p class="note">每条拒收行和警告（文件、行号、原值）见 quality/ 文件夹中各数据集的问题数据工作簿，可发回有关部门核对修正。</p>` : ''}
<h2>本次运行的设置</h2>
${settingsList(run, settings, analyst, timeZone)}
<p class="fine">配置摘要（SHA-256）：<code>${escapeHtml(run.config_hash)}</code>。配置相同的运行摘要相同；审计时用它核对运行所用的配置。</p>
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

/** A UTC timestamp as the store writes it, as a Date. */
const utc = (value: string) => new Date(`${value.replace(' ', 'T')}Z`);

/** Whole days from date a to date b (YYYY-MM-DD). */
function daysBetween(a: string, b: string): number {
  return Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / 86_400_000);
}

/** The run's configuration in plain words: the datasets read, the thresholds changed, the list settings. */
function settingsList(run: RunRow, settings: { verificationDays: number; monitoringVerificationDays: number; staleDays: number }, analyst: AnalystTwins, timeZone: string): string {
  const raw = JSON.parse(run.config_json || '{}') as {
    datasets?: { dataset: string; files: string[] }[];
    output?: { maskIds?: boolean; encrypt?: boolean; passwordRound?: number };
    quality?: { maxRejectedShare?: number };
    linkage?: { recoverDamagedIds?: boolean };
  };
  const files = new Map<string, number>();
  for (const d of raw.datasets ?? []) files.set(d.dataset, (files.get(d.dataset) ?? 0) + d.files.length);
  const datasets = DATASETS.filter((d) => files.has(d.name)).map((d) => `${d.zh}（${files.get(d.name)} 个文件或通配符）`);
  const params = JSON.parse(run.params_json || '{}') as Record<string, unknown>;
  const defaults = defaultParameters() as Record<string, unknown>;
  const show = (v: unknown) => (Array.isArray(v) ? (v.length ? v.join('、') : '（无）') : v && typeof v === 'object' ? Object.entries(v).map(([k, x]) => `${k} 年 ${String(x)}`).join('，') : String(v));
  const changed = PARAMETER_NAMES.filter((k) => k in params && canonicalJson(params[k]) !== canonicalJson(defaults[k]))
    .map((k) => `${PARAMETERS[k].zh}：${show(params[k])}（默认 ${show(defaults[k])}）`);
  const items = [
    `比对的数据集：${datasets.join('、') || '（无）'}`,
    changed.length ? `与默认值不同的规则参数：<ul>${changed.map((c) => `<li>${escapeHtml(c)}</li>`).join('')}</ul>` : '规则参数：全部为默认值（见 README 的规则表）',
    `核实期限：线索首次下发后 ${settings.verificationDays} 天${settings.monitoringVerificationDays !== settings.verificationDays ? `（监测预警线索 ${settings.monitoringVerificationDays} 天）` : ''}`,
    `数据过旧提醒：导出文件超过 ${settings.staleDays} 天`,
    `质量关口：某数据集拒收的行超过 ${((raw.quality?.maxRejectedShare ?? 0.01) * 100).toFixed(2)}% 时停止运行`,
    `证件号码受损的记录：${raw.linkage?.recoverDamagedIds === false ? '不关联（只按证件号码精确比对）' : '按姓名、乡镇和号码的其余部分关联，所得线索标为“疑似（关联）”'}`,
    `乡镇清单：${raw.output?.encrypt ? `加密（打开密码第 ${raw.output.passwordRound ?? 1} 轮）` : '不加密'}`,
    `分析用工作簿 evidence.xlsx、leads.xlsx：${analyst.written ? '已生成'
      : analyst.setting === false ? '未生成（配置 output.analystWorkbooks 为 false）'
      : `未生成（证据表共 ${analyst.evidenceRows.toLocaleString('en-US')} 行，超过自动生成上限 ${analystAutoMaxRows().toLocaleString('en-US')} 行；行数这么多，宜用数据库或统计软件读取 evidence.csv。如需生成，请在配置中将 output.analystWorkbooks 设为 true）`}`,
    `时区：${timeZone}`,
  ];
  return `<ul class="settings">${items.map((i) => `<li>${i.includes('<ul>') ? i.replace(/^[^<]*/, (head) => escapeHtml(head)) : escapeHtml(i)}</li>`).join('')}</ul>`;
}
