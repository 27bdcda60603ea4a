/**
 * The growth chart of docs/BENCHMARKS.md (issue 15): time and peak memory of `bidui run` against
 * households, drawn as an SVG from the measured figures in docs/growth.json, with the line a
 * linear cost through the 1M figure would follow. `npm run bench -- chart` rewrites docs/growth.svg.
 */
import fs from 'node:fs';

export interface GrowthPoint {
  households: number;
  seconds: number;
  peakGb: number;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export function growthSvg(points: GrowthPoint[]): string {
  const W = 640;
  const H = 300;
  const left = 56;
  const right = 56;
  const top = 24;
  const bottom = 44;
  const maxH = Math.max(...points.map((p) => p.households));
  const maxS = Math.max(...points.map((p) => p.seconds)) * 1.1;
  const maxG = Math.max(...points.map((p) => p.peakGb)) * 1.1;
  const x = (h: number) => left + ((W - left - right) * h) / maxH;
  const yS = (s: number) => H - bottom - ((H - top - bottom) * s) / maxS;
  const yG = (g: number) => H - bottom - ((H - top - bottom) * g) / maxG;
  const sorted = [...points].sort((a, b) => a.households - b.households);
  const ref = sorted.find((p) => p.households === 1_000_000) ?? sorted[0]!;
  const path = (ys: (p: GrowthPoint) => number) => sorted.map((p, i) => `${i ? 'L' : 'M'}${x(p.households).toFixed(1)},${ys(p).toFixed(1)}`).join(' ');
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<line x1="${left}" y1="${H - bottom}" x2="${W - right}" y2="${H - bottom}" stroke="#444"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${H - bottom}" stroke="#444"/>`,
    `<line x1="${W - right}" y1="${top}" x2="${W - right}" y2="${H - bottom}" stroke="#444"/>`,
    // Linear cost through the 1M time: a straight line from the origin.
    `<line x1="${x(0)}" y1="${yS(0)}" x2="${x(maxH)}" y2="${yS((ref.seconds * maxH) / ref.households).toFixed(1)}" stroke="#1f77b4" stroke-dasharray="4 4" opacity="0.6"/>`,
    `<path d="${path((p) => yS(p.seconds))}" fill="none" stroke="#1f77b4" stroke-width="2"/>`,
    `<path d="${path((p) => yG(p.peakGb))}" fill="none" stroke="#d62728" stroke-width="2"/>`,
  ];
  for (const p of sorted) {
    out.push(`<circle cx="${x(p.households).toFixed(1)}" cy="${yS(p.seconds).toFixed(1)}" r="3" fill="#1f77b4"/>`);
    out.push(`<circle cx="${x(p.households).toFixed(1)}" cy="${yG(p.peakGb).toFixed(1)}" r="3" fill="#d62728"/>`);
    out.push(`<text x="${x(p.households).toFixed(1)}" y="${H - bottom + 14}" text-anchor="middle">${esc(p.households >= 1e6 ? `${p.households / 1e6}M` : `${p.households / 1e3}k`)}</text>`);
    out.push(`<text x="${(x(p.households) + 4).toFixed(1)}" y="${(yS(p.seconds) - 6).toFixed(1)}" fill="#1f77b4">${p.seconds.toFixed(0)} s</text>`);
    out.push(`<text x="${(x(p.households) + 4).toFixed(1)}" y="${(yG(p.peakGb) + 14).toFixed(1)}" fill="#d62728">${p.peakGb.toFixed(1)} GB</text>`);
  }
  out.push(
    `<text x="${(left + W - right) / 2}" y="${H - 8}" text-anchor="middle">households</text>`,
    `<text x="14" y="${(top + H - bottom) / 2}" transform="rotate(-90 14 ${(top + H - bottom) / 2})" text-anchor="middle" fill="#1f77b4">bidui run, s (dashed: linear through 1M)</text>`,
    `<text x="${W - 14}" y="${(top + H - bottom) / 2}" transform="rotate(90 ${W - 14} ${(top + H - bottom) / 2})" text-anchor="middle" fill="#d62728">peak RSS, GB</text>`,
    '</svg>',
  );
  return `${out.join('\n')}\n`;
}

export function writeGrowthChart(jsonFile: string, svgFile: string): void {
  const points = JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as GrowthPoint[];
  fs.writeFileSync(svgFile, growthSvg(points));
}
